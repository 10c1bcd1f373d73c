"""`mlgate benchmark` against a real MLflow registry: sqlite in-process, and once through
`mlflow server` on 127.0.0.1 (the way CI reaches a shared registry)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from mlgate.cli import main
from support.mlmodels import classification_frame, fit, make_registry, split

MODEL = "churn"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import GaussianNB
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import PolynomialFeatures, StandardScaler

    root = tmp_path_factory.mktemp("registry")
    reg = make_registry(root)
    train, test = split(classification_frame(6000, 11), 4000)
    weak = fit(GaussianNB(), train, "label")
    strong = fit(make_pipeline(PolynomialFeatures(2), StandardScaler(),
                               LogisticRegression(max_iter=1000)), train, "label")
    v1, run1 = reg.register(weak, MODEL, alias="champion")
    v2, run2 = reg.register(strong, MODEL)
    v3, _ = reg.register(weak, MODEL, fmt="cloudpickle")
    test.to_csv(root / "test.csv", index=False)
    return {"reg": reg, "root": root, "data": root / "test.csv", "v1": v1, "v2": v2, "v3": v3,
            "run1": run1, "run2": run2}


@pytest.fixture
def env(world, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", world["reg"].uri)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", world["reg"].uri)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("GITLAB_CI", raising=False)
    return {**os.environ, "MLGATE_CI": "local"}


def bench(env, *args: str, out: Path) -> tuple[int, dict]:
    code = main(["benchmark", *args, "--bootstrap", "300", "--json", str(out)], environ=env)
    doc = json.loads(out.read_text())
    return code, {**doc["result"], "outputs": doc["outputs"]}


def test_alias_and_version_uris(world, env, tmp_path: Path) -> None:
    code, res = bench(env, "--candidate", f"models:/{MODEL}/{world['v2']}", "--champion",
                      f"models:/{MODEL}@champion", "--data", str(world["data"]), "--target",
                      "label", out=tmp_path / "r.json")
    assert code == 0, res
    assert res["candidate"]["version"] == world["v2"] and res["candidate"]["name"] == MODEL
    assert res["champion"]["version"] == world["v1"]
    assert res["champion"]["run_id"] == world["run1"]
    assert res["metrics"][0]["name"] == "accuracy" and res["metrics"][0]["delta"] > 0


def test_the_registry_comes_from_the_environ_mapping_given(world, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    """The demo (and any caller of main) passes the registry in `environ`, not os.environ."""
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "GITHUB_ACTIONS", "GITLAB_CI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # MLflow's default registry would be ./mlflow.db: not this one
    env = {**os.environ, "MLGATE_CI": "local", "MLFLOW_TRACKING_URI": world["reg"].uri,
           "MLFLOW_REGISTRY_URI": world["reg"].uri}
    code, res = bench(env, "--candidate", f"models:/{MODEL}/{world['v2']}", "--champion",
                      f"models:/{MODEL}@champion", "--data", str(world["data"]), "--target",
                      "label", out=tmp_path / "r.json")
    assert code == 0, res
    assert (res["candidate"]["version"], res["champion"]["version"]) == (world["v2"],
                                                                         world["v1"])
    assert "MLFLOW_TRACKING_URI" not in os.environ


def test_missing_alias_means_no_champion(world, env, tmp_path: Path) -> None:
    code, res = bench(env, "--candidate", f"models:/{MODEL}/{world['v2']}", "--champion",
                      f"models:/{MODEL}@production", "--data", str(world["data"]), "--target",
                      "label", "--metric", "accuracy:threshold=0.8", out=tmp_path / "r.json")
    assert code == 0 and res["champion"] is None
    assert any("does not exist in the registry yet" in n for n in res["notes"])
    code, res = bench(env, "--candidate", f"models:/{MODEL}/{world['v2']}", "--champion",
                      "models:/never-registered@champion", "--data", str(world["data"]),
                      "--target", "label", "--metric", "accuracy:threshold=0.99",
                      out=tmp_path / "r2.json")
    assert code == 1 and res["champion"] is None


def test_runs_uri_and_log_to_mlflow(world, env, tmp_path: Path) -> None:
    from mlflow import MlflowClient

    code, res = bench(env, "--candidate", f"runs:/{world['run2']}/model", "--champion",
                      f"models:/{MODEL}@champion", "--data", str(world["data"]), "--target",
                      "label", "--log-to-mlflow", "--report", str(tmp_path / "r.md"),
                      out=tmp_path / "r.json")
    assert code == 0, res
    assert res["mlflow_run_id"] == world["run2"]
    run = MlflowClient(world["reg"].uri).get_run(world["run2"])
    assert run.data.metrics["mlgate.accuracy.delta"] == pytest.approx(res["metrics"][0]["delta"])
    assert run.data.tags["mlgate.benchmark"] == "passed"
    names = {a.path for a in MlflowClient(world["reg"].uri).list_artifacts(world["run2"],
                                                                         "mlgate-benchmark")}
    assert names == {"mlgate-benchmark/result.json", "mlgate-benchmark/r.md"}


def test_cloudpickle_registry_model_needs_trust(world, env, tmp_path: Path, capsys) -> None:
    code = main(["benchmark", "--candidate", f"models:/{MODEL}/{world['v3']}", "--data",
                 str(world["data"]), "--target", "label"], environ=env)
    assert code == 2
    err = capsys.readouterr().err
    assert "cloudpickle" in err and "--trust-pickle" in err and "Traceback" not in err
    code, res = bench(env, "--candidate", f"models:/{MODEL}/{world['v3']}", "--data",
                      str(world["data"]), "--target", "label", "--trust-pickle",
                      out=tmp_path / "r.json")
    assert code == 0 and res["candidate"]["format"] == "mlflow-sklearn-cloudpickle"


def test_unknown_version_is_bad_input(world, env, capsys) -> None:
    code = main(["benchmark", "--candidate", f"models:/{MODEL}/99", "--data",
                 str(world["data"]), "--target", "label"], environ=env)
    assert code == 2
    assert "candidate models:/churn/99" in capsys.readouterr().err


# (surrounding white space is stripped on purpose: values arrive from env vars and YAML)
@pytest.mark.parametrize("uri", [f"models:/{MODEL}/1\n2", f"models:/{MODEL} /1",
                                 f"models:/{MODEL}@champion\nx"])
def test_a_models_uri_with_a_line_break_or_space_is_bad_input(world, env, capsys,
                                                               uri: str) -> None:
    code = main(["benchmark", "--candidate", uri, "--data", str(world["data"]),
                 "--target", "label"], environ=env)
    err = capsys.readouterr().err
    assert code == 2
    assert "expected models:/NAME/VERSION or models:/NAME@ALIAS" in err
    assert len(err.strip().splitlines()) == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_through_mlflow_server(world, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same registry served by `mlflow server` on loopback; artifacts proxied by it."""
    port = _free_port()
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    log = open(tmp_path / "server.log", "wb")
    proc = subprocess.Popen(
        [str(mlflow_bin), "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", world["reg"].uri, "--workers", "1"],
        stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
        env={**os.environ, "MLFLOW_TRACKING_URI": ""})
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 90
        while True:
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline or proc.poll() is not None:
                pytest.fail("mlflow server did not start: "
                            + (tmp_path / "server.log").read_text()[-2000:])
            time.sleep(0.5)
        monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
        monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
        env = {**os.environ, "MLGATE_CI": "local"}
        code, res = bench(env, "--candidate", f"models:/{MODEL}/{world['v2']}", "--champion",
                          f"models:/{MODEL}@champion", "--data", str(world["data"]),
                          "--target", "label", out=tmp_path / "r.json")
        assert code == 0, res
        assert res["champion"]["version"] == world["v1"]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
