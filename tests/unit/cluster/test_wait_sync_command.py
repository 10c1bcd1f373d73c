"""`mlgate wait-sync` end to end through the CLI: the real `requests` and `kubernetes` clients
against the Argo CD and Kubernetes API stand-ins, a real config repo for the "later commit
contains ours" rule. Each scenario checks the exit code, the outputs and what was asked of the
servers (refresh on the first read, one read per resource per interval, no token in output)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

import pytest
from standins.argocd_api import TOKEN as ARGO_TOKEN
from standins.argocd_api import ArgoCdStandIn, app_status, application
from standins.argocd_api import argocd_api  # noqa: F401  (fixture)
from standins.kube_api import REQUESTED_AT, KubeApiStandIn, condition, deployment
from standins.kube_api import kube_api  # noqa: F401  (fixture)

from mlgate.cli import main

OLD = "1" * 40
SHA = "a" * 40


def run(args: list[str], tmp_path: Path, environ: dict[str, str]) -> tuple[int, dict]:
    out = tmp_path / "wait.json"
    code = main(["wait-sync", "--interval", "0.1", "--json", str(out), *args],
                environ={"PATH": os.environ["PATH"], "HOME": str(tmp_path),
                         "MLGATE_CI": "local", "NO_PROXY": "127.0.0.1", **environ})
    return code, json.loads(out.read_text()) if out.exists() else {}


def argo_env(server: ArgoCdStandIn) -> dict[str, str]:
    return {"ARGOCD_SERVER": server.url, "ARGOCD_AUTH_TOKEN": ARGO_TOKEN}


def test_argocd_progressing_then_synced_and_healthy(argocd_api, tmp_path, capsys):  # noqa: F811
    argocd_api.put("churn", application("churn", OLD))
    argocd_api.timeline("churn", [
        app_status(OLD),                                             # answers the refresh
        app_status(SHA, sync="OutOfSync", health="Progressing", phase="Running"),
        app_status(SHA, health="Progressing"),
        app_status(SHA),
    ])
    code, doc = run(["--revision", SHA, "--argocd-app", "churn"], tmp_path, argo_env(argocd_api))
    assert code == 0, doc
    out = doc["outputs"]
    assert out["synced"] == "true" and out["healthy"] == "true" and out["revision"] == SHA
    assert argocd_api.count_app("churn") == 4
    first = next(r for r in argocd_api.log if r.path.endswith("/churn"))
    assert first.query.get("refresh") == "normal"
    later = [r for r in argocd_api.log if r.path.endswith("/churn")][1:]
    assert all("refresh" not in r.query for r in later)
    assert ARGO_TOKEN not in capsys.readouterr().out


def test_argocd_sync_failed_for_this_revision_exits_1_at_once(argocd_api, tmp_path):  # noqa: F811
    argocd_api.put("churn", application("churn", SHA, sync="OutOfSync", health="Healthy",
                                        phase="Failed"))
    code, doc = run(["--revision", SHA, "--argocd-app", "churn", "--timeout", "30s"], tmp_path,
                    argo_env(argocd_api))
    assert code == 1
    assert doc["outputs"]["synced"] == "false"
    assert "one or more objects failed to apply" in doc["outputs"]["message"]
    assert argocd_api.count_app("churn") == 1


def test_argocd_stuck_on_the_old_revision_times_out(argocd_api, tmp_path):  # noqa: F811
    argocd_api.put("churn", application("churn", OLD))
    code, doc = run(["--revision", SHA, "--argocd-app", "churn", "--timeout", "1s"], tmp_path,
                    argo_env(argocd_api))
    assert code == 1
    assert doc["outputs"]["message"].startswith("timed out after 1 s waiting for")
    assert doc["outputs"]["revision"] == OLD
    assert argocd_api.count_app("churn") <= 11        # 1 s at 0.1 s: at most 11 reads


def commit(repo: Path, message: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}
    (repo / "f.txt").write_text(message)
    subprocess.run(["git", "-C", str(repo), "add", "f.txt"], check=True, env=env)
    subprocess.run(["git", "-C", str(repo), "commit", "-qm", message], check=True, env=env)
    return subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], check=True, env=env,
                          capture_output=True, text=True).stdout.strip()


def test_a_later_commit_that_contains_ours_counts_with_repo(argocd_api, tmp_path):  # noqa: F811
    repo = tmp_path / "config"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    ours = commit(repo, "promote churn")
    later = commit(repo, "promote fraud")
    argocd_api.put("churn", application("churn", later))
    code, doc = run(["--revision", ours, "--argocd-app", "churn", "--repo", str(repo)],
                    tmp_path, argo_env(argocd_api))
    assert code == 0, doc
    assert doc["outputs"]["revision"] == later
    # the outcome is recorded on our commit as a git note; the branch does not move
    assert doc["result"]["recorded"]["recorded"] is True
    assert notes(repo, ours) == [doc["result"]["recorded"]["line"]]
    assert notes(repo, ours)[0].startswith("wait-sync Healthy 20")
    assert git_out(repo, "rev-parse", "main") == later
    # without the repo, only the very commit counts
    code, doc = run(["--revision", ours, "--argocd-app", "churn", "--timeout", "0.5s"],
                    tmp_path, argo_env(argocd_api))
    assert code == 1 and "timed out" in doc["outputs"]["message"]
    assert doc["result"]["recorded"] is None       # no --repo: nowhere to record


def git_out(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def notes(repo: Path, sha: str) -> list[str]:
    found = subprocess.run(["git", "-C", str(repo), "notes", "--ref=refs/notes/mlgate", "show",
                            sha], capture_output=True, text=True)
    return [line for line in found.stdout.splitlines() if line]


def test_no_record_and_a_failure_to_record(argocd_api, tmp_path):  # noqa: F811
    """--no-record writes nothing; a repo the recorder cannot push to is a warning in the
    report, and the verdict and exit code stay the wait's own."""
    repo = tmp_path / "config"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    ours = commit(repo, "promote churn")
    argocd_api.put("churn", application("churn", ours))
    code, doc = run(["--revision", ours, "--argocd-app", "churn", "--repo", str(repo),
                     "--no-record"], tmp_path, argo_env(argocd_api))
    assert code == 0 and doc["result"]["recorded"] is None and notes(repo, ours) == []
    # a hook that refuses every push stands in for a remote without push rights; mlgate's
    # git runs no hooks of its own, the receiving side does
    hook = repo / ".git" / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'notes are not welcome here' >&2\nexit 1\n")
    hook.chmod(0o755)
    code, doc = run(["--revision", ours, "--argocd-app", "churn", "--repo", str(repo)],
                    tmp_path, argo_env(argocd_api))
    assert code == 0 and doc["verdict"] == "synced and healthy"
    assert doc["result"]["recorded"]["recorded"] is False
    assert "refused the push: notes are not welcome here" in doc["result"]["recorded"]["warning"]
    assert notes(repo, ours) == []
    # a failed wait stays a failed wait (exit 1), recorded as Failed
    hook.unlink()
    argocd_api.put("churn", application("churn", ours, sync="OutOfSync", health="Healthy",
                                        phase="Failed"))
    code, doc = run(["--revision", ours, "--argocd-app", "churn", "--repo", str(repo),
                     "--timeout", "30s"], tmp_path, argo_env(argocd_api))
    assert code == 1 and notes(repo, ours)[0].startswith("wait-sync Failed ")


