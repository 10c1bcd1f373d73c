"""The Spark engine: both models score through `mlflow.pyfunc.spark_udf`, every figure comes from
Spark aggregates, and the test set never has to fit in the driver.

Flow: the data is read by Spark (CSV with header and inferred schema, Parquet, JSON lines), checked
with the same rules and messages as the pandas engine (`data.feature_columns`, `data.infer_task`,
figures from Spark aggregates), scored once by both models and cached. Class labels are the
sorted union of the target's distinct values, the predictions' distinct values and the models'
`classes_`, exactly as the pandas engine builds them, and become integer codes in Spark;
probabilities become arrays aligned to those labels. Every question `decide` asks is then
answered from that one cached DataFrame (`y`, `a` champion, `b` candidate, `pa` / `pb`
probabilities, `s` slice key):

- confusion metrics (accuracy, balanced accuracy, precision / recall / F1): the K³ joint count
  table of (label, champion prediction, candidate prediction), one `groupBy`. Point values,
  McNemar (its two off-diagonal counts) and the bootstrap come from it on the driver; the
  bootstrap is the same multinomial draw over the same table as the pandas engine's "table"
  route, so for the same seed the interval is *identical* to the pandas engine's.
- mean metrics (RMSE, MAE, R², MAPE, log loss, Brier): per-row values are computed by the
  metric's own numpy code in `mapInArrow`, and each partition returns its plain column sums and
  its Poisson(1)-weighted column sums for every resample (`stats.poisson_sums`), seeded from
  (seed, partition, batch); the driver adds the partials and applies `metric.reduce`. Point
  values equal the pandas engine's up to float summation order (~1e-15); intervals are the
  same Poisson bootstrap with different draws. The partials depend on how the data is split
  into partitions and Arrow batches: the same data, master and configuration give the same
  interval.
- ROC AUC (approximation): scores are binned into `AUC_BINS` (2¹⁴) equal-width bins over
  [0, 1] per model and one-vs-rest class; pairs in the same bin count as ties (half). The
  error against the exact AUC is at most half the share of positive x negative pairs whose
  scores fall in one bin but differ (bounded by `max_bin_tie_share`), typically ~1e-5. Its
  bootstrap uses the placement-value projection of `stats._auc_deltas_projected` (the pandas
  engine's route above 20,000 rows) with placements read off the same histograms.
- Wilcoxon signed-rank (regression, log loss, Brier): the paired loss differences are
  collected (8 bytes per row) when there are at most `WILCOXON_COLLECT_MAX_ROWS` rows, so the
  p-value is scipy's on the same numbers as the pandas engine's; above that the statistic is
  computed exactly in Spark (distinct |d| with counts, sorted by a range-partitioned
  `orderBy`, per-partition rank sums with tie sizes, offsets added on the driver) and turned
  into scipy's normal-approximation p-value (scipy uses that approximation above 50 rows).

pyspark, mlflow and scipy are imported inside the functions that need them.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from mlgate import safe_load
from mlgate.benchmark import stats
from mlgate.benchmark.data import data_format, feature_columns, infer_task, union_labels
from mlgate.benchmark.metrics import (
    CLASSIFICATION,
    REGRESSION,
    Metric,
    MetricError,
    Prepared,
    get_metric,
    prepare_pair,
)
from mlgate.benchmark.result import Curve, Curves, Role
from mlgate.benchmark.scores import _RESIDUAL_POINTS, _thin
from mlgate.benchmark.stats import Interval, percentile_interval
from mlgate.errors import BadInput

AUC_BINS = 1 << 14
WILCOXON_COLLECT_MAX_ROWS = 2_000_000
MAX_LABELS = 10_000
_URI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_PANDAS_WARNING = "PySpark does not yet fully support pandas"


# ----------------------------------------------------------------------------- session


_LOG4J = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n
"""


