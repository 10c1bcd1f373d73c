"""mlgate promote through the GitHub API (PyGithub against the stand-in), with the config repo
also served by real git over loopback HTTP: the API's commits are read back with git."""

from __future__ import annotations

import json
import subprocess

import pytest
from standins.github_api import READ_TOKEN, WRITE_TOKEN, GitHubStandIn
from support.configrepo import EXAMPLES, split_evidence, tree_files
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
    assert split_evidence(changed)[0] == ["apps/churn/production/kustomization.yaml",
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


# --------------------------------------------------------------------------- forges as they behave
# (issue 14: the stand-in switched to each real-world behaviour, mlgate run from its CLI)


@pytest.fixture
def quick(monkeypatch):
    """5xx backoff in hundredths of a second (the schedule itself is tested in the provider)."""
    monkeypatch.setattr("mlgate.promote.providers.github_client.BACKOFF_BASE", 0.01)


def git(bare, *args):
    return subprocess.run(["git", "-C", str(bare), *args], capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.mark.parametrize("state", ["clean", "unstable"])
def test_auto_merge_on_a_pull_request_with_nothing_to_wait_for_merges_it(forge, tmp_path, capsys,
                                                                         state):
    _, api, bare = forge
    api.merge_state, api.mergeability_lag = state, 3
    api.protect("main")  # a direct push would be refused; the merge button is not
    before = git(bare, "rev-parse", "main")
    code, data = run(forge, tmp_path, "--mode", "pull-request", "--image", f"{IMG}:v1.5.0",
                     "--auto-merge")
    assert code == 0, data
    request = data["result"]["request"]
    assert (request["merged"], request["auto_merge"]) == (True, False)
    assert f"mergeable_state {state}" in request["note"] and "merged it directly" in request["note"]
    assert request["note"] in capsys.readouterr().out
    pushed = git(bare, "rev-parse", "mlgate/churn/production")
    assert git(bare, "rev-parse", "main^1", "main^2").split() == [before, pushed]
    assert "newTag: v1.5.0" in show(bare, "main:apps/churn/production/kustomization.yaml")
    assert [p.merged for p in api.pulls.values()] == [True]
    assert api.calls("PUT", "/merge")[0].body["sha"] == pushed


def test_auto_merge_on_a_blocked_pull_request_is_enabled(forge, tmp_path):
    _, api, bare = forge
    code, data = run(forge, tmp_path, "--mode", "pull-request", "--image", f"{IMG}:v1.5.0",
                     "--auto-merge")
    assert code == 0, data
    assert (data["result"]["request"]["auto_merge"], data["result"]["request"]["merged"]) == (
        True, False)
    assert api.pulls[1].state == "open" and api.calls("PUT", "/merge") == []
    assert "newTag: v1.4.0" in show(bare, "main:apps/churn/production/kustomization.yaml")


def test_pull_request_made_dirty_by_the_base_is_re_applied_on_the_new_head(forge, tmp_path,
                                                                           capsys):
    """main changes the same line right after mlgate pushed: GitHub calls the PR dirty and
    refuses auto-merge; mlgate re-applies on the new main and the PR is clean again."""
    _, api, bare = forge
    path = "apps/churn/production/kustomization.yaml"
    hotfix = show(bare, f"main:{path}").replace("newTag: v1.4.0", "newTag: v1.4.1")
    api.before_next(lambda: api.repo.commit_on("main", {path: hotfix}, "hotfix"),
                    method="POST", path="/graphql")
    code, data = run(forge, tmp_path, "--mode", "pull-request", "--image", f"{IMG}:v1.5.0",
                     "--auto-merge")
    assert code == 0, data
    assert data["outputs"]["attempts"] == "2" and data["result"]["request"]["auto_merge"]
    assert "pull request #1 conflicts with main (mergeable_state dirty)" in capsys.readouterr().out
    assert list(api.pulls) == [1] and api.pulls[1].auto_merge is not None
    assert git(bare, "rev-parse", "mlgate/churn/production^") == git(bare, "rev-parse", "main")
    assert "newTag: v1.5.0" in show(bare, f"mlgate/churn/production:{path}")
    assert [r.body["variables"]["input"]["expectedHeadOid"] for r in api.calls("POST", "/graphql")
            ][-1] == git(bare, "rev-parse", "mlgate/churn/production")


def test_auto_merge_after_an_update_is_pinned_to_the_pushed_commit(forge, tmp_path):
    _, api, bare = forge
    assert run(forge, tmp_path, "--mode", "pull-request", "--image", f"{IMG}:v1.5.0")[0] == 0
    api.head_sha_lag = 5  # GitHub reports the previous head.sha for a while after the push
    code, data = run(forge, tmp_path, "--mode", "pull-request", "--image", f"{IMG}:v1.6.0",
                     "--auto-merge")
    assert code == 0, data
    pushed = git(bare, "rev-parse", "mlgate/churn/production")
    (call,) = api.calls("POST", "/graphql")
    assert call.body["variables"]["input"]["expectedHeadOid"] == pushed
    assert list(api.pulls) == [1] and api.pulls[1].auto_merge is not None


@pytest.mark.parametrize("fault", [
    ("fail", "Reference cannot be updated"), ("fail", "Reference update failed"),
    ("lag", "tree"), ("lag", "commit")])
def test_transient_write_errors_are_re_applied(forge, tmp_path, fault):
    _, api, bare = forge
    before = git(bare, "rev-parse", "main")
    if fault[0] == "fail":
        api.fail_next(1, 422, method="PATCH", path="/git/refs", message=fault[1])
    else:
        api.replica_lag(1, fault[1])
    code, data = run(forge, tmp_path, "--image", f"{IMG}:v1.5.0")
    assert code == 0, data
    assert data["outputs"]["attempts"] == "2"
    assert [r.status for r in api.log].count(422) == 1
    assert git(bare, "rev-parse", "main^") == before  # exactly one commit on top
    assert data["outputs"]["commit"] == git(bare, "rev-parse", "main")


def test_lost_answer_of_the_ref_update_lands_one_commit(forge, tmp_path, quick):
    _, api, bare = forge
    before = git(bare, "rev-parse", "main")
    api.lose_answer_next(1, 502, method="PATCH")
    code, data = run(forge, tmp_path, "--image", f"{IMG}:v1.5.0")
    assert code == 0, data
    assert git(bare, "rev-parse", "main^") == before
    assert data["outputs"]["commit"] == git(bare, "rev-parse", "main")


def test_lost_answer_of_the_pull_request_creation_opens_one(forge, tmp_path, quick):
    _, api, _ = forge
    api.lose_answer_next(1, 502, method="POST", path="/pulls")
    code, data = run(forge, tmp_path, "--mode", "pull-request", "--image", f"{IMG}:v1.5.0")
    assert code == 0, data
    assert list(api.pulls) == [1] and data["outputs"]["pr-url"].endswith("/pull/1")
    assert [r.status for r in api.calls("POST", "/pulls")] == [502, 422]


@pytest.mark.parametrize("message", [None, "Changes must be made through a pull request."])
def test_protected_branch_is_exit_2_with_one_line_and_no_retries(forge, tmp_path, capsys,
                                                                 message):
    _, api, bare = forge
    api.protect("main", message)
    before = git(bare, "rev-parse", "main")
    code, _ = run(forge, tmp_path, "--image", f"{IMG}:v1.5.0")
    assert code == 2
    err = capsys.readouterr().err
    line = next(x for x in err.splitlines() if "protected" in x)
    assert "branch main of acme/config is protected" in line and "--mode pull-request" in line
    assert (message or "Protected branch update failed for refs/heads/main.") in line
    assert len(api.calls("PATCH")) == 1 and git(bare, "rev-parse", "main") == before
    assert WRITE_TOKEN not in err


def test_evidence_files_land_in_the_api_commit(forge, tmp_path):
    """The evidence folder goes in the same tree as the manifests (one commit through the
    API), byte for byte, with a statement signed by --attestation-key."""
    from support.evidence import blob, check_commit, evidence_dir, verify_envelope, write_key

    _, _, bare = forge
    gate = tmp_path / "benchmark.json"
    gate.write_bytes(b'{"command": "benchmark", "verdict": "passed", "exit_code": 0,\n'
                     b' "title": "beats champion \xe2\x9c\x93"}\n')
    public = write_key(tmp_path / "k.pem")
    code, data = run(forge, tmp_path, "--image", f"{IMG}:v1.5.0", "--evidence", str(gate),
                     "--attestation-key", str(tmp_path / "k.pem"))
    assert code == 0, data
    statement = check_commit(bare, "main", {"benchmark.json": gate.read_bytes()})
    assert statement["predicate"]["environment"] == "production"
    folder = evidence_dir(bare, "main")
    envelope = json.loads(blob(bare, "main", f"{folder}/statement.dsse.json"))
    assert verify_envelope(envelope, public) == blob(bare, "main", f"{folder}/statement.json")


def test_evidence_files_land_on_the_pull_request_branch(forge, tmp_path):
    from support.evidence import check_commit

    _, _, bare = forge
    code, data = run(forge, tmp_path, "--image", f"{IMG}:v1.5.0", "--mode", "pull-request")
    assert code == 0, data
    check_commit(bare, "mlgate/churn/production", {})
