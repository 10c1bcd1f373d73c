"""`mlgate metrics` over a config repo whose history mlgate itself wrote: promotions with the
model commit's time from the CI (CI_COMMIT_TIMESTAMP), a rollback with its reason, a canary
aborted, a rollback past the failure window, hand edits, a merged branch and another tool's
commit, every commit dated (GIT_COMMITTER_DATE) so every metric has a known answer."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from support.configrepo import EXAMPLES, GIT_ENV, example_remote, git, tree_files
from support.fixtures import git_server  # noqa: F401

from mlgate.cli import main

IMG = "registry.example.com/ml/churn"
ENV = {"PATH": "/usr/bin:/bin"}
HOUR, DAY = 3600, 86400
MODEL = "https://git.example.com/ml/churn"


def ci(source_time: str, n: int) -> dict[str, str]:
    """A GitLab job's variables naming the model repo's commit and its time."""
    return {**ENV, "CI_PROJECT_URL": MODEL, "CI_COMMIT_SHA": f"{n:040x}",
            "CI_COMMIT_TIMESTAMP": source_time}


def at(monkeypatch, when: str) -> None:
    """Commits made from now on (by mlgate's git or plain git) are dated `when`."""
    monkeypatch.setenv("GIT_COMMITTER_DATE", when)
    monkeypatch.setenv("GIT_AUTHOR_DATE", when)


def mlgate(*argv, environ=ENV):
    assert main(list(argv), environ=environ) == 0, argv


def promote(remote, environment, version, environ=ENV):
    mlgate("promote", "--repo", str(remote), "--app", "churn", "--path", "apps/churn",
           "--environment", environment, "--image", f"{IMG}:{version}", environ=environ)
    return head(remote)


def rollback(remote, reason):
    mlgate("rollback", "--repo", str(remote), "--app", "churn", "--path", "apps/churn",
           "--environment", "production", "--reason", reason)
    return head(remote)


def head(remote) -> str:
    return git(remote, "rev-parse", "main").strip()


def plain_commit(remote, tmp_path, message, files, *, branch_merge=False):
    """A commit with plain git (a person, or another tool); with branch_merge, made on a
    branch and merged with a merge commit, as a pull request is."""
    work = tmp_path / f"hand-{len(list(tmp_path.glob('hand-*')))}"
    git(tmp_path, "clone", "-q", str(remote), str(work))
    env = {**os.environ, **GIT_ENV}
    if branch_merge:
        git(work, "checkout", "-qb", "pr")
    for rel, text in files.items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text(text)
    git(work, "add", "-A")
    subprocess.run(["git", "commit", "-qm", message], cwd=work, env=env, check=True)
    made = git(work, "rev-parse", "HEAD").strip()
    if branch_merge:
        git(work, "checkout", "-q", "main")
        subprocess.run(["git", "merge", "-q", "--no-ff", "-m", "Merge pull request #7", "pr"],
                       cwd=work, env=env, check=True)
    git(work, "push", "-q", "origin", "HEAD:main")
    return made


@pytest.fixture
def story(tmp_path, monkeypatch):
    at(monkeypatch, "2026-03-01T10:00:00Z")
    remote = example_remote(tmp_path)                                  # by hand: the import
    c = {}
    at(monkeypatch, "2026-03-02T10:00:00Z")                             # W10
    c["staging1"] = promote(remote, "staging", "v1.5.0", ci("2026-03-02T08:00:00Z", 1))
    at(monkeypatch, "2026-03-03T10:00:00Z")
    c["prod1"] = promote(remote, "production", "v1.5.0", ci("2026-03-02T08:00:00Z", 1))
    at(monkeypatch, "2026-03-04T09:00:00Z")
    c["hand"] = plain_commit(remote, tmp_path, "scale churn by hand",
                             {"apps/churn/production/replicas.yaml": "replicas: 3\n"})
    at(monkeypatch, "2026-03-09T12:00:00Z")                             # W11
    c["prod2"] = promote(remote, "production", "v1.6.0",
                         ci("2026-03-09T11:00:00+02:00", 2))            # 09:00 UTC
    at(monkeypatch, "2026-03-09T14:00:00Z")
    c["rollback2"] = rollback(remote, "error-rate 0.034 > 0.01")
    at(monkeypatch, "2026-03-10T09:00:00Z")
    c["pr"] = plain_commit(remote, tmp_path, "staging: more memory",
                           {"apps/churn/staging/memory.yaml": "memory: 2Gi\n"},
                           branch_merge=True)
    at(monkeypatch, "2026-03-11T09:00:00Z")
    c["tool"] = plain_commit(remote, tmp_path, "chore(deps): update chart\n\n"
                             "Renovate-Branch: renovate/chart",
                             {"charts/churn/Chart.yaml": "apiVersion: v2\nname: churn\n"
                              "version: 0.2.0\n"})
    at(monkeypatch, "2026-03-16T10:00:00Z")                             # W12
    mlgate("canary", "--repo", str(remote), "--app", "churn", "--path", "apps/churn",
           "--environment", "production", "--image", f"{IMG}:v1.7.0", "--max-steps", "2",
           environ=ci("2026-03-15T10:00:00Z", 3))
    c["canary"] = git(remote, "log", "--format=%H", "-2", "main").split()[::-1]
    at(monkeypatch, "2026-03-17T10:00:00Z")
    assert main(["canary", "--repo", str(remote), "--app", "churn", "--path", "apps/churn",
                 "--environment", "production", "--abort", "--reason", "latency p99"],
                environ=ENV) == 1                                       # rolled back
    c["abort"] = git(remote, "log", "--format=%H", "-2", "main").split()[::-1]
    at(monkeypatch, "2026-03-23T10:00:00Z")                             # W13
    c["prod4"] = promote(remote, "production", "v1.8.0", ci("2026-03-20T10:00:00Z", 4))
    at(monkeypatch, "2026-03-25T10:00:00Z")
    c["staging2"] = promote(remote, "staging", "v1.8.0")                 # no CI: no source
    at(monkeypatch, "2026-04-01T10:00:00Z")                             # W14, 9 days on
    c["rollback4"] = rollback(remote, "drift")
    return remote, c


def metrics(remote, tmp_path, *args):
    out = tmp_path / "metrics.json"
    code = main(["metrics", "--repo", str(remote), "--until", "2026-04-02", *args,
                 "--json", str(out)], environ=ENV)
    assert code == 0
    return json.loads(out.read_text())


def test_every_metric_has_its_known_answer(story, tmp_path):
    remote, c = story
    doc = metrics(remote, tmp_path, "--report", str(tmp_path / "m.md"),
                  "--html-report", str(tmp_path / "m.html"))
    r = doc["result"]
    assert r["until"] == "2026-04-02T23:59:59Z" and r["since"] is None
    # the production deployments, oldest first: the canary once, rollbacks not at all
    deployments = [(d["environment"], d["commit"]) for d in r["deployments"]]
    assert deployments == [("production", c["prod1"]), ("production", c["prod2"]),
                           ("production", c["canary"][0]), ("production", c["prod4"])]
    canary = r["deployments"][2]
    assert canary["commits"] == c["canary"] and canary["canary_id"]
    # deployment frequency: ISO weeks W10 (first deployment) .. W14 (--until), zeros kept
    assert [(f["environment"], f["deployments"], f["per_week"]) for f in r["frequency"]] == [
        ("production", 4, 0.8), ("staging", 2, 0.4)]
    assert [(w["week"], w["start"], w["counts"]) for w in r["weeks"]] == [
        ("2026-W10", "2026-03-02", [["production", 1], ["staging", 1]]),
        ("2026-W11", "2026-03-09", [["production", 1], ["staging", 0]]),
        ("2026-W12", "2026-03-16", [["production", 1], ["staging", 0]]),
        ("2026-W13", "2026-03-23", [["production", 1], ["staging", 1]]),
        ("2026-W14", "2026-03-30", [["production", 0], ["staging", 0]])]
    # lead time: 26 h, 3 h (the +02:00 timestamp read as UTC), 24 h, 3 d
    leads = [d["lead_seconds"] for d in r["deployments"]]
    assert leads == [26 * HOUR, 3 * HOUR, DAY, 3 * DAY]
    assert r["deployments"][1]["source_time"] == "2026-03-09T09:00:00Z"
    assert r["deployments"][1]["source"] == f"{MODEL}@{2:040x}"
    lead = r["lead_time"]
    assert (lead["measured"], lead["unmeasured"]) == (4, 0)
    assert lead["median_seconds"] == 25 * HOUR and lead["p90_seconds"] == 3 * DAY
    assert [b["count"] for b in lead["buckets"]] == [0, 1, 3, 0, 0, 0]
    # change failure rate: v1.6.0 rolled back after 2 h, the canary aborted after a day;
    # v1.8.0's rollback came 9 days on, outside the 7-day window
    assert r["change_failure"] == {"deployments": 4, "failed": 2, "rate": 0.5}
    failed = {d["commit"]: d for d in r["deployments"] if d["failed"]}
    assert set(failed) == {c["prod2"], c["canary"][0]}
    assert failed[c["prod2"]]["restored_by"] == c["rollback2"]
    assert failed[c["canary"][0]]["restored_by"] == c["abort"][0]      # traffic back to 0 %
    # time to restore: 2 h and 1 day (from the canary's last step)
    assert r["restore"] == {"restored": 2, "median_seconds": (2 * HOUR + DAY) // 2}
    # freshness: v1.8.0 rolled back, the canary too: production runs v1.5.0 again, whose
    # model commit was made 2026-03-02T08:00Z
    (fresh,) = r["freshness"]
    assert fresh["commit"] == c["prod1"] and fresh["version"] == f"{IMG}:v1.5.0"
    assert fresh["since"] == "2026-03-02T08:00:00Z" and fresh["since_what"] == "model commit"
    assert fresh["age_seconds"] == 31 * DAY + 16 * HOUR - 1     # to 2026-04-02T23:59:59Z
    assert r["freshness_average_seconds"] == fresh["age_seconds"]
    # automation: mlgate's 11 commits in the two folders; by hand: the import, the edit, the
    # merged branch's commit (not its merge); the tool's chart commit is outside them
    auto = r["automation"]
    assert auto["folders"] == ["apps/churn/production", "apps/churn/staging"]
    assert (auto["mlgate"], auto["other"]) == (11, 3)
    assert auto["rate"] == round(11 / 14, 4)
    assert set(auto["other_commits"]) == {c["hand"], c["pr"],
                                          git(remote, "rev-list", "--max-parents=0",
                                              "main").strip()}
    assert doc["outputs"] == {
        "deployments": "6", "production-deployments": "4", "lead-time-median": str(25 * HOUR),
        "change-failure-rate": "0.5", "time-to-restore-median": str((2 * HOUR + DAY) // 2),
        "freshness-average": str(fresh["age_seconds"]), "automation-rate": str(auto["rate"])}
    summary = (tmp_path / "m.md").read_text()
    assert "| change failure rate | 50\\.0 % |" in summary
    assert "| lead time for changes \\(median\\) | 1\\.0 d |" in summary
    assert "| 2026\\-W12 | 2026\\-03\\-16 | 1 | 0 |" in summary
    page = (tmp_path / "m.html").read_text()
    assert page.count("<svg") == 2 and "<polyline" in page and "<rect" in page
    assert "<script" not in page and "http://" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")


def test_window_and_failure_window_and_another_environment(story, tmp_path):
    remote, c = story
    r = metrics(remote, tmp_path, "--failure-window", "10d")["result"]
    assert r["change_failure"] == {"deployments": 4, "failed": 3, "rate": 0.75}
    assert r["restore"] == {"restored": 3, "median_seconds": DAY}
    r = metrics(remote, tmp_path, "--since", "2026-03-09")["result"]
    assert r["since"] == "2026-03-09T00:00:00Z"
    assert [w["week"] for w in r["weeks"]] == ["2026-W11", "2026-W12", "2026-W13", "2026-W14"]
    assert [(f["environment"], f["deployments"]) for f in r["frequency"]] == [
        ("production", 3), ("staging", 1)]
    assert r["change_failure"]["deployments"] == 3
    assert (r["automation"]["mlgate"], r["automation"]["other"]) == (9, 1)
    # as of before the last rollback: production runs v1.8.0, 3 days after its model commit
    r = metrics(remote, tmp_path, "--until", "2026-03-23T10:00:00Z")["result"]
    (fresh,) = r["freshness"]
    assert fresh["commit"] == c["prod4"] and fresh["age_seconds"] == 3 * DAY
    # staging's v1.8.0 has no recorded model commit: its age counts from the first
    # promotion of that image anywhere (production, 2026-03-23T10:00Z)
    r = metrics(remote, tmp_path, "--production", "staging")["result"]
    (fresh,) = r["freshness"]
    assert fresh["commit"] == c["staging2"] and fresh["since_what"] == "first promotion"
    assert fresh["since"] == "2026-03-23T10:00:00Z"
    assert r["lead_time"]["measured"] == 1 and r["lead_time"]["unmeasured"] == 1


def test_empty_and_unknown_app(story, tmp_path):
    remote, _ = story
    r = metrics(remote, tmp_path, "--app", "nosuchapp")["result"]
    assert r["deployments"] == [] and r["frequency"] == [] and r["weeks"] == []
    assert r["lead_time"]["median_seconds"] is None and r["change_failure"]["rate"] is None
    assert r["automation"]["rate"] is None and r["freshness_average_seconds"] is None


@pytest.mark.parametrize("args,needle", [
    (["--since", "last week"], "--since 'last week'"),
    (["--until", "2026-02-30"], "--until '2026-02-30'"),
    (["--since", "2026-05-01", "--until", "2026-04-01"], "--since '2026-05-01' is after"),
    (["--failure-window", "soon"], "--failure-window 'soon'"),
    (["--failure-window", "0d"], "--failure-window '0d'"),
    (["--production", "../prod"], "--production '../prod'"),
    (["--app", "bad app"], "--app 'bad app'"),
    (["--base", "nope"], "--base 'nope'"),
])
def test_bad_input_is_exit_2_naming_it(tmp_path, capsys, args, needle):
    remote = example_remote(tmp_path)
    before = git(remote, "rev-parse", "main")
    html = tmp_path / "m.html"
    code = main(["metrics", "--repo", str(remote), *args, "--html-report", str(html)],
                environ=ENV)
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err
    assert not html.exists() and git(remote, "rev-parse", "main") == before


def test_source_time_from_a_github_push_event_and_from_the_checkout(tmp_path, monkeypatch):
    """Mlgate-Source-Time on GitHub: the push event's head_commit.timestamp; without it, the
    commit's own date in the checkout mlgate runs in."""
    remote = example_remote(tmp_path)
    model = tmp_path / "model"
    git(tmp_path, "init", "-q", str(model))
    at(monkeypatch, "2026-05-01T12:00:00+02:00")
    subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", "train"], cwd=model,
                   env={**os.environ, **GIT_ENV}, check=True)
    sha = git(model, "rev-parse", "HEAD").strip()
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"head_commit": {"id": sha,
                                                 "timestamp": "2026-05-01T09:30:00-01:00"}}))
    github = {**ENV, "GITHUB_REPOSITORY": "ml/churn", "GITHUB_SHA": sha}
    promote(remote, "staging", "v2.0.0", {**github, "GITHUB_EVENT_PATH": str(event)})
    assert "Mlgate-Source-Time: 2026-05-01T10:30:00Z" in git(remote, "log", "-1", "main")
    statement = json.loads(git(remote, "show", "main:" + _statement(remote)))
    assert statement["predicate"]["source_time"] == "2026-05-01T10:30:00Z"
    monkeypatch.chdir(model)
    promote(remote, "production", "v2.0.0", github)
    assert "Mlgate-Source-Time: 2026-05-01T10:00:00Z" in git(remote, "log", "-1", "main")
    monkeypatch.chdir(tmp_path)   # not a checkout of that commit: no time, no failure
    promote(remote, "production", "v2.0.1", github)
    assert "Mlgate-Source-Time" not in git(remote, "log", "-1", "main")
    assert f"Mlgate-Source: https://github.com/ml/churn@{sha}" in git(remote, "log", "-1",
                                                                        "main")


