"""The audit commands as a scheduled job runs them, once per runner: `./actions/status`,
`./actions/history`, `./actions/audit` and `./actions/metrics` run by act, and
gitlab-templates/status.yml, history.yml, audit.yml and metrics.yml included locally and run by
gitlab-ci-local, against a config repo on the loopback git server whose history mlgate itself
made (a staging and a production promotion with evidence, then a rollback). They only read:
the token is a read-only user's, and the repo is unchanged afterwards."""

from __future__ import annotations

import json

import pytest
from harness import CONFIG, EXAMPLE_APP, EXAMPLE_IMAGE, EXAMPLE_PATH, Job, install_mlgate

from mlgate.cli import main
from mlgate.interface import OUTPUTS

pytestmark = pytest.mark.e2e


def reading(name: str, command: str, url: str, **inputs: str) -> Job:
    return Job(name, command, command, OUTPUTS[command], {"repo": url, **inputs},
               env={"MLGATE_GIT_USERNAME": "reader"}, secrets=("MLGATE_GIT_TOKEN",))


def test_status_history_audit_and_metrics_read_the_trail(
    make_repo, runner, mlgate_bin, venv_root, git_server, config_url, tmp_path
):
    install_mlgate(venv_root, "attest")  # actions/audit's extra (offline: uv's cache)
    writer = {"PATH": "/usr/bin:/bin", "MLGATE_GIT_TOKEN": git_server.token("writer"),
              "MLGATE_GIT_USERNAME": "writer", "CI_PROJECT_URL": "https://git.example.com/ml",
              "CI_COMMIT_SHA": "a" * 40, "CI_COMMIT_TIMESTAMP": "2026-12-01T08:00:00+00:00"}
    evidence = tmp_path / "benchmark.json"
    evidence.write_text(json.dumps({"command": "benchmark", "verdict": "passed",
                                    "exit_code": 0, "title": "candidate beats champion"}))
    for environment in ("staging", "production"):
        assert main(["promote", "--repo", config_url, "--app", EXAMPLE_APP, "--path",
                     EXAMPLE_PATH, "--environment", environment, "--image",
                     f"{EXAMPLE_IMAGE}:v1.5.0", "--evidence", str(evidence)],
                    environ=writer) == 0
        if environment == "staging":
            staged = git_server.head(CONFIG)
    assert main(["rollback", "--repo", config_url, "--app", EXAMPLE_APP, "--path",
                 EXAMPLE_PATH, "--environment", "production", "--reason", "error-rate 0.03"],
                environ=writer) == 0
    head = git_server.head(CONFIG)

    status = reading("status", "status", config_url, json="mlgate-status.json")
    history = reading("history", "history", config_url, app=EXAMPLE_APP)
    audit = reading("audit", "audit", config_url, commit=staged, json="mlgate-audit.json")
    metrics = reading("metrics", "metrics", config_url, production="production",
                      **{"html-report": "mlgate-metrics.html"}, json="mlgate-metrics.json")
    repo = make_repo(runner.files("e2e audit trail", [status, history, audit, metrics]))
    run = runner.run(repo, secrets={"MLGATE_GIT_TOKEN": git_server.token("reader")},
                     bin_dir=mlgate_bin.parent).check()

    out = runner.outputs(run, status)
    assert out["rows"] == "2" and out["rolled-back"] == f"{EXAMPLE_APP}/production"
    out = runner.outputs(run, history)
    assert (out["records"], out["promotions"], out["rollbacks"]) == ("3", "2", "1")
    assert out["latest"] == head
    out = runner.outputs(run, audit)
    assert (out["verdict"], out["problems"], out["environment"]) == ("passed", "0", "staging")
    result = json.loads((runner.kept(run, audit) / "mlgate-audit.json").read_text())["result"]
    assert [(g["gate"], g["verdict"]) for g in result["gates"]] == [("benchmark", "passed")]
    out = runner.outputs(run, metrics)
    assert out["production-deployments"] == "1" and out["change-failure-rate"] == "1"
    html = (runner.kept(run, metrics) / "mlgate-metrics.html").read_text()
    assert "<svg" in html and "<script" not in html
    assert git_server.head(CONFIG) == head  # read only
