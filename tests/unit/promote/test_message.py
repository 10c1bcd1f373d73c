"""The promotion commit message and what is read back from it.

The message is the audit log: a reviewer reads its subject and evidence, the PR/MR body shows
the same evidence as a table, and `rollback` / `history` find promotions again by parsing the
trailers of the last paragraph. These tests pin down what each reader sees, and that nothing a
promotion carries (a CI variable, a `--set` value, a gate's title) can forge a trailer.
"""

from __future__ import annotations

import hashlib
import json
from types import SimpleNamespace

import pytest

from mlgate.errors import BadInput
from mlgate.promote.history import _parse
from mlgate.promote.message import (
    MAX_EVIDENCE_BYTES,
    Evidence,
    Promotion,
    SetChange,
    commit_message,
    evidence_markdown,
    load_evidence,
    parse_trailers,
    run_url,
    source,
    summary_line,
    trailers,
)
from mlgate.promote.request_body import request_body

IMG = "registry.example.com/ml/churn"
DIGEST = "sha256:" + "0123456789ab" + "c" * 52


def evidence(command="benchmark", verdict="passed", exit_code=0, title="beats champion",
             file="benchmark.json", sha="ab" * 32) -> Evidence:
    return Evidence(file=file, sha256=sha, command=command, verdict=verdict,
                    exit_code=exit_code, title=title)


def promotion(**kw) -> Promotion:
    base = dict(app="churn", environment="production", previous={IMG: f"{IMG}:v1.4.0"},
                new={IMG: f"{IMG}:v1.5.0"})
    base.update(kw)
    return Promotion(**base)


# --- evidence files ---------------------------------------------------------------------------


def test_load_evidence_records_the_gate_and_the_hash_of_the_file(tmp_path) -> None:
    path = tmp_path / "scan.json"
    path.write_text(json.dumps({"command": "scan-image", "verdict": "failed", "exit_code": 1,
                                "title": "2 critical"}))
    [e] = load_evidence((str(path),))
    assert e == Evidence(file="scan.json", sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
                         command="scan-image", verdict="failed", exit_code=1, title="2 critical")
    assert not e.passed


def test_load_evidence_keeps_the_order_and_fills_what_is_missing(tmp_path) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text('{"command": "validate-data", "exit_code": 0}')
    b.write_text('{"command": "benchmark", "exit_code": "0", "verdict": "passed"}')
    first, second = load_evidence((str(a), str(b)))
    assert (first.command, first.verdict, first.title, first.exit_code) == (
        "validate-data", "", "", 0)
    assert first.passed
    # an exit code that is not a number is unknown, and unknown is not a pass
    assert (second.command, second.exit_code, second.passed) == ("benchmark", None, False)


@pytest.mark.parametrize("text", ['["command"]', '{"verdict": "passed"}', '"command"'])
def test_a_file_that_is_not_a_gate_result_is_refused(tmp_path, text) -> None:
    path = tmp_path / "x.json"
    path.write_text(text)
    with pytest.raises(BadInput) as exc:
        load_evidence((str(path),))
    assert str(exc.value) == f"--evidence {str(path)!r}: not an mlgate result (no 'command')"


def test_evidence_up_to_5_mib_is_read_and_larger_is_refused(tmp_path) -> None:
    assert MAX_EVIDENCE_BYTES == 5 * 1024 * 1024
    doc = b'{"command": "benchmark", "exit_code": 0}'
    exact = tmp_path / "exact.json"
    exact.write_bytes(doc + b" " * (MAX_EVIDENCE_BYTES - len(doc)))
    [e] = load_evidence((str(exact),))
    assert e.command == "benchmark"
    over = tmp_path / "over.json"
    over.write_bytes(doc + b" " * (MAX_EVIDENCE_BYTES - len(doc) + 1))
    with pytest.raises(BadInput) as exc:
        load_evidence((str(over),))
    assert str(exc.value) == f"--evidence {over}: over the 5 MiB size limit"


