"""`mlgate history` and `mlgate status` against real bare git repositories: the records that
promote, rollback and canary themselves made, hand commits and other tools' commits beside
them, concurrent promotions, the evidence kept in the repo, and the inputs refused."""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from support.configrepo import (
    EXAMPLES,
    bare_from_tree,
    git,
    many_apps,
    tree_files,
)
from support.auditrepo import ENV, IMG, hand_commit, promote, run
from support.fixtures import git_server  # noqa: F401

from mlgate.cli import main

@pytest.fixture
def story(remote):
    """staging promoted; production promoted then rolled back; a canary left at step 2/4."""
    staging = promote(remote, "staging", f"{IMG}:v1.5.0")
    production = promote(remote, "production", f"{IMG}:v1.5.0")
    assert main(["rollback", "--repo", str(remote), "--app", "churn", "--path", "apps/churn",
                 "--environment", "production", "--reason", "error-rate 0.034 > 0.01"],
                environ=ENV) == 0
    rollback = git(remote, "rev-parse", "main").strip()
    assert main(["canary", "--repo", str(remote), "--app", "churn", "--path", "apps/churn",
                 "--environment", "production", "--image", f"{IMG}:v1.6.0",
                 "--max-steps", "2"], environ=ENV) == 0
    steps = git(remote, "log", "--format=%H", "-2", "main").split()
    return {"staging": staging, "production": production, "rollback": rollback, "steps": steps}


def test_history_lists_every_record_newest_first(remote, story, tmp_path):
    code, doc = run("history", "churn", "--repo", str(remote), tmp_path=tmp_path)
    assert code == 0
    entries = doc["result"]["entries"]
    assert [e["commit"] for e in entries] == [*story["steps"], story["rollback"],
                                              story["production"], story["staging"]]
    assert [e["kind"] for e in entries] == ["canary-step", "canary-step", "rollback",
                                            "promotion", "promotion"]
    assert [e["canary"] for e in entries[:2]] == ["2/4", "1/4"]
    assert [e["canary_weight"] for e in entries[:2]] == ["5", "1"]
    assert entries[0]["canary_id"] == entries[1]["canary_id"]
    assert entries[2]["reason"] == "error-rate 0.034 > 0.01"
    assert entries[2]["rollback_of"] == [story["production"]]
    assert entries[3]["rolled_back_by"] == story["rollback"]
    assert entries[4]["rolled_back_by"] is None
    assert entries[4]["images"] == [[f"{IMG}:v1.4.0", f"{IMG}:v1.5.0"]]
    stamps = [e["timestamp"] for e in entries]
    assert stamps == sorted(stamps, reverse=True)
    assert all(e["author"] == "mlgate <mlgate@users.noreply.localhost>" for e in entries)
    assert doc["outputs"] == {"records": "5", "promotions": "2", "rollbacks": "1",
                              "canary-steps": "2", "latest": story["steps"][0]}
    code, doc = run("history", "churn", "--repo", str(remote), "--environment", "staging",
                    tmp_path=tmp_path)
    assert [e["commit"] for e in doc["result"]["entries"]] == [story["staging"]]


def test_status_one_row_per_environment(remote, story, tmp_path):
    code, doc = run("status", "--repo", str(remote), tmp_path=tmp_path)
    assert code == 0
    rows = {r["environment"]: r for r in doc["result"]["rows"]}
    assert set(rows) == {"production", "staging"}
    prod = rows["production"]
    assert prod["image"] == f"{IMG}:v1.6.0" and prod["commit"] == story["steps"][0]
    assert prod["canary"].startswith("canary ") and "step 2/4 (5 %)" in prod["canary"]
    assert prod["rolled_back"] is False and prod["promotion"] == story["steps"][0]
    assert rows["staging"]["image"] == f"{IMG}:v1.5.0"
    assert rows["staging"]["canary"] is None
    assert rows["staging"]["by"] == "mlgate <mlgate@users.noreply.localhost>"
    assert doc["outputs"] == {"rows": "2", "rolled-back": "", "open-canaries": "churn/production"}


