"""GitHubProvider against the GitHub stand-in: PyGithub over real HTTP, commits checked with git."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from standins.github_api import (  # noqa: F401 - github_standin is a fixture, used by name
    READ_TOKEN,
    STRANGER_TOKEN,
    WRITE_TOKEN,
    GitHubStandIn,
    github_standin,
)

from mlgate.errors import EXIT_BAD_INPUT, EXIT_SERVICE, BadInput, ServiceError
from mlgate.promote.providers.base import ApiProvider
from mlgate.promote.providers.github import GitHubProvider, parse_repo_url
from mlgate.promote.providers.github_client import RESET_MARGIN
from mlgate.promote.config import Identity
from mlgate.promote.types import ChangeRequestSpec, Conflict, FileChange, marker

SEED = {
    "README.md": "config repo\n",
    "apps/churn/production/values.yaml": "image:\n  tag: v1.4.0\n",
    "apps/churn/staging/values.yaml": "image:\n  tag: v1.5.0\n",
}
AUTHOR = Identity("mlgate", "mlgate@example.com")


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    with GitHubStandIn(tmp_path / "github", files=SEED) as standin:
        yield standin


class Sleeps(list):
    """Records the waits a provider asks for instead of sleeping (deterministic, fast)."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def provider(server: GitHubStandIn, token: str = WRITE_TOKEN, **options) -> GitHubProvider:
    options.setdefault("sleep", Sleeps())
    options.setdefault("rng", lambda: 0.5)
    return GitHubProvider.from_repo_url(server.repo_url, token, **options)


def spec(source: str = "mlgate/churn/production", **overrides) -> ChangeRequestSpec:
    values = {"app": "churn", "environment": "production", "source_branch": source,
              "target_branch": "main", "title": "promote churn to production: v1.4.0 -> v1.5.0",
              "body": "Evidence: all gates passed.\n\n" + marker("churn", "production")}
    values.update(overrides)
    return ChangeRequestSpec(**values)


def branch_with_change(server: GitHubStandIn, branch: str, tag: str) -> str:
    """A promotion branch pushed with git, as the pull-request mode does before opening the PR."""
    server.repo.git("update-ref", f"refs/heads/{branch}", server.head())
    return server.repo.commit_on(branch, {"apps/churn/production/values.yaml":
                                          f"image:\n  tag: {tag}\n"}, f"promote {tag}")


# --------------------------------------------------------------------------- addresses


@pytest.mark.parametrize(("url", "full_name", "api"), [
    ("https://github.com/acme/config.git", "acme/config", "https://api.github.com"),
    ("https://github.com/acme/config", "acme/config", "https://api.github.com"),
    ("git@github.com:acme/config.git", "acme/config", "https://api.github.com"),
    ("http://127.0.0.1:8080/acme/config.git", "acme/config", "http://127.0.0.1:8080/api/v3"),
    ("https://ghe.example.com/acme/config", "acme/config", "https://ghe.example.com/api/v3"),
    ("ssh://git@ghe.example.com:2222/acme/config.git", "acme/config",
     "https://ghe.example.com/api/v3"),
])
def test_repo_url_gives_name_and_api(url, full_name, api):
    made = GitHubProvider.from_repo_url(url, "t")
    assert (made.full_name, made.api_url) == (full_name, api)
    assert parse_repo_url(url).full_name == full_name


def test_explicit_api_url_wins():
    made = GitHubProvider.from_repo_url("https://github.com/acme/config", "t",
                                        "https://api.example.test/")
    assert made.api_url == "https://api.example.test"


@pytest.mark.parametrize("url", ["https://x-access-token:s3cret@github.com/acme/config.git",
                                 "https://s3cret@github.com/acme/config.git"])
def test_url_with_credentials_is_refused_without_echoing_them(url):
    with pytest.raises(BadInput) as caught:
        GitHubProvider.from_repo_url(url, "t")
    assert caught.value.exit_code == EXIT_BAD_INPUT
    assert "s3cret" not in str(caught.value)


def test_provider_satisfies_the_protocol(server):
    made: ApiProvider = provider(server)
    assert made.name == "github" and made.counter.total == 0


# --------------------------------------------------------------------------- commits