def test_an_unrelated_commit_does_not_count(argocd_api, tmp_path):  # noqa: F811
    repo = tmp_path / "config"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    base = commit(repo, "base")
    subprocess.run(["git", "-C", str(repo), "checkout", "-qb", "other"], check=True)
    ours = commit(repo, "ours, on another branch")
    subprocess.run(["git", "-C", str(repo), "checkout", "-q", "main"], check=True)
    theirs = commit(repo, "main moved on without ours")
    assert base and ours != theirs
    argocd_api.put("churn", application("churn", theirs))
    code, doc = run(["--revision", ours, "--argocd-app", "churn", "--repo", str(repo),
                     "--timeout", "0.5s"], tmp_path, argo_env(argocd_api))
    assert code == 1 and "timed out" in doc["outputs"]["message"]


@pytest.mark.parametrize("fault,words", [
    ("unknown", "not found or not allowed"),
    ("expired", "rejected the token"),
])
def test_argocd_refusals_are_bad_input_without_the_token(argocd_api, tmp_path, capsys,  # noqa: F811
                                                          fault, words):
    argocd_api.put("churn", application("churn", SHA))
    if fault == "expired":
        argocd_api.expire()
    name = "nope" if fault == "unknown" else "churn"
    code, _ = run(["--revision", SHA, "--argocd-app", name], tmp_path, argo_env(argocd_api))
    captured = capsys.readouterr()
    assert code == 2
    assert words in captured.err
    assert ARGO_TOKEN not in captured.out + captured.err