def test_status_after_a_rollback_says_so_with_its_reason(remote, tmp_path):
    promote(remote, "production", f"{IMG}:v1.5.0")
    second = promote(remote, "production", f"{IMG}:v1.6.0")
    assert main(["rollback", "--repo", str(remote), "--app", "churn", "--path", "apps/churn",
                 "--environment", "production", "--reason", "latency"], environ=ENV) == 0
    code, doc = run("status", "--repo", str(remote), "--app", "churn", tmp_path=tmp_path)
    (row,) = doc["result"]["rows"]
    assert row["rolled_back"] is True and row["rollback_reason"] == "latency"
    assert row["image"] == f"{IMG}:v1.5.0"           # what the rollback restored
    assert row["promotion"] != second                # the promotion now live is the first
    assert doc["outputs"]["rolled-back"] == "churn/production"


def test_hand_commits_and_other_tools_are_ignored(remote, tmp_path):
    promoted = promote(remote, "staging", f"{IMG}:v1.5.0")
    hand_commit(remote, tmp_path, "bump replicas by hand\n\nSigned-off-by: A <a@example.com>")
    hand_commit(remote, tmp_path, "renovate: update chart\n\nRenovate-Branch: x\n"
                "Mlgate-App: churn")  # one trailer alone names no environment
    hand_commit(remote, tmp_path, "two apps\n\nMlgate-App: churn\nMlgate-App: other\n"
                "Mlgate-Environment: staging")
    hand_commit(remote, tmp_path, "quoted in the body\n\nMlgate-App: churn\n"
                "Mlgate-Environment: staging\n\nnot the last paragraph, so no trailers")
    code, doc = run("history", "churn", "--repo", str(remote), tmp_path=tmp_path)
    assert [e["commit"] for e in doc["result"]["entries"]] == [promoted]
    code, doc = run("status", "--repo", str(remote), tmp_path=tmp_path)
    assert [(r["app"], r["environment"], r["commit"]) for r in doc["result"]["rows"]] == [
        ("churn", "staging", promoted)]


def test_concurrent_promotions_of_two_apps(tmp_path):
    remote = bare_from_tree(tmp_path, many_apps(2))

    def one(app):
        return main(["promote", "--repo", str(remote), "--app", app, "--path", f"apps/{app}",
                     "--layout", "{path}/{environment}", "--environment", "prod",
                     "--image", f"registry.example.com/team/{app}:v2"], environ=ENV)

    with ThreadPoolExecutor(2) as pool:
        assert list(pool.map(one, ["app0", "app1"])) == [0, 0]
    code, doc = run("status", "--repo", str(remote), tmp_path=tmp_path)
    assert [(r["app"], r["image"]) for r in doc["result"]["rows"]] == [
        ("app0", "registry.example.com/team/app0:v2"),
        ("app1", "registry.example.com/team/app1:v2")]
    for app in ("app0", "app1"):
        code, doc = run("history", app, "--repo", str(remote), tmp_path=tmp_path)
        assert [e["app"] for e in doc["result"]["entries"]] == [app]


def test_since_keeps_only_later_commits(remote, tmp_path):
    old = hand_commit(remote, tmp_path, "promote churn to staging: old\n\nMlgate-App: churn\n"
                      "Mlgate-Environment: staging\nMlgate-New: " + f"{IMG}:v1.0.0",
                      date="2020-03-01T10:00:00Z")
    new = promote(remote, "staging", f"{IMG}:v1.5.0")
    code, doc = run("history", "churn", "--repo", str(remote), tmp_path=tmp_path)
    assert [e["commit"] for e in doc["result"]["entries"]] == [new, old]
    assert doc["result"]["entries"][1]["when"] == "2020-03-01T10:00:00Z"
    for since, want in (("2021-01-01", [new]), ("2020-03-01T09:59:59Z", [new, old]),
                        ("2020-03-01T12:00:00+02:00", [new, old]), ("2999-01-01", [])):
        code, doc = run("history", "churn", "--repo", str(remote), "--since", since,
                        tmp_path=tmp_path)
        assert code == 0 and [e["commit"] for e in doc["result"]["entries"]] == want, since