def test_evidence_that_is_not_json_names_the_file(tmp_path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(BadInput, match=f"--evidence {path}"):
        load_evidence((str(path),))


# --- the subject line ----------------------------------------------------------------------


@pytest.mark.parametrize("old, new, shown", [
    (f"{IMG}:v1.4.0", f"{IMG}:v1.5.0", "v1.4.0 -> v1.5.0"),
    (f"{IMG}@{DIGEST}", f"{IMG}:v2@{DIGEST}", "@0123456789ab -> v2"),
    (None, "localhost:5000/churn:v3", "none -> v3"),
    ("localhost:5000/churn", "churn", "localhost:5000/churn -> churn"),
])
def test_subject_names_the_versions(old, new, shown) -> None:
    p = promotion(previous={IMG: old} if old else {}, new={IMG: new})
    assert summary_line(p) == f"promote churn to production: {shown}"


def test_subject_of_a_rollback_and_of_values_only() -> None:
    assert summary_line(promotion(), "rollback") == (
        "rollback churn in production: v1.4.0 -> v1.5.0")
    sets = (SetChange("apps/churn/production/model.yaml", "spec.uri", "s3://m/3", "s3://m/4"),
            SetChange("apps/churn/production/model.yaml", "spec.n", "1", "2"))
    p = promotion(previous={}, new={}, sets=sets)
    assert summary_line(p) == "promote churn to production: spec.uri s3://m/3 -> s3://m/4"
    assert summary_line(promotion(previous={}, new={})) == "promote churn to production"
    assert summary_line(promotion(previous={}, new={}), "rollback") == (
        "rollback churn in production")


# --- the evidence table in the PR/MR body and the summaries ---------------------------------


def test_evidence_table_shows_each_gate_with_its_verdict() -> None:
    table = evidence_markdown((
        evidence(),
        evidence("scan-image", "failed", 1, "2 critical vulnerabilities", "scan.json"),
        evidence("comply", "", None, "", "comply.json"),
    ))
    assert table.splitlines() == [
        "| gate | verdict | exit | details |",
        "| --- | --- | --- | --- |",
        "| benchmark | ✅ passed | 0 | beats champion |",
        "| scan-image | ❌ failed | 1 | 2 critical vulnerabilities |",
        "| comply | ❌  | None |  |",
    ]


def test_no_evidence_says_so() -> None:
    assert evidence_markdown(()) == "No gate evidence was attached."


def test_evidence_cells_cannot_break_the_table() -> None:
    table = evidence_markdown((evidence(title="a | b\nc"), evidence(command="x|y")))
    rows = table.splitlines()
    assert len(rows) == 4
    assert rows[2] == "| benchmark | ✅ passed | 0 | a \\| b c |"
    assert rows[3] == "| x\\|y | ✅ passed | 0 | beats champion |"


def test_the_request_body_shows_a_failed_gate_as_failed() -> None:
    p = promotion(evidence=(evidence(), evidence("scan-image", "failed", 1, "1 critical")),
                  source="https://github.com/team/churn@abc", run_url="https://ci/run/1")
    body = request_body(p, SimpleNamespace(changes=()), "promote churn")  # type: ignore[arg-type]
    assert "| scan-image | ❌ failed | 1 | 1 critical |" in body
    assert "| benchmark | ✅ passed | 0 | beats champion |" in body
    assert "✅ failed" not in body


# --- trailers and the whole message ------------------------------------------------------------


def test_commit_message_has_subject_values_evidence_and_trailers() -> None:
    p = promotion(
        sets=(SetChange("apps/churn/production/model.yaml", "spec.uri", "s3://m/3", "s3://m/4"),
              SetChange("apps/churn/production/model.yaml", "spec.new", None, "on")),
        source="https://github.com/team/churn@" + "a" * 40,
        run_url="https://github.com/team/churn/actions/runs/42",
        evidence=(evidence(), evidence("comply", "passed", 0, "", "comply.json", "cd" * 32)),
        registry="churn@champion 3 -> 4",
        rollback_of="abc123 def456",
        from_environment="staging",
        extra={"Mlgate-Canary-Step": "25"},
    )
    assert commit_message(p) == "\n".join([
        "promote churn to production: v1.4.0 -> v1.5.0",
        "",
        "Values:",
        "- apps/churn/production/model.yaml spec.uri: s3://m/3 -> s3://m/4",
        "- apps/churn/production/model.yaml spec.new: None -> on",
        "",
        "Evidence:",
        "- benchmark: passed (exit 0) beats champion",
        "- comply: passed (exit 0)",
        "",
        "Mlgate-App: churn",
        "Mlgate-Environment: production",
        f"Mlgate-Previous: {IMG}:v1.4.0",
        f"Mlgate-New: {IMG}:v1.5.0",
        "Mlgate-Set-Previous: apps/churn/production/model.yaml:spec.uri=s3://m/3",
        "Mlgate-Set-New: apps/churn/production/model.yaml:spec.uri=s3://m/4",
        "Mlgate-Set-Previous: apps/churn/production/model.yaml:spec.new=",
        "Mlgate-Set-New: apps/churn/production/model.yaml:spec.new=on",
        "Mlgate-From-Environment: staging",
        "Mlgate-Source: https://github.com/team/churn@" + "a" * 40,
        "Mlgate-Run: https://github.com/team/churn/actions/runs/42",
        f"Mlgate-Evidence-Sha256: {'ab' * 32} benchmark.json",
        f"Mlgate-Evidence-Sha256: {'cd' * 32} comply.json",
        "Mlgate-Registry: churn@champion 3 -> 4",
        "Mlgate-Rollback-Of: abc123 def456",
        "Mlgate-Canary-Step: 25",
    ]) + "\n"


def test_minimal_message_is_subject_and_trailers() -> None:
    p = promotion(previous={})
    assert commit_message(p, "rollback") == (
        "rollback churn in production: none -> v1.5.0\n\n"
        "Mlgate-App: churn\nMlgate-Environment: production\n"
        f"Mlgate-Previous: none\nMlgate-New: {IMG}:v1.5.0\n")


def test_the_message_reads_back_as_its_trailers() -> None:
    p = promotion(
        sets=(SetChange("m.yaml", "spec.args[0]", "--mode: fast", "--mode: safe"),),
        evidence=(evidence(),), run_url="https://gitlab.example.com/ml/churn/-/jobs/7",
        rollback_of="abc123")
    assert parse_trailers(commit_message(p)) == trailers(p)
    recorded = _parse("f" * 40, commit_message(p), "churn", "production")
    assert recorded is not None
    assert recorded.images == ((f"{IMG}:v1.4.0", f"{IMG}:v1.5.0"),)
    assert recorded.sets == (("m.yaml:spec.args[0]=--mode: fast",
                              "m.yaml:spec.args[0]=--mode: safe"),)
    assert recorded.rollback_of == ("abc123",)


@pytest.mark.parametrize("brk", ["\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e",
                                 "\x85", "\u2028", "\u2029"])
def test_no_value_can_start_a_trailer_of_its_own(brk) -> None:
    forged = f"x{brk}Mlgate-Rollback-Of: {'e' * 40}"
    p = promotion(
        sets=(SetChange("m.yaml", "spec.uri", "s3://m/3", forged),),
        source=f"https://git.example.com/churn{brk}Mlgate-App: other",
        run_url=f"https://ci.example.com/1{brk}Mlgate-Environment: staging",
        extra={"Mlgate-Canary-Step": forged},
    )
    message = commit_message(p)
    keys = [k for k, _ in parse_trailers(message)]
    assert keys.count("Mlgate-Rollback-Of") == 0
    assert keys.count("Mlgate-App") == 1 and keys.count("Mlgate-Environment") == 1
    assert parse_trailers(message) == trailers(p)
    # history reads the same promotion back, not rolled back, and in one piece
    recorded = _parse("f" * 40, message, "churn", "production")
    assert recorded is not None and recorded.rollback_of == ()
    assert [v for k, v in trailers(p) if k == "Mlgate-Source"] == [
        "https://git.example.com/churn Mlgate-App: other"]
    assert not any(c in message for c in "\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\u2028\u2029")
    # the subject and the body keep the value, on one line
    assert f"- m.yaml spec.uri: s3://m/3 -> x Mlgate-Rollback-Of: {'e' * 40}" in message.split("\n")
    assert message.startswith(f"promote churn to production: v1.4.0 -> v1.5.0\n")


# --- the CI run and source -------------------------------------------------------------------


GITHUB = {"GITHUB_REPOSITORY": "team/churn-model", "GITHUB_SHA": "a" * 40,
          "GITHUB_RUN_ID": "42"}
GITLAB = {"CI_PROJECT_URL": "https://gitlab.example.com/ml/churn", "CI_COMMIT_SHA": "b" * 40,
          "CI_JOB_URL": "https://gitlab.example.com/ml/churn/-/jobs/7",
          "CI_PIPELINE_URL": "https://gitlab.example.com/ml/churn/-/pipelines/3"}


def test_github_run_and_source() -> None:
    assert run_url(GITHUB) == "https://github.com/team/churn-model/actions/runs/42"
    assert source(GITHUB) == "https://github.com/team/churn-model@" + "a" * 40
    enterprise = {**GITHUB, "GITHUB_SERVER_URL": "https://ghe.example.com"}
    assert run_url(enterprise) == "https://ghe.example.com/team/churn-model/actions/runs/42"
    assert source(enterprise) == "https://ghe.example.com/team/churn-model@" + "a" * 40


def test_gitlab_run_is_the_job_else_the_pipeline_and_source_is_the_project() -> None:
    assert run_url(GITLAB) == "https://gitlab.example.com/ml/churn/-/jobs/7"
    no_job = {k: v for k, v in GITLAB.items() if k != "CI_JOB_URL"}
    assert run_url(no_job) == "https://gitlab.example.com/ml/churn/-/pipelines/3"
    assert source(GITLAB) == "https://gitlab.example.com/ml/churn@" + "b" * 40
    assert source({"CI_PROJECT_URL": GITLAB["CI_PROJECT_URL"]}) is None
    assert source({"CI_COMMIT_SHA": "b" * 40}) is None
    p = promotion(run_url=run_url(GITLAB), source=source(GITLAB))
    assert ("Mlgate-Run", "https://gitlab.example.com/ml/churn/-/jobs/7") in trailers(p)


def test_act_origin_url_is_used_without_its_credentials() -> None:
    env = {"GITHUB_REPOSITORY": "https://user:secret@git.example.com/team/churn.git",
           "GITHUB_SHA": "c" * 40, "GITHUB_RUN_ID": "5"}
    assert source(env) == "https://git.example.com/team/churn@" + "c" * 40
    assert run_url(env) == "https://git.example.com/team/churn/actions/runs/5"


def test_incomplete_or_odd_ci_variables_give_nothing() -> None:
    assert run_url({}) is None and source({}) is None
    assert run_url({"GITHUB_REPOSITORY": "team/churn"}) is None
    assert source({"GITHUB_REPOSITORY": "team/churn"}) is None
    assert run_url({"GITHUB_RUN_ID": "1"}) is None
    for odd in ("team", "team/churn/extra", "team/churn;rm", "a/b\n"):
        assert run_url({"GITHUB_REPOSITORY": odd, "GITHUB_RUN_ID": "1"}) is None
        assert source({"GITHUB_REPOSITORY": odd, "GITHUB_SHA": "a"}) is None
    # on GitHub with an unusable repository name, GitLab's variables are not mistaken for it
    assert run_url({"GITHUB_REPOSITORY": "team", "GITHUB_RUN_ID": "1", **GITLAB}) == (
        GITLAB["CI_JOB_URL"])
    assert source({"GITHUB_REPOSITORY": "team", "GITHUB_SHA": "1", **GITLAB}) == (
        "https://gitlab.example.com/ml/churn@" + "b" * 40)
    assert run_url({"CI_JOB_URL": "", "CI_PIPELINE_URL": ""}) is None


# --- reading trailers back -------------------------------------------------------------------


def test_parse_trailers_reads_only_the_last_paragraph() -> None:
    message = ("promote churn to production: v1 -> v2\n\n"
               "Mlgate-App: not-this-one\n\n"
               "Mlgate-App: churn\nMlgate-Environment: production\n")
    assert parse_trailers(message) == [("Mlgate-App", "churn"),
                                       ("Mlgate-Environment", "production")]


def test_parse_trailers_keeps_values_with_colons_and_skips_other_lines() -> None:
    message = ("subject\n\n"
               "Mlgate-App: churn\n"
               "a free text line\n"
               "Not A Key: value\n"
               "Under_score: value\n"
               "No-space:value\n"
               "Mlgate-Set-New: m.yaml:spec.args[0]=--mode: safe   \n"
               "Signed-off-by: Ann <ann@example.com>\n")
    assert parse_trailers(message) == [
        ("Mlgate-App", "churn"),
        ("Mlgate-Set-New", "m.yaml:spec.args[0]=--mode: safe"),
        ("Signed-off-by", "Ann <ann@example.com>"),
    ]


def test_parse_trailers_of_nothing() -> None:
    assert parse_trailers("") == []
    assert parse_trailers("\n\n  \n") == []
    assert parse_trailers("just a subject") == []
    assert parse_trailers("Mlgate-App: churn") == [("Mlgate-App", "churn")]
    assert parse_trailers("subject\n\nMlgate-App: churn\n\n\n") == [("Mlgate-App", "churn")]
    assert parse_trailers("Key9: v\n\n\n\nA-b: c") == [("A-b", "c")]


def test_folder_and_the_copied_promotion_are_trailers_that_read_back() -> None:
    """The folder lets rollback find the environment; From-Commit and From-Evidence-Sha256
    link a copied promotion to the source environment's commit and its evidence."""
    p = promotion(folder="apps/churn/production", from_environment="staging",
                  from_commit="5" * 40,
                  from_evidence=(f"{'ab' * 32} benchmark.json", f"{'cd' * 32} scan.json"),
                  evidence=(evidence(),))
    pairs = trailers(p)
    assert pairs[:3] == [("Mlgate-App", "churn"), ("Mlgate-Environment", "production"),
                         ("Mlgate-Folder", "apps/churn/production")]
    start = pairs.index(("Mlgate-From-Environment", "staging"))
    assert pairs[start:start + 4] == [
        ("Mlgate-From-Environment", "staging"), ("Mlgate-From-Commit", "5" * 40),
        ("Mlgate-From-Evidence-Sha256", f"{'ab' * 32} benchmark.json"),
        ("Mlgate-From-Evidence-Sha256", f"{'cd' * 32} scan.json")]
    recorded = _parse("f" * 40, commit_message(p), "churn", "production")
    assert recorded is not None
    assert recorded.folder == "apps/churn/production"
    assert recorded.evidence == (f"{'ab' * 32} benchmark.json",)
    bare = _parse("f" * 40, commit_message(promotion()), "churn", "production")
    assert bare is not None and (bare.folder, bare.evidence) == (None, ())
    assert [k for k, _ in trailers(promotion(from_environment="staging"))].count(
        "Mlgate-From-Commit") == 0