@pytest.mark.parametrize("count", [1, 200])
def test_one_atomic_commit_in_four_calls_whatever_the_number_of_files(server, tmp_path, count):
    gh = provider(server)
    parent = server.head()
    changes = [FileChange("apps/churn/production/values.yaml", b"image:\n  tag: v1.5.0\n")]
    changes += [FileChange(f"apps/gen/{i // 50}/file-{i}.yaml", f"n: {i}\n".encode())
                for i in range(count - 1)]
    sha = gh.commit_files("main", parent, changes, "promote churn", AUTHOR)

    assert server.head() == sha
    assert server.repo.read_commit(sha)["parents"] == [parent]
    assert server.repo.rev_list("main")[:2] == [sha, parent]  # exactly one new commit
    changed = server.repo.out("diff-tree", "--no-commit-id", "--name-only", "-r", parent, sha)
    assert sorted(changed.splitlines()) == sorted(c.path for c in changes)
    assert server.repo.show(sha, "apps/churn/staging/values.yaml") == b"image:\n  tag: v1.5.0\n"
    author = server.repo.out("log", "-1", "--format=%an <%ae>|%s", sha)
    assert author == "mlgate <mlgate@example.com>|promote churn"

    assert gh.counter.total == 4 == len(server.log)
    assert gh.counter.calls == {"get_commit": 1, "create_tree": 1, "create_commit": 1,
                                "update_ref": 1}

    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(server.repo.path), str(clone)], check=True)
    for change in changes:
        assert (clone / change.path).read_bytes() == change.content


def test_executable_and_binary_files_keep_mode_and_bytes(server):
    gh = provider(server)
    binary = bytes(range(256))
    sha = gh.commit_files("main", server.head(), [
        FileChange("bin/deploy.sh", b"#!/bin/sh\necho ok\n", executable=True),
        FileChange("models/weights.bin", binary),
    ], "binary", None)
    listing = {e["path"]: e for e in server.repo.tree_listing(sha, recursive=True)}
    assert listing["bin/deploy.sh"]["mode"] == "100755"
    assert server.repo.show(sha, "models/weights.bin") == binary
    assert gh.counter.calls["create_blob"] == 1  # only the non-UTF-8 file needs a blob call
    assert gh.counter.total == 5
    assert server.repo.out("log", "-1", "--format=%an", sha) == "mlgate-bot"  # token's user


def test_branch_moved_by_a_concurrent_push_is_a_conflict_and_nothing_lands(server):
    gh = provider(server)
    parent = server.head()
    server.push_concurrently("main", {"apps/other/values.yaml": "x: 1\n"})
    with pytest.raises(Conflict):
        gh.commit_files("main", parent, [FileChange("apps/churn/production/values.yaml", b"v2\n")],
                        "promote", AUTHOR)
    head = server.head()
    assert head != parent and server.repo.read_commit(head)["message"] == "concurrent push"
    assert server.repo.show("main", "apps/churn/production/values.yaml") == SEED[
        "apps/churn/production/values.yaml"].encode()
    assert [r.status for r in server.calls("PATCH")] == [422]


def test_stale_parent_is_a_conflict(server):
    gh = provider(server)
    stale = server.head()
    moved = server.repo.commit_on("main", {"README.md": "edited\n"}, "someone else")
    with pytest.raises(Conflict):
        gh.commit_files("main", stale, [FileChange("README.md", b"ours\n")], "ours", None)
    assert server.head() == moved


def test_changes_that_change_nothing_make_no_commit(server):
    gh = provider(server)
    parent = server.head()
    same = SEED["apps/churn/production/values.yaml"].encode()
    assert gh.commit_files("main", parent, [FileChange("apps/churn/production/values.yaml", same)],
                           "nothing", None) == parent
    assert server.head() == parent and gh.counter.total == 2  # GET commit, POST tree


def test_missing_branch_is_created_at_the_commit(server):
    gh = provider(server)
    sha = gh.commit_files("mlgate/churn/production", server.head(),
                          [FileChange("README.md", b"promoted\n")], "promote", None)
    assert server.head("mlgate/churn/production") == sha
    assert gh.counter.calls["create_ref"] == 1 and gh.counter.total == 5


# --------------------------------------------------------------------------- pull requests