def test_gate_verdicts_from_evidence_kept_in_the_repo(remote, tmp_path):
    def result(command, verdict, code):
        return json.dumps({"command": command, "verdict": verdict, "exit_code": code,
                           "title": command, "outputs": {}, "result": {}})

    files = {".mlgate/evidence/churn/production/1/validate.json": result("validate", "passed", 0),
             ".mlgate/evidence/churn/production/1/scan.json": result("scan", "2 critical", 1)}
    digests = {name.rsplit("/", 1)[1]: hashlib.sha256(text.encode()).hexdigest()
               for name, text in files.items()}
    benchmark = hashlib.sha256(b"elsewhere").hexdigest()
    trailers = ("Mlgate-App: churn\nMlgate-Environment: production\n"
                f"Mlgate-New: {IMG}:v2.0.0\n"
                f"Mlgate-Evidence-Sha256: {digests['validate.json']} validate.json\n"
                f"Mlgate-Evidence-Sha256: {digests['scan.json']} scan.json\n"
                f"Mlgate-Evidence-Sha256: {benchmark} benchmark.json\n"
                "Mlgate-Evidence-Dir: .mlgate/evidence/churn/production/1\n"
                "Mlgate-Registry: churn@production 6 -> 7\n"
                "Mlgate-Source: https://git.example.com/ml/churn@abc123\n"
                "Mlgate-Run: https://ci.example.com/run/9")
    hand_commit(remote, tmp_path, "promote churn to production\n\n" + trailers, files=files)
    code, doc = run("status", "--repo", str(remote), tmp_path=tmp_path)
    (row,) = doc["result"]["rows"]
    gates = {g["gate"]: g["verdict"] for g in row["gates"]}
    assert gates == {"validate": "passed", "scan": "2 critical", "benchmark": "missing"}
    assert row["model_version"] == "7"
    code, doc = run("history", "churn", "--repo", str(remote), tmp_path=tmp_path)
    (entry,) = doc["result"]["entries"]
    assert entry["source"] == "https://git.example.com/ml/churn@abc123"
    assert entry["run"] == "https://ci.example.com/run/9"
    assert {g["path"] for g in entry["evidence"]} == {
        f".mlgate/evidence/churn/production/1/{n}" for n in ("validate.json", "scan.json",
                                                              "benchmark.json")}
    # the same trailers over an edited file: the stored result no longer has its hash
    edited = {".mlgate/evidence/churn/production/2/validate.json": result("validate", "forged", 0)}
    hand_commit(remote, tmp_path, "promote churn to production\n\n" + trailers.replace(
        "production/1", "production/2"), files=edited)
    code, doc = run("status", "--repo", str(remote), tmp_path=tmp_path)
    gates = {g["gate"]: g["verdict"] for g in doc["result"]["rows"][0]["gates"]}
    assert gates["validate"].startswith("altered")


def test_gates_read_from_the_evidence_the_commit_keeps(remote, tmp_path):
    evidence = tmp_path / "benchmark.json"
    evidence.write_text(json.dumps({"command": "benchmark", "verdict": "passed",
                                    "exit_code": 0, "title": "t"}))
    promote(remote, "staging", f"{IMG}:v1.5.0", "--evidence", str(evidence))
    code, doc = run("status", "--repo", str(remote), tmp_path=tmp_path)
    (row,) = doc["result"]["rows"]
    assert [(g["gate"], g["verdict"]) for g in row["gates"]] == [("benchmark", "passed")]


