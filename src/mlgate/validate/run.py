"""The GX run: a suite from the repository against a batch of files, in an ephemeral context.

GX Core 1.x is driven the documented way (data source -> data asset -> whole-dataframe batch
definition -> ValidationDefinition) in an ephemeral context with in-memory stores, so no GX
project directory is needed and nothing lands in the working directory. Analytics and progress
bars are off: a gate in CI has no use for either.

Checks cheap enough to fail fast (the suite's shape, the data files' existence and format)
run before great_expectations is imported.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from mlgate.errors import BadInput, ServiceError
from mlgate.validate.data import DataFiles, find_files, read_pandas, read_spark
from mlgate.validate.config import DriftPolicy, ValidateConfig
from mlgate.validate.drift import column_drift, schema_changes
from mlgate.validate.result import (
    MAX_UNEXPECTED_VALUES,
    DriftReport,
    Outcome,
    ValidationResult,
    blocks,
)
from mlgate.validate.suite import SuiteSpec, build_suite, load_suite

RESULT_FORMATS = ("BOOLEAN_ONLY", "BASIC", "SUMMARY", "COMPLETE")
_VALUE_CHARS = 80
_OBSERVED_CHARS = 200


def validate(cfg: ValidateConfig) -> ValidationResult:
    spec = load_suite(cfg.suite)
    data = find_files(cfg.data)
    reference = find_files(cfg.reference, "--reference") if cfg.reference else None
    docs = _docs_target(cfg.data_docs) if cfg.data_docs else None
    gx = import_gx()
    suite = build_suite(spec)
    started = time.monotonic()
    spark, stop_spark = (None, False)
    try:
        if cfg.engine == "spark":
            spark, stop_spark = spark_session(cfg.spark_master)
            frame = read_spark(spark, data)
            ref_frame = read_spark(spark, reference, "--reference") if reference else None
        else:
            frame = read_pandas(data)
            ref_frame = read_pandas(reference, "--reference") if reference else None
        outcomes, docs_index, rows = _run_gx(gx, cfg, spec, suite, frame, docs)
        drift = _drift(cfg, reference, frame, ref_frame) if reference else None
        columns = tuple(str(c) for c in frame.columns)
    finally:
        if stop_spark:
            spark.stop()
    notes = []
    if rows == 0:
        notes.append("the data has no rows: column expectations pass on no rows; "
                     "expect_table_row_count_to_be_between guards against that")
    return ValidationResult(
        data=data.files,
        suite=cfg.suite,
        suite_name=spec.name,
        engine="spark" if cfg.engine == "spark" else "pandas",
        fail_on=cfg.fail_on,  # type: ignore[arg-type]
        result_format=cfg.result_format,
        rows=rows,
        columns=columns,
        outcomes=outcomes,
        drift=drift,
        gx_version=getattr(gx, "__version__", ""),
        duration_s=time.monotonic() - started,
        data_docs=docs_index,
        notes=tuple(notes),
    )


# --------------------------------------------------------------------------- GX


def import_gx():
    """great_expectations, imported quietly: no analytics, no warnings from its imports."""
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import great_expectations as gx
    except ImportError as exc:
        raise BadInput(f"mlgate validate needs Great Expectations: pip install "
                       f"'mlgate[validate]' ({exc})") from None
    return gx


def ephemeral_context(gx, docs_dir: str | None = None):
    """An in-memory GX context with progress bars and analytics off; with `docs_dir`, one
    local Data Docs site written there."""
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    sites = {}
    if docs_dir:
        sites["local_site"] = {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                              "base_directory": docs_dir},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        data_docs_sites=sites,
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def _run_gx(gx, cfg: ValidateConfig, spec: SuiteSpec, suite, frame, docs: Path | None):
    building = None
    if docs is not None:
        building = Path(tempfile.mkdtemp(prefix=f".{docs.name}.", dir=docs.parent)).resolve()
    try:
        context = ephemeral_context(gx, str(building) if building else None)
        if cfg.engine == "spark":
            source = context.data_sources.add_spark("mlgate_spark")
        else:
            source = context.data_sources.add_pandas("mlgate_pandas")
        asset = source.add_dataframe_asset("data")
        batch = asset.add_batch_definition_whole_dataframe("batch")
        suite = context.suites.add(suite)
        ids = [e.id for e in suite.expectations]
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"mlgate {spec.name}", data=batch, suite=suite))
        result_format = {
            "result_format": cfg.result_format,
            "partial_unexpected_count": MAX_UNEXPECTED_VALUES,
            "include_unexpected_rows": False,
        }
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                run = definition.run(batch_parameters={"dataframe": frame},
                                     result_format=result_format)
        except Exception as exc:  # noqa: BLE001 - GX wraps data errors in many types
            raise BadInput(f"--data {cfg.data}: GX could not validate it: "
                           f"{' '.join(str(exc).split())[:300]}") from None
        by_id = {r.expectation_config.id: r.to_json_dict() for r in run.results}
        outcomes = tuple(_outcome(entry, by_id.get(i), cfg.fail_on)
                         for entry, i in zip(spec.entries, ids))
        rows = _rows(frame, outcomes, cfg.engine)
        index = ""
        if building is not None and docs is not None:
            try:
                context.build_data_docs()
            except OSError as exc:
                raise BadInput(f"--data-docs {cfg.data_docs}: cannot write: "
                               f"{exc.strerror or exc}") from None
            _replace_dir(building, docs)
            building = None
            index = str(docs / "index.html")
        return outcomes, index, rows
    finally:
        if building is not None:
            shutil.rmtree(building, ignore_errors=True)


def _rows(frame, outcomes: tuple[Outcome, ...], engine: str) -> int:
    if engine != "spark":
        return int(len(frame))
    counts = [o.element_count for o in outcomes if o.element_count is not None]
    return max(counts) if counts else int(frame.count())


def _outcome(entry, result: dict[str, Any] | None, fail_on: str) -> Outcome:
    kwargs = entry.kwargs
    column = kwargs.get("column")
    if column is None:
        names = kwargs.get("column_list") or [kwargs[k] for k in ("column_A", "column_B")
                                              if k in kwargs]
        column = ", ".join(str(n) for n in names)
    if result is None:  # GX returned nothing for it: report that, and fail it
        error = "GX returned no result for this expectation"
        return Outcome(entry.index, entry.type, str(column), kwargs, entry.severity, False,
                       error=error, blocking=blocks(entry.severity, fail_on))
    details = result.get("result") or {}
    error = _error(result.get("exception_info"))
    success = bool(result.get("success")) and not error
    values = _distinct(details.get("partial_unexpected_counts"),
                       details.get("partial_unexpected_list"), details.get("unexpected_list"))
    observed = details.get("observed_value")
    return Outcome(
        index=entry.index,
        type=entry.type,
        column=str(column),
        kwargs=kwargs,
        severity=entry.severity,
        success=success,
        observed="" if observed is None else _short(observed, _OBSERVED_CHARS),
        element_count=_int(details.get("element_count")),
        unexpected_count=_int(details.get("unexpected_count")),
        unexpected_percent=_float(details.get("unexpected_percent")),
        unexpected_values=values,
        error=error,
        blocking=not success and blocks(entry.severity, fail_on),
    )


def _distinct(counts: Any, partial: Any, complete: Any) -> tuple[str, ...]:
    """A few distinct unexpected values, most frequent first when GX counted them."""
    if isinstance(counts, list) and counts:
        raw = [c.get("value") for c in counts if isinstance(c, dict)]
    else:
        raw = list(partial if isinstance(partial, list) else complete or [])
    out: list[str] = []
    for value in raw:
        text = _short(value, _VALUE_CHARS)
        if text not in out:
            out.append(text)
        if len(out) == MAX_UNEXPECTED_VALUES:
            break
    return tuple(out)


def _error(info: Any) -> str:
    """GX's exception message for an expectation that raised, without the traceback."""
    if not isinstance(info, dict) or not info:
        return ""
    candidates = [info] if "raised_exception" in info else list(info.values())
    for item in candidates:
        if isinstance(item, dict) and item.get("raised_exception"):
            message = item.get("exception_message") or "raised an exception"
            return " ".join(str(message).split())[:300]
    return ""