def test_pull_request_is_created_then_updated_in_place(server):
    gh = provider(server)
    branch_with_change(server, "mlgate/churn/production", "v1.5.0")
    first = gh.open_or_update_request(spec(labels=("promotion",), reviewers=("alice",)))
    assert first.created and first.number == 1
    assert first.url == f"{server.html_url}/acme/config/pull/1"

    branch_with_change(server, "mlgate/churn/production", "v1.6.0")
    gh.counter.calls.clear()
    server.clear_log()
    second = gh.open_or_update_request(spec(title="promote churn to production: v1.4.0 -> v1.6.0",
                                            labels=("promotion",), reviewers=("alice",)))
    assert (second.number, second.created) == (1, False)
    assert [p.number for p in server.pulls.values() if p.state == "open"] == [1]
    assert server.pulls[1].title.endswith("v1.6.0")
    # labels and reviewers already there: one list and one edit, nothing else
    assert gh.counter.calls == {"list_pulls": 1, "update_pull": 1} and len(server.log) == 2


def test_unchanged_request_costs_one_call(server):
    gh = provider(server)
    branch_with_change(server, "mlgate/churn/production", "v1.5.0")
    gh.open_or_update_request(spec())
    gh.counter.calls.clear()
    again = gh.open_or_update_request(spec())
    assert not again.created and gh.counter.calls == {"list_pulls": 1}


def test_labels_users_and_team_reviewers(server):
    gh = provider(server)
    branch_with_change(server, "mlgate/churn/production", "v1.5.0")
    gh.open_or_update_request(spec(labels=("promotion", "production"),
                                   reviewers=("alice", "@bob", "acme/platform")))
    pr = server.pulls[1]
    assert pr.labels == ["promotion", "production"]
    assert pr.reviewers == ["alice", "bob"] and pr.teams == ["platform"]
    sent = server.calls("POST", "/requested_reviewers")[0].body
    assert sent == {"reviewers": ["alice", "bob"], "team_reviewers": ["platform"]}


def test_unknown_reviewer_is_a_service_error_with_githubs_reason(server):
    gh = provider(server)
    branch_with_change(server, "mlgate/churn/production", "v1.5.0")
    with pytest.raises(ServiceError, match="only be requested from collaborators"):
        gh.open_or_update_request(spec(reviewers=("mallory",)))


def test_superseded_request_is_closed_with_a_comment(server):
    gh = provider(server)
    branch_with_change(server, "mlgate/churn/production-v1", "v1.5.0")
    old = gh.open_or_update_request(spec("mlgate/churn/production-v1"))
    branch_with_change(server, "mlgate/churn/staging", "v1.5.0")
    other_env = gh.open_or_update_request(spec(
        "mlgate/churn/staging", environment="staging",
        body="staging\n" + marker("churn", "staging")))

    branch_with_change(server, "mlgate/churn/production", "v1.6.0")
    new = gh.open_or_update_request(spec())

    assert new.created and new.superseded == (old.number,)
    assert server.pulls[old.number].state == "closed"
    assert server.pulls[other_env.number].state == "open"
    comments = [c.body for c in server.comments if c.issue == old.number]
    assert len(comments) == 1 and comments[0].startswith(f"Superseded by #{new.number}")
    assert gh.counter.total == len(server.log)  # every request counted, none hidden


def test_auto_merge_goes_through_graphql_pinned_to_the_head(server):
    gh = provider(server, merge_method="squash")
    head = branch_with_change(server, "mlgate/churn/production", "v1.5.0")
    result = gh.open_or_update_request(spec(auto_merge=True))
    assert result.auto_merge
    assert server.pulls[result.number].auto_merge["merge_method"] == "squash"
    (call,) = server.calls("POST", "/graphql")
    assert "enablePullRequestAutoMerge" in call.body["query"]
    assert call.body["variables"]["input"] == {
        "pullRequestId": server.pulls[result.number].node_id, "expectedHeadOid": head,
        "mergeMethod": "SQUASH"}
    gh.counter.calls.clear()
    assert gh.open_or_update_request(spec(auto_merge=True)).auto_merge
    assert "enable_auto_merge" not in gh.counter.calls  # already on: not asked again


def test_auto_merge_with_a_read_only_token_names_the_missing_permission(server):
    branch_with_change(server, "mlgate/churn/production", "v1.5.0")
    provider(server).open_or_update_request(spec())
    with pytest.raises(ServiceError, match="token lacks permission to enable auto-merge on pull "
                                           "request #1 on acme/config") as caught:
        provider(server, READ_TOKEN).open_or_update_request(spec(auto_merge=True))
    assert READ_TOKEN not in str(caught.value)


