"""GitLabProvider: python-gitlab for real, over HTTP, against the GitLab API stand-in.

Commits made through the API are checked by cloning the stand-in's bare repository with git.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from standins.gitlab_api import GitLabApiServer, Grant

from mlgate.errors import EXIT_BAD_INPUT, EXIT_SERVICE, BadInput, ServiceError
from mlgate.promote.providers import gitlab_merge_requests
from mlgate.promote.providers.gitlab import GitLabProvider, parse_repo_url
from mlgate.promote.providers.gitlab_merge_requests import PIPELINE_BACKOFF
from mlgate.promote.config import Identity
from mlgate.promote.types import ChangeRequestSpec, Conflict, FileChange, marker

PROJECT = "platform/deploy/config"
VALUES = "apps/churn/production/values.yaml"
WRITE = "glpat-" + secrets.token_hex(10)
READ = "glpat-" + secrets.token_hex(10)
JOB = "glcbt-" + secrets.token_hex(10)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[GitLabApiServer]:
    tokens = {WRITE: Grant("write", "mlgate-bot"), READ: Grant("read", "viewer")}
    with GitLabApiServer(tmp_path / "gitlab", tokens=tokens,
                         job_tokens={JOB: Grant("write", "ci-job")}) as srv:
        srv.create_project(PROJECT, {VALUES: "image:\n  tag: v1.4.0\n",
                                     "apps/fraud/production/values.yaml": "tag: v2\n"})
        srv.add_user("alice")
        srv.add_user("bob")
        yield srv


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every sleep python-gitlab or the provider asks for, recorded instead of slept."""
    import types

    import gitlab.utils

    asked: list[float] = []
    monkeypatch.setattr(gitlab.utils, "time", types.SimpleNamespace(sleep=asked.append,
                                                                     time=time.time))
    monkeypatch.setattr(gitlab_merge_requests, "_sleep", asked.append)
    return asked


def provider(server: GitLabApiServer, token: str = WRITE, **kwargs: object) -> GitLabProvider:
    return GitLabProvider.from_repo_url(f"{server.url}/{PROJECT}.git", token, **kwargs)


def git(*args: str, cwd: Path | None = None) -> str:
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True,
                          text=True).stdout


def clone(server: GitLabApiServer, dest: Path) -> Path:
    git("clone", "-q", str(server.projects[PROJECT].git_dir), str(dest))
    return dest


def head(server: GitLabApiServer, branch: str = "main") -> str:
    sha = server.head(PROJECT, branch)
    assert sha
    return sha


def change(path: str = VALUES, text: str = "image:\n  tag: v1.5.0\n") -> FileChange:
    return FileChange(path, text.encode())


# -- commits ------------------------------------------------------------------------------------


def test_one_file_is_one_api_call_and_lands_on_the_branch(server: GitLabApiServer,
                                                          tmp_path: Path) -> None:
    parent = head(server)
    gl = provider(server)
    server.clear_log()

    sha = gl.commit_files("main", parent, [change()], "promote churn to production",
                          Identity("Promo Bot", "promo@example.com"))

    assert [(r.method, r.status) for r in server.requests()] == [("POST", 201)]
    assert gl.counter.calls == {"commit": 1}
    assert gl.last_parent == parent
    work = clone(server, tmp_path / "c")
    assert git("rev-parse", "HEAD", cwd=work).strip() == sha
    assert git("rev-parse", "HEAD~1", cwd=work).strip() == parent
    assert (work / VALUES).read_text() == "image:\n  tag: v1.5.0\n"
    assert git("log", "-1", "--format=%an <%ae>|%s", cwd=work).strip() == (
        "Promo Bot <promo@example.com>|promote churn to production")


