"""`mlgate sync-aliases` against a real sqlite MLflow registry and real config repositories.

The pull-request flow is the real one: promote opens a merge request through the GitLab API
stand-in (python-gitlab), which merges it at once (a project without pipelines), so the
alias is left where it was, as promote says; sync-aliases, run on the config repo's head, then
moves it. Attacks: a hand-made trailer, two environments claiming one alias, MLflow down.
"""

from __future__ import annotations

import json
import socket
import subprocess

import pytest
from standins.gitlab_api import GitLabApiServer
from support.configrepo import EXAMPLES, example_remote, git, tree_files
from support.fixtures import git_server  # noqa: F401

from mlgate.cli import main

IMG = "registry.example.com/ml/churn"
TOKEN = "glpat-mlgate-test-token-0123456789"
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def registry(tmp_path, monkeypatch):
    import mlflow

    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_TRACKING_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("churn")
    (tmp_path / "model").mkdir()
    for _ in range(3):
        client.create_model_version("churn", source=str(tmp_path / "model"), run_id=None)
    client.set_registered_model_alias("churn", "champion", "1")
    return uri, client


def alias(client, name="champion"):
    aliases = client.get_registered_model("churn").aliases
    return None if name not in aliases else str(aliases[name])


def tags(client, version):
    return dict(client.get_model_version("churn", version).tags)


def sync(repo, uri, *args, json_path=None):
    argv = ["sync-aliases", "--repo", str(repo), "--tracking-uri", uri, *args]
    if json_path:
        argv += ["--json", str(json_path)]
    return main(argv, environ={"PATH": "/usr/bin:/bin"})


@pytest.fixture
def forge(git_server, monkeypatch):  # noqa: F811
    import time
    import types

    import gitlab.utils

    from mlgate.promote.providers import gitlab_merge_requests

    monkeypatch.setattr(gitlab.utils, "time", types.SimpleNamespace(sleep=lambda _s: None,
                                                                     time=time.time))
    monkeypatch.setattr(gitlab_merge_requests, "_sleep", lambda _s: None)
    git_server.add_user("writer", TOKEN, "write")
    with GitLabApiServer(git_server.root, tokens={TOKEN: "write"}) as api:
        api.create_project("platform/config", tree_files(EXAMPLES))
        bare = git_server.path("platform/config")
        subprocess.run(["git", "-C", str(bare), "config", "http.receivepack", "true"], check=True)
        api.auto_merge_param, api.mr_pipeline = False, None  # merged at once, no pipeline
        yield git_server, api, bare


def promote_by_request(forge, uri, version, tag):
    server, api, _ = forge
    env = {"PATH": "/usr/bin:/bin", "GITLAB_TOKEN": TOKEN, "MLGATE_GIT_USERNAME": "writer",
           "MLFLOW_TRACKING_URI": uri}
    return main(["promote", "--repo", server.url("platform/config"), "--provider", "gitlab",
                 "--api-url", api.url, "--app", "churn", "--path", "apps/churn",
                 "--environment", "production", "--mode", "pull-request", "--auto-merge",
                 "--image", f"{IMG}:{tag}", "--registry-model", "churn",
                 "--registry-version", version, "--registry-alias", "champion"], environ=env)


def test_a_merged_request_moves_the_alias_once(forge, registry, tmp_path, capsys):
    uri, client = registry
    _, api, bare = forge
    assert promote_by_request(forge, uri, "2", "v1.5.0") == 0
    assert "registry alias champion not moved" in capsys.readouterr().out
    assert api.merge_request("platform/config", 1)["state"] == "merged"
    assert alias(client) == "1"  # promote left it: the request waited for review
    head = git(bare, "rev-parse", "main").strip()
    merged = git(bare, "log", "--format=%B", "main")
    assert "Mlgate-Registry: churn@champion 1 -> 2" in merged

    out = tmp_path / "sync.json"
    assert sync(bare, uri, json_path=out) == 0
    assert alias(client) == "2"
    promoted = [line.split(" ", 1)[0] for line in
                git(bare, "log", "--format=%H %(trailers:key=Mlgate-Registry,valueonly)",
                    "main").splitlines() if line.strip().endswith("1 -> 2")]
    assert tags(client, "2")["mlgate.config_commit"] in promoted
    assert tags(client, "2")["mlgate.promoted_alias"] == "champion"
    data = json.loads(out.read_text())
    assert data["outputs"] == {"changed": "true", "moved": "churn@champion=2", "aliases": "1"}
    shown = capsys.readouterr().out
    assert "moved churn@champion: 1 -> 2 (churn/production" in shown

    # a re-run changes and records nothing: no tag rewritten, the alias untouched
    before = client.get_model_version("churn", "2").last_updated_timestamp
    assert sync(bare, uri, json_path=out) == 0
    assert json.loads(out.read_text())["outputs"] == {"changed": "false", "moved": "",
                                                     "aliases": "1"}
    assert client.get_model_version("churn", "2").last_updated_timestamp == before
    assert git(bare, "rev-parse", "main").strip() == head  # nothing is written to the repo


