"""The Spark engine (local mode) against the pandas engine on the same models and data.

Real components: scikit-learn models saved as skops files and MLflow model directories, scored
through `mlflow.pyfunc.spark_udf` in a local SparkSession (one per module: Spark starts slowly).
"""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pytest
from support.tools import missing_tool

pyspark = pytest.importorskip("pyspark")
pytest.importorskip("mlflow")
pytest.importorskip("skops")

from mlgate.benchmark import spark_session, spark_stats
from mlgate.benchmark.metrics import get_metric
from mlgate.benchmark.run import BenchmarkConfig, run
from mlgate.errors import BadInput


@pytest.fixture(scope="module", autouse=True)
def _java() -> None:
    """The Spark engine needs Java: a failure under ./scripts/test and CI without it."""
    if shutil.which("java") is None:
        missing_tool("java", "the Spark engine needs Java 17+: apt-get install "
                     "default-jre-headless")


ROWS = 2000
RESAMPLES = 200
CONFUSION = {"accuracy", "balanced_accuracy", "f1", "precision_macro", "recall_weighted"}


@pytest.fixture(scope="module")
def spark():
    warnings.filterwarnings("ignore", message=spark_session._PANDAS_WARNING)
    session = spark_session.get_session("local[2]")
    session.conf.set("spark.sql.shuffle.partitions", "2")
    yield session
    session.stop()


def _trusted(path) -> tuple[str, ...]:
    import skops.io as sio

    return tuple(sio.get_untrusted_types(file=path))


@pytest.fixture(scope="module")
def classification(tmp_path_factory):
    """LogisticRegression (skops file, champion) against a shallow decision tree (MLflow model
    saved with skops, candidate); 2,000 test rows in CSV and Parquet with a slice column."""
    import mlflow.sklearn
    import pandas as pd
    import skops.io as sio
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    root = tmp_path_factory.mktemp("spark-classification")
    x, y = make_classification(n_samples=ROWS + 1000, n_features=6, n_informative=4,
                               flip_y=0.1, random_state=3)
    cols = [f"f{i}" for i in range(x.shape[1])]
    frame = pd.DataFrame(x, columns=cols)
    frame["label"] = y
    train, test = frame.iloc[:1000], frame.iloc[1000:].reset_index(drop=True)
    champion = LogisticRegression(max_iter=500).fit(train[cols], train["label"])
    candidate = DecisionTreeClassifier(max_depth=5, random_state=0).fit(train[cols],
                                                                         train["label"])
    champion_path = root / "champion.skops"
    sio.dump(champion, champion_path)
    candidate_dir = root / "candidate-model"
    mlflow.sklearn.save_model(candidate, str(candidate_dir), serialization_format="skops",
                              skops_trusted_types=["sklearn.tree._tree.Tree"])
    test = test.copy()
    test["region"] = np.array(["north", "south", "east"])[np.arange(len(test)) % 3]
    csv = root / "test.csv"
    test.to_csv(csv, index=False)
    parquet = root / "test.parquet"
    test.to_parquet(parquet, index=False)
    trusted = _trusted(champion_path) + _trusted(candidate_dir / "model.skops")
    return {"champion": str(champion_path), "candidate": str(candidate_dir), "csv": str(csv),
            "parquet": str(parquet), "trusted": trusted, "root": root, "test": test,
            "cols": cols}


@pytest.fixture(scope="module")
def regression(tmp_path_factory):
    import pandas as pd
    import skops.io as sio
    from sklearn.datasets import make_regression
    from sklearn.linear_model import Ridge
    from sklearn.tree import DecisionTreeRegressor

    root = tmp_path_factory.mktemp("spark-regression")
    x, y = make_regression(n_samples=ROWS + 1000, n_features=5, noise=20.0, random_state=5)
    y = y + 500.0                       # no zero targets: mape is defined
    cols = [f"x{i}" for i in range(x.shape[1])]
    frame = pd.DataFrame(x, columns=cols)
    frame["price"] = y
    train, test = frame.iloc[:1000], frame.iloc[1000:]
    paths = {}
    for role, model in (("champion", Ridge(alpha=1.0)),
                        ("candidate", DecisionTreeRegressor(max_depth=6, random_state=0))):
        model.fit(train[cols], train["price"])
        paths[role] = root / f"{role}.skops"
        sio.dump(model, paths[role])
    data = root / "test.parquet"
    test.to_parquet(data, index=False)
    trusted = _trusted(paths["champion"]) + _trusted(paths["candidate"])
    return {"champion": str(paths["champion"]), "candidate": str(paths["candidate"]),
            "data": str(data), "trusted": trusted}