def _statement(remote) -> str:
    folder = [line.split(": ", 1)[1] for line in git(remote, "log", "-1", "main").splitlines()
              if line.strip().startswith("Mlgate-Evidence-Dir:")][0]
    return f"{folder}/statement.json"


def test_a_folder_outside_the_guessed_top_directories_gets_its_own_log(story):
    """The automation log starts from the newest records' folders; a folder only older
    records name (here: asked for beside a guess that missed it) is read by a log of its
    own, and the answer is the same."""
    from mlgate.audit.log import config_log
    from mlgate.promote.config import Target

    remote, c = story
    target = Target(url=f"file://{remote}", base="main", mode="push", provider="git",
                    credentials=None)
    folders = ["apps/churn/production", "apps/churn/staging", "../outside", "/etc"]
    with config_log(target) as log:
        with log.start_touching(["charts/churn"]) as guessed:
            missed = guessed.commits(folders)
        with log.start_touching(log.recent_folders()) as right:
            assert right.tops == ["apps"]
            assert right.commits(folders) == missed
    assert {c["hand"], c["pr"], c["prod1"], c["rollback4"]} <= {sha for sha, _, _ in missed}
    assert c["tool"] not in {sha for sha, _, _ in missed}
    assert len(missed) == 14


def test_over_http_the_clone_has_trees_and_the_token_stays_out(git_server, tmp_path,  # noqa: F811
                                                                monkeypatch):
    git_server.create_repo("config", tree_files(EXAMPLES))
    environ = {**ENV, "MLGATE_GIT_TOKEN": git_server.token("writer"),
               "MLGATE_GIT_USERNAME": "writer"}
    at(monkeypatch, "2026-03-02T10:00:00Z")
    for env in ("staging", "production"):
        assert main(["promote", "--repo", git_server.url("config"), "--app", "churn",
                     "--path", "apps/churn", "--environment", env, "--image",
                     f"{IMG}:v1.5.0"], environ={**environ, **ci("2026-03-02T09:00:00Z", 1)}) == 0
    out = tmp_path / "m.json"
    assert main(["metrics", "--repo", git_server.url("config"), "--until", "2026-03-02",
                 "--json", str(out)], environ=environ) == 0
    doc = json.loads(out.read_text())
    r = doc["result"]
    assert r["lead_time"]["median_seconds"] == HOUR
    assert (r["automation"]["mlgate"], r["automation"]["other"]) == (2, 0)  # the import: after --until
    assert git_server.token("writer") not in json.dumps(doc)