def test_gates_without_evidence_in_the_repo_are_unknown(remote, tmp_path):
    """A promotion from before evidence was kept in the repo: hashes only, no folder."""
    digest = hashlib.sha256(b"{}").hexdigest()
    hand_commit(remote, tmp_path, "promote churn to staging\n\nMlgate-App: churn\n"
                "Mlgate-Environment: staging\n"
                f"Mlgate-Evidence-Sha256: {digest} benchmark.json")
    code, doc = run("status", "--repo", str(remote), "--report", str(tmp_path / "s.md"),
                    tmp_path=tmp_path)
    (row,) = doc["result"]["rows"]
    assert [(g["gate"], g["verdict"]) for g in row["gates"]] == [("benchmark", "unknown")]
    summary = (tmp_path / "s.md").read_text()
    assert "| churn | staging |" in summary and "benchmark: unknown" in summary
    assert "not kept in the config repo" in summary


def test_a_hostile_evidence_dir_is_not_followed(remote, tmp_path):
    digest = hashlib.sha256(b"x").hexdigest()
    hand_commit(remote, tmp_path, "promote churn to staging\n\nMlgate-App: churn\n"
                "Mlgate-Environment: staging\n"
                f"Mlgate-Evidence-Sha256: {digest} ../../etc/passwd\n"
                f"Mlgate-Evidence-Sha256: {digest} validate.json\n"
                "Mlgate-Evidence-Dir: ../outside")
    code, doc = run("status", "--repo", str(remote), tmp_path=tmp_path)
    assert code == 0
    assert [(g["gate"], g["verdict"]) for g in doc["result"]["rows"][0]["gates"]] == [
        ("../../etc/passwd", "unknown"), ("validate", "unknown")]


def test_unknown_app_is_empty_not_an_error(remote, tmp_path):
    promote(remote, "staging", f"{IMG}:v1.5.0")
    code, doc = run("history", "nosuchapp", "--repo", str(remote), tmp_path=tmp_path)
    assert code == 0 and doc["result"]["entries"] == [] and doc["outputs"]["records"] == "0"
    code, doc = run("status", "--repo", str(remote), "--app", "nosuchapp", tmp_path=tmp_path)
    assert code == 0 and doc["result"]["rows"] == []


@pytest.mark.parametrize("args,needle", [
    (["history", "churn", "--since", "yesterday"], "--since 'yesterday'"),
    (["history", "churn", "--since", "2026-13-45"], "--since '2026-13-45'"),
    (["history", "bad app!"], "APP 'bad app!'"),
    (["status", "--app", "../x"], "--app '../x'"),
    (["history", "churn", "--base", "nope"], "--base 'nope'"),
])
def test_bad_input_is_exit_2_naming_it(remote, tmp_path, capsys, args, needle):
    code = main([*args, "--repo", str(remote)], environ=ENV)
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0]


def test_missing_repo_is_exit_2_and_unreachable_is_exit_3(tmp_path, capsys):
    assert main(["status", "--repo", str(tmp_path / "none")], environ=ENV) == 2
    assert "not a URL and not a directory" in capsys.readouterr().err
    assert main(["history", "churn", "--repo", "http://127.0.0.1:1/config.git"],
                environ=ENV) == 3
    assert "cannot reach" in capsys.readouterr().err


def test_over_http_the_token_reaches_git_and_never_the_result(git_server, tmp_path):  # noqa: F811
    git_server.create_repo("config", tree_files(EXAMPLES))
    environ = {**ENV, "MLGATE_GIT_TOKEN": git_server.token("writer"),
               "MLGATE_GIT_USERNAME": "writer"}
    assert main(["promote", "--repo", git_server.url("config"), "--app", "churn", "--path",
                 "apps/churn", "--environment", "staging", "--image", f"{IMG}:v1.5.0"],
                environ=environ) == 0
    code, doc = run("status", "--repo", git_server.url("config"), tmp_path=tmp_path,
                    environ=environ)
    assert code == 0 and doc["result"]["rows"][0]["image"] == f"{IMG}:v1.5.0"
    assert git_server.token("writer") not in json.dumps(doc)
    code, doc = run("history", "churn", "--repo", git_server.url("config"), tmp_path=tmp_path,
                    environ=environ)
    assert code == 0 and len(doc["result"]["entries"]) == 1
