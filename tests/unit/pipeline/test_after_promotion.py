"""`mlgate pipeline` after the promotion: wait-sync against the Argo CD stand-in (a small
"controller" thread applies each new head of the config repo, as Argo CD would), verify
against the real Prometheus, and the rollback a failed verification makes, then the wait for
that rollback."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from standins.argocd_api import TOKEN as ARGO_TOKEN
from standins.argocd_api import (
    ArgoCdStandIn,
    argocd_api,  # noqa: F401  (fixture)
)
from standins.argocd_controller import Controller
from support.configrepo import example_remote, git

from mlgate.cli import main

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

IMG = "registry.example.com/ml/churn"


def follow(argo: ArgoCdStandIn, remote: Path) -> Controller:
    """Argo CD following the bare config repo's main."""
    return Controller(argo, lambda: git(remote, "rev-parse", "main").strip())


def policy(remote: Path, prometheus: str, namespace: str, checks: list[str], **verify) -> dict:
    return {
        "version": 1,
        "app": "churn",
        "image": f"{IMG}:v1.5.0",
        "promote": {"repo": str(remote), "path": "apps/churn", "author-name": "ci",
                    "author-email": "ci@example.invalid"},
        "environments": [{
            "name": "staging", "gates": [],
            "wait-sync": {"argocd-app": "churn-staging", "interval": "0.2s", "timeout": "20s"},
            "verify": {"prometheus": prometheus, "namespace": namespace, "check": checks,
                       "interval": "1s", "count": 3, "no-incident": True, **verify},
        }],
    }


def run(tmp_path: Path, cfg: dict, argo: ArgoCdStandIn, *extra: str) -> tuple[int, dict]:
    path = tmp_path / "mlgate.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / f"pipeline{'-'.join(extra)}.json"
    env = {**os.environ, "MLGATE_CI": "local", "ARGOCD_SERVER": argo.url,
           "ARGOCD_AUTH_TOKEN": ARGO_TOKEN, "NO_PROXY": "127.0.0.1"}
    code = main(["pipeline", "--config", str(path), "--reports-dir", str(tmp_path / "reports"),
                 "--json", str(out), *extra], environ=env)
    return code, json.loads(out.read_text())


def steps(doc: dict) -> dict[str, dict]:
    return {s["step"]: s for s in doc["result"]["steps"]}


def traffic(stack, namespace: str, error_ratio: float) -> None:
    stack.exporter.traffic("churn", namespace, error_ratio=error_ratio, latency=0.05, rps=100)
    stack.prometheus.wait_for(
        f'sum(rate(http_requests_total{{app="churn",namespace="{namespace}"}}[1s]))',
        lambda vs: bool(vs) and vs[0] > 0, timeout=20)


def test_promote_then_wait_for_the_sync_then_verify(argocd_api, prometheus_stack,  # noqa: F811
                                                    tmp_path):
    remote = example_remote(tmp_path)
    traffic(prometheus_stack, "pipeline-ok", 0.0)
    controller = follow(argocd_api, remote)
    try:
        code, doc = run(tmp_path, policy(remote, prometheus_stack.url, "pipeline-ok",
                                         ["error-rate:max=1%"]), argocd_api)
    finally:
        controller.stop()
    assert code == 0, doc
    got = steps(doc)
    assert list(got) == ["promote", "wait-sync", "verify", "rollback"]
    commit = got["promote"]["outputs"]["commit"]
    assert got["wait-sync"]["outputs"]["revision"] == commit
    assert got["verify"]["outputs"]["passed"] == "true"
    assert got["rollback"]["exit_code"] is None and "verification passed" in \
        got["rollback"]["verdict"]
    out = doc["outputs"]
    assert out["wait-sync-healthy"] == "true" and out["verify-passed"] == "true"
    assert out["verify-rolled-back"] == "false"
    assert (tmp_path / "reports" / "verify.json").is_file()


def test_a_failed_verification_rolls_back_and_waits_for_the_rollback(
        argocd_api, prometheus_stack, tmp_path):  # noqa: F811
    remote = example_remote(tmp_path)
    traffic(prometheus_stack, "pipeline-bad", 0.2)
    controller = follow(argocd_api, remote)
    try:
        code, doc = run(tmp_path, policy(remote, prometheus_stack.url, "pipeline-bad",
                                         ["error-rate:max=1%"]), argocd_api)
    finally:
        controller.stop()
    assert code == 1, doc
    got = steps(doc)
    assert list(got) == ["promote", "wait-sync", "verify", "rollback", "rollback-wait-sync"]
    promoted = got["promote"]["outputs"]["commit"]
    back = got["rollback"]["outputs"]["commit"]
    assert back == git(remote, "rev-parse", "main").strip() != promoted
    assert got["rollback-wait-sync"]["exit_code"] == 0
    assert got["rollback-wait-sync"]["outputs"]["revision"] == back
    assert controller.applied == [promoted, back]
    message = git(remote, "log", "-1", "--format=%B", "main")
    assert f"Mlgate-Rollback-Of: {promoted}" in message
    assert "Mlgate-Rollback-Reason: error-rate 0.2 > 0.01 (1 of 1 measurements)" in message
    assert doc["outputs"]["verify-rolled-back"] == "true"
    assert any(r.startswith("verify: failed: error-rate") for r in doc["result"]["reasons"])
    # each step recorded its outcome once, as a git note on the commit it judged
    assert kinds(remote, promoted) == [("wait-sync", "Healthy"), ("verify", "Failed")]
    assert kinds(remote, back) == [("wait-sync", "Healthy")]