def test_two_hundred_files_any_bytes_and_modes_in_one_call(server: GitLabApiServer,
                                                          tmp_path: Path) -> None:
    parent = head(server)
    created = [f"apps/app{n:03}/values.yaml" for n in range(198)]
    binary = bytes(range(256)) * 4  # NULs, CR/LF, invalid UTF-8: base64 carries them all
    changes = [FileChange(path, f"tag: v{n}\r\n".encode()) for n, path in enumerate(created)]
    changes += [FileChange("bin/run.sh", b"#!/bin/sh\nexit 0\n", executable=True),
                FileChange(VALUES, binary)]
    gl = provider(server)
    server.clear_log()

    sha = gl.commit_files("main", parent, changes, "many", None,
                          created=[*created, "bin/run.sh"])

    assert len(server.requests()) == 1 and gl.counter.total == 1
    work = clone(server, tmp_path / "c")
    assert git("rev-parse", "HEAD", cwd=work).strip() == sha
    assert git("rev-list", "--count", "HEAD", cwd=work).strip() == "2"
    assert (work / VALUES).read_bytes() == binary
    assert (work / "apps/app007/values.yaml").read_bytes() == b"tag: v7\r\n"
    tree = git("ls-tree", "-r", "HEAD", cwd=work)
    assert "100755 blob" in next(line for line in tree.splitlines() if "bin/run.sh" in line)
    assert len(git("diff", "--name-only", parent, sha, cwd=work).split()) == 200


def test_executable_update_sets_the_mode(server: GitLabApiServer) -> None:
    gl = provider(server)
    sha = gl.commit_files("main", head(server), [FileChange(VALUES, b"x\n", executable=True)],
                          "chmod", None)
    git_dir = str(server.projects[PROJECT].git_dir)
    assert git("--git-dir", git_dir, "ls-tree", sha, VALUES).startswith("100755 ")
    assert gl.counter.calls == {"commit": 1}


def test_concurrent_change_to_the_same_file_is_a_conflict(server: GitLabApiServer) -> None:
    parent = head(server)
    theirs = server.commit(PROJECT, "main", {VALUES: "image:\n  tag: v9.9.9\n"}, "other promotion")

    with pytest.raises(Conflict, match="changed since you started editing it"):
        provider(server).commit_files("main", parent, [change()], "mine", None)

    assert head(server) == theirs  # nothing landed on top


def test_a_file_created_meanwhile_is_a_conflict(server: GitLabApiServer) -> None:
    parent = head(server)
    new = "apps/new/production/values.yaml"
    theirs = server.commit(PROJECT, "main", {new: "tag: theirs\n"})

    with pytest.raises(Conflict):
        provider(server).commit_files("main", parent, [change(new, "tag: mine\n")], "m", None,
                                      created=[new])
    assert head(server) == theirs


def test_branch_moved_by_other_files_lands_on_the_new_head(server: GitLabApiServer,
                                                           tmp_path: Path) -> None:
    """Per-file semantics: only the files written are guarded (module docstring)."""
    parent = head(server)
    theirs = server.commit(PROJECT, "main", {"apps/fraud/production/values.yaml": "tag: v3\n"})
    gl = provider(server)

    sha = gl.commit_files("main", parent, [change()], "mine", None)

    assert gl.last_parent == theirs != parent
    work = clone(server, tmp_path / "c")
    assert git("rev-parse", "HEAD", cwd=work).strip() == sha
    assert (work / "apps/fraud/production/values.yaml").read_text() == "tag: v3\n"
    assert (work / VALUES).read_text() == "image:\n  tag: v1.5.0\n"


def test_exact_last_commit_ids_are_accepted(server: GitLabApiServer) -> None:
    """For GitLab versions that compare last_commit_id literally, the caller can name them."""
    first = head(server)
    parent = server.commit(PROJECT, "main", {"README.md": "moved\n"})
    gl = provider(server)
    gl.commit_files("main", parent, [change()], "m", None, last_commit_ids={VALUES: first})
    assert gl.last_parent == parent


def test_job_token_cannot_commit_and_is_told_what_to_use(server: GitLabApiServer) -> None:
    """GitLab's job token reaches only a few read endpoints: the commits API answers 401."""
    before = head(server)
    with pytest.raises(BadInput) as err:
        provider(server, JOB, token_kind="job").commit_files("main", before, [change()], "m",
                                                             None)
    assert err.value.exit_code == EXIT_BAD_INPUT
    text = str(err.value)
    assert "CI_JOB_TOKEN" in text and "project access token" in text and "GITLAB_TOKEN" in text
    assert JOB not in text
    assert [(r.method, r.status, r.auth) for r in server.requests()] == [("POST", 401, "job")]
    assert head(server) == before


