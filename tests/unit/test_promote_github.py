"""mlgate promote through the GitHub API (PyGithub against the stand-in), with the config repo
also served by real git over loopback HTTP: the API's commits are read back with git."""

from __future__ import annotations

import json
import subprocess

import pytest
from standins.github_api import READ_TOKEN, WRITE_TOKEN, GitHubStandIn
from support.configrepo import EXAMPLES, tree_files
from support.fixtures import git_server  # noqa: F401

from mlgate.cli import main

IMG = "registry.example.com/ml/churn"


@pytest.fixture
def forge(git_server, monkeypatch):  # noqa: F811
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    git_server.add_user("x-access-token", WRITE_TOKEN, "write")
    with GitHubStandIn(git_server.root / "acme", files=tree_files(EXAMPLES)) as api:
        bare = git_server.path("acme/config")
        subprocess.run(["git", "-C", str(bare), "config", "http.receivepack", "true"], check=True)
        subprocess.run(["git", "-C", str(bare), "config", "http.uploadpack", "true"], check=True)
        subprocess.run(["git", "-C", str(bare), "config", "uploadpack.allowFilter", "true"],
                       check=True)
        yield git_server, api, bare


def run(forge, tmp_path, *args, token=WRITE_TOKEN):
    server, api, _ = forge
    out = tmp_path / "r.json"
    env = {"PATH": "/usr/bin:/bin", "GITHUB_TOKEN": token, "NO_PROXY": "127.0.0.1"}
    code = main(["promote", "--repo", server.url("acme/config"), "--provider", "github",
                 "--api-url", api.api_url, "--app", "churn", "--path", "apps/churn",
                 "--environment", "production", "--json", str(out), *args], environ=env)
    return code, (json.loads(out.read_text()) if out.exists() else {})


def show(bare, spec):
    return subprocess.run(["git", "-C", str(bare), "show", spec], capture_output=True, text=True,
                          check=True).stdout


def test_push_mode_is_one_atomic_commit_in_at_most_five_calls(forge, tmp_path):
    _, api, bare = forge
    api.clear_log()
    code, data = run(forge, tmp_path, "--image", f"{IMG}:v1.5.0",
                     "--set", "model-version.yaml:spec.predictor.model.storageUri=s3://m/4")
    assert code == 0, data
    assert len(api.calls()) <= 5
    head = subprocess.run(["git", "-C", str(bare), "rev-parse", "main"], capture_output=True,
                          text=True, check=True).stdout.strip()
    assert data["outputs"]["commit"] == head
    changed = subprocess.run(["git", "-C", str(bare), "diff", "--name-only", "main~1", "main"],
                             capture_output=True, text=True, check=True).stdout.split()
    assert changed == ["apps/churn/production/kustomization.yaml",
                       "apps/churn/production/model-version.yaml"]
    assert "Mlgate-Environment: production" in show(bare, "-s")


def test_moved_branch_is_reapplied_never_forced(forge, tmp_path):
    _, api, bare = forge
    api.push_concurrently("main", {"README.md": "someone else\n"})
    code, data = run(forge, tmp_path, "--image", f"{IMG}:v1.5.0")
    assert code == 0, data
    assert data["outputs"]["attempts"] == "2"
    assert show(bare, "main:README.md") == "someone else\n"
    assert "newTag: v1.5.0" in show(bare, "main:apps/churn/production/kustomization.yaml")
    log = subprocess.run(["git", "-C", str(bare), "log", "--format=%s", "main"],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert log[:2] == ["promote churn to production: v1.4.0 -> v1.5.0", "concurrent push"]


def test_pull_request_mode_opens_updates_and_enables_auto_merge(forge, tmp_path):
    _, api, bare = forge
    code, data = run(forge, tmp_path, "--mode", "pull-request", "--image", f"{IMG}:v1.5.0",
                     "--label", "promotion", "--reviewer", "alice", "--auto-merge")
    assert code == 0, data
    url = data["outputs"]["pr-url"]
    pull = api.pulls[int(url.rsplit("/", 1)[1])]
    assert (pull.head, pull.base) == ("mlgate/churn/production", "main")
    assert pull.labels == ["promotion"] and pull.reviewers == ["alice"]
    assert pull.auto_merge is not None
    assert "<!-- mlgate:promotion app=churn environment=production -->" in pull.body
    assert "newTag: v1.4.0" in show(bare, "main:apps/churn/production/kustomization.yaml")
    assert "newTag: v1.5.0" in show(
        bare, "mlgate/churn/production:apps/churn/production/kustomization.yaml")
    code, data = run(forge, tmp_path, "--mode", "pull-request", "--image", f"{IMG}:v1.6.0")
    assert code == 0 and data["outputs"]["pr-url"] == url


def test_read_only_token_is_exit_3_and_never_printed(forge, tmp_path, capsys):
    server, _, _ = forge
    server.add_user("x-access-token", READ_TOKEN, "read")
    code, _ = run(forge, tmp_path, "--image", f"{IMG}:v1.5.0", token=READ_TOKEN)
    assert code == 3
    captured = capsys.readouterr()
    assert READ_TOKEN not in captured.err + captured.out
