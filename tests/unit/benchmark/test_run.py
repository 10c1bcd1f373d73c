"""`mlgate.benchmark.run` on real scikit-learn models trained here, on data generated here.

Each case states its premise (e.g. "the point estimate favours the candidate but the interval
includes zero") as an assertion before checking the verdict, so a change in a library that
moves the premise fails loudly instead of testing something else.
"""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from mlgate.benchmark.config import BenchmarkConfig, LatencyLimits
from mlgate.benchmark.run import run
from mlgate.errors import BadInput
from support.mlmodels import (
    classification_frame,
    fit,
    regression_frame,
    save_mlflow_dir,
    save_skops,
    sliced_frame,
    split,
)


@pytest.fixture(scope="module")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Models and held-out data files, trained once for the module."""
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.naive_bayes import GaussianNB
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import PolynomialFeatures, StandardScaler

    d = tmp_path_factory.mktemp("zoo")
    out: dict[str, Path] = {}
    train, test = split(classification_frame(7000, 1), 4000)
    weak = fit(GaussianNB(), train, "label")
    strong = fit(make_pipeline(PolynomialFeatures(2), StandardScaler(),
                               LogisticRegression(max_iter=1000)), train, "label")
    out["weak"] = save_skops(weak, d / "weak.skops")
    out["strong"] = save_mlflow_dir(strong, d / "strong")
    out["weak_copy"] = save_skops(weak, d / "weak_copy.skops")
    test.to_csv(d / "test.csv", index=False)
    out["data"] = d / "test.csv"
    test.iloc[:100].to_csv(d / "small.csv", index=False)
    out["small"] = d / "small.csv"
    test.drop(columns=["x5"]).to_csv(d / "missing.csv", index=False)
    out["missing"] = d / "missing.csv"
    test.assign(extra=1.0).to_csv(d / "extra.csv", index=False)
    out["extra"] = d / "extra.csv"
    test.to_parquet(d / "test.parquet")
    out["parquet"] = d / "test.parquet"
    test.to_json(d / "test.jsonl", orient="records", lines=True)
    out["jsonl"] = d / "test.jsonl"
    # pickle / joblib and a corrupt file
    with open(d / "weak.pkl", "wb") as fh:
        pickle.dump(weak, fh)
    out["pickle"] = d / "weak.pkl"
    (d / "corrupt.skops").write_bytes(b"PK\x03\x04 not really a zip")
    out["corrupt"] = d / "corrupt.skops"
    # mismatched features: trained without x5
    narrow = fit(LogisticRegression(max_iter=1000), train.drop(columns=["x5"]), "label")
    out["narrow"] = save_skops(narrow, d / "narrow.skops")
    # multi-class
    mtrain, mtest = split(classification_frame(6000, 3, classes=3), 3500)
    out["multi_weak"] = save_skops(fit(GaussianNB(), mtrain, "label"), d / "mw.skops")
    out["multi_strong"] = save_skops(fit(make_pipeline(
        PolynomialFeatures(2), StandardScaler(), LogisticRegression(max_iter=2000)),
        mtrain, "label"), d / "ms.skops")
    mtest.to_csv(d / "multi.csv", index=False)
    out["multi"] = d / "multi.csv"
    # regression
    rtrain, rtest = split(regression_frame(6000, 4), 3500)
    out["lin"] = save_skops(fit(LinearRegression(), rtrain, "y"), d / "lin.skops")
    out["poly"] = save_skops(fit(make_pipeline(PolynomialFeatures(3), LinearRegression()),
                                 rtrain, "y"), d / "poly.skops")
    rtest.to_csv(d / "reg.csv", index=False)
    out["reg"] = d / "reg.csv"
    # slices: the candidate learned segment A only
    strain, stest = split(sliced_frame(8000, 5), 5000)
    out["slice_champion"] = save_skops(fit(LogisticRegression(max_iter=1000), strain, "label",
                                           drop=("segment",)), d / "slice_champion.skops")
    a_only = strain[strain.segment == "A"]
    out["slice_candidate"] = save_skops(fit(make_pipeline(
        PolynomialFeatures(2), StandardScaler(), LogisticRegression(max_iter=1000)),
        a_only, "label", drop=("segment",)), d / "slice_candidate.skops")
    stest.to_csv(d / "sliced.csv", index=False)
    out["sliced"] = d / "sliced.csv"
    return out


def cfg(zoo, candidate: str, champion: str | None, data: str = "data", **kw) -> BenchmarkConfig:
    target = {"reg": "y"}.get(data, "label")
    kw.setdefault("resamples", 400)
    return BenchmarkConfig(candidate=str(zoo[candidate]),
                           champion=str(zoo[champion]) if champion else None,
                           data=str(zoo[data]), target=target, **kw)


def only(result, name: str):
    (m,) = [m for m in result.metrics if m.name == name]
    return m


def test_candidate_better_passes_default_gate(zoo) -> None:
    r = run(cfg(zoo, "strong", "weak")).result
    acc = only(r, "accuracy")
    assert r.task == "classification" and r.rows == 3000
    assert acc.delta > 0 and acc.low > 0, "premise: a clearly better candidate"
    assert [c.kind for c in acc.checks] == ["margin"] and acc.checks[0].required == -0.01
    assert acc.test == "mcnemar-exact" and acc.p_value < 1e-6
    assert r.passed and not r.reasons
    assert r.candidate.format == "mlflow-sklearn-skops" and r.champion.format == "skops"
    assert r.candidate.features == tuple(f"x{i}" for i in range(6))


def test_candidate_worse_fails_with_reason(zoo) -> None:
    r = run(cfg(zoo, "weak", "strong")).result
    acc = only(r, "accuracy")
    assert acc.high < -0.01, "premise: clearly worse beyond the margin"
    assert not r.passed
    assert r.reasons and r.reasons[0].startswith("accuracy: worse by at most 0.01")


def test_equal_models_pass_non_inferiority_but_not_a_minimum_gain(zoo) -> None:
    r = run(cfg(zoo, "weak_copy", "weak", metrics=("accuracy:margin=0.01",
                                                   "f1:min_absolute_change=0"))).result
    acc, f1 = only(r, "accuracy"), only(r, "f1")
    assert acc.delta == 0 and acc.low == 0 and acc.high == 0
    assert acc.p_value == 1.0 and acc.passed
    assert not f1.passed and not f1.checks[0].passed_by_point
    assert not r.passed


def test_better_but_not_significantly_fails_a_gain_rule_and_shows_both(zoo) -> None:
    r = run(cfg(zoo, "strong", "weak", data="small",
                metrics=("accuracy:min_absolute_change=0",))).result
    acc = only(r, "accuracy")
    assert acc.delta > 0 and acc.low <= 0, "premise: point estimate up, interval includes 0"
    (check,) = acc.checks
    assert check.passed_by_point and not check.passed
    assert not r.passed


def test_large_significant_gain_below_the_minimum_improvement_fails(zoo) -> None:
    r = run(cfg(zoo, "strong", "weak", metrics=("accuracy:min_absolute_change=0.05",))).result
    acc = only(r, "accuracy")
    assert acc.low > 0 and acc.p_value < 0.001, "premise: significant"
    assert acc.delta < 0.05
    assert not r.passed


def test_relative_rules_and_thresholds(zoo) -> None:
    r = run(cfg(zoo, "strong", "weak", metrics=(
        "log_loss:min_relative_change=5%,threshold=0.5", "roc_auc:threshold=0.999",
        "brier:margin=1%"))).result
    ll = only(r, "log_loss")
    assert not ll.greater_is_better and ll.delta < 0
    rel = [c for c in ll.checks if c.kind == "min_relative_change"][0]
    assert rel.required == pytest.approx(0.05 * ll.champion)
    assert ll.passed
    auc = only(r, "roc_auc")
    assert auc.test is None and not auc.passed and auc.checks[0].kind == "threshold"
    brier = only(r, "brier")
    assert brier.checks[0].required == pytest.approx(-0.01 * brier.champion)
    assert not r.passed and len(r.reasons) == 1 and r.reasons[0].startswith("roc_auc")


def test_same_seed_same_interval_other_seed_differs(zoo) -> None:
    one = only(run(cfg(zoo, "strong", "weak", metrics=("log_loss:margin=0",))).result,
               "log_loss")
    two = only(run(cfg(zoo, "strong", "weak", metrics=("log_loss:margin=0",))).result,
               "log_loss")
    three = only(run(cfg(zoo, "strong", "weak", metrics=("log_loss:margin=0",), seed=7)).result,
                 "log_loss")
    assert (one.low, one.high) == (two.low, two.high)
    assert (one.low, one.high) != (three.low, three.high)


@pytest.mark.parametrize("data", ["parquet", "jsonl"])
def test_parquet_and_json_lines_read_the_same(zoo, data: str) -> None:
    base = only(run(cfg(zoo, "strong", "weak")).result, "accuracy")
    other = only(run(cfg(zoo, "strong", "weak", data=data)).result, "accuracy")
    assert (other.candidate, other.champion, other.low, other.high) == \
        (base.candidate, base.champion, base.low, base.high)


def test_regression_uses_rmse_and_wilcoxon(zoo) -> None:
    r = run(cfg(zoo, "poly", "lin", data="reg",
                metrics=("rmse:margin=0.01", "r2:min_absolute_change=0.01", "mae",
                         "mape"))).result
    assert r.task == "regression"
    rmse = only(r, "rmse")
    assert rmse.delta < 0 and rmse.high < 0 and rmse.test == "wilcoxon" and rmse.p_value < 1e-6
    assert only(r, "r2").passed and r.passed
    from sklearn.metrics import mean_absolute_error
    import pandas as pd

    frame = pd.read_csv(zoo["reg"])
    import skops.io as sio

    lin = sio.load(zoo["lin"], trusted=[])
    assert only(r, "mae").champion == pytest.approx(
        mean_absolute_error(frame.y, lin.predict(frame.drop(columns=["y"]))), rel=1e-12)


def test_regression_candidate_worse_fails(zoo) -> None:
    r = run(cfg(zoo, "lin", "poly", data="reg")).result
    assert not r.passed and r.reasons[0].startswith("rmse")


def test_multiclass(zoo) -> None:
    r = run(cfg(zoo, "multi_strong", "multi_weak", data="multi",
                metrics=("accuracy:margin=0.01", "f1_macro:margin=0.01", "roc_auc",
                         "log_loss"))).result
    assert r.labels == ("0", "1", "2")
    assert only(r, "f1_macro").low > 0 and r.passed
    assert 0.5 < only(r, "roc_auc").candidate <= 1
    with pytest.raises(BadInput, match="binary"):
        run(cfg(zoo, "multi_strong", "multi_weak", data="multi", metrics=("f1",)))


def test_better_overall_but_worse_on_one_slice_fails(zoo) -> None:
    r = run(cfg(zoo, "slice_candidate", "slice_champion", data="sliced", slice_column="segment"
                )).result
    acc = only(r, "accuracy")
    assert acc.low > -0.01, "premise: fine overall"
    by = {s.value: s for s in r.slices}
    assert set(by) == {"A", "B"} and by["A"].passed and by["B"].judged
    assert not by["B"].passed
    assert by["A"].rows + by["B"].rows == r.rows
    assert not r.passed
    assert any(x.startswith("segment=B: accuracy") for x in r.reasons)


def test_no_champion_judges_thresholds_alone(zoo) -> None:
    r = run(cfg(zoo, "strong", None, metrics=("accuracy:threshold=0.9,margin=0.01",))).result
    acc = only(r, "accuracy")
    assert r.champion is None and acc.champion is None and acc.delta is None
    assert [c.kind for c in acc.checks] == ["threshold"] and r.passed
    assert any("judged on absolute thresholds alone" in n for n in r.notes)
    r = run(cfg(zoo, "strong", None, metrics=("accuracy:threshold=0.99",))).result
    assert not r.passed
    r = run(cfg(zoo, "strong", None)).result
    assert r.passed and any("nothing to compare against" in n for n in r.notes)


def test_latency_measured_and_limits_applied(zoo) -> None:
    r = run(cfg(zoo, "strong", "weak", latency=True, latency_samples=20)).result
    assert {lat.role for lat in r.latency} == {"champion", "candidate"}
    assert all(0 < lat.p50_ms <= lat.p95_ms for lat in r.latency)
    r = run(cfg(zoo, "strong", "weak", latency_samples=20,
                limits=LatencyLimits(max_p95_ms=1e-6))).result
    assert not r.passed and r.reasons[-1].startswith("latency: candidate p95")
    assert r.candidate.size_bytes > 0


@pytest.mark.parametrize("kind,message", [
    ("corrupt", "not a readable skops file"),
    ("pickle", "can run arbitrary code when loaded; pass --trust-pickle"),
])
def test_bad_model_files(zoo, kind: str, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        run(cfg(zoo, kind, "weak"))


def test_pickle_loads_with_trust(zoo) -> None:
    r = run(cfg(zoo, "strong", "pickle", trust_pickle=True)).result
    assert r.champion.format == "pickle" and r.passed


def test_untrusted_skops_type_needs_the_user_to_trust_it(zoo, tmp_path: Path) -> None:
    from sklearn.tree import DecisionTreeClassifier
    import pandas as pd

    frame = pd.read_csv(zoo["data"])
    tree = fit(DecisionTreeClassifier(max_depth=3, random_state=0), frame, "label")
    path = save_skops(tree, tmp_path / "tree.skops")
    with pytest.raises(BadInput, match="sklearn.tree._tree.Tree"):
        run(cfg({**zoo, "tree": path}, "tree", "weak"))
    r = run(cfg({**zoo, "tree": path}, "tree", "weak",
                trusted_types=("sklearn.tree._tree.Tree",))).result
    assert r.candidate.format == "skops"


def test_mlflow_dir_trusted_types_from_the_model_are_not_used(zoo, tmp_path: Path) -> None:
    """MLflow records skops_trusted_types in MLmodel; a crafted model could list anything."""
    import mlflow.sklearn
    import pandas as pd
    from sklearn.tree import DecisionTreeClassifier

    frame = pd.read_csv(zoo["data"])
    tree = fit(DecisionTreeClassifier(max_depth=3, random_state=0), frame, "label")
    mlflow.sklearn.save_model(tree, str(tmp_path / "m"), serialization_format="skops",
                              skops_trusted_types=["sklearn.tree._tree.Tree"])
    with pytest.raises(BadInput, match="the model's own list is not used"):
        run(cfg({**zoo, "m": tmp_path / "m"}, "m", "weak"))


@pytest.mark.parametrize("data,message", [
    ("missing", "feature column\\(s\\) the models need are missing: x5"),
    ("extra", "column\\(s\\) no model uses: extra"),
])
def test_column_mismatch(zoo, data: str, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        run(cfg(zoo, "strong", "weak", data=data))


def test_extra_column_allowed_when_ignored(zoo) -> None:
    r = run(cfg(zoo, "strong", "weak", data="extra", ignore_columns=("extra",))).result
    assert r.passed


def test_models_with_different_features(zoo) -> None:
    with pytest.raises(BadInput, match="the models take different features"):
        run(cfg(zoo, "narrow", "weak"))


def test_data_problems(zoo, tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "header.csv").write_text("x0,x1,x2,x3,x4,x5,label\n")
    (tmp_path / "data.txt").write_text("x")
    for name, message in [("empty.csv", "empty file"), ("header.csv", "no rows"),
                          ("data.txt", "unknown format"), ("nope.csv", "no such file")]:
        with pytest.raises(BadInput, match=message):
            run(BenchmarkConfig(candidate=str(zoo["strong"]), data=str(tmp_path / name),
                                target="label"))
    with pytest.raises(BadInput, match="target column 'churn' is missing"):
        run(BenchmarkConfig(candidate=str(zoo["strong"]), data=str(zoo["data"]),
                            target="churn"))


def test_task_must_fit_the_target(zoo) -> None:
    with pytest.raises(BadInput, match="fractional numbers"):
        run(cfg(zoo, "strong", None, data="reg", task="classification"))
    with pytest.raises(BadInput, match="the candidate is a classifier"):
        run(cfg(zoo, "strong", None, task="regression"))


@pytest.mark.parametrize("spec,message", [
    ("nope", "unknown metric 'nope'"),
    ("rmse", "rmse is a regression metric"),
    ("accuracy:margin=abc", "not a number"),
    ("accuracy:bogus=1", "is not KEY=VALUE"),
    ("accuracy:min_absolute_change=-1", "must not be negative"),
])
def test_bad_metric_specs(zoo, spec: str, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        run(cfg(zoo, "strong", "weak", metrics=(spec,)))


def test_proba_metric_on_a_model_without_probabilities(zoo, tmp_path: Path) -> None:
    from sklearn.svm import LinearSVC
    import pandas as pd

    frame = pd.read_csv(zoo["data"])
    svc = save_skops(fit(LinearSVC(), frame, "label"), tmp_path / "svc.skops")
    z = {**zoo, "svc": svc}
    r = run(cfg(z, "svc", "weak")).result       # accuracy needs no probabilities
    assert np.isfinite(only(r, "accuracy").candidate)
    with pytest.raises(BadInput, match="needs predicted probabilities"):
        run(cfg(z, "svc", "weak", metrics=("roc_auc",)))


def test_model_dir_without_mlmodel(zoo, tmp_path: Path) -> None:
    shutil.copytree(zoo["strong"], tmp_path / "m")
    (tmp_path / "m" / "MLmodel").unlink()
    with pytest.raises(BadInput, match="without an MLmodel file"):
        run(cfg({**zoo, "m": tmp_path / "m"}, "m", "weak"))
