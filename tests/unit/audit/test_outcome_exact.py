"""The outcome recorder's exact answers, each the attack or accident that would reveal a wrong
one: the whole Recording for every way a note is not recorded, git's own failure words kept,
the environment given (not the process's) reaching git, the provider's token chosen over
another, a single try meaning a single push, a removed working directory, the temp folder
gone afterwards, the time written in UTC whatever the machine's zone."""

from __future__ import annotations

import os
import subprocess
import time

import pytest
from support.auditrepo import ENV, IMG, promote
from support.configrepo import EXAMPLES, git, tree_files
from support.fixtures import git_server  # noqa: F401

import mlgate.audit.outcome as module
from mlgate.audit.outcome import (
    NOTES_REF,
    Recording,
    outcome_now,
    record,
    record_outcome,
    refs_busy,
    target_for,
)
from mlgate.promote.config import Target

T0 = 1_796_000_000  # 2026-11-30T00:53:20Z
LINE = "verify Failed 2026-11-30T00:53:20Z"


def note(remote, sha):
    return git(remote, "notes", f"--ref={NOTES_REF}", "show", sha)


def scripted(answers):
    """A Git whose named commands answer as given (returncode, stdout, stderr) instead of
    running: the remote's failures that a real remote gives only by chance."""

    class Scripted(module.Git):
        def run(self, *args, **kw):  # noqa: F811 (a method)
            if args[0] in answers:
                code, out, err = answers[args[0]]
                return subprocess.CompletedProcess(["git", *args], code, out, err)
            return super().run(*args, **kw)

    return Scripted


def test_a_short_or_long_sha_is_refused_whole(remote):
    target = target_for(str(remote), ENV)
    long = "d" * 70
    assert record(target, long, outcome_now("verify", "Failed", now=T0)) == Recording(
        long, LINE, False, f"not recorded: {'d' * 60!r} is not a full commit sha")
    assert record(target, "HEAD", outcome_now("verify", "Failed", now=T0)) == Recording(
        "HEAD", LINE, False, "not recorded: 'HEAD' is not a full commit sha")


def test_git_fetch_failing_in_its_own_words(remote, monkeypatch):
    target = target_for(str(remote), ENV)
    sha = "e" * 40
    monkeypatch.setattr(module, "Git", scripted({"fetch": (1, "", "fatal: the pack is odd\n")}))
    assert record(target, sha, outcome_now("verify", "Failed", now=T0)) == Recording(
        sha, LINE, False, f"not recorded: git fetch against {target.url} failed: fatal: the "
        "pack is odd")
    monkeypatch.setattr(module, "Git", scripted({"fetch": (7, "", "")}))
    assert record(target, sha, outcome_now("verify", "Failed", now=T0)).warning == (
        f"not recorded: git fetch against {target.url} failed: exit 7")


def test_git_push_failing_in_its_own_words(remote, monkeypatch):
    sha = promote(remote, "staging", f"{IMG}:v1.5.0")
    target = target_for(str(remote), ENV)
    monkeypatch.setattr(module, "Git", scripted({"push": (9, "", "")}))
    assert record(target, sha, outcome_now("verify", "Failed", now=T0)) == Recording(
        sha, LINE, False, f"not recorded: git push against {target.url} failed: exit 9")
    monkeypatch.setattr(module, "Git", scripted({"push": (1, "", "error: the disk is full\n")}))
    assert record(target, sha, outcome_now("verify", "Failed", now=T0)).warning == (
        f"not recorded: git push against {target.url} failed: error: the disk is full")


def test_a_remote_that_is_no_repository_keeps_sha_and_line(tmp_path):
    (tmp_path / "empty").mkdir()
    url = f"file://{tmp_path / 'empty'}"
    done = record(target_for(url, ENV), "b" * 40, outcome_now("verify", "Failed", now=T0))
    assert done == Recording("b" * 40, LINE, False,
                             f"not recorded: {url} is not a git repository the token can see")


