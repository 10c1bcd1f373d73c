"""Fairness limits in the compliance gate, on figures the real benchmark computed with real
fairlearn: the candidate better overall widens the gap between groups beyond the limit (the
gate must fail), a group below the minimum size is reported and not judged, limits without
figures are bad input."""

from __future__ import annotations

import json

import pytest

from mlgate.cli import main
from tests.unit.benchmark.test_fairness import ENV, world
from tests.unit.comply.conftest import comply


@pytest.fixture(scope="module")
def figures(tmp_path_factory):
    """benchmark.json with --sensitive group (A 800 rows, B 200, C 12), and one without."""
    tmp = tmp_path_factory.mktemp("fair")
    cand, champ, data, _ = world(tmp)
    out = {}
    for name, extra in (("with", ["--sensitive", "group"]), ("without",
                                                            ["--ignore-column", "group"])):
        path = tmp / f"benchmark-{name}.json"
        code = main(["benchmark", "--candidate", str(cand), "--champion", str(champ),
                     "--data", str(data), "--target", "target", "--metric", "accuracy",
                     "--metric", "recall", "--bootstrap", "200", *extra, "--json", str(path)],
                    environ=ENV)
        assert code == 0
        out[name] = path
    return out


def checks(doc):
    return [(f["limit"], f["passed"]) for f in doc["result"]["fairness"]]


def test_better_overall_but_a_wider_gap_fails_the_gate(remote, tmp_path, figures):
    bench = json.loads(figures["with"].read_text())["result"]
    accuracy = {m["name"]: m for m in bench["metrics"]}["accuracy"]
    assert accuracy["candidate"] > accuracy["champion"]   # the candidate is better overall
    code, doc = comply(remote, tmp_path, "--evidence", str(figures["with"]),
                       "--fairness", "accuracy:max-gap=0.05",
                       "--fairness", "accuracy:max-widen=0.02",
                       "--fairness", "recall:min-group=0.8",
                       "--fairness", "accuracy:min-ratio=0.8",
                       "--fairness", "equalized_odds_difference:max=0.1",
                       "--fairness", "demographic_parity_difference:max=0.9")
    assert code == 1
    assert checks(doc) == [("accuracy:max-gap=0.05", False), ("accuracy:max-widen=0.02", False),
                           ("recall:min-group=0.8", False), ("accuracy:min-ratio=0.8", False),
                           ("equalized_odds_difference:max=0.1", False),
                           ("demographic_parity_difference:max=0.9", True)]
    groups = {g["value"]: g for g in bench["fairness"][0]["groups"]}
    gap = groups["A"]["candidate"]["accuracy"] - groups["B"]["candidate"]["accuracy"]
    champion_gap = abs(groups["A"]["champion"]["accuracy"] - groups["B"]["champion"]["accuracy"])
    first = doc["result"]["fairness"][0]
    assert first["figure"] == pytest.approx(gap)
    assert first["judged"] == ["A", "B"] and first["too_small"] == ["C"]
    assert first["message"] == f"group: accuracy gap between groups {gap:.4g} (max 0.05)"
    assert doc["result"]["fairness"][1]["figure"] == pytest.approx(gap - champion_gap)
    assert doc["verdict"] == "failed: 5 fairness limit(s) exceeded"
    assert doc["outputs"]["passed"] == "false"


def test_a_group_below_the_minimum_size_is_reported_not_judged(remote, tmp_path, figures):
    # C (12 rows) has recall 1.0 and A too; B is the low one. Judge only A and C: B is left
    # out as too small when the minimum is above its 200 rows
    code, doc = comply(remote, tmp_path, "--evidence", str(figures["with"]),
                       "--fairness", "recall:min-group=0.8", "--fairness", "min-group-size=201")
    assert code == 0
    [check] = doc["result"]["fairness"]
    assert check["judged"] == ["A"] and check["too_small"] == ["B", "C"]
    code, doc = comply(remote, tmp_path, "--evidence", str(figures["with"]),
                       "--fairness", "accuracy:max-gap=0.05", "--fairness", "min-group-size=201")
    assert code == 0 and "fewer than two groups" in doc["result"]["fairness"][0]["message"]
    code, doc = comply(remote, tmp_path, "--evidence", str(figures["with"]),
                       "--fairness", "accuracy:max-gap=0.5", "--fairness", "min-group-size=10")
    assert doc["result"]["fairness"][0]["judged"] == ["A", "B", "C"]


@pytest.mark.parametrize("evidence, spec, says", [
    (None, "accuracy:max-gap=0.1", "needs the benchmark's result"),
    ("without", "accuracy:max-gap=0.1", "holds no fairness figures"),
    ("with", "roc_auc:max-gap=0.1", "no candidate figure of roc_auc per group"),
    ("with", "accuracy:max-gapp=0.1", "unknown rule 'max-gapp'"),
    ("with", "accuracy:max-gap=lots", "is not a number"),
    ("with", "accuracy:max-gap=nan", "not a finite number"),
    ("with", "equalized_odds_difference:max-gap=0.1", "takes max=X"),
    ("with", "accuracy", "expected METRIC:RULE=VALUE"),
])
def test_limits_without_figures_to_judge_are_bad_input(remote, tmp_path, figures, capsys,
                                                       evidence, spec, says):
    extra = ["--evidence", str(figures[evidence])] if evidence else []
    code, _ = comply(remote, tmp_path, *extra, "--fairness", spec)
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert says in err and err.count("\n") == 0, err
