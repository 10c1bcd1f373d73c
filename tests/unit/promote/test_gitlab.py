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


# -- GitLab as it really behaves (issue 14) --------------------------------------------------------


@pytest.fixture
def waits(monkeypatch):
    """Sleeps asked for by python-gitlab and the provider, recorded instead of slept."""
    import time
    import types

    import gitlab.utils

    from mlgate.promote.providers import gitlab_merge_requests

    asked = []
    monkeypatch.setattr(gitlab.utils, "time", types.SimpleNamespace(sleep=asked.append,
                                                                     time=time.time))
    monkeypatch.setattr(gitlab_merge_requests, "_sleep", asked.append)
    return asked


def commits_on(bare, rev_range):
    return subprocess.run(["git", "-C", str(bare), "rev-list", rev_range], capture_output=True,
                          text=True, check=True).stdout.split()


def test_protected_base_is_exit_2_with_the_way_out(forge, tmp_path, capsys, waits):
    _, api, bare = forge
    api.protect_branch("platform/config", "main")
    before = api.head("platform/config", "main")

    code, _ = run(forge, tmp_path, "--image", f"{IMG}:v1.5.0")

    assert code == 2
    err = capsys.readouterr().err
    assert "main is a protected branch" in err and "--mode pull-request" in err
    assert TOKEN not in err
    assert len(api.requests("POST", "/repository/commits")) == 1  # no retry loop
    assert api.head("platform/config", "main") == before


def test_ci_job_token_is_exit_2_and_names_the_token_to_use(forge, tmp_path, capsys, waits):
    server, api, _ = forge
    job = "glcbt-64_" + "j" * 20
    server.add_user("writer", job, "write")  # the project allows job-token git access
    api.job_tokens[job] = api.tokens[TOKEN]
    before = api.head("platform/config", "main")

    code, _ = run(forge, tmp_path, "--image", f"{IMG}:v1.5.0", token=job)

    assert code == 2
    err = capsys.readouterr().err
    assert "CI_JOB_TOKEN" in err and "project access token" in err and job not in err
    assert api.head("platform/config", "main") == before


def test_commit_whose_answer_was_lost_is_one_commit(forge, tmp_path, waits):
    _, api, bare = forge
    before = api.head("platform/config", "main")
    api.lose_answer_next(1, 502, method="POST", path_contains="/repository/commits")

    code, data = run(forge, tmp_path, "--image", f"{IMG}:v1.5.0")

    assert code == 0, data
    assert data["outputs"]["commit"] == api.head("platform/config", "main")
    assert data["outputs"]["attempts"] == "1"
    assert len(commits_on(bare, f"{before}..main")) == 1
    assert "newTag: v1.5.0" in git_show(bare, "main:apps/churn/staging/kustomization.yaml")


def test_auto_merge_waits_for_the_late_pipeline(forge, tmp_path, waits):
    _, api, bare = forge
    api.auto_merge_param, api.pipeline_delay = False, 2  # GitLab < 17.11, pipeline still coming
    api.commit("platform/config", "main", {".gitlab-ci.yml": "test:\n  script: [true]\n"})

    code, data = run(forge, tmp_path, "--mode", "pull-request", "--auto-merge",
                     "--image", f"{IMG}:v1.5.0")

    assert code == 0, data
    mr = api.merge_request("platform/config", 1)
    assert mr["merge_when_pipeline_succeeds"] and mr["state"] == "opened"
    assert [r.status for r in api.requests("PUT", "/merge")] == [405, 200]
    assert 1.0 in waits
    api.finish_pipeline("platform/config", 1, "success")
    assert "newTag: v1.5.0" in git_show(bare, "main:apps/churn/staging/kustomization.yaml")


def test_auto_merge_without_pipelines_merges_and_says_so(forge, tmp_path, capsys, waits):
    _, api, bare = forge
    api.auto_merge_param, api.mr_pipeline = False, None

    code, data = run(forge, tmp_path, "--mode", "pull-request", "--auto-merge",
                     "--image", f"{IMG}:v1.5.0")

    assert code == 0, data
    assert "runs no pipelines" in capsys.readouterr().out
    assert api.merge_request("platform/config", 1)["state"] == "merged"
    assert "newTag: v1.5.0" in git_show(bare, "main:apps/churn/staging/kustomization.yaml")


def test_request_conflicting_with_a_moved_base_is_rebuilt(forge, tmp_path, monkeypatch, waits):
    """The base moves after the branch is pushed and conflicts with it: GitLab refuses
    auto-merge (never enables it on a conflicted MR); mlgate rebuilds on the new head."""
    from mlgate.promote.providers.gitlab import GitLabProvider

    _, api, bare = forge
    original = GitLabProvider._enable_auto_merge
    moved = []

    def base_moves_first(self, iid, spec):
        if not moved:
            text = git_show(bare, "main:apps/churn/staging/kustomization.yaml")
            api.commit("platform/config", "main", {"apps/churn/staging/kustomization.yaml":
                                                   text.replace("v1.4.0", "v1.4.1")})
            moved.append(iid)
        return original(self, iid, spec)

    monkeypatch.setattr(GitLabProvider, "_enable_auto_merge", base_moves_first)
    code, data = run(forge, tmp_path, "--mode", "pull-request", "--auto-merge",
                     "--image", f"{IMG}:v1.5.0")

    assert code == 0, data
    assert data["outputs"]["attempts"] == "2"
    assert list(api.projects["platform/config"].mrs) == [1]
    mr = api.merge_request("platform/config", 1)
    assert mr["merge_when_pipeline_succeeds"] and not mr["has_conflicts"]
    assert [r.status for r in api.requests("PUT", "/merge")][0] in (405, 422)


def test_rate_limited_reviewer_lookup_waits_a_minute(forge, tmp_path, waits):
    _, api, _ = forge
    api.add_user("alice")
    api.rate_limit_next(1, retry_after=None, path_contains="/users")

    code, data = run(forge, tmp_path, "--mode", "pull-request", "--reviewer", "alice",
                     "--image", f"{IMG}:v1.5.0")

    assert code == 0, data
    assert 60.0 in waits
    assert [r["username"] for r in api.merge_request("platform/config", 1)["reviewers"]] == ["alice"]


def test_evidence_files_land_in_the_api_commit(forge, tmp_path):
    """The evidence files are `create` actions of the same commits call, byte for byte."""
    from support.evidence import blob, check_commit, evidence_dir, verify_envelope, write_key

    _, api, bare = forge
    gate = tmp_path / "validate.json"
    gate.write_bytes(b'{"command": "validate", "verdict": "passed", "exit_code": 0,\r\n'
                     b' "result": {"data": ["d.csv"], "data_sha256": "' + b"f" * 64 + b'"}}')
    public = write_key(tmp_path / "k.pem", "p256")
    api.log.clear()
    code, data = run(forge, tmp_path, "--image", f"{IMG}:v1.5.0", "--evidence", str(gate),
                     "--attestation-key", str(tmp_path / "k.pem"))
    assert code == 0, data
    commits = [r for r in api.log if r.method == "POST" and r.path.endswith("/repository/commits")]
    assert len(commits) == 1
    statement = check_commit(bare, "main", {"validate.json": gate.read_bytes()})
    assert {"name": "d.csv", "digest": {"sha256": "f" * 64}} in statement["subject"]
    folder = evidence_dir(bare, "main")
    envelope = json.loads(blob(bare, "main", f"{folder}/statement.dsse.json"))
    assert verify_envelope(envelope, public) == blob(bare, "main", f"{folder}/statement.json")