def test_one_try_is_one_push(remote, monkeypatch):
    sha = promote(remote, "staging", f"{IMG}:v1.5.0")
    target = target_for(str(remote), ENV)
    monkeypatch.setattr(module.time, "sleep", lambda s: None)
    theirs = outcome_now("wait-sync", "Healthy", "theirs", now=T0).line()

    class AlwaysRaced(module.Git):
        def run(self, *args, **kw):  # noqa: F811 (a method)
            if args[0] == "push":
                git(remote, "-c", "user.name=x", "-c", "user.email=x@x", "notes",
                    f"--ref={NOTES_REF}", "append", "-m", theirs, sha)
            return super().run(*args, **kw)

    monkeypatch.setattr(module, "Git", AlwaysRaced)
    done = record(target, sha, outcome_now("verify", "Failed", now=T0), attempts=1)
    assert done == Recording(sha, LINE, False, "not recorded: " + refs_busy(target.url, 1))
    assert note(remote, sha).splitlines() == [theirs]   # one push tried, one race


def test_a_vanished_notes_ref_starts_again_from_nothing(remote, monkeypatch):
    """Raced, then the remote's notes ref deleted before the next try: the retry must not push
    back the stale notes it fetched the first time."""
    sha = promote(remote, "staging", f"{IMG}:v1.5.0")
    target = target_for(str(remote), ENV)
    old = outcome_now("wait-sync", "Healthy", "old", now=T0).line()
    git(remote, "-c", "user.name=x", "-c", "user.email=x@x", "notes", f"--ref={NOTES_REF}",
        "add", "-m", old, sha)
    monkeypatch.setattr(module.time, "sleep", lambda s: None)
    pushes = []

    class RacedThenDeleted(module.Git):
        def run(self, *args, **kw):  # noqa: F811 (a method)
            if args[0] == "push" and not pushes:
                pushes.append(1)
                # someone rewrote the notes (a force push), so this push is refused ...
                empty = subprocess.run(["git", "-C", str(remote), "mktree"], input="",
                                       capture_output=True, text=True, check=True).stdout
                git(remote, "-c", "user.name=x", "-c", "user.email=x@x", "update-ref",
                    NOTES_REF, git(remote, "-c", "user.name=x", "-c", "user.email=x@x",
                                   "commit-tree", "-m", "rewritten", empty.strip()).strip())
                done = super().run(*args, **kw)
                git(remote, "update-ref", "-d", NOTES_REF)   # ... then removed them
                return done
            return super().run(*args, **kw)

    monkeypatch.setattr(module, "Git", RacedThenDeleted)
    done = record(target, sha, outcome_now("verify", "Failed", now=T0))
    assert done.recorded, done.warning
    assert note(remote, sha).splitlines() == [LINE]   # not the stale "old" line


def test_the_environment_given_reaches_git(remote):
    sha = promote(remote, "staging", f"{IMG}:v1.5.0")
    environ = {**ENV, "GIT_COMMITTER_DATE": "2001-02-03T04:05:06Z",
               "GIT_AUTHOR_DATE": "2001-02-03T04:05:06Z"}
    done = record(target_for(str(remote), environ), sha,
                  outcome_now("verify", "Failed", now=T0), environ=environ)
    assert done.recorded
    assert git(remote, "log", "-1", "--format=%cI", NOTES_REF).strip() == \
        "2001-02-03T04:05:06+00:00"
    again = record_outcome(str(remote), sha, "verify", "Successful", environ, now=T0)
    assert again.recorded
    assert git(remote, "log", "-1", "--format=%cI", NOTES_REF).strip() == \
        "2001-02-03T04:05:06+00:00"


def test_record_outcome_writes_the_run_and_the_time(remote):
    sha = promote(remote, "staging", f"{IMG}:v1.5.0")
    environ = {**ENV, "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "o/r",
               "GITHUB_RUN_ID": "17"}
    done = record_outcome(str(remote), sha, "verify", "Successful", environ, now=T0)
    want = "verify Successful 2026-11-30T00:53:20Z https://github.com/o/r/actions/runs/17"
    assert done == Recording(sha, want, True)
    assert note(remote, sha).splitlines() == [want]