def test_job_token_cannot_open_a_merge_request(server: GitLabApiServer) -> None:
    server.create_branch(PROJECT, "mlgate/churn/production", "main")
    with pytest.raises(BadInput, match="CI_JOB_TOKEN.*project access token"):
        provider(server, JOB, token_kind="job").open_or_update_request(spec())
    assert server.projects[PROJECT].mrs == {}


def test_job_token_still_reads_a_branch(server: GitLabApiServer) -> None:
    """The stand-in keeps what GitLab allows: GET .../repository/branches/:branch."""
    import gitlab

    gl = gitlab.Gitlab(server.url, job_token=JOB)
    assert gl.projects.get(PROJECT, lazy=True).branches.get("main").commit["id"] == head(server)


# -- merge requests -----------------------------------------------------------------------------


def spec(title: str = "promote churn to production: v1.4.0 -> v1.5.0", **kwargs: object
         ) -> ChangeRequestSpec:
    fields: dict[str, object] = {
        "app": "churn", "environment": "production", "source_branch": "mlgate/churn/production",
        "target_branch": "main", "title": title,
        "body": f"Evidence...\n\n{marker('churn', 'production')}\n"}
    fields.update(kwargs)
    return ChangeRequestSpec(**fields)  # type: ignore[arg-type]


def test_request_is_created_then_updated_in_place(server: GitLabApiServer) -> None:
    server.create_branch(PROJECT, "mlgate/churn/production", "main")
    gl = provider(server)

    first = gl.open_or_update_request(spec(labels=("promotion",), reviewers=("alice",)))
    second = gl.open_or_update_request(spec("promote churn to production: v1.4.0 -> v1.6.0",
                                            labels=("promotion", "churn"),
                                            reviewers=("alice", "bob")))

    assert first.created and not second.created
    assert first.number == second.number
    assert second.url.endswith(f"/{PROJECT}/-/merge_requests/{first.number}")
    mr = server.merge_request(PROJECT, first.number)
    assert mr["title"].endswith("v1.6.0") and mr["state"] == "opened"
    assert sorted(mr["labels"]) == ["churn", "promotion"]
    assert sorted(r["username"] for r in mr["reviewers"]) == ["alice", "bob"]
    assert len([m for m in server.projects[PROJECT].mrs.values()]) == 1


def test_older_request_for_the_same_app_is_closed_with_a_note(server: GitLabApiServer) -> None:
    for branch in ("mlgate/churn/production-old", "mlgate/churn/production",
                   "mlgate/fraud/production"):
        server.create_branch(PROJECT, branch, "main")
    gl = provider(server)
    old = gl.open_or_update_request(spec(source_branch="mlgate/churn/production-old"))
    other = gl.open_or_update_request(spec(app="fraud", source_branch="mlgate/fraud/production",
                                           body=marker("fraud", "production")))

    new = gl.open_or_update_request(spec())

    assert new.created and new.superseded == (old.number,)
    assert server.merge_request(PROJECT, old.number)["state"] == "closed"
    assert [n["body"] for n in server.notes(PROJECT, old.number)] == [
        f"Superseded by !{new.number}"]
    assert server.merge_request(PROJECT, other.number)["state"] == "opened"


def test_merge_when_pipeline_succeeds(server: GitLabApiServer, tmp_path: Path) -> None:
    server.create_branch(PROJECT, "mlgate/churn/production", "main")
    gl = provider(server)
    gl.commit_files("mlgate/churn/production", head(server), [change()], "promote", None)

    result = gl.open_or_update_request(spec(auto_merge=True))

    assert result.auto_merge and gl.auto_merge_problem is None
    put = server.requests("PUT", "/merge")
    assert len(put) == 1 and put[0].status == 200
    mr = server.merge_request(PROJECT, result.number)
    assert mr["merge_when_pipeline_succeeds"] and mr["state"] == "opened"
    server.finish_pipeline(PROJECT, result.number, "success")
    assert server.merge_request(PROJECT, result.number)["state"] == "merged"
    work = clone(server, tmp_path / "c")
    assert (work / VALUES).read_text() == "image:\n  tag: v1.5.0\n"