def _quiet() -> None:
    warnings.filterwarnings("ignore", message=_PANDAS_WARNING, category=FutureWarning)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def get_session(master: str | None = None):
    """The active SparkSession, or a new quiet one (local[*] on 127.0.0.1, no UI)."""
    _quiet()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    master = master or "local[*]"
    builder = (SparkSession.builder.master(master).appName("mlgate-benchmark")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.execution.arrow.pyspark.enabled", "true"))
    if master.startswith("local"):
        log4j = Path(tempfile.gettempdir()) / "mlgate-spark-log4j2.properties"
        try:
            if not log4j.is_file() or log4j.read_text() != _LOG4J:
                log4j.write_text(_LOG4J)
            builder = builder.config("spark.driver.extraJavaOptions",
                                     f"-Dlog4j2.configurationFile=file:{log4j}")
        except OSError:
            pass
        builder = (builder.config("spark.driver.host", "127.0.0.1")
                   .config("spark.driver.bindAddress", "127.0.0.1"))
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # noqa: BLE001 - no Java, bad master URL...
        raise BadInput(f"--spark-master {master}: cannot start Spark: {_first_line(exc)}"
                       ) from None
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    # a Python error raised in an executor: keep its last line (the exception itself)
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return type(exc).__name__
    for ln in reversed(lines):
        if re.match(r"[A-Za-z_][A-Za-z0-9_.]*(Error|Exception)\b", ln.strip(), re.ASCII):
            return ln.strip()[:300]
    return lines[0].strip()[:300]


@contextmanager
def _spark_errors(what: str):
    """Spark and executor failures as one-line BadInput errors naming what failed."""
    try:
        yield
    except (BadInput, MetricError):
        raise
    except Exception as exc:  # noqa: BLE001 - Py4J, AnalysisException, PythonException
        raise BadInput(f"{what}: {_first_line(exc)}") from None


def _col(name: str):
    from pyspark.sql import functions as F

    return F.col("`" + name.replace("`", "``") + "`")


# ----------------------------------------------------------------------------- reading


def _json_key_order(path: str) -> list[str] | None:
    """Keys of the first JSON line in file order (Spark sorts JSON columns by name)."""
    p = Path(path)
    if not p.is_file() or p.suffix.lower() not in (".jsonl", ".ndjson", ".json"):
        return None
    try:
        with p.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    obj = safe_load.parse_json(line, path)
                    return [str(k) for k in obj] if isinstance(obj, dict) else None
    except (OSError, ValueError, BadInput):
        return None
    return None


def read_frame(spark, path: str):
    """(Spark DataFrame, row count) of the data; exit 2 with the pandas engine's messages."""
    fmt = data_format(path)
    remote = bool(_URI.match(path)) and not path.startswith("file:")
    if not remote:
        p = Path(path.removeprefix("file://"))
        if not p.exists():
            raise BadInput(f"--data {path}: no such file")
        if p.is_file() and p.stat().st_size == 0:
            raise BadInput(f"--data {path}: the file is empty")
    with _spark_errors(f"--data {path}: cannot read as {fmt}"):
        if fmt == "csv":
            frame = spark.read.csv(path, header=True, inferSchema=True)
        elif fmt == "parquet":
            frame = spark.read.parquet(path)
        else:
            frame = spark.read.json(path)
        if "_corrupt_record" in frame.columns:
            raise BadInput(f"--data {path}: cannot read as {fmt}: malformed JSON lines")
        order = _json_key_order(path) if fmt == "jsonl" else None
        if order and set(order) == set(frame.columns):
            frame = frame.select(*[_col(c) for c in order])
        rows = frame.count()
    if rows == 0:
        raise BadInput(f"--data {path}: no rows")
    return frame, int(rows)


def _target_facts(frame, path: str, target: str, rows: int) -> tuple[str, int, list]:
    """(dtype kind as numpy spells it, distinct count as the pandas engine sees it, up to
    MAX_LABELS + 1 distinct values)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    dtype = frame.schema[target].dataType
    y = _col(target)
    if isinstance(dtype, (T.ByteType, T.ShortType, T.IntegerType, T.LongType)):
        kind = "i"
    elif isinstance(dtype, (T.FloatType, T.DoubleType, T.DecimalType)):
        kind = "f"
        y = y.cast("double")
    elif isinstance(dtype, T.BooleanType):
        kind = "b"
    elif isinstance(dtype, T.StringType):
        kind = "O"
    else:
        raise BadInput(f"--data {path}: target {target!r} has type {dtype.simpleString()}; "
                       "expected numbers, text or booleans")
    aggs = [F.sum(F.when(y.isNull(), 1).otherwise(0)).alias("nulls")]
    if kind == "f":
        bad = F.isnan(y) | (F.abs(y) == float("inf"))
        aggs += [F.sum(F.when(bad, 1).otherwise(0)).alias("bad"),
                 F.sum(F.when(~bad & (y != F.floor(y)), 1).otherwise(0)).alias("frac")]
    with _spark_errors(f"--data {path}"):
        facts = frame.agg(*aggs).collect()[0]
    where = f"--data {path}: target {target!r}"
    if facts["nulls"]:
        raise BadInput(f"{where} holds empty or non-finite values" if kind in "if"
                       else f"{where} holds empty values")
    if kind == "f":
        if facts["bad"]:
            raise BadInput(f"{where} holds empty or non-finite values")
        if facts["frac"]:
            return "f", 1 << 30, []
    cap = max(max(20, rows // 100) + 1, MAX_LABELS + 1)
    with _spark_errors(f"--data {path}"):
        values = [r[0] for r in frame.select(y).distinct().limit(cap).collect()]
    return ("i" if kind == "f" else kind), len(values), values


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
    with _spark_errors(f"{role} {model.info.uri}: cannot prepare the model for Spark"):
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
    kind, unique, y_values = _target_facts(frame, cfg.data, cfg.target, rows)
    task = infer_task(cfg.data, cfg.target, kind, unique, rows, candidate.is_classifier,
                      cfg.task)
    if task == CLASSIFICATION and unique > MAX_LABELS:
        raise BadInput(f"--data {cfg.data}: target {cfg.target!r} has more than {MAX_LABELS} "
                       "classes")

    models = [("candidate", candidate)] + ([("champion", champion)] if champion else [])
    struct = F.struct(*[_col(c) for c in cols])
    y_raw = _col(cfg.target)
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
    with _spark_errors("scoring the data with Spark failed"):
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

    c = _col(column)
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
    with _spark_errors("scoring the data with Spark failed"):
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
        with _spark_errors("scoring the data with Spark failed"):
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
        with _spark_errors("scoring the data with Spark failed"):
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


# ----------------------------------------------------------------------------- executors


def _batch_arrays(batch, k: int) -> dict:
    """numpy arrays of one Arrow record batch: y, a, b as codes or floats, pa / pb as (n, K)."""
    out = {}
    names = batch.schema.names
    for name in names:
        col = batch.column(names.index(name))
        if name in ("pa", "pb"):
            flat = col.flatten().to_numpy(zero_copy_only=False)
            out[name] = np.asarray(flat, dtype=np.float64).reshape(len(col), k)
        elif name in ("y", "a", "b"):
            out[name] = col.to_numpy(zero_copy_only=False)
    return out


def _prepared(arrays: dict, k: int, task: str) -> tuple[Prepared, Prepared]:
    if task == REGRESSION:
        y = arrays["y"].astype(np.float64)
        return (Prepared(y, arrays["a"].astype(np.float64), None, None),
                Prepared(y, arrays["b"].astype(np.float64), None, None))
    codes = np.arange(k)
    y = arrays["y"].astype(np.intp)
    return (Prepared(y, arrays["a"].astype(np.intp), arrays.get("pa"), codes),
            Prepared(y, arrays["b"].astype(np.intp), arrays.get("pb"), codes))


def _mean_values(metric: Metric, a: Prepared, b: Prepared, centre: float) -> np.ndarray:
    """(n, 1 + s + 2k): ones, shared columns, the champion's and the candidate's row values."""
    from mlgate.benchmark import metrics as mm

    n = len(a.y)
    if metric.shared is None:
        shared = np.empty((n, 0))
    elif metric.shared is mm._shared_r2:
        yc = a.y - centre       # centred on the whole data's mean, not the batch's
        shared = np.stack([yc, yc * yc], axis=1)
    else:  # pragma: no cover - every registered shared() is handled above
        raise MetricError(f"{metric.name}: the Spark engine cannot compute its shared columns")
    return np.concatenate([np.ones((n, 1)), shared, metric.rows(a), metric.rows(b)], axis=1)


def _child_seed(seed: int, partition: int, batch: int) -> int:
    return int(np.random.SeedSequence([int(seed), partition, batch]).generate_state(1)[0])


def _partials(frame, columns: list[str], fn, shape: tuple[int, ...]) -> np.ndarray:
    """Sum over partitions (and Arrow batches) of fn(arrays, partition, batch) -> `shape`."""
    import pyarrow as pa

    def run(batches):
        from pyspark import TaskContext

        part = TaskContext.get().partitionId()
        acc = None
        for i, batch in enumerate(batches):
            if batch.num_rows == 0:
                continue
            out = np.asarray(fn(batch, part, i), dtype=np.float64)
            acc = out if acc is None else acc + out
        if acc is not None:
            yield pa.RecordBatch.from_pydict({"blob": [acc.tobytes()]},
                                             schema=pa.schema([("blob", pa.binary())]))

    rows = frame.select(*columns).mapInArrow(run, "blob binary").collect()
    total = np.zeros(shape)
    for r in rows:
        total += np.frombuffer(bytes(r["blob"]), dtype=np.float64).reshape(shape)
    return total


def _gather(frame, columns: list[str], fn) -> np.ndarray:
    """Concatenation of fn(arrays) over every batch (order does not matter to the caller)."""
    import pyarrow as pa

    def run(batches):
        for batch in batches:
            if batch.num_rows:
                out = np.ascontiguousarray(fn(batch), dtype=np.float64)
                yield pa.RecordBatch.from_pydict({"blob": [out.tobytes()]},
                                                 schema=pa.schema([("blob", pa.binary())]))

    rows = frame.select(*columns).mapInArrow(run, "blob binary").collect()
    parts = [np.frombuffer(bytes(r["blob"]), dtype=np.float64) for r in rows]
    return np.concatenate(parts) if parts else np.empty(0)


# ----------------------------------------------------------------------------- scores


class SparkScores:
    """`Scores` answered by Spark aggregates over one cached, scored DataFrame.

    Columns of `frame`: `y` (label code or float target), `a` / `b` (champion / candidate
    prediction, codes or floats; `a` repeats `b` without a champion), `pa` / `pb` (probability
    arrays in label order, when the model has predict_proba) and `s` (slice key) when sliced.
    """

    def __init__(self, spark, frame, task: str, labels: tuple[str, ...], rows: int, *,
                 has_champion: bool, has_proba: dict[str, bool], bad_proba: dict,
                 sliced: bool = False, slice_column: str | None = None, cached=None,
                 table: np.ndarray | None = None, centre: float | None = None):
        self.spark = spark
        self.frame = frame
        self.task = task
        self.labels = labels
        self.rows = int(rows)
        self._has_champion = has_champion
        self._has_proba = dict(has_proba)
        if not has_champion:
            self._has_proba.setdefault("champion", False)
        self._bad_proba = dict(bad_proba)
        self._sliced = sliced
        self._slice_column = slice_column
        self._cached = cached
        self._table = table
        self._centre = centre
        self._means: dict[str, np.ndarray] = {}
        self._hist: np.ndarray | None = None
        self._slices: list | None = None

    # -- the protocol's attributes

    @property
    def has_champion(self) -> bool:
        return self._has_champion

    @property
    def k(self) -> int:
        return len(self.labels)

    def close(self) -> None:
        """Drop the cached scores from Spark's memory."""
        if self._cached is not None:
            self._cached.unpersist()
            self._cached = None

    # -- checks shared with ArrayScores

    def _check_role(self, role: Role) -> None:
        if role == "champion" and not self._has_champion:
            raise MetricError("there is no champion to score")

    def _check_proba(self, metric: Metric, role: Role) -> None:
        self._check_role(role)
        if metric.needs_proba and not self._has_proba.get(role):
            raise MetricError(f"{metric.name} needs predicted probabilities and the {role} "
                              "gives none (it has no predict_proba)")

    def _probe(self, metric: Metric, pair: bool, role: Role = "candidate") -> None:
        """Run prepare_pair on a tiny stand-in so every refusal is the pandas engine's."""
        if self.task == REGRESSION:
            if metric.task != REGRESSION:
                prepare_pair(metric, np.zeros(1), np.zeros(1))
            return
        k = self.k
        y = np.arange(k)

        def proba(r: str):
            if not self._has_proba.get(r):
                return None
            if self._bad_proba.get(r) and metric.needs_proba:
                raise MetricError(f"{r} probabilities hold NaN or infinite values")
            return np.full((k, k), 1.0 / k)

        if pair:
            prepare_pair(metric, y, y, y, proba("champion"), proba("candidate"),
                         labels=np.arange(k))
        else:
            prepare_pair(metric, y, y, None, proba(role), None, labels=np.arange(k))

    # -- the joint count table

    def _joint(self) -> np.ndarray:
        if self._table is None:
            k = self.k
            with _spark_errors("Spark aggregate failed"):
                got = self.frame.groupBy("y", "a", "b").count().collect()
            table = np.zeros(k ** 3, dtype=np.int64)
            for r in got:
                table[(int(r["y"]) * k + int(r["a"])) * k + int(r["b"])] += int(r["count"])
            self._table = table
        return self._table

    def _confusion(self, role: Role) -> np.ndarray:
        k = self.k
        t = self._joint().reshape(k, k, k)
        return t.sum(axis=2) if role == "champion" else t.sum(axis=1)

    # -- mean metrics

    def _y_centre(self) -> float:
        if self._centre is None:
            from pyspark.sql import functions as F

            with _spark_errors("Spark aggregate failed"):
                self._centre = float(self.frame.agg(F.avg("y")).collect()[0][0])
        return self._centre

    def _mean_columns(self, metric: Metric) -> list[str]:
        cols = ["y", "a", "b"]
        if self.task != REGRESSION and metric.needs_proba:
            cols += ["pa", "pb"] if self._has_proba.get("champion") else ["pb"]
        return cols

    def _mean_run(self, metric: Metric, resamples: int, seed: int) -> np.ndarray:
        """(1 + resamples, 1 + s + 2k): plain column sums, then the Poisson-weighted sums."""
        if metric.name == "mape":
            from pyspark.sql import functions as F

            with _spark_errors("Spark aggregate failed"):
                zeros = self.frame.where(F.col("y") == 0).count()
            if zeros:
                raise MetricError(f"mape is undefined: the target is zero in {zeros} row(s); "
                                  "use mae or rmse for such targets")
        name, k, task = metric.name, self.k, self.task
        centre = self._y_centre() if metric.shared is not None else 0.0
        width = 1 + (2 if metric.shared is not None else 0) + 2
        cols = self._mean_columns(metric)
        champion_proba = "pa" in cols

        def fn(batch, part, index):
            m = get_metric(name)
            arrays = _batch_arrays(batch, k)
            if "pb" in arrays and not champion_proba:
                arrays["pa"] = arrays["pb"]
            a, b = _prepared(arrays, k, task)
            values = _mean_values(m, a, b, centre)
            plain = values.sum(axis=0)[None, :]
            if not resamples:
                return plain
            sums = stats.poisson_sums(values, resamples, _child_seed(seed, part, index),
                                      workers=1)
            return np.concatenate([plain, sums], axis=0)

        with _spark_errors(f"{metric.name}: Spark aggregate failed"):
            return _partials(self.frame, cols, fn, (1 + resamples, width))

    def _mean_value(self, metric: Metric, role: Role) -> float:
        if metric.name not in self._means:
            self._means[metric.name] = self._mean_run(metric, 0, 0)[0]
        sums = self._means[metric.name]
        means = sums[1:] / sums[0]
        s = 2 if metric.shared is not None else 0
        own = means[s + 1:] if role == "candidate" else means[s:s + 1]
        return float(metric.reduce(np.concatenate([means[:s], own])))

    def _mean_deltas(self, metric: Metric, resamples: int, seed: int) -> np.ndarray:
        sums = self._mean_run(metric, resamples, seed)[1:]
        total = sums[:, :1]
        with np.errstate(divide="ignore", invalid="ignore"):
            means = sums[:, 1:] / total
        s = 2 if metric.shared is not None else 0
        ma = means[:, : s + 1]
        mb = np.concatenate([means[:, :s], means[:, s + 1:]], axis=1)
        out = metric.reduce(mb) - metric.reduce(ma)
        return np.where(total[:, 0] > 0, out, np.nan)

    # -- ROC AUC from histograms

    def _classes(self) -> list[int]:
        return [1] if self.k == 2 else list(range(self.k))

    def _histograms(self) -> np.ndarray:
        """(2 models, C classes, positive / negative, AUC_BINS) row counts."""
        if self._hist is None:
            k, classes = self.k, self._classes()
            models = [m for m in ("pa", "pb")
                      if self._has_proba.get("champion" if m == "pa" else "candidate")]
            shape = (2, len(classes), 2, AUC_BINS)

            def fn(batch, part, index):
                arrays = _batch_arrays(batch, k)
                out = np.zeros(shape)
                y = arrays["y"]
                for mi, name in enumerate(("pa", "pb")):
                    if name not in arrays:
                        continue
                    for ci, c in enumerate(classes):
                        bins = _bins(arrays[name][:, c])
                        pos = y == c
                        out[mi, ci, 0] = np.bincount(bins[pos], minlength=AUC_BINS)
                        out[mi, ci, 1] = np.bincount(bins[~pos], minlength=AUC_BINS)
                return out

            with _spark_errors("roc_auc: Spark aggregate failed"):
                self._hist = _partials(self.frame, ["y"] + models, fn, shape)
        return self._hist

    def _auc_parts(self, role: Role) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per class: (numerator, positives, negatives) of the binned Mann-Whitney AUC."""
        hist = self._histograms()[0 if role == "champion" else 1]
        pos, neg = hist[:, 0], hist[:, 1]
        below = np.cumsum(neg, axis=1) - 0.5 * neg
        num = (pos * below).sum(axis=1)
        return num, pos.sum(axis=1), neg.sum(axis=1)

    def _auc_value(self, role: Role) -> float:
        num, n_p, n_n = self._auc_parts(role)
        with np.errstate(divide="ignore", invalid="ignore"):
            per = np.where((n_p > 0) & (n_n > 0), num / (n_p * n_n), np.nan)
        value = float(np.mean(per))
        if np.isnan(value):
            raise MetricError("roc_auc is undefined: the target holds a single class"
                              + ("" if self.k == 2 else " for some one-vs-rest split"))
        return value

    def max_bin_tie_share(self, role: Role = "candidate") -> float:
        """Upper bound of |binned AUC - exact AUC| per class: half the share of positive x
        negative pairs that share a bin (pairs with equal scores among them are exact)."""
        hist = self._histograms()[0 if role == "champion" else 1]
        pos, neg = hist[:, 0], hist[:, 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            share = (pos * neg).sum(axis=1) / (pos.sum(axis=1) * neg.sum(axis=1))
        return float(0.5 * np.nanmax(share))

    def _auc_deltas(self, resamples: int, seed: int) -> np.ndarray:
        """Placement-value projection of the weighted Mann-Whitney statistic
        (see `stats._auc_deltas_projected`), placements from the histograms."""
        hist = self._histograms()
        k, classes = self.k, self._classes()
        c_n = len(classes)
        pos, neg = hist[:, :, 0], hist[:, :, 1]
        below = np.cumsum(neg, axis=2) - 0.5 * neg           # A for a positive in that bin
        above = pos.sum(axis=2, keepdims=True) - np.cumsum(pos, axis=2) + 0.5 * pos   # B
        width = 1 + c_n + 4 * c_n
        champion_proba = bool(self._has_proba.get("champion"))

        def fn(batch, part, index):
            arrays = _batch_arrays(batch, k)
            if not champion_proba:
                arrays["pa"] = arrays["pb"]
            y = arrays["y"]
            cols = [np.ones(len(y))] + [(y == c).astype(np.float64) for c in classes]
            for mi, name in enumerate(("pa", "pb")):
                for ci, c in enumerate(classes):
                    bins = _bins(arrays[name][:, c])
                    is_pos = y == c
                    cols.append(np.where(is_pos, below[mi, ci][bins], 0.0))
                    cols.append(np.where(is_pos, 0.0, above[mi, ci][bins]))
            return stats.poisson_sums(cols, resamples, _child_seed(seed, part, index),
                                      workers=1)

        columns = ["y", "pb"] + (["pa"] if champion_proba else [])
        with _spark_errors("roc_auc: Spark aggregate failed"):
            sums = _partials(self.frame, columns, fn, (resamples, width))
        total = sums[:, 0]
        values = []
        for mi in range(2):
            num, n_ps, n_ns = self._auc_parts("champion" if mi == 0 else "candidate")
            per_class = []
            for j in range(c_n):
                n_p, n_n = float(n_ps[j]), float(n_ns[j])
                w_p = sums[:, 1 + j]
                w_n = total - w_p
                col = 1 + c_n + 2 * (mi * c_n + j)
                sa = sums[:, col] - num[j]
                sb = sums[:, col + 1] - num[j]
                d_p, d_n = w_p - n_p, w_n - n_n
                with np.errstate(divide="ignore", invalid="ignore"):
                    theta = num[j] / (n_p * n_n)
                    second = sa * d_n / n_n + d_p * sb / n_p - theta * d_p * d_n
                    auc = (num[j] + sa + sb + second) / (w_p * w_n)
                per_class.append(np.where((w_p > 0) & (w_n > 0), auc, np.nan))
            values.append(np.mean(per_class, axis=0))
        return values[1] - values[0]

    # -- the protocol

    def value(self, metric: Metric, role: Role) -> float:
        self._check_proba(metric, role)
        self._probe(metric, False, role)
        if metric.confusion is not None:
            return float(metric.confusion(self._confusion(role)))
        if metric.rank_based:
            return self._auc_value(role)
        return self._mean_value(metric, role)

    def interval(self, metric: Metric, resamples: int, confidence: float,
                 seed: int) -> Interval:
        for role in ("champion", "candidate"):
            self._check_proba(metric, role)  # type: ignore[arg-type]
        if isinstance(resamples, bool) or not isinstance(resamples, (int, np.integer)) \
                or resamples < 1:
            raise MetricError(f"resamples must be a positive integer, got {resamples!r}")
        if not 0.0 < float(confidence) < 1.0:
            raise MetricError(f"confidence must be between 0 and 1 exclusive, got "
                              f"{confidence!r}")
        self._probe(metric, True)
        resamples = int(resamples)
        delta = self.value(metric, "candidate") - self.value(metric, "champion")
        if metric.confusion is not None:
            counts = self._joint()
            n = int(counts.sum())
            rng = np.random.default_rng(seed)       # the pandas engine's "table" route
            tables = rng.multinomial(n, counts / n, size=resamples)
            ca, cb = stats._confusions(tables, self.k)
            deltas = metric.confusion(cb) - metric.confusion(ca)
        elif metric.rank_based:
            deltas = self._auc_deltas(resamples, seed)
        else:
            deltas = self._mean_deltas(metric, resamples, seed)
        return percentile_interval(metric, float(delta), deltas, confidence)

    def significance(self, metric: Metric) -> tuple[str, float] | None:
        """McNemar from the joint table's two off-diagonal counts; Wilcoxon on the per-row
        losses (see the module docstring); none for ROC AUC."""
        self._check_role("champion")
        if metric.rank_based:
            return None
        if self.task != REGRESSION and not metric.needs_proba:
            from scipy.stats import binomtest

            k = self.k
            t = self._joint().reshape(k, k, k)
            right = np.eye(k, dtype=bool)
            ok_a = right[:, :, None]            # y == a
            ok_b = right[:, None, :]            # y == b
            only_a = int(t[ok_a & ~ok_b].sum())
            only_b = int(t[ok_b & ~ok_a].sum())
            if only_a + only_b == 0:
                return "mcnemar-exact", 1.0
            return "mcnemar-exact", float(binomtest(only_a, only_a + only_b, 0.5).pvalue)
        self._probe(metric, True)
        return "wilcoxon", self._wilcoxon(metric)

    def _loss_diff_fn(self, metric: Metric):
        name, k, task = metric.name, self.k, self.task
        champion_proba = bool(self._has_proba.get("champion"))

        def fn(batch):
            m = get_metric(name)
            arrays = _batch_arrays(batch, k)
            if "pb" in arrays and not champion_proba:
                arrays["pa"] = arrays["pb"]
            a, b = _prepared(arrays, k, task)
            return np.asarray(m.rows(a))[:, 0] - np.asarray(m.rows(b))[:, 0]

        return fn

    def _wilcoxon(self, metric: Metric) -> float:
        if metric.rows is None:
            raise MetricError(f"{metric.name} has no per-row loss")
        if metric.name == "mape":
            self._mean_value(metric, "candidate")   # the zero-target refusal
        fn = self._loss_diff_fn(metric)
        cols = self._mean_columns(metric)
        if self.rows <= WILCOXON_COLLECT_MAX_ROWS:
            with _spark_errors(f"{metric.name}: Spark aggregate failed"):
                d = _gather(self.frame, cols, fn)
            return stats.wilcoxon_losses(d, np.zeros_like(d))
        return self._wilcoxon_distributed(cols, fn)

    def _wilcoxon_distributed(self, cols: list[str], fn) -> float:
        """Two-sided Wilcoxon signed-rank p-value (zeros dropped, tie-corrected normal
        approximation, no continuity correction: scipy's method above 50 rows) with exact
        average ranks computed in Spark."""
        import pyarrow as pa
        from pyspark.sql import functions as F
        from scipy.stats import norm

        def diffs(batches):
            for batch in batches:
                if batch.num_rows:
                    yield pa.RecordBatch.from_pydict({"d": fn(batch)})

        def rank_sums(batches):
            from pyspark import TaskContext

            part = TaskContext.get().partitionId()
            total = positives = local = ties = 0.0
            for batch in batches:
                t = batch.column(1).to_numpy(zero_copy_only=False).astype(np.float64)
                p = batch.column(2).to_numpy(zero_copy_only=False).astype(np.float64)
                before = total + np.cumsum(t) - t
                local += float((p * (before + (t + 1.0) / 2.0)).sum())
                total += float(t.sum())
                positives += float(p.sum())
                ties += float((t ** 3 - t).sum())
            yield pa.RecordBatch.from_pydict({"part": [part], "t": [total], "p": [positives],
                                              "local": [local], "ties": [ties]})

        with _spark_errors("wilcoxon: Spark aggregate failed"):
            d = self.frame.select(*cols).mapInArrow(diffs, "d double").where(F.col("d") != 0)
            groups = (d.groupBy(F.abs("d").alias("v"))
                      .agg(F.count(F.lit(1)).alias("t"),
                           F.sum((F.col("d") > 0).cast("long")).alias("p"))
                      .orderBy("v").select("v", "t", "p"))
            parts = groups.mapInArrow(rank_sums, "part long, t double, p double, "
                                                 "local double, ties double").collect()
        parts = sorted(parts, key=lambda r: r["part"])
        n = offset = r_plus = ties = 0.0
        for r in parts:
            r_plus += r["local"] + offset * r["p"]
            offset += r["t"]
            ties += r["ties"]
        n = offset
        if n == 0:
            return 1.0
        mean = n * (n + 1.0) * 0.25
        se = np.sqrt((n * (n + 1.0) * (2.0 * n + 1.0) - ties / 2.0) / 24.0)
        if se == 0:
            return 1.0
        z = (r_plus - mean) / se
        return float(min(1.0, 2.0 * norm.sf(abs(z))))

    def slices(self) -> list[tuple[str, SparkScores]]:
        if not self._sliced:
            return []
        if self._slices is None:
            from pyspark.sql import functions as F

            from mlgate.benchmark.run import MAX_SLICES

            with _spark_errors("slices: Spark aggregate failed"):
                keys = [r[0] for r in self.frame.select("s").distinct()
                        .limit(MAX_SLICES + 1).collect()]
            if len(keys) > MAX_SLICES:
                raise BadInput(f"--slice {self._slice_column}: more than {MAX_SLICES} distinct "
                               "values; slice by a coarser column")
            keys = sorted(str(k) for k in keys)
            k = self.k
            tables = {key: np.zeros(k ** 3, dtype=np.int64) for key in keys}
            rows = dict.fromkeys(keys, 0)
            centres: dict[str, float | None] = dict.fromkeys(keys)
            with _spark_errors("slices: Spark aggregate failed"):
                if self.task == REGRESSION:
                    for r in self.frame.groupBy("s").agg(F.count(F.lit(1)).alias("n"),
                                                         F.avg("y").alias("m")).collect():
                        rows[r["s"]] = int(r["n"])
                        centres[r["s"]] = float(r["m"])
                else:
                    for r in self.frame.groupBy("s", "y", "a", "b").count().collect():
                        cell = (int(r["y"]) * k + int(r["a"])) * k + int(r["b"])
                        tables[r["s"]][cell] += int(r["count"])
                        rows[r["s"]] += int(r["count"])
            out = []
            for key in keys:
                sub = self.frame.where(F.col("s") == F.lit(key))
                out.append((key, SparkScores(
                    self.spark, sub, self.task, self.labels, rows[key],
                    has_champion=self._has_champion, has_proba=self._has_proba,
                    bad_proba=self._bad_proba,
                    table=None if self.task == REGRESSION else tables[key],
                    centre=centres[key])))
            self._slices = out
        return list(self._slices)

    def curves(self) -> Curves:
        curves = Curves()
        roles: list[Role] = ["champion", "candidate"] if self._has_champion else ["candidate"]
        if self.task == REGRESSION:
            fraction = min(1.0, 2.5 * _RESIDUAL_POINTS / max(self.rows, 1))
            with _spark_errors("curves: Spark sample failed"):
                got = (self.frame.sample(False, fraction, seed=0).limit(_RESIDUAL_POINTS)
                       .select("y", "a", "b").collect())
            y = np.array([r["y"] for r in got], dtype=np.float64)
            for role in roles:
                pred = np.array([r["a" if role == "champion" else "b"] for r in got],
                                dtype=np.float64)
                curves.residuals[role] = Curve(tuple(pred.tolist()), tuple((y - pred).tolist()))
            return curves
        classes = self._classes()
        roles = [r for r in roles if self._has_proba.get(r) and not self._bad_proba.get(r)]
        if not roles:
            return curves
        hist = self._histograms()
        for role in roles:
            for ci, c in enumerate(classes):
                pos, neg = hist[0 if role == "champion" else 1, ci]
                if pos.sum() == 0 or neg.sum() == 0:
                    continue
                key = role if self.k == 2 else f"{role}:{self.labels[c]}"
                roc, pr = _binned_curves(pos, neg)
                curves.roc[key] = roc
                curves.pr[key] = pr
        return curves


def _bins(score: np.ndarray) -> np.ndarray:
    return np.clip((score * AUC_BINS).astype(np.int64), 0, AUC_BINS - 1)


def _binned_curves(pos: np.ndarray, neg: np.ndarray) -> tuple[Curve, Curve]:
    """ROC and precision-recall curves with one threshold per occupied bin (highest first)."""
    used = np.flatnonzero((pos + neg) > 0)[::-1]
    tp = np.cumsum(pos[used])
    fp = np.cumsum(neg[used])
    n_p, n_n = pos.sum(), neg.sum()
    tpr = np.concatenate([[0.0], tp / n_p])
    fpr = np.concatenate([[0.0], fp / n_n])
    auc = float(np.trapezoid(tpr, fpr)) if hasattr(np, "trapezoid") else float(
        np.trapz(tpr, fpr))
    precision = tp / (tp + fp)
    recall = tp / n_p
    ap = float(np.sum(np.diff(np.concatenate([[0.0], recall])) * precision))
    # scikit-learn's order: recall falling to 0, where precision is 1
    rec = np.concatenate([recall[::-1], [0.0]])
    prec = np.concatenate([precision[::-1], [1.0]])
    return _thin(fpr, tpr, auc), _thin(rec, prec, ap)