def test_auto_merge_refused_by_the_repository_is_a_service_error(server):
    server.allow_auto_merge = False
    gh = provider(server)
    branch_with_change(server, "mlgate/churn/production", "v1.5.0")
    with pytest.raises(ServiceError, match="Auto merge is not allowed") as caught:
        gh.open_or_update_request(spec(auto_merge=True))
    assert caught.value.exit_code == EXIT_SERVICE


def test_pull_request_without_commits_is_a_service_error(server):
    gh = provider(server)
    server.repo.git("update-ref", "refs/heads/mlgate/churn/production", server.head())
    with pytest.raises(ServiceError, match="No commits between main and mlgate/churn/production"):
        gh.open_or_update_request(spec())


# --------------------------------------------------------------------------- limits and errors


def test_secondary_rate_limit_waits_retry_after_then_succeeds(server):
    gh = provider(server, sleep=time.sleep)
    server.rate_limit("secondary", seconds=1, path="/git/trees")
    started = time.monotonic()
    sha = gh.commit_files("main", server.head(), [FileChange("README.md", b"x\n")], "m", None)
    assert time.monotonic() - started >= 1.0
    assert server.head() == sha
    assert [r.status for r in server.calls("POST", "/git/trees")] == [403, 201]
    assert gh.counter.calls["create_tree"] == 2 and gh.counter.total == len(server.log)


def test_primary_rate_limit_waits_for_the_reset(server):
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # really wait for the reset, minus the safety margin
        waits.append(seconds)
        time.sleep(max(0.0, seconds - RESET_MARGIN))

    gh = provider(server, sleep=sleep)
    reset = server.rate_limit("primary", seconds=0.5, status=429)
    sha = gh.commit_files("main", server.head(), [FileChange("README.md", b"x\n")], "m", None)
    assert server.head() == sha
    assert [r.status for r in server.log] == [429, 200, 201, 201, 200]
    (waited,) = waits
    assert reset - time.time() + RESET_MARGIN <= waited <= reset - time.time() + RESET_MARGIN + 2.5


def test_server_errors_are_retried_with_jittered_backoff(server):
    sleeps = Sleeps()
    gh = provider(server, sleep=sleeps, rng=lambda: 0.5)
    server.fail_next(2, 502, path="/git/trees")
    server.fail_next(1, 500, method="PATCH")
    sha = gh.commit_files("main", server.head(), [FileChange("README.md", b"x\n")], "m", None)
    assert server.head() == sha
    assert sleeps == [0.75, 1.5, 0.75]  # 1s, 2s doubling, each scaled by 0.5 + 0.5 * jitter
    assert gh.counter.calls["create_tree"] == 3 and gh.counter.calls["update_ref"] == 2


def test_exhausted_retries_raise_service_error_and_nothing_lands(server):
    sleeps = Sleeps()
    gh = provider(server, sleep=sleeps, retries=3)
    before = server.head()
    server.fail_next(10, 503, method="PATCH")
    with pytest.raises(ServiceError) as caught:
        gh.commit_files("main", before, [FileChange("README.md", b"x\n")], "m", None)
    assert caught.value.exit_code == EXIT_SERVICE
    assert "HTTP 503 while trying to update branch main on acme/config" in str(caught.value)
    assert "gave up after 4 attempts" in str(caught.value)
    assert len(sleeps) == 3 and server.head() == before


def test_rate_limit_longer_than_max_wait_gives_up_at_once(server):
    sleeps = Sleeps()
    gh = provider(server, sleep=sleeps, max_wait=60)
    server.rate_limit("secondary", seconds=600)
    with pytest.raises(ServiceError, match="rate limit .*would pass the 60s limit"):
        gh.commit_files("main", server.head(), [FileChange("README.md", b"x\n")], "m", None)
    assert sleeps == [] and len(server.log) == 1


def test_secondary_limit_without_retry_after_waits_a_minute_within_budget(server):
    sleeps = Sleeps()
    gh = provider(server, sleep=sleeps, max_wait=90)
    server.rate_limit("secondary", seconds=600, retry_after_header=False)
    with pytest.raises(ServiceError, match="rate limit"):
        gh.commit_files("main", server.head(), [FileChange("README.md", b"x\n")], "m", None)
    assert sleeps == [60.0]  # then 120 s would pass the 90 s budget