def test_auto_merge_refused_leaves_the_request_open(server: GitLabApiServer) -> None:
    server.create_branch(PROJECT, "mlgate/churn/production", "main")
    gl = provider(server)
    created = gl.open_or_update_request(spec())
    server.finish_pipeline(PROJECT, created.number, "failed")

    result = gl.open_or_update_request(spec(auto_merge=True))

    assert not result.auto_merge and "405" in (gl.auto_merge_problem or "")
    assert server.merge_request(PROJECT, result.number)["state"] == "opened"


def promotion_branch(server: GitLabApiServer, *, ci: bool = True) -> str:
    """The request branch with mlgate's change pushed on it (and a CI configuration, unless
    ci=False); returns its head sha."""
    server.create_branch(PROJECT, "mlgate/churn/production", "main")
    files = {VALUES: "image:\n  tag: v1.5.0\n"}
    if ci:
        files[".gitlab-ci.yml"] = "test:\n  script: [true]\n"
    return server.commit(PROJECT, "mlgate/churn/production", files)


def merge_puts(server: GitLabApiServer) -> list[int]:
    return [r.status for r in server.requests("PUT", "/merge")]


def test_late_pipeline_on_old_gitlab_is_waited_for(server: GitLabApiServer,
                                                   waits: list[float]) -> None:
    """GitLab < 17.11 answers 405 to merge_when_pipeline_succeeds while the MR's pipeline is
    not created yet (gitlab-org/gitlab#353984): wait for it, then enable auto-merge."""
    server.auto_merge_param, server.pipeline_delay = False, 3
    sha = promotion_branch(server)

    result = provider(server).open_or_update_request(spec(auto_merge=True, head_sha=sha))

    assert result.auto_merge and not result.merged and result.note == ""
    assert merge_puts(server) == [405, 200]
    assert waits == [PIPELINE_BACKOFF[0]]
    mr = server.merge_request(PROJECT, result.number)
    assert mr["merge_when_pipeline_succeeds"] and mr["state"] == "opened"
    assert mr["head_pipeline"]["status"] == "running" and mr["head_pipeline"]["sha"] == sha


def test_project_without_pipelines_is_merged_directly(server: GitLabApiServer,
                                                      waits: list[float], tmp_path: Path) -> None:
    server.auto_merge_param, server.mr_pipeline = False, None
    sha = promotion_branch(server)

    result = provider(server).open_or_update_request(spec(auto_merge=True, head_sha=sha))

    assert result.merged and not result.auto_merge
    assert "runs no pipelines" in result.note and "merged it directly" in result.note
    assert merge_puts(server) == [405, 200] and waits == []
    mr = server.merge_request(PROJECT, result.number)
    assert mr["state"] == "merged" and mr["sha"] == sha
    assert (clone(server, tmp_path / "c") / VALUES).read_text() == "image:\n  tag: v1.5.0\n"


def test_no_ci_configuration_means_no_pipeline_to_wait_for(server: GitLabApiServer,
                                                           waits: list[float]) -> None:
    """CI enabled but no .gitlab-ci.yml on the branch: nothing will ever run."""
    server.auto_merge_param, server.pipeline_delay = False, 1000
    sha = promotion_branch(server, ci=False)
    result = provider(server).open_or_update_request(spec(auto_merge=True, head_sha=sha))
    assert result.merged and waits == []


def test_pipeline_that_never_starts_leaves_the_request_open(server: GitLabApiServer,
                                                            waits: list[float]) -> None:
    server.auto_merge_param, server.pipeline_delay = False, 1000
    sha = promotion_branch(server)
    gl = provider(server)

    result = gl.open_or_update_request(spec(auto_merge=True, head_sha=sha))

    assert not result.auto_merge and not result.merged
    assert waits == list(PIPELINE_BACKOFF)
    assert "no pipeline started" in result.note and result.note == gl.auto_merge_problem
    assert merge_puts(server) == [405] * (len(PIPELINE_BACKOFF) + 1)
    assert server.merge_request(PROJECT, result.number)["state"] == "opened"