def test_lead_time_to_verified_and_a_failed_verify_from_the_notes(story, tmp_path):
    """verify's outcomes recorded as git notes (refs/notes/mlgate) on the production commits:
    a Successful one ends lead time to verified; a Failed one makes a failed change even where
    no rollback came within the window (v1.8.0's came 9 days on)."""
    from datetime import datetime

    from mlgate.audit.outcome import outcome_now, record, target_for

    remote, c = story
    target = target_for(str(remote), ENV)

    def note(sha, word, when):
        stamp = datetime.fromisoformat(when.replace("Z", "+00:00")).timestamp()
        assert record(target, sha, outcome_now("verify", word, "run", now=stamp)).recorded

    note(c["prod1"], "Failed", "2026-03-03T10:30:00Z")      # a first run failed, then
    note(c["prod1"], "Successful", "2026-03-03T12:00:00Z")  # verified: 28 h after 03-02 08:00
    note(c["prod2"], "Failed", "2026-03-09T13:00:00Z")      # failed, and rolled back anyway
    note(c["prod4"], "Error", "2026-03-23T11:00:00Z")       # failed; its rollback too late
    note(c["staging1"], "Successful", "2026-03-02T11:00:00Z")   # not production: not counted
    r = metrics(remote, tmp_path, "--report", str(tmp_path / "m.md"),
                "--html-report", str(tmp_path / "m.html"))["result"]
    verified = r["lead_time_to_verified"]
    assert (verified["measured"], verified["unmeasured"]) == (1, 3)
    assert verified["median_seconds"] == verified["p90_seconds"] == 28 * HOUR
    by = {d["commit"]: d for d in r["deployments"]}
    assert by[c["prod1"]]["verified"] == "2026-03-03T12:00:00Z"
    assert by[c["prod1"]]["verify"] == "Successful"
    assert by[c["prod1"]]["verify_failed"] is True     # within the window, before it passed
    assert by[c["prod4"]]["verify"] == "Error" and by[c["prod4"]]["failed"] is True
    assert by[c["prod4"]]["restored_by"] is None
    # prod1 failed verify once, prod2 rolled back, the canary aborted, prod4's verify erred
    assert r["change_failure"] == {"deployments": 4, "failed": 4, "rate": 1.0}
    assert r["restore"] == {"restored": 2, "median_seconds": (2 * HOUR + DAY) // 2}
    summary = (tmp_path / "m.md").read_text()
    assert "| lead time to verified \\(median\\) | 1\\.2 d |" in summary
    page = (tmp_path / "m.html").read_text()
    assert page.count("<svg") == 3 and "<h2>Lead time to verified</h2>" in page
    assert "not measured" not in page
