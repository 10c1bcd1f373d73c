"""A promotion moves the MLflow alias after the commit lands; a rollback moves it back."""

from __future__ import annotations

import pytest
from support.configrepo import example_remote, git

from mlgate.cli import main

IMG = "registry.example.com/ml/churn"
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def registry(tmp_path, monkeypatch):
    import mlflow

    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("churn")
    (tmp_path / "model").mkdir()
    for _ in range(2):
        client.create_model_version("churn", source=str(tmp_path / "model"), run_id=None)
    client.set_registered_model_alias("churn", "champion", "1")
    return uri, client


def test_alias_follows_promotion_and_rollback(tmp_path, registry):
    uri, client = registry
    remote = example_remote(tmp_path)
    env = {"PATH": "/usr/bin:/bin", "MLFLOW_TRACKING_URI": uri}
    base = ["--repo", str(remote), "--app", "churn", "--path", "apps/churn",
            "--environment", "production"]
    assert main(["promote", *base, "--image", f"{IMG}:v1.5.0", "--registry-model", "churn",
                 "--registry-version", "2", "--registry-alias", "champion"], environ=env) == 0
    commit = git(remote, "rev-parse", "main").strip()
    assert str(client.get_model_version_by_alias("churn", "champion").version) == "2"
    assert client.get_model_version("churn", "2").tags["mlgate.config_commit"] == commit
    assert "Mlgate-Registry: churn@champion 1 -> 2" in git(remote, "log", "-1", "--format=%B", "main")

    assert main(["rollback", *base], environ=env) == 0
    assert str(client.get_model_version_by_alias("churn", "champion").version) == "1"
    assert "newTag: v1.4.0" in git(remote, "show", "main:apps/churn/production/kustomization.yaml")


def test_registry_options_go_together(tmp_path, capsys):
    remote = example_remote(tmp_path)
    code = main(["promote", "--repo", str(remote), "--app", "churn", "--path", "apps/churn",
                 "--environment", "production", "--image", f"{IMG}:v1.5.0",
                 "--registry-alias", "champion"], environ={"PATH": "/usr/bin:/bin"})
    assert code == 2
    assert "go together" in capsys.readouterr().err
