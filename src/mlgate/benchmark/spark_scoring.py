"""The Spark engine's scorer: both models score the data through `mlflow.pyfunc.spark_udf`, once,
into one cached DataFrame, and the test set never has to fit in the driver.

Flow: `spark_session` reads and checks the data; each model becomes a Spark UDF (an MLflow model
directory as it is, a vetted scikit-learn estimator saved as an MLflow model first); the data is
scored once by both models and cached. Class labels are the sorted union of the target's
distinct values, the predictions' distinct values and the models' `classes_`, exactly as the
pandas engine builds them, and become integer codes in Spark; probabilities become arrays
aligned to those labels. Every question `decide` asks is then answered from that one cached
DataFrame (`y`, `a` champion, `b` candidate, `pa` / `pb` probabilities, `s` slice key) by
`spark_scores.SparkScores`.

pyspark and mlflow are imported inside the functions that need them.
"""

from __future__ import annotations

import logging
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from mlgate.benchmark.data import feature_columns, infer_task, union_labels
from mlgate.benchmark.metrics import CLASSIFICATION, REGRESSION
from mlgate.benchmark.result import Role
from mlgate.benchmark.spark_scores import SparkScores
from mlgate.benchmark.spark_session import (
    MAX_LABELS,
    get_session,
    read_frame,
    spark_col,
    spark_errors,
    target_facts,
)
from mlgate.errors import BadInput


# ----------------------------------------------------------------------------- models


def _result_type(kind: str) -> str:
    if kind in "iu":
        return "long"
    if kind == "f":
        return "double"
    if kind == "b":
        return "boolean"
    return "string"


def _save_estimator(estimator, dest: Path, predict_fn: str) -> str:
    import mlflow.sklearn

    dest.parent.mkdir(parents=True, exist_ok=True)
    # the estimator was loaded and vetted by mlgate (skops trusted types or --trust-pickle);
    # cloudpickle only carries that same object to the executors
    try:
        import sklearn

        reqs = [f"scikit-learn=={sklearn.__version__}"]
    except ImportError:  # pragma: no cover
        reqs = []
    with _mlflow_quiet():
        mlflow.sklearn.save_model(estimator, str(dest), serialization_format="cloudpickle",
                                  pyfunc_predict_fn=predict_fn, pip_requirements=reqs)
    return str(dest)


@contextmanager
def _mlflow_quiet():
    """MLflow's INFO / WARNING chatter (environment inference, "env_manager='local' does not
    recreate the environment") is noise here."""
    log = logging.getLogger("mlflow")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def _udf(spark, uri: str, result_type: str):
    import mlflow.pyfunc

    with _mlflow_quiet():
        return mlflow.pyfunc.spark_udf(
            spark, uri, result_type=result_type, env_manager="local",
            extra_env={"MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true"})


def _model_udfs(spark, model, role: Role, task: str, pred_type: str, workdir: Path):
    """(predict UDF, predict_proba UDF or None) for one model."""
    workdir.mkdir(parents=True, exist_ok=True)
    where = Path(tempfile.mkdtemp(prefix=f"spark-{role}-", dir=workdir))
    with spark_errors(f"{role} {model.info.uri}: cannot prepare the model for Spark"):
        if model.estimator is not None:
            predict = _save_estimator(model.estimator, where / "predict", "predict")
            proba = None
            if task == CLASSIFICATION and model.has_proba:
                proba = _save_estimator(model.estimator, where / "proba", "predict_proba")
        elif model.mlflow_dir is not None:
            predict, proba = str(model.mlflow_dir), None
        else:
            raise BadInput(f"{role} {model.info.uri}: the Spark engine needs an MLflow model "
                           "or a scikit-learn estimator")
        return (_udf(spark, predict, pred_type),
                _udf(spark, proba, "array<double>") if proba else None)


# ----------------------------------------------------------------------------- entry point


def spark_scores(cfg, candidate, champion, features, workdir) -> SparkScores:
    """Score the data with both models in Spark; the answers come from `SparkScores`."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    spark = get_session(cfg.spark_master)
    workdir = Path(workdir)
    frame, rows = read_frame(spark, cfg.data)
    cols = feature_columns(cfg.data, list(frame.columns), cfg.target, features=features,
                           slice_column=cfg.slice_column, ignore=cfg.ignore_columns)
    kind, unique, y_values = target_facts(frame, cfg.data, cfg.target, rows)
    task = infer_task(cfg.data, cfg.target, kind, unique, rows, candidate.is_classifier,
                      cfg.task)
    if task == CLASSIFICATION and unique > MAX_LABELS:
        raise BadInput(f"--data {cfg.data}: target {cfg.target!r} has more than {MAX_LABELS} "
                       "classes")

    models = [("candidate", candidate)] + ([("champion", champion)] if champion else [])
    struct = F.struct(*[spark_col(c) for c in cols])
    y_raw = spark_col(cfg.target)
    y_type = frame.schema[cfg.target].dataType
    if task == REGRESSION or isinstance(y_type, T.DecimalType):
        y_raw = y_raw.cast("double")
    select = [y_raw.alias("y")]
    has_proba: dict[str, bool] = {}
    for role, m in models:
        if task == REGRESSION:
            pred_type = "double"
        else:
            classes = m.classes
            pred_type = _result_type(np.asarray(classes).dtype.kind if classes is not None
                                     else kind)
        predict, proba = _model_udfs(spark, m, role, task, pred_type, workdir)
        tag = "b" if role == "candidate" else "a"
        select.append(predict(struct).alias(f"{tag}_raw"))
        if proba is not None:
            select.append(proba(struct).alias(f"p{tag}_raw"))
        has_proba[role] = proba is not None
    if cfg.slice_column:
        select.append(_slice_key(frame, cfg.slice_column).alias("s"))
    raw = frame.select(*select)
    raw = raw.cache()
    with spark_errors("scoring the data with Spark failed"):
        raw.count()
    try:
        if task == REGRESSION:
            scored, bad = _regression_frame(raw, models)
            labels: tuple[str, ...] = ()
        else:
            scored, labels, bad = _classification_frame(raw, models, y_values, has_proba,
                                                        cfg.data, cfg.target)
    except BaseException:
        raw.unpersist()
        raise
    return SparkScores(spark, scored, task, labels, rows, has_champion=champion is not None,
                       has_proba=has_proba, bad_proba=bad, sliced=bool(cfg.slice_column),
                       slice_column=cfg.slice_column, cached=raw)


def _slice_key(frame, column: str):
    """The slice value as text, as the pandas engine spells it (`str(value)`)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    c = spark_col(column)
    if isinstance(frame.schema[column].dataType, T.BooleanType):
        text = F.when(c, F.lit("True")).otherwise(F.lit("False"))
    else:
        text = c.cast("string")
    return F.when(c.isNull(), F.lit("nan")).otherwise(text)


