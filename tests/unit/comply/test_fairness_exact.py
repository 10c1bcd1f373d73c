"""Each fairness limit judged exactly, on figures chosen to be exact in binary so a limit can be
met to the last bit: the verdict at the boundary, the figure, the message a reviewer reads, the
groups judged and left out, and the refusals (exit 2) naming what is missing and where."""

from __future__ import annotations

import pytest

from mlgate.comply.fairness import FairnessCheck, judge, parse_limits
from mlgate.errors import BadInput

PATH = "benchmark.json"
RATES = ("selection_rate", "true_positive_rate", "false_positive_rate")


def group(value, rows, acc, recall, rates=(0.5, 0.75, 0.125), champion_acc=None):
    cand = {"accuracy": acc, "recall": recall, **dict(zip(RATES, rates, strict=True))}
    champ = {} if champion_acc is None else {"accuracy": champion_acc}
    return {"value": value, "rows": rows, "candidate": cand, "champion": champ}


GROUPS = [group("A", 100, 0.75, 0.75, (0.5, 0.75, 0.125), 0.75),
          group("B", 50, 0.375, 0.5, (0.25, 0.5, 0.375), 0.5),
          group("C", 10, 0.0, 0.0, (1.0, 1.0, 1.0), 0.0)]


def run(*specs, groups=GROUPS, column="grp"):
    limits, size = parse_limits(specs)
    return judge(limits, size, {"result": {"fairness": [{"column": column, "groups": groups}]}},
                 PATH)


def one(*specs, **kw):
    (check,) = run(*specs, **kw)
    return check


def check(spec, passed, figure, message, judged=("A", "B"), small=("C",)):
    return FairnessCheck("grp", spec, passed, figure, f"grp: {message}", judged, small)


def test_each_rule_at_its_boundary_passes_and_says_so():
    assert run("accuracy:max-gap=0.375", "accuracy:min-ratio=0.5", "accuracy:max-widen=0.125",
               "recall:min-group=0.5", "recall:max-group=0.75",
               "demographic_parity_difference:max=0.25",
               "equalized_odds_difference:max=0.25") == [
        check("accuracy:max-gap=0.375", True, 0.375,
              "accuracy gap between groups 0.375 (max 0.375)"),
        check("accuracy:min-ratio=0.5", True, 0.5,
              "accuracy ratio between groups 0.5 (min 0.5)"),
        check("accuracy:max-widen=0.125", True, 0.125,
              "accuracy gap 0.375 widens the champion's by 0.125 (max 0.125)"),
        check("recall:min-group=0.5", True, 0.5, "recall lowest in group B: 0.5 (min 0.5)"),
        check("recall:max-group=0.75", True, 0.75, "recall highest in group A: 0.75 (max 0.75)"),
        check("demographic_parity_difference:max=0.25", True, 0.25,
              "demographic_parity_difference 0.25 (max 0.25)"),
        check("equalized_odds_difference:max=0.25", True, 0.25,
              "equalized_odds_difference 0.25 (max 0.25)"),
    ]


def test_each_rule_just_past_its_boundary_fails():
    got = run("accuracy:max-gap=0.374", "accuracy:min-ratio=0.51", "accuracy:max-widen=0.124",
              "recall:min-group=0.51", "recall:max-group=0.74",
              "demographic_parity_difference:max=0.24", "equalized_odds_difference:max=0.24")
    assert [c.passed for c in got] == [False] * 7
    assert [c.figure for c in got] == [0.375, 0.5, 0.125, 0.5, 0.75, 0.25, 0.25]


def test_equalized_odds_is_the_larger_of_the_two_rate_gaps():
    tpr_wide = [group("A", 100, 1, 1, (0.5, 1.0, 0.125)), group("B", 100, 1, 1, (0.5, 0.25, 0.25))]
    assert one("equalized_odds_difference:max=1", groups=tpr_wide).figure == 0.75
    fpr_wide = [group("A", 100, 1, 1, (0.5, 0.5, 0.0)), group("B", 100, 1, 1, (0.5, 0.25, 0.5))]
    assert one("equalized_odds_difference:max=1", groups=fpr_wide).figure == 0.5
    assert one("demographic_parity_difference:max=1", groups=fpr_wide).figure == 0.0


def test_all_zero_figures_have_ratio_one():
    zero = [group("A", 100, 0.0, 0.0), group("B", 100, 0.0, 0.0)]
    assert one("recall:min-ratio=1", groups=zero) == check(
        "recall:min-ratio=1", True, 1.0, "recall ratio between groups 1 (min 1)", small=())


def test_one_group_large_enough_is_still_judged_per_group_but_not_compared():
    only_a = [GROUPS[0], {**GROUPS[1], "rows": 29}]
    assert one("recall:min-group=0.8", groups=only_a) == check(
        "recall:min-group=0.8", False, 0.75, "recall lowest in group A: 0.75 (min 0.8)",
        judged=("A",), small=("B",))
    assert one("recall:max-group=0.7", groups=only_a).passed is False
    assert one("accuracy:max-gap=0", groups=only_a) == check(
        "accuracy:max-gap=0", True, None, "accuracy:max-gap=0: fewer than two groups with at "
        "least the minimum size; nothing to compare (reported, not judged)",
        judged=("A",), small=("B",))


