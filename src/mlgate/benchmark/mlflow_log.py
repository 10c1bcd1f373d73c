"""Logging a benchmark's figures and reports to the candidate's MLflow run.

The run that trained the candidate is where a reviewer looks first; putting the comparison
there (as metrics prefixed `mlgate.` and the reports as artifacts under `mlgate-benchmark/`)
keeps the evidence beside the model instead of only in a CI log that expires.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from pathlib import Path

from mlgate.benchmark.result import BenchmarkResult
from mlgate.errors import BadInput, ServiceError

ARTIFACT_DIR = "mlgate-benchmark"


def _metric_rows(result: BenchmarkResult) -> dict[str, float]:
    out: dict[str, float] = {"mlgate.passed": 1.0 if result.passed else 0.0,
                             "mlgate.rows": float(result.rows)}
    for m in result.metrics:
        for key, value in (("candidate", m.candidate), ("champion", m.champion),
                           ("delta", m.delta), ("ci_low", m.low), ("ci_high", m.high),
                           ("p_value", m.p_value)):
            if value is not None and math.isfinite(value):
                out[f"mlgate.{m.name}.{key}"] = float(value)
    for lat in result.latency:
        out[f"mlgate.latency.{lat.role}.p50_ms"] = lat.p50_ms
        out[f"mlgate.latency.{lat.role}.p95_ms"] = lat.p95_ms
    return out


def log_to_run(result: BenchmarkResult, files: dict[str, str]) -> str:
    """Log to the candidate's run; returns the run id. Exit 2 when there is no run to log to."""
    run_id = result.candidate.run_id
    if not run_id:
        raise BadInput("--log-to-mlflow: the candidate has no MLflow run (give it as a "
                       "models:/ or runs:/ URI)")
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param
    from mlflow.exceptions import MlflowException

    client = MlflowClient()
    now = int(time.time() * 1000)
    metrics = [Metric(k, v, now, 0) for k, v in _metric_rows(result).items()]
    params = [Param("mlgate.champion", (result.champion.uri if result.champion else "none")[:500])]
    try:
        existing = client.get_run(run_id).data.params
        params = [p for p in params if p.key not in existing]
        client.log_batch(run_id, metrics=metrics, params=params)
        client.set_tag(run_id, "mlgate.benchmark", "passed" if result.passed else "failed")
        with tempfile.TemporaryDirectory(prefix="mlgate-log-") as tmp:
            result_path = Path(tmp) / "result.json"
            result_path.write_text(json.dumps(result.to_dict(), indent=1, default=str),
                                   encoding="utf-8")
            client.log_artifact(run_id, str(result_path), ARTIFACT_DIR)
            for path in files.values():
                if path and Path(path).is_file():
                    client.log_artifact(run_id, path, ARTIFACT_DIR)
    except MlflowException as exc:
        raise ServiceError(f"--log-to-mlflow: logging to run {run_id} failed: "
                           f"{exc.message.splitlines()[0][:300]}") from None
    except OSError as exc:
        raise ServiceError(f"--log-to-mlflow: logging to run {run_id} failed: {exc}") from None
    return run_id