def kinds(remote, sha: str) -> list[tuple[str, str]]:
    """The (kind, outcome) lines of the commit's refs/notes/mlgate note, in order."""
    note = git(remote, "notes", "--ref=refs/notes/mlgate", "show", sha)
    return [tuple(line.split()[:2]) for line in note.splitlines() if line.strip()]


def test_a_sync_that_never_comes_skips_the_verification(argocd_api, prometheus_stack,  # noqa: F811
                                                        tmp_path):
    remote = example_remote(tmp_path)
    controller = follow(argocd_api, remote)
    controller.stalled = True
    cfg = policy(remote, prometheus_stack.url, "pipeline-stall", ["error-rate:max=1%"])
    cfg["environments"][0]["wait-sync"]["timeout"] = "1s"
    try:
        code, doc = run(tmp_path, cfg, argocd_api)
    finally:
        controller.stop()
    assert code == 1
    got = steps(doc)
    assert got["wait-sync"]["exit_code"] == 1
    assert got["verify"]["exit_code"] is None and "wait-sync did not pass" in \
        got["verify"]["verdict"]
    assert "rollback" not in got
    assert "Mlgate-Rollback" not in git(remote, "log", "-1", "--format=%B", "main")


def test_later_jobs_run_wait_sync_and_verify_from_the_promotion_json(
        argocd_api, prometheus_stack, tmp_path):  # noqa: F811
    remote = example_remote(tmp_path)
    traffic(prometheus_stack, "pipeline-jobs", 0.0)
    controller = follow(argocd_api, remote)
    cfg = policy(remote, prometheus_stack.url, "pipeline-jobs", ["error-rate:max=1%"])
    try:
        code, doc = run(tmp_path, cfg, argocd_api, "--only", "promote")
        assert code == 0, doc
        assert list(steps(doc)) == ["promote"]
        code, doc = run(tmp_path, cfg, argocd_api, "--only", "wait-sync")
        assert code == 0, doc
        assert list(steps(doc)) == ["promote", "wait-sync"]
        code, doc = run(tmp_path, cfg, argocd_api, "--only", "verify")
        assert code == 0, doc
        assert list(steps(doc)) == ["promote", "wait-sync", "verify", "rollback"]
        # the verify job read wait-sync's JSON: wait-sync recorded once, in its own job
        commit = steps(doc)["promote"]["outputs"]["commit"]
        assert kinds(remote, commit) == [("wait-sync", "Healthy"), ("verify", "Successful")]
    finally:
        controller.stop()


def test_nothing_changed_means_nothing_to_wait_for(argocd_api, prometheus_stack,  # noqa: F811
                                                   tmp_path):
    remote = example_remote(tmp_path)
    cfg = policy(remote, prometheus_stack.url, "pipeline-same", ["error-rate:max=1%"])
    cfg["image"] = f"{IMG}:v1.4.0"       # what staging already runs
    code, doc = run(tmp_path, cfg, argocd_api)
    assert code == 0, doc
    got = steps(doc)
    assert got["wait-sync"]["exit_code"] is None and "changed nothing" in \
        got["wait-sync"]["verdict"]
    assert got["verify"]["exit_code"] is None


def test_verify_and_wait_sync_sections_are_checked_when_the_file_is_read(tmp_path, capsys):
    remote = example_remote(tmp_path)
    head = git(remote, "rev-parse", "main").strip()
    cfg = policy(remote, "http://127.0.0.1:9", "ns", ["error-rate:max=1%"])
    cfg["environments"][0]["verify"]["revision"] = "a" * 40      # the pipeline sets it
    path = tmp_path / "mlgate.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["pipeline", "--config", str(path)], environ={"MLGATE_CI": "local"}) == 2
    assert "environments[0].verify: unknown key(s) ('revision'" in capsys.readouterr().err
    cfg = policy(remote, "http://127.0.0.1:9", "ns", ["error-rate:max=1%"], count="many")
    path.write_text(yaml.safe_dump(cfg))
    assert main(["pipeline", "--config", str(path)], environ={"MLGATE_CI": "local"}) == 2
    assert "environments[0].verify.count" in capsys.readouterr().err
    assert git(remote, "rev-parse", "main").strip() == head


def test_with_verify_the_alias_moves_once_the_live_model_is_verified(
        argocd_api, prometheus_stack, tmp_path, monkeypatch):  # noqa: F811
    from support.mlflowreg import churn_registry

    uri, client = churn_registry(tmp_path, monkeypatch, alias="staging")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    remote = example_remote(tmp_path)
    traffic(prometheus_stack, "pipeline-alias", 0.0)
    cfg = policy(remote, prometheus_stack.url, "pipeline-alias", ["error-rate:max=1%"])
    cfg["model"] = {"name": "churn", "version": "2"}
    cfg["environments"][0]["alias"] = "staging"
    controller = follow(argocd_api, remote)
    try:
        code, doc = run(tmp_path, cfg, argocd_api)
    finally:
        controller.stop()
    assert code == 0, doc
    message = git(remote, "log", "-1", "--format=%B", "main")
    assert "Mlgate-Registry: churn@staging 1 -> 2" in message
    assert "Mlgate-Alias-When: verified" in message
    assert steps(doc)["verify"]["exit_code"] == 0
    # promote left the alias (its result says it waits for verify); verify moved it
    promoted_doc = json.loads((tmp_path / "reports" / "promote.json").read_text())
    assert "moves once verify passes" in json.dumps(promoted_doc["result"])
    assert str(client.get_model_version_by_alias("churn", "staging").version) == "2"
    promoted = steps(doc)["promote"]["outputs"]["commit"]
    assert client.get_model_version("churn", "2").tags["mlgate.verified.staging"] == promoted
