"""The wait-sync and verify outcomes kept as git notes (refs/notes/mlgate) on the promotion
commit, against real bare repositories: appended, raced by another recorder, refused by a
read-only remote (a warning, nothing else), never touching the branch Argo CD or Flux watch,
and read back by status, history and metrics, whatever else the notes hold."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from support.auditrepo import ENV, IMG, promote, run
from support.configrepo import EXAMPLES, example_remote, git, tree_files
from support.fixtures import git_server  # noqa: F401

from mlgate.audit.outcome import (
    NOTES_REF,
    Outcome,
    last_of,
    outcome_now,
    parse_note,
    record,
    record_outcome,
    target_for,
)

T0 = 1_796_000_000  # 2026-11-30T00:53:20Z


def note(remote, sha):
    return git(remote, "notes", f"--ref={NOTES_REF}", "show", sha)


def test_format_round_trips_and_junk_is_skipped():
    line = outcome_now("verify", "Successful", "https://ci.example/runs/7\x1b[31m", now=T0)
    assert line.line() == "verify Successful 2026-11-30T00:53:20Z https://ci.example/runs/7 [31m"
    text = "\n".join([line.line(), "wait-sync Healthy 2026-12-01T08:50:00Z",
                      "verify Successful 2026-13-45T00:00:00Z", "rm -rf / please",
                      "verify Failed 2026-11-29T08:00:00Z"])
    parsed = parse_note(text)
    assert [o.outcome for o in parsed] == ["Successful", "Healthy", "Failed"]
    # the last by time, not by line order (a merge of two recorders' notes may sort them)
    assert last_of(parsed, "verify").outcome == "Successful"
    assert last_of(parsed, "wait-sync") == Outcome("wait-sync", "Healthy",
                                                   "2026-12-01T08:50:00Z")
    with pytest.raises(ValueError):
        outcome_now("promote", "Successful")
    assert outcome_now("verify", "Error", "https://u:secret@ci.example/1").detail == \
        "https://ci.example/1"


def test_record_appends_and_never_moves_the_branch(remote):
    sha = promote(remote, "staging", f"{IMG}:v1.5.0")
    target = target_for(str(remote), ENV)
    first = record(target, sha, outcome_now("wait-sync", "Healthy", now=T0))
    second = record(target, sha, outcome_now("verify", "Failed", "run 1", now=T0 + 60))
    assert first.recorded and second.recorded and first.warning is None
    assert note(remote, sha).splitlines() == [first.line, "", second.line]
    assert git(remote, "rev-parse", "main").strip() == sha   # the branch did not move
    assert git(remote, "for-each-ref", "--format=%(refname)").split() == [
        "refs/heads/main", NOTES_REF]
    # the notes ref's commits are the notes' own: the branch's history does not hold them
    assert git(remote, "rev-list", "--count", "main").strip() == \
        git(remote, "rev-list", "--count", sha).strip()


def test_concurrent_recorders_both_land(remote):
    sha = promote(remote, "staging", f"{IMG}:v1.5.0")
    target = target_for(str(remote), ENV)
    lines = [outcome_now("verify", "Successful", f"run {i}", now=T0 + i) for i in range(6)]
    with ThreadPoolExecutor(6) as pool:
        done = list(pool.map(lambda o: record(target, sha, o, attempts=20), lines))
    assert all(r.recorded for r in done), [r.warning for r in done]
    kept = parse_note(note(remote, sha))
    assert sorted(o.line() for o in kept) == sorted(o.line() for o in lines)


def test_a_read_only_remote_is_a_warning_without_the_token(git_server, tmp_path):  # noqa: F811
    git_server.create_repo("config", tree_files(EXAMPLES))
    writer = {**ENV, "MLGATE_GIT_TOKEN": git_server.token("writer"),
              "MLGATE_GIT_USERNAME": "writer"}
    reader = {**ENV, "MLGATE_GIT_TOKEN": git_server.token("reader"),
              "MLGATE_GIT_USERNAME": "reader"}
    url = git_server.url("config")
    from mlgate.cli import main

    assert main(["promote", "--repo", url, "--app", "churn", "--path", "apps/churn",
                 "--environment", "staging", "--image", f"{IMG}:v1.5.0"], environ=writer) == 0
    bare = git_server.path("config")
    sha = git(bare, "rev-parse", "main").strip()
    done = record_outcome(url, sha, "verify", "Successful", reader)
    assert not done.recorded and done.warning.startswith("not recorded: ")
    assert git_server.token("reader") not in done.warning
    assert subprocess.run(["git", "-C", str(bare), "rev-parse", "-q", "--verify", NOTES_REF],
                          capture_output=True).returncode != 0   # nothing half-written
    ok = record_outcome(url, sha, "wait-sync", "Healthy", writer)
    assert ok.recorded, ok.warning
    assert git(bare, "rev-parse", "main").strip() == sha
    # status over http (a commits-only clone) fetches the notes ref beside it
    code, doc = run("status", "--repo", url, tmp_path=tmp_path, environ=reader)
    assert code == 0
    assert doc["result"]["rows"][0]["wait_sync"]["outcome"] == "Healthy"
    assert doc["result"]["rows"][0]["verify"] is None


def test_a_bad_repo_or_sha_is_a_warning_not_an_exception(tmp_path):
    done = record_outcome(str(tmp_path / "nowhere"), "a" * 40, "verify", "Error", ENV)
    assert not done.recorded and "not a URL and not a directory" in done.warning
    remote = example_remote(tmp_path)
    done = record(target_for(str(remote), ENV), "HEAD", outcome_now("verify", "Error"))
    assert not done.recorded and "full commit sha" in done.warning


def test_a_recorder_that_lands_between_fetch_and_push_is_kept(remote, monkeypatch):
    """The race made certain: another recorder pushes its note after this one fetched; the
    push is refused (non-fast-forward), the notes are fetched again and the line re-appended."""
    import mlgate.audit.outcome as module

    sha = promote(remote, "staging", f"{IMG}:v1.5.0")
    target = target_for(str(remote), ENV)
    theirs = outcome_now("wait-sync", "Healthy", "theirs", now=T0)
    pushes = []

    class Racing(module.Git):
        def run(self, *args, **kw):  # noqa: F811 (a method, not the CLI helper)
            if args[0] == "push" and not pushes:
                pushes.append(None)
                pushes[0] = record(target, sha, theirs)
            return super().run(*args, **kw)

    monkeypatch.setattr(module, "Git", Racing)
    mine = module.record(target, sha, outcome_now("verify", "Successful", "mine", now=T0 + 5))
    assert pushes[0].recorded and mine.recorded
    assert note(remote, sha).splitlines() == [theirs.line(), "", mine.line]


def test_status_and_history_show_the_last_outcomes(remote, tmp_path):
    staging = promote(remote, "staging", f"{IMG}:v1.5.0")
    production = promote(remote, "production", f"{IMG}:v1.5.0")
    target = target_for(str(remote), ENV)
    for sha, kind, word, at in ((staging, "wait-sync", "Healthy", 0),
                                (staging, "verify", "Failed", 60),
                                (staging, "verify", "Successful", 600),
                                (production, "wait-sync", "Timeout", 30)):
        assert record(target, sha, outcome_now(kind, word, "run", now=T0 + at)).recorded
    code, doc = run("status", "--repo", str(remote), tmp_path=tmp_path)
    assert code == 0
    rows = {r["environment"]: r for r in doc["result"]["rows"]}
    assert rows["staging"]["wait_sync"] == {"kind": "wait-sync", "outcome": "Healthy",
                                            "when": "2026-11-30T00:53:20Z", "detail": "run"}
    assert rows["staging"]["verify"]["outcome"] == "Successful"
    assert rows["production"]["wait_sync"]["outcome"] == "Timeout"
    assert rows["production"]["verify"] is None
    from mlgate.audit.log import config_log
    from mlgate.audit.trail import status
    from mlgate.report.audit import present_status

    with config_log(target) as log:
        shown = present_status(status(log, repo="r", base="main", app=None), target)
    assert "| gates | wait-sync | verify | open canary |" in shown.sections[0].markdown
    assert "| Healthy 2026\\-11\\-30T00:53:20Z | Successful 2026\\-11\\-30T01:03:20Z |" in \
        shown.sections[0].markdown
    code, doc = run("history", "churn", "--repo", str(remote), tmp_path=tmp_path)
    entries = {e["commit"]: e for e in doc["result"]["entries"]}
    assert entries[staging]["verify"]["outcome"] == "Successful"
    assert entries[production]["verify"] is None


def test_hostile_notes_do_not_break_status(remote, tmp_path):
    """A huge note, a binary one, and lines claiming another commit: only well-formed lines of
    the note attached to the commit itself count."""
    staging = promote(remote, "staging", f"{IMG}:v1.5.0")
    production = promote(remote, "production", f"{IMG}:v1.5.0")
    huge = tmp_path / "huge"   # read by its tail: the newest lines are the last
    huge.write_bytes(b"x" * (3 * 1024 * 1024) + b"\nverify Successful 2026-11-30T00:00:00Z\n")
    binary = tmp_path / "binary"
    binary.write_bytes(bytes(range(256)) * 64)
    for sha, path in ((staging, huge), (production, binary)):
        subprocess.run(["git", "-C", str(remote), "-c", "user.name=x", "-c", "user.email=x@x",
                        "notes", f"--ref={NOTES_REF}", "add", "-f", "-F", str(path), sha],
                       check=True, capture_output=True)
    # a note on a commit that is no record, claiming the production commit failed
    other = git(remote, "rev-parse", f"{staging}~1").strip()
    git(remote, "-c", "user.name=x", "-c", "user.email=x@x", "notes", f"--ref={NOTES_REF}",
        "add", "-f", "-m", f"{production} verify Failed 2026-11-30T00:00:00Z", other)
    git(remote, "-c", "user.name=x", "-c", "user.email=x@x", "notes", f"--ref={NOTES_REF}",
        "append", "-m", "verify Failed 2026-11-30T00:00:00Z", other)
    code, doc = run("status", "--repo", str(remote), tmp_path=tmp_path)
    assert code == 0
    rows = {r["environment"]: r for r in doc["result"]["rows"]}
    assert rows["staging"]["verify"]["outcome"] == "Successful"   # the huge note's tail
    assert rows["production"]["verify"] is None and rows["production"]["wait_sync"] is None
    # a note larger than git's blobs mlgate reads at all (5 MiB) counts as none
    huge.write_bytes(b"x" * (6 * 1024 * 1024) + b"\nverify Successful 2026-11-30T00:00:00Z\n")
    git(remote, "-c", "user.name=x", "-c", "user.email=x@x", "notes", f"--ref={NOTES_REF}",
        "add", "-f", "-F", str(huge), staging)
    code, doc = run("status", "--repo", str(remote), tmp_path=tmp_path)
    assert code == 0 and doc["result"]["rows"][1]["verify"] is None


# exact results: what the notes commit says, and each way recording ends ---------------------


def test_the_notes_commit_is_mlgates_and_only_the_notes_ref_is_pushed(remote):
    sha = promote(remote, "staging", f"{IMG}:v1.5.0")
    done = record(target_for(str(remote), ENV), sha, outcome_now("verify", "Successful",
                                                                  now=T0), attempts=0)
    assert done == type(done)(sha, "verify Successful 2026-11-30T00:53:20Z", True, None)
    assert git(remote, "log", "-1", "--format=%an <%ae>|%cn <%ce>", NOTES_REF).strip() == (
        "mlgate <mlgate@users.noreply.localhost>|mlgate <mlgate@users.noreply.localhost>")
    assert git(remote, "tag").strip() == ""


def test_every_try_raced_says_so_in_one_line(remote, monkeypatch):
    import mlgate.audit.outcome as module

    sha = promote(remote, "staging", f"{IMG}:v1.5.0")
    target = target_for(str(remote), ENV)
    slept = []
    real_sleep = module.time.sleep

    def sleep(seconds):
        # only the recorder's own back-off: subprocess's wait loop sleeps through time.sleep too
        if sys._getframe(1).f_globals.get("__name__") == module.__name__:
            slept.append(seconds)
        else:
            real_sleep(seconds)

    monkeypatch.setattr(module.time, "sleep", sleep)

    class AlwaysRaced(module.Git):
        def run(self, *args, **kw):  # noqa: F811 (a method)
            if args[0] == "push":   # another recorder's note lands first, every time
                git(remote, "-c", "user.name=x", "-c", "user.email=x@x", "notes",
                    f"--ref={NOTES_REF}", "append", "-m",
                    outcome_now("wait-sync", "Healthy", "theirs", now=T0).line(), sha)
            return super().run(*args, **kw)

    monkeypatch.setattr(module, "Git", AlwaysRaced)
    done = module.record(target, sha, outcome_now("verify", "Failed", now=T0), attempts=3)
    assert done.recorded is False
    assert done.warning == ("not recorded: " + module.refs_busy(target.url, 3))
    assert module.refs_busy("https://u:p@h/x.git", 3) == (
        "https://h/x.git's refs/notes/mlgate moved on every one of 3 tries (other recorders)")
    assert len(slept) == 3 and all(0.05 * (i + 1) <= s <= 0.2 * (i + 1)
                                   for i, s in enumerate(slept))
    # theirs all landed, mine never did
    assert [o.detail for o in parse_note(note(remote, sha))] == ["theirs"] * 3


def test_a_push_refused_for_another_reason_is_a_warning(remote):
    sha = promote(remote, "staging", f"{IMG}:v1.5.0")
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'denied by policy: notes are read-only' >&2\nexit 1\n")
    hook.chmod(0o755)
    done = record(target_for(str(remote), ENV), sha, outcome_now("verify", "Failed", now=T0))
    assert done.recorded is False and done.warning.startswith("not recorded: ")
    assert "denied by policy" in done.warning and "\n" not in done.warning
    assert subprocess.run(["git", "-C", str(remote), "rev-parse", "-q", "--verify", NOTES_REF],
                          capture_output=True).returncode != 0


def test_a_remote_that_is_no_repository_is_a_warning(tmp_path):
    (tmp_path / "empty").mkdir()
    target = target_for(f"file://{tmp_path / 'empty'}", ENV)
    done = record(target, "b" * 40, outcome_now("verify", "Failed", now=T0))
    assert done.recorded is False and done.warning.startswith("not recorded: ")
    assert "\n" not in done.warning


def test_an_unexpected_error_is_a_warning_without_the_token(remote, monkeypatch):
    import mlgate.audit.outcome as module
    from mlgate.promote.git import Credentials

    target = target_for(str(remote), ENV)
    target = type(target)(target.url, target.provider, target.mode, target.base,
                          Credentials("writer", "tok-123456"))

    class Broken(module.Git):
        def run(self, *args, **kw):  # noqa: F811 (a method)
            raise RuntimeError("boom with tok-123456\nand a second line")

    monkeypatch.setattr(module, "Git", Broken)
    done = module.record(target, "c" * 40, outcome_now("verify", "Error", now=T0))
    assert done == module.Recording("c" * 40, "verify Error 2026-11-30T00:53:20Z", False,
                                    "not recorded: RuntimeError: boom with *** and a second "
                                    "line")


def test_the_first_recorder_creates_the_ref_and_the_detectors_read_gits_words():
    from mlgate.audit.outcome import _no_such_ref, _raced

    assert _no_such_ref("fatal: couldn't find remote ref refs/notes/mlgate")
    assert _no_such_ref("fatal: Could not find remote ref refs/notes/mlgate")
    assert not _no_such_ref("fatal: repository 'x' not found")
    for said in ("! [rejected] refs/notes/mlgate (non-fast-forward)", "(fetch first)",
                 "[rejected]", "stale info", "error: cannot lock ref 'refs/notes/mlgate'",
                 "failed to update ref"):
        assert _raced(said.upper()), said
    assert not _raced("remote: denied by policy")
