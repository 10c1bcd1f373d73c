"""`mlgate verify` end to end: the CLI against a real Prometheus scraping a loopback exporter
whose figures the test drives, rolling back in a real config repo and MLflow registry.

Each test uses its own app name on the session's Prometheus (see support/prometheus.py)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from support.configrepo import example_remote, git
from support.mlflowreg import churn_registry
from standins.kube_api import kube_api  # noqa: F401  (fixture)
from support.prometheus import p95

from mlgate.cli import main

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

IMG = "registry.example.com/ml/churn"
NS = "ml"


def evidence(tmp_path: Path, accuracy: float = 0.95, version: str = "2") -> Path:
    """The JSON of `mlgate benchmark` as it writes it (only what verify reads matters)."""
    doc = {"command": "benchmark", "exit_code": 0, "verdict": "passed",
           "result": {"candidate": {"name": "churn", "version": version},
                      "metrics": [{"name": "accuracy", "candidate": accuracy,
                                   "champion": 0.9}]}}
    path = tmp_path / "benchmark.json"
    path.write_text(json.dumps(doc))
    return path


def verify(stack, app: str, *args: str, tmp_path: Path, env=None) -> tuple[int, dict]:
    out = tmp_path / f"verify-{app}.json"
    argv = ["verify", "--prometheus", stack.url, "--namespace", NS, "--app", app,
            "--interval", "1s", "--json", str(out), *args]
    code = main(argv, environ={"PATH": "/usr/bin:/bin", "MLGATE_CI": "local", **(env or {})})
    doc = json.loads(out.read_text()) if out.exists() else {}
    return code, doc


def settle(stack, app: str, *, error_ratio=0.0, latency=0.08, accuracy=0.95) -> None:
    stack.exporter.traffic(app, NS, error_ratio=error_ratio, latency=latency, rps=100)
    stack.exporter.accuracy(app, NS, accuracy)
    stack.prometheus.wait_for(
        f'sum(rate(http_requests_total{{app="{app}",namespace="{NS}"}}[1s]))',
        lambda vs: bool(vs) and vs[0] > 0, timeout=20)


def test_a_healthy_model_is_verified_with_every_measurement_reported(prometheus_stack,
                                                                      tmp_path):
    app = "healthy"
    settle(prometheus_stack, app)
    code, doc = verify(prometheus_stack, app, "--count", "3", "--check", "error-rate:max=1%",
                       "--check", "p95-latency:max=500ms", "--check", "accuracy:max-drop=5%",
                       "--evidence", str(evidence(tmp_path)), "--on-failure", "none",
                       "--report", str(tmp_path / "v.md"), "--junit", str(tmp_path / "v.xml"),
                       "--metrics-file", str(tmp_path / "m.txt"), tmp_path=tmp_path)
    assert code == 0, doc
    assert doc["outputs"]["passed"] == "true" and doc["outputs"]["phase"] == "Successful"
    checks = {c["name"]: c for c in doc["result"]["checks"]}
    assert [m["phase"] for m in checks["error-rate"]["measurements"]] == ["Successful"] * 3
    assert checks["p95-latency"]["measurements"][-1]["value"] == pytest.approx(p95(0.08),
                                                                              rel=0.05)
    # max-drop 5 % of the benchmark's 0.95: at least 0.9025
    assert checks["accuracy"]["limits"]["min"] == pytest.approx(0.9025)
    assert checks["accuracy"]["baseline"] == 0.95
    assert 'app="healthy"' in checks["error-rate"]["query"]
    assert "```mermaid" in (tmp_path / "v.md").read_text()
    assert (tmp_path / "v.xml").read_text().count("<testcase") == 3
    assert doc["outputs"]["report"] == str(tmp_path / "v.md")


def test_flapping_under_the_failure_limit_passes(prometheus_stack, tmp_path):
    app = "flapping"
    settle(prometheus_stack, app)
    values = iter([0.7, 0.95, 0.7, 0.95, 0.95])

    def flap():
        for v in values:
            prometheus_stack.exporter.accuracy(app, NS, v)
            time.sleep(1.0)
    threading.Thread(target=flap, daemon=True).start()
    code, doc = verify(prometheus_stack, app, "--count", "4", "--failure-limit", "2",
                       "--check", "accuracy:min=0.9", "--on-failure", "none",
                       tmp_path=tmp_path)
    check = doc["result"]["checks"][0]
    assert code == 0, check
    assert 1 <= check["failed"] <= 2


def test_series_absent_is_inconclusive_and_rolls_nothing_back(prometheus_stack, tmp_path):
    remote = example_remote(tmp_path)
    head = git(remote, "rev-parse", "main").strip()
    code, doc = verify(prometheus_stack, "nobody-home", "--count", "2", "--check",
                       "accuracy:min=0.9", "--repo", str(remote), "--environment",
                       "production", "--path", "apps/churn", "--no-incident",
                       tmp_path=tmp_path)
    assert code == 1
    assert doc["outputs"]["phase"] == "Inconclusive"
    assert doc["outputs"]["rolled-back"] == "false"
    assert "no data" in doc["outputs"]["message"]
    assert git(remote, "rev-parse", "main").strip() == head


@pytest.fixture
def registry(tmp_path, monkeypatch):
    return churn_registry(tmp_path, monkeypatch)


def test_degrading_mid_analysis_rolls_back_in_git_with_the_reason(prometheus_stack, tmp_path,
                                                                  registry):
    uri, client = registry
    app = "churn"      # the example config repo's app; its own series on the exporter
    ns = "degrading"
    prometheus_stack.exporter.traffic(app, ns, error_ratio=0.0, latency=0.08, rps=100)
    prometheus_stack.prometheus.wait_for(
        f'sum(rate(http_requests_total{{app="{app}",namespace="{ns}"}}[1s]))',
        lambda vs: bool(vs) and vs[0] > 0, timeout=20)
    remote = example_remote(tmp_path)
    env = {"MLFLOW_TRACKING_URI": uri}
    base = ["--repo", str(remote), "--app", app, "--path", "apps/churn",
            "--environment", "production"]
    assert main(["promote", *base, "--image", f"{IMG}:v1.5.0", "--registry-model", "churn",
                 "--registry-version", "2", "--registry-alias", "champion"],
                environ={"PATH": "/usr/bin:/bin", **env}) == 0
    promoted = git(remote, "rev-parse", "main").strip()
    assert str(client.get_model_version_by_alias("churn", "champion").version) == "2"

    breach: list[float] = []

    def degrade():
        time.sleep(2.2)            # two healthy measurements first
        breach.append(time.monotonic())
        prometheus_stack.exporter.traffic(app, ns, error_ratio=0.3)
    threading.Thread(target=degrade, daemon=True).start()
    started = time.monotonic()
    out = tmp_path / "verify.json"
    code = main(["verify", "--prometheus", prometheus_stack.url, "--namespace", ns,
                 "--interval", "1s", "--count", "8", "--check", "error-rate:max=1%",
                 "--check", "p95-latency:max=500ms", "--revision", promoted, "--no-incident",
                 "--json", str(out), *base],
                environ={"PATH": "/usr/bin:/bin", "MLGATE_CI": "local", **env})
    doc = json.loads(out.read_text())
    assert code == 1, doc
    errors = next(c for c in doc["result"]["checks"] if c["name"] == "error-rate")
    first_failed = next(m for m in errors["measurements"] if m["phase"] == "Failed")
    # noticed within one interval (plus a scrape) of the breach, and the run ended there
    assert started + first_failed["at"] - breach[0] <= 1.0 + 0.5
    assert len(errors["measurements"]) < 8
    assert doc["outputs"]["rolled-back"] == "true"
    back = git(remote, "rev-parse", "main").strip()
    assert doc["outputs"]["rollback-commit"] == back != promoted
    message = git(remote, "log", "-1", "--format=%B", "main")
    assert f"Mlgate-Rollback-Of: {promoted}" in message
    reason = next(line for line in message.splitlines()
                  if line.startswith("Mlgate-Rollback-Reason: "))
    assert reason.startswith("Mlgate-Rollback-Reason: error-rate ")
    assert "> 0.01 (1 of " in reason
    assert "newTag: v1.4.0" in git(remote, "show", "main:apps/churn/production/kustomization.yaml")
    assert str(client.get_model_version_by_alias("churn", "champion").version) == "1"
    # the failed verification is recorded on the promotion it judged (a git note, not a
    # commit: main holds the rollback and nothing else)
    note = git(remote, "notes", "--ref=refs/notes/mlgate", "show", promoted).strip()
    assert note.startswith("verify Failed 20") and doc["result"]["recorded"]["recorded"]


def test_prometheus_stopped_is_exit_3_and_nothing_is_rolled_back(bare_prometheus, tmp_path):
    remote = example_remote(tmp_path)
    assert main(["promote", "--repo", str(remote), "--app", "churn", "--path", "apps/churn",
                 "--environment", "staging", "--image", f"{IMG}:v1.5.0"],
                environ={"PATH": "/usr/bin:/bin"}) == 0
    head = git(remote, "rev-parse", "main").strip()
    bare_prometheus.stop()
    # the config repo refuses every push (a stand-in for a token without push rights): the
    # outcome cannot be recorded, which is a warning and leaves exit 3 as it is
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'read-only mirror' >&2\nexit 1\n")
    hook.chmod(0o755)
    out = tmp_path / "v.json"
    code = main(["verify", "--prometheus", bare_prometheus.url, "--check",
                 "name=up,query=vector(1),min=1", "--interval", "0.5s", "--count", "5",
                 "--consecutive-error-limit", "1", "--repo", str(remote), "--app", "churn",
                 "--environment", "staging", "--path", "apps/churn", "--no-incident",
                 "--revision", head, "--json", str(out)],
                environ={"PATH": "/usr/bin:/bin", "MLGATE_CI": "local"})
    doc = json.loads(out.read_text())
    assert code == 3, doc
    assert doc["outputs"]["phase"] == "Error"
    assert "2 errors in a row" in doc["outputs"]["message"]
    assert git(remote, "rev-parse", "main").strip() == head
    recorded = doc["result"]["recorded"]
    assert recorded["recorded"] is False and recorded["line"].startswith("verify Error ")
    assert "refused the push: read-only mirror" in recorded["warning"]
    assert "refs/notes/mlgate" not in git(remote, "for-each-ref")


@pytest.mark.parametrize("args, needle", [
    (["--check", "error-rate:max=1%"], "a failed check rolls back: give --repo"),
    (["--check", "drift", "--on-failure", "check"], "--retrain-workflow"),
    (["--check", "bogus:max=1", "--on-failure", "none"], "unknown check 'bogus'"),
    (["--check", "accuracy:max-drop=5%", "--on-failure", "none"], "give --evidence"),
    (["--check", "name=x,query=up{app=~{app}},max=1", "--on-failure", "none"],
     "must stand inside a double-quoted string"),
    (["--check", "error-rate:max=1%", "--on-failure", "none", "--interval", "soon"],
     "--interval 'soon': not a duration"),
    (["--check", "error-rate:max=1%", "--check", "error-rate:max=2%", "--on-failure", "none"],
     "each check once"),
    (["--check", "error-rate:max=1%", "--on-failure", "none", "--query", "nope=up"],
     "--query 'nope=up'"),
    (["--check", "error-rate:max=1%", "--revision", "abc", "--on-failure", "none"],
     "--revision"),
])
def test_bad_input_is_exit_2_before_any_query(args, needle, tmp_path, capsys):
    with_ns = ["--namespace", "ml", "--app", "churn"]
    code = main(["verify", "--prometheus", "http://127.0.0.1:9", *with_ns, *args],
                environ={"PATH": "/usr/bin:/bin", "MLGATE_CI": "local"})
    err = capsys.readouterr().err
    assert code == 2, err
    assert needle in err


def test_a_hostile_label_cannot_leave_its_string(prometheus_stack, tmp_path):
    """An app name that would close the selector and add `or vector(0)` stays one label
    value: the series does not exist, so the check has no data."""
    code, doc = verify(prometheus_stack, 'x"} or vector(0) or up{a="', "--count", "1",
                       "--check", "accuracy:max=1", "--on-failure", "none", tmp_path=tmp_path)
    assert code == 1
    assert doc["outputs"]["phase"] == "Inconclusive"


@pytest.fixture
def github(tmp_path, monkeypatch):
    from standins.github_api import GitHubStandIn

    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    with GitHubStandIn(tmp_path / "github", name="churn-model") as server:
        server.add_workflow(".github/workflows/train.yml", name="train",
                            inputs=("mlgate_app", "mlgate_environment", "mlgate_model_version",
                                    "mlgate_reason", "mlgate_check", "mlgate_value",
                                    "mlgate_limit", "mlgate_evidence"))
        yield server


def on_github(server) -> dict[str, str]:
    from standins.github_api import WRITE_TOKEN

    return {"GITHUB_ACTIONS": "true", "GITHUB_TOKEN": WRITE_TOKEN,
            "GITHUB_REPOSITORY": server.full_name, "GITHUB_API_URL": server.api_url,
            "GITHUB_SERVER_URL": "https://github.example", "GITHUB_RUN_ID": "7",
            "NO_PROXY": "127.0.0.1,localhost"}


def test_drift_starts_the_training_and_opens_an_incident_instead_of_rolling_back(
        prometheus_stack, tmp_path, github):
    app = "drifting"
    settle(prometheus_stack, app)
    prometheus_stack.exporter.drift(app, NS, 0.8)
    prometheus_stack.prometheus.wait_for(
        f'max(mlgate_model_drift_score{{app="{app}",namespace="{NS}"}})',
        lambda vs: vs == [0.8], timeout=20)
    code, doc = verify(prometheus_stack, app, "--count", "2", "--check", "drift",
                       "--check", "error-rate:max=1%,on-failure=none", "--retrain-workflow",
                       "train.yml",
                       "--environment", "production", "--model-version", "7",
                       tmp_path=tmp_path, env=on_github(github))
    assert code == 1, doc
    out = doc["outputs"]
    assert out["rolled-back"] == "false"               # drift's own choice: retrain
    assert out["retrain-url"].startswith(github.html_url)
    assert out["incident-url"].startswith(github.html_url)
    (run,) = [r for r in github.runs if r.event == "workflow_dispatch"]
    assert run.inputs["mlgate_check"] == "drift" and run.inputs["mlgate_value"] == "0.8"
    assert run.inputs["mlgate_model_version"] == "7"
    (issue,) = github.issues.values()
    assert "drift 0.8 > 0.5" in issue["title"] + issue["body"]


def test_a_passed_verification_moves_the_alias_the_promotion_left_waiting(
        prometheus_stack, tmp_path, registry):
    uri, client = registry
    app, ns = "churn", "verified-alias"
    prometheus_stack.exporter.traffic(app, ns, error_ratio=0.0, latency=0.05, rps=100)
    prometheus_stack.prometheus.wait_for(
        f'sum(rate(http_requests_total{{app="{app}",namespace="{ns}"}}[1s]))',
        lambda vs: bool(vs) and vs[0] > 0, timeout=20)
    remote = example_remote(tmp_path)
    env = {"PATH": "/usr/bin:/bin", "MLFLOW_TRACKING_URI": uri, "MLGATE_CI": "local"}
    base = ["--repo", str(remote), "--app", app, "--path", "apps/churn",
            "--environment", "production"]
    assert main(["promote", *base, "--image", f"{IMG}:v1.5.0", "--registry-model", "churn",
                 "--registry-version", "2", "--registry-alias", "champion",
                 "--alias-when", "verified"], environ=env) == 0
    promoted = git(remote, "rev-parse", "main").strip()
    # the commit landed, the alias waits for the live model's verification
    assert str(client.get_model_version_by_alias("churn", "champion").version) == "1"
    out = tmp_path / "v.json"
    assert main(["verify", "--prometheus", prometheus_stack.url, "--namespace", ns,
                 "--interval", "1s", "--count", "2", "--check", "error-rate:max=1%",
                 "--revision", promoted, "--no-incident", "--json", str(out), *base],
                environ=env) == 0
    doc = json.loads(out.read_text())
    assert [(a["kind"], a["ok"]) for a in doc["result"]["actions"]] == [("alias", True)]
    assert str(client.get_model_version_by_alias("churn", "champion").version) == "2"
    assert client.get_model_version("churn", "2").tags["mlgate.verified.production"] == promoted
    assert git(remote, "rev-parse", "main").strip() == promoted     # nothing committed
    assert git(remote, "notes", "--ref=refs/notes/mlgate", "show", promoted).startswith(
        "verify Successful 20")     # recorded as a note: no commit on main
    assert doc["result"]["recorded"]["line"].startswith("verify Successful ")


def test_replicas_unavailable_is_read_from_the_kubernetes_api(tmp_path, kube_api,  # noqa: F811
                                                              bare_prometheus):
    """The Deployment's unavailable replicas, through the real kubernetes client against the
    API stand-in: 0 passes, then a pod goes missing and the check fails."""
    from standins.kube_api import deployment

    kube_api.put("Deployment", "ml", "churn", deployment("churn", replicas=3))
    gen = kube_api.get("Deployment", "ml", "churn")["metadata"]["generation"]
    kube_api.timeline("Deployment", "ml", "churn", [
        {"status": {"observedGeneration": gen, "replicas": 3, "availableReplicas": 3}},
        {"status": {"observedGeneration": gen, "replicas": 3, "availableReplicas": 2,
                    "unavailableReplicas": 1}}])
    kubeconfig = kube_api.write_kubeconfig(tmp_path / "kubeconfig")
    out = tmp_path / "v.json"
    code = main(["verify", "--prometheus", bare_prometheus.url, "--check",
                 "replicas-unavailable:max=0", "--namespace", "ml", "--app", "churn",
                 "--interval", "0.3s", "--count", "3", "--on-failure", "none",
                 "--kubeconfig", str(kubeconfig), "--json", str(out)],
                environ={"PATH": "/usr/bin:/bin", "MLGATE_CI": "local",
                         "NO_PROXY": "127.0.0.1"})
    doc = json.loads(out.read_text())
    assert code == 1, doc
    (check,) = doc["result"]["checks"]
    assert check["query"] == "deployment ml/churn"
    assert [m["value"] for m in check["measurements"]] == [0.0, 1.0]
    assert check["reason"] == "replicas-unavailable 1 > 0 (1 of 2 measurements)"