def _short(value: Any, limit: int) -> str:
    if isinstance(value, float):
        text = f"{value:.6g}"
    elif isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, default=str, separators=(",", ":"))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        else None


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        else None


# --------------------------------------------------------------------------- Data Docs


def _docs_target(path: str) -> Path:
    """Where --data-docs goes; an existing directory is replaced only if it holds a site."""
    target = Path(path)
    if target.exists():
        if not target.is_dir():
            raise BadInput(f"--data-docs {path}: exists and is not a directory")
        if any(target.iterdir()) and not (target / "index.html").is_file():
            raise BadInput(f"--data-docs {path}: not empty and not a Data Docs site; give a "
                           "new or an empty directory")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInput(f"--data-docs {path}: cannot create: {exc.strerror or exc}") from None
    if not os.access(target.parent, os.W_OK):
        raise BadInput(f"--data-docs {path}: cannot write in {target.parent}")
    return target


def _replace_dir(built: Path, target: Path) -> None:
    """Move the finished site into place: readers see the old site or the new, never half."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
    os.replace(built, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# --------------------------------------------------------------------------- Spark


def spark_session(master: str | None):
    """The active SparkSession, or a new one (returned with True: the caller stops it)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from pyspark.sql import SparkSession
    except ImportError:
        raise BadInput("--engine spark needs pyspark: pip install 'mlgate[validate,spark]'") \
            from None
    active = SparkSession.getActiveSession()
    if active is not None:
        return active, False
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise BadInput("--engine spark needs Java (17 or newer) on PATH or in JAVA_HOME")
    builder = SparkSession.builder.appName("mlgate validate").master(master or "local[*]")
    builder = builder.config("spark.ui.enabled", "false").config(
        "spark.sql.warehouse.dir", os.path.join(tempfile.gettempdir(), "mlgate-spark-warehouse"))
    if not master or master.startswith("local"):
        builder = builder.config("spark.driver.host", "127.0.0.1").config(
            "spark.driver.bindAddress", "127.0.0.1")
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # noqa: BLE001 - py4j / JVM start-up errors
        raise ServiceError(f"--spark-master {master or 'local[*]'}: Spark did not start: "
                           f"{' '.join(str(exc).split())[:300]}") from None
    session.sparkContext.setLogLevel("ERROR")
    return session, True


# --------------------------------------------------------------------------- drift


def _drift(cfg: ValidateConfig, reference: DataFiles, frame, ref_frame) -> DriftReport:
    if cfg.engine == "spark":  # the statistics run on the driver, over both datasets
        frame, ref_frame = frame.toPandas(), ref_frame.toPandas()
    policy = DriftPolicy(cfg.drift.method, cfg.drift.psi_threshold, cfg.drift.ks_threshold,
                         cfg.drift.severity, cfg.fail_on)
    return DriftReport(
        reference=reference.files,
        reference_rows=int(len(ref_frame)),
        method=policy.method,  # type: ignore[arg-type]
        psi_threshold=policy.psi_threshold,
        ks_threshold=policy.ks_threshold,
        severity=policy.severity,  # type: ignore[arg-type]
        schema=schema_changes(ref_frame, frame, policy),
        columns=column_drift(ref_frame, frame, policy),
    )
