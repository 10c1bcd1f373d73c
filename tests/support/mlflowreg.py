"""A real MLflow model registry (sqlite) holding model `churn` with a few versions and one
alias, as promote, rollback, sync-aliases and verify move it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


def churn_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, versions: int = 2,
                   alias: str = "champion") -> tuple[str, Any]:
    """(tracking URI, MlflowClient) of a new sqlite registry under tmp_path: `churn` versions
    1..versions, `alias` at version 1. The process's own MLflow settings are cleared so
    nothing reaches another registry."""
    import mlflow

    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_TRACKING_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("churn")
    (tmp_path / "model").mkdir(exist_ok=True)
    for _ in range(versions):
        client.create_model_version("churn", source=str(tmp_path / "model"), run_id=None)
    client.set_registered_model_alias("churn", alias, "1")
    return uri, client