def test_after_a_rollback_the_alias_goes_back(registry, tmp_path):
    """The alias follows the head: the newest live promotion, and after every promotion is
    rolled back, the version it held before mlgate first moved it."""
    uri, client = registry
    remote = example_remote(tmp_path)
    env = {"PATH": "/usr/bin:/bin", "MLFLOW_TRACKING_URI": uri}
    base = ["--repo", str(remote), "--app", "churn", "--path", "apps/churn",
            "--environment", "production"]
    assert main(["promote", *base, "--image", f"{IMG}:v1.5.0", "--registry-model", "churn",
                 "--registry-version", "2", "--registry-alias", "champion"], environ=env) == 0
    assert main(["promote", *base, "--image", f"{IMG}:v1.6.0", "--registry-model", "churn",
                 "--registry-version", "3", "--registry-alias", "champion"], environ=env) == 0
    assert alias(client) == "3"
    assert sync(remote, uri) == 0 and alias(client) == "3"  # in sync: nothing to do
    client.set_registered_model_alias("churn", "champion", "1")  # someone moved it by hand
    assert sync(remote, uri) == 0 and alias(client) == "3"
    # both promotions rolled back; then the alias drifts again
    assert main(["rollback", *base, "--steps", "2"], environ=env) == 0
    client.set_registered_model_alias("churn", "champion", "3")
    assert sync(remote, uri) == 0
    assert alias(client) == "1"  # what the alias held before mlgate first moved it


def test_app_and_environment_narrow_what_is_synced(registry, tmp_path):
    uri, client = registry
    remote = example_remote(tmp_path)
    hand_commit(tmp_path, remote, "staging", "churn@champion 1 -> 2")
    out = tmp_path / "s.json"
    assert sync(remote, uri, "--app", "other", json_path=out) == 0
    assert json.loads(out.read_text())["outputs"]["aliases"] == "0" and alias(client) == "1"
    assert sync(remote, uri, "--environment", "production") == 0 and alias(client) == "1"
    assert sync(remote, uri, "--app", "churn", "--environment", "staging") == 0
    assert alias(client) == "2"


def hand_commit(tmp_path, remote, environment, registry_trailer, app="churn"):
    work = tmp_path / f"work-{environment}-{abs(hash(registry_trailer))}"
    git(tmp_path, "clone", "-q", str(remote), str(work))
    git(work, "commit", "-q", "--allow-empty", "-m",
        f"promote {app}\n\nMlgate-App: {app}\nMlgate-Environment: {environment}\n"
        f"Mlgate-Previous: {IMG}:v1\nMlgate-New: {IMG}:v2\nMlgate-Registry: {registry_trailer}")
    git(work, "push", "-q", "origin", "main")


@pytest.mark.parametrize("trailer", [
    "churn@champion 1 -> 2; rm -rf /",
    "churn@latest 1 -> 2x",
    "churn@champion 1 -> ",
    "churn@chаmpion 1 -> 2",  # a Cyrillic "а": a look-alike alias
])
def test_a_trailer_that_does_not_read_as_a_move_is_skipped(registry, tmp_path, trailer):
    uri, client = registry
    remote = example_remote(tmp_path)
    hand_commit(tmp_path, remote, "production", trailer)
    out = tmp_path / "s.json"
    assert sync(remote, uri, json_path=out) == 0
    assert json.loads(out.read_text())["outputs"]["aliases"] == "0"
    assert alias(client) == "1"


def test_two_environments_claiming_one_alias_is_exit_2(registry, tmp_path, capsys):
    uri, client = registry
    remote = example_remote(tmp_path)
    hand_commit(tmp_path, remote, "staging", "churn@champion 1 -> 2")
    hand_commit(tmp_path, remote, "production", "churn@champion 1 -> 3")
    assert sync(remote, uri) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "MLflow alias churn@champion: churn/production runs version 3" in err
    assert "churn/staging runs 2" in err
    assert alias(client) == "1"


def test_a_version_missing_from_the_registry_is_exit_2(registry, tmp_path, capsys):
    uri, client = registry
    remote = example_remote(tmp_path)
    hand_commit(tmp_path, remote, "production", "churn@champion 1 -> 9")
    assert sync(remote, uri) == 2
    assert "version 9 not found" in capsys.readouterr().err
    assert alias(client) == "1"


def test_mlflow_unreachable_is_exit_3(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    remote = example_remote(tmp_path)
    hand_commit(tmp_path, remote, "production", "churn@champion 1 -> 2")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert sync(remote, f"http://user:s3cret@127.0.0.1:{port}") == 3
    err = capsys.readouterr().err
    assert "MLflow registry at http://127.0.0.1:" in err and "s3cret" not in err


def test_a_config_repo_that_is_not_there_is_exit_2(tmp_path, capsys):
    assert sync(tmp_path / "missing.git", "sqlite:///x.db") == 2
    assert "missing.git" in capsys.readouterr().err


def test_no_tracking_uri_is_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    remote = example_remote(tmp_path)
    hand_commit(tmp_path, remote, "production", "churn@champion 1 -> 2")
    assert main(["sync-aliases", "--repo", str(remote)], environ={"PATH": "/usr/bin:/bin"}) == 2
    assert "no MLflow tracking URI" in capsys.readouterr().err