@pytest.mark.parametrize(("auto_merge_param", "status"), [(True, 422), (False, 406)])
def test_conflicted_request_is_never_set_to_auto_merge(server: GitLabApiServer,
                                                       waits: list[float],
                                                       auto_merge_param: bool,
                                                       status: int) -> None:
    """The base moved under the request (conflicts): a Conflict, so landing rebuilds it."""
    server.auto_merge_param = auto_merge_param
    sha = promotion_branch(server)
    server.commit(PROJECT, "main", {VALUES: "image:\n  tag: v9.9.9\n"})

    with pytest.raises(Conflict, match=f"conflicts with main.*{status}"):
        provider(server).open_or_update_request(spec(auto_merge=True, head_sha=sha))

    assert merge_puts(server) == [status] and waits == []
    mr = server.merge_request(PROJECT, 1)
    assert mr["has_conflicts"] and mr["merge_status"] == "cannot_be_merged"
    assert not mr["merge_when_pipeline_succeeds"] and mr["state"] == "opened"


def test_conflicted_request_without_pipeline_is_405(server: GitLabApiServer,
                                                   waits: list[float]) -> None:
    server.mr_pipeline = None
    sha = promotion_branch(server)
    server.commit(PROJECT, "main", {VALUES: "image:\n  tag: v9.9.9\n"})
    with pytest.raises(Conflict, match="405"):
        provider(server).open_or_update_request(spec(auto_merge=True, head_sha=sha))
    assert server.merge_request(PROJECT, 1)["state"] == "opened"


def test_unknown_reviewer_is_bad_input(server: GitLabApiServer) -> None:
    server.create_branch(PROJECT, "mlgate/churn/production", "main")
    with pytest.raises(BadInput, match="nobody"):
        provider(server).open_or_update_request(spec(reviewers=("nobody",)))


# -- rate limits, 5xx, rights -----------------------------------------------------------------


def test_429_waits_retry_after_then_succeeds(server: GitLabApiServer) -> None:
    gl = provider(server)
    server.rate_limit_next(1, retry_after=1)
    started = time.monotonic()

    gl.commit_files("main", head(server), [change()], "m", None)

    assert time.monotonic() - started >= 1.0
    assert [r.status for r in server.requests("POST")] == [429, 201]
    assert gl.counter.calls == {"commit": 1, "retry": 1}


def test_429_without_retry_after_waits_the_documented_window(server: GitLabApiServer,
                                                            waits: list[float]) -> None:
    """Application limits (users, notes) send no Retry-After: wait GitLab's minute, not
    python-gitlab's 0.1 s."""
    server.create_branch(PROJECT, "mlgate/churn/production", "main")
    server.rate_limit_next(1, retry_after=None, path_contains="/users")
    gl = provider(server)

    result = gl.open_or_update_request(spec(reviewers=("alice",)))

    assert waits == [60.0]
    assert [r.status for r in server.requests("GET", "/users")] == [429, 200]
    mr = server.merge_request(PROJECT, result.number)
    assert [r["username"] for r in mr["reviewers"]] == ["alice"]


def test_429_with_ratelimit_reset_waits_until_then(server: GitLabApiServer,
                                                   waits: list[float]) -> None:
    server.create_branch(PROJECT, "mlgate/churn/production", "main")
    server.rate_limit_next(1, retry_after=None, reset_in=17, path_contains="/users")
    provider(server).open_or_update_request(spec(reviewers=("alice",)))
    assert len(waits) == 1 and 16 <= waits[0] <= 17


def test_429_again_after_the_window_is_a_service_error(server: GitLabApiServer,
                                                       waits: list[float]) -> None:
    for branch in ("mlgate/churn/production-old", "mlgate/churn/production"):
        server.create_branch(PROJECT, branch, "main")
    gl = provider(server)
    old = gl.open_or_update_request(spec(source_branch="mlgate/churn/production-old"))
    server.rate_limit_next(5, retry_after=None, method="POST", path_contains="/notes")

    with pytest.raises(ServiceError, match="without saying when to retry") as err:
        gl.open_or_update_request(spec())

    assert err.value.exit_code == EXIT_SERVICE and waits == [60.0]
    assert server.notes(PROJECT, old.number) == []