def test_record_outcome_on_a_bad_repo_keeps_revision_and_line(tmp_path):
    done = record_outcome(str(tmp_path / "nowhere"), "a" * 40, "verify", "Error", ENV, now=T0)
    assert done.commit == "a" * 40 and done.line == "verify Error 2026-11-30T00:53:20Z"
    assert done.recorded is False and "not a URL and not a directory" in done.warning


def test_the_providers_token_is_used_not_the_first_found(git_server):  # noqa: F811
    git_server.create_repo("config", tree_files(EXAMPLES))
    url = git_server.url("config")
    sha = git(git_server.path("config"), "rev-parse", "main").strip()
    environ = {**ENV, "MLGATE_GIT_USERNAME": "writer", "GITHUB_TOKEN": "not-a-token",
               "GITLAB_TOKEN": git_server.token("writer")}
    done = record_outcome(url, sha, "verify", "Successful", environ, provider="gitlab")
    assert done.recorded, done.warning
    assert target_for(url, environ, "gitlab").credentials.token == git_server.token("writer")


def test_target_for_names_git_and_push(tmp_path):
    environ = {"MLGATE_GIT_TOKEN": "t-git", "GITHUB_TOKEN": "t-gh"}
    url = "https://git.example.com/config.git"
    got = target_for(url, environ)
    assert (got.url, got.provider, got.mode, got.base) == (url, "git", "push", "main")
    assert got.credentials.token == "t-git"
    assert target_for(url, {"GITHUB_TOKEN": "t-gh"}).credentials.token == "t-gh"
    lab = target_for(url, {"GITHUB_TOKEN": "t-gh", "GITLAB_TOKEN": "t-gl"}, "gitlab")
    assert (lab.provider, lab.mode, lab.credentials.token) == ("gitlab", "push", "t-gl")
    assert target_for(url, {"GITHUB_TOKEN": "t-gh"}, "gitlab").credentials is None
    assert isinstance(got, Target)


def test_it_works_from_a_removed_working_directory(remote, tmp_path, monkeypatch):
    sha = promote(remote, "staging", f"{IMG}:v1.5.0")
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    done = record(target_for(str(remote), ENV), sha, outcome_now("verify", "Failed", now=T0))
    assert done.recorded, done.warning


def test_its_temp_folder_is_named_and_removed(remote, tmp_path, monkeypatch):
    sha = promote(remote, "staging", f"{IMG}:v1.5.0")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(scratch))
    seen = []

    class Looking(module.Git):
        def run(self, *args, **kw):  # noqa: F811 (a method)
            seen.extend(os.listdir(scratch))
            return super().run(*args, **kw)

    monkeypatch.setattr(module, "Git", Looking)
    assert record(target_for(str(remote), ENV), sha,
                  outcome_now("verify", "Failed", now=T0)).recorded
    assert seen and all(name.startswith("mlgate-notes-") for name in seen)
    assert os.listdir(scratch) == []


def test_time_is_utc_whatever_the_machines_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        assert outcome_now("verify", "Failed", now=T0).line() == LINE
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_an_unknown_outcome_is_named():
    with pytest.raises(ValueError, match="^not an outcome: promote Successful$"):
        outcome_now("promote", "Successful")


def test_each_race_word_alone_is_a_race():
    for said in ("non-fast-forward", "fetch first", "[rejected]", "stale info",
                 "cannot lock ref", "failed to update ref"):
        assert module._raced(f"! {said.upper()} x"), said


def test_an_unexpected_errors_words_are_cut_at_200(remote, monkeypatch):
    class Broken(module.Git):
        def run(self, *args, **kw):  # noqa: F811 (a method)
            raise RuntimeError("x" * 300)

    monkeypatch.setattr(module, "Git", Broken)
    done = record(target_for(str(remote), ENV), "c" * 40, outcome_now("verify", "Error", now=T0))
    assert done.warning == "not recorded: RuntimeError: " + "x" * 200