def test_read_only_token_is_a_service_error_without_the_token(server):
    gh = provider(server, READ_TOKEN)
    before = server.head()
    with pytest.raises(ServiceError) as caught:
        gh.commit_files("main", before, [FileChange("README.md", b"x\n")], "m", None)
    message = str(caught.value)
    assert caught.value.exit_code == EXIT_SERVICE
    assert message.startswith("token lacks permission to create a tree on acme/config")
    assert "Resource not accessible by integration" in message
    assert READ_TOKEN not in message and caught.value.__cause__ is None
    assert server.head() == before


def test_read_only_token_cannot_open_a_pull_request(server):
    branch_with_change(server, "mlgate/churn/production", "v1.5.0")
    reader = provider(server, READ_TOKEN)
    with pytest.raises(ServiceError, match="token lacks permission to open a pull req") as caught:
        reader.open_or_update_request(spec())
    assert READ_TOKEN not in str(caught.value)


def test_unknown_token_is_rejected_clearly(server):
    secret = "ghp_notARealToken000000000000000000000000"
    with pytest.raises(ServiceError, match="GitHub rejected the token") as caught:
        provider(server, secret).commit_files("main", server.head(),
                                              [FileChange("README.md", b"x\n")], "m", None)
    assert secret not in str(caught.value)


@pytest.mark.parametrize(("name", "token"), [("acme/missing", WRITE_TOKEN),
                                             ("acme/config", STRANGER_TOKEN)])
def test_repository_not_found_or_invisible(server, name, token):
    gh = GitHubProvider.from_repo_url(f"{server.html_url}/{name}.git", token, sleep=Sleeps())
    with pytest.raises(ServiceError, match=f"repository {name} not found or token cannot see it"):
        gh.commit_files("main", server.head(), [FileChange("README.md", b"x\n")], "m", None)
    assert gh.counter.calls == {"get_commit": 1, "get_repo": 1}


def test_unknown_parent_commit_is_not_mistaken_for_a_missing_repository(server):
    gh = provider(server)
    with pytest.raises(ServiceError, match="could not read commit 0123456789ab on acme/config"):
        gh.commit_files("main", "0123456789abcdef0123456789abcdef01234567",
                        [FileChange("README.md", b"x\n")], "m", None)


def test_shared_fixture_serves_a_repository(request):
    standin: GitHubStandIn = request.getfixturevalue("github_standin")
    gh = GitHubProvider.from_repo_url(standin.repo_url, WRITE_TOKEN)
    sha = gh.commit_files("main", standin.head(), [FileChange("a.txt", b"a\n")], "m", None)
    assert standin.repo.show(sha, "a.txt") == b"a\n"


def test_unreachable_api_is_retried_then_a_service_error():
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps = Sleeps()
    gh = GitHubProvider.from_repo_url(f"http://127.0.0.1:{port}/acme/config.git", WRITE_TOKEN,
                                      retries=2, sleep=sleeps, rng=lambda: 0.0)
    with pytest.raises(ServiceError, match="could not reach GitHub at .*ConnectionError.*read "
                                           "commit") as caught:
        gh.commit_files("main", "a" * 40, [FileChange("a.txt", b"a\n")], "m", None)
    assert "gave up after 3 attempts" in str(caught.value) and sleeps == [0.5, 1.0]


def test_importing_the_provider_does_not_import_pygithub():
    code = ("import sys, mlgate.promote.providers.github; "
            "sys.exit('github' in sys.modules or 'requests' in sys.modules)")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[4] / "src")}
    assert subprocess.run([sys.executable, "-c", code], env=env, check=False).returncode == 0


# --------------------------------------------------------------------------- forges as they behave
# (issue 14: each behaviour switched on in the stand-in, mlgate driven through PyGithub)