def test_protected_branch_refuses_with_a_clear_message(server: GitLabApiServer,
                                                       waits: list[float]) -> None:
    server.protect_branch(PROJECT, "main")
    before = head(server)

    with pytest.raises(BadInput) as err:
        provider(server).commit_files("main", before, [change()], "m", None)

    text = str(err.value)
    assert err.value.exit_code == EXIT_BAD_INPUT
    assert "main is a protected branch" in text and "--mode pull-request" in text
    assert "You are not allowed to push into this branch" in text and "\n" not in text
    assert [r.status for r in server.requests("POST")] == [403] and waits == []
    assert head(server) == before


def test_protected_branch_takes_a_maintainer_token(tmp_path: Path) -> None:
    token = "glpat-" + secrets.token_hex(10)
    with GitLabApiServer(tmp_path / "g", tokens={token: Grant(maintainer=True)}) as srv:
        srv.create_project(PROJECT, {VALUES: "image:\n  tag: v1.4.0\n"})
        srv.protect_branch(PROJECT, "main", "maintainers")
        sha = provider(srv, token).commit_files("main", head(srv), [change()], "m", None)
        assert head(srv) == sha


def test_commit_whose_answer_was_lost_lands_once(server: GitLabApiServer,
                                                 waits: list[float]) -> None:
    """502 after the commit landed: python-gitlab's retry is refused ("file has changed");
    the branch head is the commit just sent, so it is the answer -- one commit, no re-apply."""
    parent = head(server)
    server.lose_answer_next(1, 502, method="POST", path_contains="/repository/commits")
    gl = provider(server)

    sha = gl.commit_files("main", parent, [change()], "promote churn\n\nMlgate-Run: 7\n", None)

    assert sha == head(server) and gl.last_parent == parent
    assert git("--git-dir", str(server.projects[PROJECT].git_dir), "rev-list", "--count",
               f"{parent}..main").strip() == "1"
    assert [r.status for r in server.requests("POST")] == [502, 400]


def test_lost_commit_answer_with_someone_else_on_top_is_a_conflict(
        server: GitLabApiServer, waits: list[float], monkeypatch: pytest.MonkeyPatch) -> None:
    """The head is not the commit sent: the caller re-applies (and finds it unchanged)."""
    parent = head(server)
    server.lose_answer_next(1, 502, method="POST", path_contains="/repository/commits")
    original = GitLabProvider._landed_commit

    def someone_first(self: GitLabProvider, branch: str, message: str) -> object:
        server.commit(PROJECT, "main", {"README.md": "other\n"})
        return original(self, branch, message)

    monkeypatch.setattr(GitLabProvider, "_landed_commit", someone_first)
    with pytest.raises(Conflict):
        provider(server).commit_files("main", parent, [change()], "mine", None)


def test_request_whose_create_answer_was_lost_is_found(server: GitLabApiServer,
                                                       waits: list[float]) -> None:
    server.create_branch(PROJECT, "mlgate/churn/production", "main")
    server.lose_answer_next(1, 502, method="POST", path_contains="/merge_requests")

    result = provider(server).open_or_update_request(spec())

    assert list(server.projects[PROJECT].mrs) == [result.number] == [1]
    assert [r.status for r in server.requests("POST", "/merge_requests")] == [502, 409]


def test_superseded_note_whose_answer_was_lost_is_not_posted_twice(
        server: GitLabApiServer, waits: list[float]) -> None:
    for branch in ("mlgate/churn/production-old", "mlgate/churn/production"):
        server.create_branch(PROJECT, branch, "main")
    gl = provider(server)
    old = gl.open_or_update_request(spec(source_branch="mlgate/churn/production-old"))
    server.lose_answer_next(1, 504, method="POST", path_contains="/notes")

    new = gl.open_or_update_request(spec())

    assert new.superseded == (old.number,)
    assert [n["body"] for n in server.notes(PROJECT, old.number)] == [
        f"Superseded by !{new.number}"]
    assert server.merge_request(PROJECT, old.number)["state"] == "closed"
    # and a rerun (say the close had failed) does not post it again either
    gl.open_or_update_request(spec())
    assert len(server.notes(PROJECT, old.number)) == 1