def test_figures_that_are_not_numbers_are_left_out():
    odd = [group("A", 100, 0.75, "n/a"), group("B", 100, 0.5, None), group("D", 100, 0.5, True)]
    assert one("recall:max-gap=0", groups=odd) == check(
        "recall:max-gap=0", True, None, "recall:max-gap=0: recall is undefined for all but one "
        "group; nothing to compare (reported, not judged)", judged=("A", "B", "D"), small=())
    assert one("recall:min-group=0.9", groups=odd) == check(
        "recall:min-group=0.9", True, None, "recall:min-group=0.9: no group with at least the "
        "minimum size", judged=("A", "B", "D"), small=())


def test_rows_that_are_not_a_count_make_a_group_too_small():
    odd = [{**GROUPS[0], "rows": True}, {**GROUPS[1], "rows": "100"}, {**GROUPS[2], "rows": None},
           {**GROUPS[0], "value": "E", "rows": 1}]
    got = one("min-group-size=1", "recall:min-group=0", groups=odd)
    assert (got.judged, got.too_small) == (("E",), ("A", "B", "C"))


def test_what_is_missing_is_named():
    no_champion = [group("A", 100, 0.75, 0.75), group("B", 100, 0.5, 0.5)]
    with pytest.raises(BadInput) as err:
        run("accuracy:max-widen=0.1", groups=no_champion)
    assert str(err.value) == ("--fairness accuracy: benchmark.json has no champion figure of "
                              "accuracy per group (is it one of the benchmark's --metric?)")
    champion_one = [group("A", 100, 0.75, 0.75, champion_acc=0.5),
                    group("B", 100, 0.5, 0.5, champion_acc="x")]
    with pytest.raises(BadInput) as err:
        run("accuracy:max-widen=0.1", groups=champion_one)
    assert str(err.value) == ("--fairness accuracy:max-widen=0.1: benchmark.json has no champion "
                              "figures to compare against")
    with pytest.raises(BadInput) as err:
        run("f1:max-gap=0.1")
    assert str(err.value) == ("--fairness f1: benchmark.json has no candidate figure of f1 per "
                              "group (is it one of the benchmark's --metric?)")
    regression = [{"value": v, "rows": 100, "candidate": {"mae": 1.0}} for v in "AB"]
    with pytest.raises(BadInput) as err:
        run("demographic_parity_difference:max=0.1", groups=regression)
    assert str(err.value) == ("--fairness demographic_parity_difference: benchmark.json has no "
                              "per-group rates: parity figures exist for binary classifiers only")
    no_tpr = [{"value": v, "rows": 100, "candidate": {"selection_rate": 0.5}} for v in "AB"]
    with pytest.raises(BadInput) as err:
        run("equalized_odds_difference:max=0.1", groups=no_tpr)
    assert str(err.value) == ("--fairness true_positive_rate: benchmark.json has no candidate "
                              "figure of true_positive_rate per group (is it one of the "
                              "benchmark's --metric?)")
    no_fpr = [{"value": v, "rows": 100, "candidate": {"selection_rate": 0.5,
                                                      "true_positive_rate": 0.5}} for v in "AB"]
    with pytest.raises(BadInput) as err:
        run("equalized_odds_difference:max=0.1", groups=no_fpr)
    assert "false_positive_rate per group" in str(err.value)
    assert "benchmark.json" in str(err.value)


def test_limits_and_evidence_refused_in_words():
    with pytest.raises(BadInput) as err:
        parse_limits(("accuracy max-gap",))
    assert str(err.value) == (
        "--fairness 'accuracy max-gap': expected METRIC:RULE=VALUE (rules: max-gap, min-ratio, "
        "min-group, max-group, max-widen; or demographic_parity_difference:max=X, "
        "equalized_odds_difference:max=X) or min-group-size=N")
    long = "a" * 150 + ":nope=1"
    with pytest.raises(BadInput) as err:
        parse_limits((long,))
    assert str(err.value) == (f"--fairness {long[:120]!r}: unknown rule 'nope' (rules: max-gap, "
                              "min-ratio, min-group, max-group, max-widen)")
    limits, _ = parse_limits(("accuracy:max-gap=0.1",))
    for evidence, said in (
            (None, "--fairness: needs the benchmark's result (--evidence benchmark.json)"),
            ({"result": {}}, "--fairness: benchmark.json holds no fairness figures: run mlgate "
                             "benchmark with --sensitive COLUMN"),
            ({"result": {"fairness": ["x"]}}, "--fairness: benchmark.json: fairness figures "
                                               "are not as mlgate writes them"),
            ({"result": {"fairness": [{"column": "c", "groups": "x"}]}},
             "--fairness: benchmark.json: fairness figures are not as mlgate writes them")):
        with pytest.raises(BadInput) as err:
            judge(limits, 30, evidence, PATH)
        assert str(err.value) == said