def test_clean_pull_request_is_merged_directly_pinned_to_the_pushed_head(server):
    """GitHub refuses auto-merge on a PR with nothing left to wait for; mlgate merges it."""
    server.merge_state = "clean"
    server.mergeability_lag = 5  # REST still says "unknown": the decision is GitHub's, not a read
    head = branch_with_change(server, "mlgate/churn/production", "v1.5.0")
    before = server.head()
    result = provider(server).open_or_update_request(spec(auto_merge=True, head_sha=head))

    assert (result.merged, result.auto_merge) == (True, False)
    assert "mergeable_state clean" in result.note and "merged it directly (merge" in result.note
    (graphql,) = server.calls("POST", "/graphql")
    assert graphql.status == 200 and graphql.body["variables"]["input"]["expectedHeadOid"] == head
    (merge,) = server.calls("PUT", "/merge")
    assert merge.status == 200 and merge.body == {"merge_method": "merge", "sha": head}
    pull = server.pulls[result.number]
    assert pull.merged and pull.state == "closed"
    assert server.repo.read_commit(server.head())["parents"] == [before, head]
    merged = server.repo.show("main", "apps/churn/production/values.yaml")
    assert merged == b"image:\n  tag: v1.5.0\n"


def test_merge_method_falls_back_to_one_the_repository_allows(server):
    server.merge_state, server.merge_methods = "unstable", {"squash"}
    head = branch_with_change(server, "mlgate/churn/production", "v1.5.0")
    before = server.head()
    result = provider(server).open_or_update_request(spec(auto_merge=True, head_sha=head))
    assert result.merged and "(squash" in result.note and "unstable" in result.note
    assert server.repo.read_commit(server.head())["parents"] == [before]  # squashed


def test_blocked_pull_request_gets_auto_merge_and_stays_open(server):
    head = branch_with_change(server, "mlgate/churn/production", "v1.5.0")
    result = provider(server).open_or_update_request(spec(auto_merge=True, head_sha=head))
    assert (result.auto_merge, result.merged, result.note) == (True, False, "")
    assert server.pulls[1].state == "open" and server.calls("PUT", "/merge") == []


def test_refused_direct_merge_is_said_plainly_and_the_pull_request_stays(server):
    """Someone pushes to the PR branch between mlgate's push and its merge: 409, no exit 3."""
    server.merge_state = "clean"
    head = branch_with_change(server, "mlgate/churn/production", "v1.5.0")
    before = server.head()
    server.before_next(lambda: server.repo.commit_on("mlgate/churn/production",
                                                     {"README.md": "pushed meanwhile\n"}, "x"),
                       method="PUT", path="/merge")
    result = provider(server).open_or_update_request(spec(auto_merge=True, head_sha=head))
    assert (result.merged, result.auto_merge) == (False, False)
    assert "refused the direct merge (HTTP 409: Head branch was modified" in result.note
    assert result.note.endswith("the pull request stays open")
    assert server.pulls[1].state == "open" and server.head() == before


def test_dirty_pull_request_is_a_conflict_to_re_apply(server):
    head = branch_with_change(server, "mlgate/churn/production", "v1.5.0")
    server.repo.commit_on("main", {"apps/churn/production/values.yaml": "image:\n  tag: v1.4.1\n"},
                          "hotfix")
    with pytest.raises(Conflict, match="conflicts with main .mergeable_state dirty"):
        provider(server).open_or_update_request(spec(auto_merge=True, head_sha=head))
    assert server.pulls[1].auto_merge is None and server.calls("PUT", "/merge") == []


def test_auto_merge_is_pinned_to_the_pushed_commit_not_a_stale_head_sha(server):
    gh = provider(server)
    branch_with_change(server, "mlgate/churn/production", "v1.5.0")
    gh.open_or_update_request(spec())
    server.head_sha_lag = 3
    pushed = branch_with_change(server, "mlgate/churn/production", "v1.6.0")
    assert gh.repo.get_pull(1).head.sha != pushed  # GitHub still reports the previous head
    result = gh.open_or_update_request(spec(auto_merge=True, head_sha=pushed))
    assert result.auto_merge
    (call,) = server.calls("POST", "/graphql")
    assert call.body["variables"]["input"]["expectedHeadOid"] == pushed


@pytest.mark.parametrize("message", ["Reference cannot be updated", "Reference update failed"])
def test_transient_ref_update_refusal_is_a_conflict_not_a_failure(server, message):
    gh = provider(server)
    before = server.head()
    server.fail_next(1, 422, method="PATCH", path="/git/refs", message=message)
    with pytest.raises(Conflict, match=message):
        gh.commit_files("main", before, [FileChange("README.md", b"x\n")], "m", None)
    assert server.head() == before
    sha = gh.commit_files("main", before, [FileChange("README.md", b"x\n")], "m", None)
    assert server.head() == sha  # the re-apply lands