def _both(cfg_kwargs: dict, tmp_path):
    out = {}
    for engine in ("pandas", "spark"):
        cfg = BenchmarkConfig(engine=engine, resamples=RESAMPLES, seed=7, **cfg_kwargs)
        out[engine] = run(cfg, workdir=tmp_path / engine)
    return out["pandas"], out["spark"]


def _by_name(result):
    return {m.name: m for m in result.metrics}


def _close_interval(p, s, width_share: float) -> None:
    """Bootstrap intervals with different draws: each end within a share of the width."""
    width = max(p.high - p.low, 1e-12)
    assert abs(p.low - s.low) <= width_share * width, (p, s)
    assert abs(p.high - s.high) <= width_share * width, (p, s)


@pytest.fixture(scope="module")
def classification_outcomes(spark, classification, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("spark-classification-runs")
    # the gated specs (with a margin) are also judged on each slice
    specs = ("accuracy:margin=0.05", "balanced_accuracy", "f1:min_absolute_change=0.2",
             "precision_macro", "recall_weighted", "roc_auc:margin=0.05",
             "log_loss:margin=0.5", "brier:threshold=0.3")
    return _both({"candidate": classification["candidate"],
                  "champion": classification["champion"], "data": classification["csv"],
                  "target": "label", "metrics": specs, "slice_column": "region",
                  "trusted_types": classification["trusted"]}, tmp)


def test_classification_point_values_and_tests_match_pandas(classification_outcomes):
    pandas_run, spark_run = classification_outcomes
    p, s = pandas_run.result, spark_run.result
    assert s.engine == "spark" and s.rows == p.rows == ROWS
    assert s.task == p.task == "classification" and s.labels == p.labels == ("0", "1")
    pm, sm = _by_name(p), _by_name(s)
    assert list(pm) == list(sm)
    for name, a in pm.items():
        b = sm[name]
        tol = 1e-3 if name == "roc_auc" else 1e-9
        assert b.candidate == pytest.approx(a.candidate, abs=tol), name
        assert b.champion == pytest.approx(a.champion, abs=tol), name
        assert b.delta == pytest.approx(a.delta, abs=2 * tol), name
        assert b.test == a.test, name
        if a.p_value is not None:
            assert b.p_value == pytest.approx(a.p_value, rel=1e-9, abs=1e-300), name
        assert [c.passed for c in b.checks] == [c.passed for c in a.checks], name
        assert b.passed == a.passed, name
    assert s.passed == p.passed and len(s.reasons) == len(p.reasons)


def test_confusion_intervals_are_the_same_draws(classification_outcomes):
    pandas_run, spark_run = classification_outcomes
    pm, sm = _by_name(pandas_run.result), _by_name(spark_run.result)
    for name in CONFUSION:
        assert (sm[name].low, sm[name].high) == pytest.approx((pm[name].low, pm[name].high),
                                                              abs=1e-12), name


def test_mean_and_auc_intervals_agree_within_bootstrap_error(classification_outcomes):
    pandas_run, spark_run = classification_outcomes
    pm, sm = _by_name(pandas_run.result), _by_name(spark_run.result)
    for name in ("log_loss", "brier", "roc_auc"):
        _close_interval(pm[name], sm[name], 0.35)


def test_slices_match_pandas(classification_outcomes):
    pandas_run, spark_run = classification_outcomes
    p, s = pandas_run.result, spark_run.result
    assert [(x.value, x.rows, x.judged) for x in s.slices] == \
        [(x.value, x.rows, x.judged) for x in p.slices]
    for ps, ss in zip(p.slices, s.slices):
        for a, b in zip(ps.metrics, ss.metrics):
            tol = 1e-3 if a.name == "roc_auc" else 1e-9
            assert b.candidate == pytest.approx(a.candidate, abs=tol), (ps.value, a.name)
            assert b.champion == pytest.approx(a.champion, abs=tol), (ps.value, a.name)
            if a.name in CONFUSION:
                assert (b.low, b.high) == pytest.approx((a.low, a.high), abs=1e-12)
            assert b.passed == a.passed


def test_binned_roc_auc_is_within_its_bound_of_the_exact_value(classification,
                                                                classification_outcomes):
    from sklearn.metrics import roc_auc_score

    _, spark_run = classification_outcomes
    scores = spark_run.scores
    auc = get_metric("roc_auc")
    test = classification["test"]
    for role, model in (("candidate", spark_run.candidate), ("champion", spark_run.champion)):
        exact = roc_auc_score(test["label"], model.estimator.predict_proba(
            test[classification["cols"]])[:, 1])
        binned = scores.value(auc, role)
        bound = scores.max_bin_tie_share(role)
        assert abs(binned - exact) <= bound + 1e-12
        assert abs(binned - exact) < 1e-3


def test_curves_match_pandas(classification_outcomes):
    pandas_run, spark_run = classification_outcomes
    pc, sc = pandas_run.curves(), spark_run.curves()
    assert set(sc.roc) == set(pc.roc) == {"champion", "candidate"}
    for key in pc.roc:
        assert sc.roc[key].score == pytest.approx(pc.roc[key].score, abs=1e-3)
        assert sc.pr[key].score == pytest.approx(pc.pr[key].score, abs=5e-3)
        assert sc.roc[key].x[0] == 0.0 and sc.roc[key].y[-1] == pytest.approx(1.0)


def test_regression_matches_pandas(spark, regression, tmp_path, monkeypatch):
    pandas_run, spark_run = _both({
        "candidate": regression["candidate"], "champion": regression["champion"],
        "data": regression["data"], "target": "price",
        "metrics": ("rmse:margin=5", "mae:margin=5", "r2:margin=0.05", "mape:margin=0.05"),
        "trusted_types": regression["trusted"]}, tmp_path)
    p, s = pandas_run.result, spark_run.result
    assert s.task == p.task == "regression" and s.rows == p.rows
    pm, sm = _by_name(p), _by_name(s)
    for name, a in pm.items():
        b = sm[name]
        assert b.candidate == pytest.approx(a.candidate, rel=1e-9, abs=1e-9), name
        assert b.champion == pytest.approx(a.champion, rel=1e-9, abs=1e-9), name
        assert b.test == a.test == "wilcoxon"
        assert b.p_value == pytest.approx(a.p_value, rel=1e-9, abs=1e-300), name
        _close_interval(a, b, 0.35)
        assert [c.passed for c in b.checks] == [c.passed for c in a.checks], name
    assert s.passed == p.passed
    # the distributed Wilcoxon (exact ranks in Spark, scipy's normal approximation)
    monkeypatch.setattr(spark_stats, "WILCOXON_COLLECT_MAX_ROWS", 0)
    for name in ("mae", "rmse"):
        got = spark_run.scores.significance(get_metric(name))
        assert got[0] == "wilcoxon"
        assert got[1] == pytest.approx(pm[name].p_value, rel=1e-9), name
    residuals = spark_run.curves().residuals
    assert set(residuals) == {"champion", "candidate"}
    assert 0 < len(residuals["candidate"].x) <= 2000


def test_no_champion_and_parquet(spark, classification, tmp_path):
    cfg = {"candidate": classification["candidate"], "data": classification["parquet"],
           "target": "label", "metrics": ("accuracy:threshold=0.5", "roc_auc"),
           "ignore_columns": ("region",), "trusted_types": classification["trusted"]}
    pandas_run, spark_run = _both(cfg, tmp_path)
    pm, sm = _by_name(pandas_run.result), _by_name(spark_run.result)
    assert sm["accuracy"].candidate == pytest.approx(pm["accuracy"].candidate, abs=1e-12)
    assert sm["roc_auc"].candidate == pytest.approx(pm["roc_auc"].candidate, abs=1e-3)
    assert sm["accuracy"].champion is None and spark_run.result.passed == \
        pandas_run.result.passed
    assert spark_run.result.notes == pandas_run.result.notes


@pytest.mark.parametrize("drop, extra, target", [
    ("f2", None, "label"),        # a feature the models need is missing
    (None, "unused", "label"),    # a column no model uses
    (None, None, "nope"),         # the target is missing
])
def test_bad_columns_exit_2_with_the_pandas_message(spark, classification, tmp_path, drop,
                                                    extra, target):
    frame = classification["test"].drop(columns=["region"])
    if drop:
        frame = frame.drop(columns=[drop])
    if extra:
        frame[extra] = 1.0
    data = tmp_path / "bad.csv"
    frame.to_csv(data, index=False)
    messages = []
    for engine in ("pandas", "spark"):
        cfg = BenchmarkConfig(candidate=classification["candidate"],
                              champion=classification["champion"], data=str(data),
                              target=target, engine=engine, resamples=RESAMPLES,
                              trusted_types=classification["trusted"])
        with pytest.raises(BadInput) as err:
            run(cfg, workdir=tmp_path / engine)
        messages.append(str(err.value))
    assert messages[0] == messages[1]
    assert str(data) in messages[1]


def test_empty_data_exit_2(spark, classification, tmp_path):
    header_only = tmp_path / "empty.csv"
    header_only.write_text(",".join(classification["cols"] + ["label"]) + "\n")
    cfg = BenchmarkConfig(candidate=classification["candidate"], data=str(header_only),
                          target="label", engine="spark",
                          trusted_types=classification["trusted"])
    with pytest.raises(BadInput, match="no rows"):
        run(cfg, workdir=tmp_path / "w")
