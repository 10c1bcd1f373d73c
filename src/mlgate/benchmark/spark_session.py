"""The Spark engine's session and input: a quiet local SparkSession, and the data read by Spark
and checked with the pandas engine's rules and messages.

The data is read by Spark (CSV with header and inferred schema, Parquet, JSON lines) and checked
with the same rules and messages as the pandas engine (`data.feature_columns`, `data.infer_task`,
figures from Spark aggregates), so `--engine spark` refuses the same inputs with the same exit-2
lines. Spark and executor failures become one-line `BadInput` errors (`spark_errors`), never a
Py4J traceback.

pyspark is imported inside the functions that need it.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path

from mlgate import safe_load
from mlgate.benchmark.data import data_format
from mlgate.benchmark.metrics import MetricError
from mlgate.errors import BadInput

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
def spark_errors(what: str):
    """Spark and executor failures as one-line BadInput errors naming what failed."""
    try:
        yield
    except (BadInput, MetricError):
        raise
    except Exception as exc:  # noqa: BLE001 - Py4J, AnalysisException, PythonException
        raise BadInput(f"{what}: {_first_line(exc)}") from None


def spark_col(name: str):
    """A column by name, quoted so a dot or a backtick in the name stays literal."""
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
    with spark_errors(f"--data {path}: cannot read as {fmt}"):
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
            frame = frame.select(*[spark_col(c) for c in order])
        rows = frame.count()
    if rows == 0:
        raise BadInput(f"--data {path}: no rows")
    return frame, int(rows)


def target_facts(frame, path: str, target: str, rows: int) -> tuple[str, int, list]:
    """(dtype kind as numpy spells it, distinct count as the pandas engine sees it, up to
    MAX_LABELS + 1 distinct values)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    dtype = frame.schema[target].dataType
    y = spark_col(target)
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
    with spark_errors(f"--data {path}"):
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
    with spark_errors(f"--data {path}"):
        values = [r[0] for r in frame.select(y).distinct().limit(cap).collect()]
    return ("i" if kind == "f" else kind), len(values), values
