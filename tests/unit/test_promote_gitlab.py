"""mlgate promote through the GitLab API (python-gitlab against the stand-in), with the config
repo also served by real git over loopback HTTP: the commits the API makes are cloned back."""

from __future__ import annotations

import json
import subprocess

import pytest
from standins.gitlab_api import GitLabApiServer
from support.configrepo import EXAMPLES, tree_files
from support.fixtures import git_server  # noqa: F401

from mlgate.cli import main

IMG = "registry.example.com/ml/churn"
TOKEN = "glpat-mlgate-test-token-0123456789"


@pytest.fixture
def forge(git_server):  # noqa: F811
    git_server.add_user("writer", TOKEN, "write")
    with GitLabApiServer(git_server.root, tokens={TOKEN: "write", "readonly-token-xyz": "read"}) as api:
        api.create_project("platform/config", tree_files(EXAMPLES))
        bare = git_server.path("platform/config")
        subprocess.run(["git", "-C", str(bare), "config", "http.receivepack", "true"], check=True)
        yield git_server, api, bare


def run(forge, tmp_path, *args, token=TOKEN):
    server, api, _ = forge
    out = tmp_path / "r.json"
    env = {"PATH": "/usr/bin:/bin", "GITLAB_TOKEN": token, "MLGATE_GIT_USERNAME": "writer"}
    code = main(["promote", "--repo", server.url("platform/config"), "--provider", "gitlab",
                 "--api-url", api.url, "--app", "churn", "--path", "apps/churn",
                 "--environment", "staging", "--json", str(out), *args], environ=env)
    return code, (json.loads(out.read_text()) if out.exists() else {})


def git_show(bare, rev_path):
    return subprocess.run(["git", "-C", str(bare), "show", rev_path], capture_output=True,
                          text=True, check=True).stdout


def test_push_mode_is_one_commit_call(forge, tmp_path):
    _, api, bare = forge
    api.log.clear()
    code, data = run(forge, tmp_path, "--image", f"{IMG}:v1.5.0",
                     "--set", "model-version.yaml:spec.predictor.model.storageUri=s3://m/4")
    assert code == 0, data
    commits = [r for r in api.log if r.method == "POST" and r.path.endswith("/repository/commits")]
    assert len(commits) == 1
    assert data["outputs"]["commit"] == api.head("platform/config", "main")
    assert "newTag: v1.5.0" in git_show(bare, "main:apps/churn/staging/kustomization.yaml")
    assert "Mlgate-New: " + IMG + ":v1.5.0" in git_show(bare, "-s").replace("\r", "")


def test_concurrent_change_to_the_same_file_is_reapplied(forge, tmp_path, monkeypatch):
    from mlgate.promote.providers.gitlab import GitLabProvider

    _, api, bare = forge
    original = GitLabProvider.commit_files
    calls = []

    def racing_commit(self, *args, **kwargs):
        if not calls:  # another promoter lands first, on the same file
            text = git_show(bare, "main:apps/churn/staging/kustomization.yaml")
            api.commit("platform/config", "main", {
                "apps/churn/staging/kustomization.yaml": text.replace("churn-staging", "churn-stg")})
        calls.append(args)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(GitLabProvider, "commit_files", racing_commit)
    code, data = run(forge, tmp_path, "--image", f"{IMG}:v1.5.0")
    assert code == 0, data
    assert data["outputs"]["attempts"] == "2" and len(calls) == 2
    text = git_show(bare, "main:apps/churn/staging/kustomization.yaml")
    assert "churn-stg" in text and "newTag: v1.5.0" in text


def test_pull_request_mode_opens_then_updates_one_mr(forge, tmp_path):
    _, api, bare = forge
    code, data = run(forge, tmp_path, "--mode", "pull-request", "--image", f"{IMG}:v1.5.0",
                     "--label", "promotion")
    assert code == 0, data
    url = data["outputs"]["pr-url"]
    assert url.endswith("/merge_requests/1")
    mr = api.merge_request("platform/config", 1)
    assert mr["source_branch"] == "mlgate/churn/staging" and mr["target_branch"] == "main"
    assert "promotion" in mr["labels"]
    assert "<!-- mlgate:promotion app=churn environment=staging -->" in mr["description"]
    assert "newTag: v1.4.0" in git_show(bare, "main:apps/churn/staging/kustomization.yaml")
    code, data = run(forge, tmp_path, "--mode", "pull-request", "--image", f"{IMG}:v1.6.0")
    assert code == 0
    assert data["outputs"]["pr-url"] == url
    assert "newTag: v1.6.0" in git_show(bare, "mlgate/churn/staging:apps/churn/staging/kustomization.yaml")


def test_read_only_token_is_exit_3_without_the_token(forge, tmp_path, capsys):
    server, _, _ = forge
    server.add_user("writer", "readonly-token-xyz", "read")
    code, _ = run(forge, tmp_path, "--image", f"{IMG}:v1.5.0", token="readonly-token-xyz")
    assert code == 3
    err = capsys.readouterr().err
    assert "readonly-token-xyz" not in err