def test_argocd_unreachable_is_exit_3(tmp_path, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, _ = run(["--revision", SHA, "--argocd-app", "churn", "--timeout", "2s"], tmp_path,
                  {"ARGOCD_SERVER": f"http://127.0.0.1:{port}", "ARGOCD_AUTH_TOKEN": "t"})
    assert code == 3
    assert "unreachable" in capsys.readouterr().err


def flux_status(revision: str, generation: int = 1, ready: str = "True",
                reason: str = "ReconciliationSucceeded", message: str = "") -> dict:
    return {"status": {
        "observedGeneration": generation,
        "lastAppliedRevision": f"main@sha1:{revision}",
        "lastAttemptedRevision": f"main@sha1:{revision}",
        "conditions": [condition("Ready", ready, reason, message or
                                 f"Applied revision: main@sha1:{revision}",
                                 observed_generation=generation)]}}


def test_flux_kustomization_with_reconcile_and_a_deployment(kube_api: KubeApiStandIn,  # noqa: F811
                                                            tmp_path):
    kube_api.put("Kustomization", "flux-system", "churn-staging",
                 {"spec": {"interval": "5m", "path": "./apps/churn/staging"},
                  **flux_status(OLD)})
    generation = kube_api.get("Kustomization", "flux-system", "churn-staging")["metadata"][
        "generation"]
    kube_api.timeline("Kustomization", "flux-system", "churn-staging", [
        flux_status(OLD, generation), flux_status(SHA, generation)])
    dep = deployment("churn", replicas=2)
    kube_api.put("Deployment", "ml", "churn", dep)
    gen = kube_api.get("Deployment", "ml", "churn")["metadata"]["generation"]
    kube_api.timeline("Deployment", "ml", "churn", [
        {"status": {"observedGeneration": gen, "replicas": 2, "updatedReplicas": 1,
                    "availableReplicas": 1}},
        {"status": {"observedGeneration": gen, "replicas": 2, "updatedReplicas": 2,
                    "availableReplicas": 2, "readyReplicas": 2}}])
    kubeconfig = kube_api.write_kubeconfig(tmp_path / "kubeconfig")
    code, doc = run(["--revision", SHA, "--flux-kustomization", "flux-system/churn-staging",
                     "--workload", "deployment/ml/churn", "--reconcile"], tmp_path,
                    {"KUBECONFIG": str(kubeconfig)})
    assert code == 0, doc
    obj = kube_api.get("Kustomization", "flux-system", "churn-staging")
    assert REQUESTED_AT in obj["metadata"]["annotations"]
    assert obj["metadata"]["generation"] == generation     # an annotation is no spec change
    states = {r["resource"]: r["state"] for r in doc["result"]["resources"]}
    assert list(states.values()) == ["ready", "ready"]
    assert doc["outputs"]["revision"] == f"main@sha1:{SHA}"


def test_flux_reconciliation_failed_for_this_revision(kube_api: KubeApiStandIn,  # noqa: F811
                                                      tmp_path):
    failed = flux_status(SHA, ready="False", reason="ReconciliationFailed",
                         message="kustomize build failed: accumulating resources")
    failed["status"]["lastAppliedRevision"] = f"main@sha1:{OLD}"
    kube_api.put("Kustomization", "flux-system", "churn", {"spec": {"path": "./x"}, **failed})
    kubeconfig = kube_api.write_kubeconfig(tmp_path / "kubeconfig")
    code, doc = run(["--revision", SHA, "--flux-kustomization", "flux-system/churn"], tmp_path,
                    {"KUBECONFIG": str(kubeconfig)})
    assert code == 1
    assert "kustomize build failed" in doc["outputs"]["message"]


@pytest.mark.parametrize("args,words", [
    (["--revision", "abc1234", "--argocd-app", "churn"], "--revision"),
    (["--revision", SHA.upper()[:-1] + "g", "--argocd-app", "churn"], "--revision"),
    (["--revision", SHA], "exactly one of"),
    (["--revision", SHA, "--argocd-app", "a", "--flux-kustomization", "x/y"], "exactly one of"),
    (["--revision", SHA, "--flux-kustomization", "../y"], "--flux-kustomization"),
    (["--revision", SHA, "--argocd-app", "churn", "--workload", "pod/ml/x"], "--workload"),
    (["--revision", SHA, "--argocd-app", "churn", "--timeout", "soon"], "--timeout"),
    (["--revision", SHA, "--flux-kustomization", "a/b", "--kube"], "--kube"),
    (["--revision", SHA, "--argocd-app", "churn"], "ARGOCD_SERVER"),
])
def test_bad_input_is_exit_2_naming_it(tmp_path, capsys, args, words):
    code, _ = run(args, tmp_path, {})
    assert code == 2
    err = capsys.readouterr().err
    assert words in err and len([line for line in err.splitlines() if "error" in line]) == 1