@pytest.mark.parametrize(("kind", "answer"), [("tree", "Tree SHA does not exist"),
                                              ("commit", "Object does not exist")])
def test_replica_lag_is_a_conflict_then_the_object_is_there(server, kind, answer):
    gh = provider(server)
    before = server.head()
    server.replica_lag(1, kind)
    with pytest.raises(Conflict, match=answer):
        gh.commit_files("main", before, [FileChange("README.md", b"x\n")], "m", None)
    assert server.head() == before and [r.status for r in server.log].count(422) == 1
    sha = gh.commit_files("main", before, [FileChange("README.md", b"x\n")], "m", None)
    assert server.head() == sha and server.repo.rev_list("main")[1] == before


def test_base_tree_not_yet_replicated_is_a_conflict(server):
    gh = provider(server)
    pushed = server.repo.commit_on("main", {"README.md": "just pushed\n"}, "someone")
    server.hide(server.repo.read_commit(pushed)["tree"], requests=2)
    with pytest.raises(Conflict, match="base_tree .* is not a valid tree oid"):
        gh.commit_files("main", pushed, [FileChange("a.txt", b"a\n")], "m", None)


def test_lost_answer_of_a_ref_update_is_not_a_second_commit(server):
    gh = provider(server)
    before = server.head()
    server.lose_answer_next(1, 502, method="PATCH")
    sha = gh.commit_files("main", before, [FileChange("README.md", b"x\n")], "m", None)
    assert server.head() == sha and server.repo.rev_list("main")[1] == before
    assert [r.status for r in server.calls("PATCH")] == [502, 200]


def test_lost_answer_of_a_branch_creation_is_recognised(server):
    gh = provider(server)
    server.lose_answer_next(1, 504, method="POST", path="/git/refs")
    sha = gh.commit_files("mlgate/churn/production", server.head(),
                          [FileChange("README.md", b"promoted\n")], "promote", None)
    assert server.head("mlgate/churn/production") == sha


def test_lost_answer_of_a_pull_request_creation_opens_no_second_one(server):
    branch_with_change(server, "mlgate/churn/production", "v1.5.0")
    server.lose_answer_next(1, 502, method="POST", path="/pulls")
    result = provider(server).open_or_update_request(spec())
    assert result.number == 1 and list(server.pulls) == [1]


def test_lost_answer_of_a_superseded_comment_posts_it_once(server):
    gh = provider(server)
    branch_with_change(server, "mlgate/churn/production-v1", "v1.5.0")
    old = gh.open_or_update_request(spec("mlgate/churn/production-v1"))
    branch_with_change(server, "mlgate/churn/production", "v1.6.0")
    server.lose_answer_next(1, 502, method="POST", path="/comments")
    new = gh.open_or_update_request(spec())
    assert new.superseded == (old.number,) and server.pulls[old.number].state == "closed"
    assert [c.issue for c in server.comments] == [old.number]


def test_lost_answer_of_a_merge_is_recognised_as_merged(server):
    server.merge_state = "clean"
    head = branch_with_change(server, "mlgate/churn/production", "v1.5.0")
    before = server.head()
    server.lose_answer_next(1, 502, method="PUT", path="/merge")
    result = provider(server).open_or_update_request(spec(auto_merge=True, head_sha=head))
    assert result.merged and server.pulls[1].merged
    assert [r.status for r in server.calls("PUT", "/merge")] == [502, 405]
    assert server.repo.read_commit(server.head())["parents"] == [before, head]  # merged once


@pytest.mark.parametrize("message", [None, "Changes must be made through a pull request."])
def test_protected_branch_is_bad_input_naming_the_branch_without_retries(server, message):
    server.protect("main", message)
    before = server.head()
    with pytest.raises(BadInput) as caught:
        provider(server).commit_files("main", before, [FileChange("README.md", b"x\n")], "m", None)
    text = str(caught.value)
    assert caught.value.exit_code == EXIT_BAD_INPUT
    assert text.startswith("branch main of acme/config is protected")
    assert (message or "Protected branch update failed for refs/heads/main.") in text
    assert "--mode pull-request" in text and "\n" not in text
    assert server.head() == before and len(server.calls("PATCH")) == 1