def test_5xx_is_retried(server: GitLabApiServer) -> None:
    gl = provider(server)
    server.fail_next(2, 502, method="POST")
    gl.commit_files("main", head(server), [change()], "m", None)
    assert [r.status for r in server.requests("POST")] == [502, 502, 201]
    assert gl.counter.calls == {"commit": 1, "retry": 2}


def test_5xx_exhausted_is_a_service_error(server: GitLabApiServer) -> None:
    gl = provider(server, retries=2)
    server.fail_next(10, 503)
    before = head(server)

    with pytest.raises(ServiceError, match="503") as err:
        gl.commit_files("main", before, [change()], "m", None)

    assert err.value.exit_code == EXIT_SERVICE
    assert "commit 1 file(s) to main" in str(err.value) and WRITE not in str(err.value)
    assert len(server.requests()) == 3 and head(server) == before


def test_retry_after_beyond_the_budget_fails_without_sleeping(server: GitLabApiServer) -> None:
    gl = provider(server, max_wait=5)
    server.rate_limit_next(1, retry_after=3600)
    started = time.monotonic()
    with pytest.raises(ServiceError, match="3600s") as err:
        gl.commit_files("main", head(server), [change()], "m", None)
    assert time.monotonic() - started < 2
    assert err.value.exit_code == EXIT_SERVICE


def test_read_only_token_is_a_service_error_without_the_token(server: GitLabApiServer) -> None:
    with pytest.raises(ServiceError, match="403") as err:
        provider(server, READ).commit_files("main", head(server), [change()], "m", None)
    assert err.value.exit_code == EXIT_SERVICE
    assert READ not in str(err.value) and "Developer" in str(err.value)


def test_unknown_token_is_a_service_error_without_the_token(server: GitLabApiServer) -> None:
    bogus = "glpat-" + secrets.token_hex(10)
    server.create_branch(PROJECT, "mlgate/churn/production", "main")
    with pytest.raises(ServiceError, match="401") as err:
        provider(server, bogus).open_or_update_request(spec())
    assert bogus not in str(err.value)


def test_missing_project(server: GitLabApiServer) -> None:
    gl = GitLabProvider.from_repo_url(f"{server.url}/platform/nope.git", WRITE)
    with pytest.raises(ServiceError, match="not found or token cannot see it") as err:
        gl.commit_files("main", head(server), [change()], "m", None)
    assert err.value.exit_code == EXIT_SERVICE


def test_project_outside_the_token_scope_looks_missing(tmp_path: Path) -> None:
    scoped = "glpat-" + secrets.token_hex(10)
    with GitLabApiServer(tmp_path / "g", tokens={scoped: Grant(projects=frozenset({"a/b"}))}) \
            as srv:
        srv.create_project(PROJECT)
        with pytest.raises(ServiceError, match="not found or token cannot see it"):
            provider(srv, scoped).commit_files("main", "0" * 40, [change()], "m", None)


# -- URLs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "expected"), [
    ("https://gitlab.example.com/group/sub/project.git",
     ("https://gitlab.example.com", "group/sub/project")),
    ("http://127.0.0.1:8929/group/project.git", ("http://127.0.0.1:8929", "group/project")),
    ("https://gitlab.example.com/group/project/", ("https://gitlab.example.com", "group/project")),
    ("git@gitlab.example.com:group/project.git", ("https://gitlab.example.com", "group/project")),
    ("ssh://git@gitlab.example.com:2222/g/p.git", ("https://gitlab.example.com", "g/p")),
])
def test_parse_repo_url(url: str, expected: tuple[str, str]) -> None:
    assert parse_repo_url(url) == expected


def test_url_with_credentials_is_refused_without_echoing_them() -> None:
    with pytest.raises(BadInput) as err:
        parse_repo_url("https://oauth2:s3cr3t-tok@gitlab.example.com/g/p.git")
    assert "s3cr3t-tok" not in str(err.value)


def test_ci_server_url_with_a_path_prefix() -> None:
    gl = GitLabProvider.from_repo_url("https://example.com/gitlab/group/project.git", "t",
                                      api_url="https://example.com/gitlab")
    assert (gl.api_url, gl.project_path) == ("https://example.com/gitlab", "group/project")