def _regression_frame(raw, models):
    from pyspark.sql import functions as F

    aggs = []
    for role, _m in models:
        c = F.col("b_raw" if role == "candidate" else "a_raw")
        bad = c.isNull() | F.isnan(c) | (F.abs(c) == float("inf"))
        aggs.append(F.sum(F.when(bad, 1).otherwise(0)).alias(role))
    with spark_errors("scoring the data with Spark failed"):
        counts = raw.agg(*aggs).collect()[0]
    for role, _m in models:
        if counts[role]:
            raise BadInput(f"{role} predictions hold NaN or infinite values "
                           f"({counts[role]} rows)")
    a = "a_raw" if len(models) > 1 else "b_raw"
    cols = [F.col("y"), F.col(a).alias("a"), F.col("b_raw").alias("b")]
    if "s" in raw.columns:
        cols.append(F.col("s"))
    return raw.select(*cols), {}


def _classification_frame(raw, models, y_values, has_proba, path: str, target: str):
    """Label codes and aligned probabilities; the labels exactly as the pandas engine's."""
    from pyspark.sql import functions as F

    preds = {}
    for role, m in models:
        tag = "b" if role == "candidate" else "a"
        with spark_errors("scoring the data with Spark failed"):
            vals = [r[0] for r in raw.select(f"{tag}_raw").distinct()
                    .limit(MAX_LABELS + 1).collect()]
        if any(v is None for v in vals):
            raise BadInput(f"{role} {m.info.uri}: predictions hold empty values")
        if len(vals) > MAX_LABELS:
            raise BadInput(f"{role} {m.info.uri}: predicts more than {MAX_LABELS} distinct "
                           "labels; is it a regressor? (pass --task regression)")
        preds[role] = vals
    parts = [np.asarray(y_values)]
    for role, m in models:
        parts.append(np.asarray(preds[role]))
        if m.classes is not None:
            parts.append(np.asarray(m.classes))
    labels = union_labels(parts, path, target)
    k = len(labels)
    y_type = raw.schema["y"].dataType

    def coded(column: str, values, dtype):
        codes = np.searchsorted(labels, np.asarray(values, dtype=object)
                                if labels.dtype == object else np.asarray(values))
        pairs = []
        for v, code in zip(values, codes.tolist()):
            pairs += [F.lit(v).cast(dtype), F.lit(int(code))]
        return F.create_map(*pairs)[F.col(column)]

    exprs = {"y": coded("y", y_values, y_type)}
    checks, n_classes = [], {}
    for role, m in models:
        tag = "b" if role == "candidate" else "a"
        exprs[tag] = coded(f"{tag}_raw", preds[role], raw.schema[f"{tag}_raw"].dataType)
        if not has_proba[role]:
            continue
        p = F.col(f"p{tag}_raw")
        n_classes[role] = len(np.asarray(m.classes))
        nonfinite = F.exists(p, lambda x: x.isNull() | F.isnan(x) | (F.abs(x) == float("inf")))
        checks += [F.min(F.size(p)).alias(f"{tag}_min"), F.max(F.size(p)).alias(f"{tag}_max"),
                   F.sum(F.when(p.isNull() | nonfinite, 1).otherwise(0)).alias(f"{tag}_bad")]
        where = np.searchsorted(labels, np.asarray(m.classes, dtype=object)
                                if labels.dtype == object else np.asarray(m.classes))
        column_of = {int(j): i for i, j in enumerate(where.tolist())}
        exprs[f"p{tag}"] = F.array(*[p.getItem(column_of[j]) if j in column_of else
                                     F.lit(0.0).cast("double") for j in range(k)])
    bad: dict[str, bool] = {}
    if checks:
        with spark_errors("scoring the data with Spark failed"):
            got = raw.agg(*checks).collect()[0]
        for role, want in n_classes.items():
            tag = "b" if role == "candidate" else "a"
            low, high = got[f"{tag}_min"], got[f"{tag}_max"]
            if low != want or high != want:
                raise BadInput(f"{role}: predict_proba gave {low} to {high} columns for "
                               f"{want} classes")
            bad[role] = bool(got[f"{tag}_bad"])
    if len(models) == 1:      # no champion: `a` repeats the candidate
        exprs["a"] = exprs["b"]
        if "pb" in exprs:
            exprs["pa"] = exprs["pb"]
    cols = [exprs[name].alias(name) for name in ("y", "a", "b", "pa", "pb") if name in exprs]
    if "s" in raw.columns:
        cols.append(F.col("s"))
    scored = raw.select(*cols)
    return scored, tuple(str(v) for v in labels.tolist()), bad
