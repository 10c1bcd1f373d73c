"""`mlgate audit COMMIT` against real bare repos: a good promotion (signed and not), and the
attacks an auditor must catch — an evidence file edited afterwards or inside a forged commit, a
statement whose manifests do not match, a signature by another key, an envelope swapped for
another statement, a hand commit with no evidence — plus the inputs refused."""

from __future__ import annotations

import base64
import json

import pytest
from support.auditrepo import (
    ENV,
    IMG,
    checks,
    edit_and_push,
    flip_verdict,
    folder_of,
    gate_file,
    hand_commit,
    promote,
    public_pem,
    run,
)
from support.configrepo import EXAMPLES, git, tree_files
from support.fixtures import git_server  # noqa: F401
from support.evidence import write_key

from mlgate.cli import main


def test_a_signed_promotion_checks_out(remote, tmp_path):
    public = write_key(tmp_path / "key.pem")
    sha = promote(remote, "production", f"{IMG}:v1.5.0", "--evidence", gate_file(tmp_path),
                  "--attestation-key", str(tmp_path / "key.pem"))
    code, doc = run("audit", sha[:10], "--repo", str(remote), "--public-key",
                    public_pem(public, tmp_path / "key.pub"), "--report",
                    str(tmp_path / "a.md"), tmp_path=tmp_path)
    assert code == 0, doc
    result = doc["result"]
    assert result["commit"] == sha and result["passed"] is True
    assert (result["app"], result["environment"], result["kind"]) == (
        "churn", "production", "promotion")
    assert result["images"] == [[f"{IMG}:v1.4.0", f"{IMG}:v1.5.0"]]
    assert result["model"] == {"uri": "models:/churn/7", "name": "churn", "version": "7"}
    assert [(g["gate"], g["verdict"]) for g in result["gates"]] == [("benchmark", "passed")]
    assert result["signature"].startswith("verified (")
    assert set(checks(doc).values()) == {"ok"}
    assert {"on main", "evidence benchmark.json", "statement", "signature",
            "evidence since"} <= set(checks(doc))
    assert doc["outputs"]["verdict"] == "passed" and doc["outputs"]["problems"] == "0"
    md = (tmp_path / "a.md").read_text()
    assert "audit passed" in md and "| gate benchmark | passed |" in md


def test_unsigned_promotion_passes_without_a_key_and_fails_with_one(remote, tmp_path):
    sha = promote(remote, "staging", f"{IMG}:v1.5.0", "--evidence", gate_file(tmp_path))
    code, doc = run("audit", sha, "--repo", str(remote), tmp_path=tmp_path)
    assert code == 0 and checks(doc)["signature"] == "not checked"
    assert doc["result"]["signature"] == "unsigned"
    public = write_key(tmp_path / "key.pem", "p256")
    code, doc = run("audit", sha, "--repo", str(remote), "--public-key",
                    public_pem(public, tmp_path / "key.pub"), tmp_path=tmp_path)
    assert code == 1 and checks(doc)["signature"] == "unsigned"
    assert doc["outputs"]["verdict"] == "failed"


def test_a_signature_by_another_key_fails(remote, tmp_path):
    write_key(tmp_path / "signer.pem")
    other = write_key(tmp_path / "other.pem")
    sha = promote(remote, "staging", f"{IMG}:v1.5.0", "--evidence", gate_file(tmp_path),
                  "--attestation-key", str(tmp_path / "signer.pem"))
    code, doc = run("audit", sha, "--repo", str(remote), "--public-key",
                    public_pem(other, tmp_path / "other.pub"), tmp_path=tmp_path)
    assert code == 1 and checks(doc)["signature"] == "failed"
    assert doc["result"]["signature"] == "invalid"
    code, doc = run("audit", sha, "--repo", str(remote), tmp_path=tmp_path)
    assert code == 0 and checks(doc)["signature"] == "not checked"


def test_evidence_edited_after_the_promotion_fails(remote, tmp_path):
    sha = promote(remote, "staging", f"{IMG}:v1.5.0", "--evidence",
                  gate_file(tmp_path, verdict="failed"))
    folder = folder_of(remote, sha)

    later = edit_and_push(remote, tmp_path, flip_verdict(folder))
    code, doc = run("audit", sha, "--repo", str(remote), tmp_path=tmp_path)
    assert code == 1
    assert checks(doc)["evidence since"] == "altered"
    assert later[:12] in next(c["detail"] for c in doc["result"]["checks"]
                              if c["what"] == "evidence since")
    # the commit's own files still check out: the edit is the later commit's
    assert checks(doc)["evidence benchmark.json"] == "ok"
    assert doc["result"]["gates"][0]["verdict"] == "failed"


def test_a_forged_commit_whose_evidence_does_not_match_its_trailers_fails(remote, tmp_path):
    sha = promote(remote, "staging", f"{IMG}:v1.5.0", "--evidence",
                  gate_file(tmp_path, verdict="failed"))
    folder = folder_of(remote, sha)

    forged = edit_and_push(remote, tmp_path, flip_verdict(folder), amend=True)
    code, doc = run("audit", forged, "--repo", str(remote), tmp_path=tmp_path)
    assert code == 1
    assert checks(doc)["evidence benchmark.json"] == "altered"
    assert doc["result"]["gates"][0]["verdict"] == "altered"
    # the original commit was force-pushed away: it never reached main's history
    code, doc = run("audit", sha, "--repo", str(remote), tmp_path=tmp_path)
    assert code == 1 and checks(doc)["on main"] == "failed"


def test_a_manifest_changed_beside_the_attested_one_fails(remote, tmp_path):
    sha = promote(remote, "staging", f"{IMG}:v1.5.0", "--evidence", gate_file(tmp_path))

    def sneak(work):
        path = work / "apps/churn/staging/kustomization.yaml"
        path.write_text(path.read_text().replace("v1.5.0", "v9.9.9"))
        (work / "apps/churn/staging/extra.yaml").write_text("kind: ConfigMap\n")

    forged = edit_and_push(remote, tmp_path, sneak, amend=True)
    assert forged != sha
    code, doc = run("audit", forged, "--repo", str(remote), tmp_path=tmp_path)
    assert code == 1 and checks(doc)["statement"] == "altered"
    detail = next(c["detail"] for c in doc["result"]["checks"] if c["what"] == "statement")
    assert "extra.yaml changed but is not one of its subjects" in detail
    assert "kustomization.yaml's sha256 is not the one it attests" in detail


def test_an_envelope_around_another_statement_fails(remote, tmp_path):
    public = write_key(tmp_path / "key.pem")
    sha = promote(remote, "staging", f"{IMG}:v1.5.0", "--evidence", gate_file(tmp_path),
                  "--attestation-key", str(tmp_path / "key.pem"))
    folder = folder_of(remote, sha)

    def swap(work):
        statement = work / folder / "statement.json"
        doc = json.loads(statement.read_text())
        doc["predicate"]["actor"] = "someone-else"
        statement.write_text(json.dumps(doc, indent=2) + "\n")

    forged = edit_and_push(remote, tmp_path, swap, amend=True)
    code, doc = run("audit", forged, "--repo", str(remote), "--public-key",
                    public_pem(public, tmp_path / "key.pub"), tmp_path=tmp_path)
    assert code == 1 and checks(doc)["signature"] == "altered"

    def resign(work):  # the statement kept, the envelope's payload replaced: signature breaks
        path = work / folder / "statement.dsse.json"
        env = json.loads(path.read_text())
        env["payload"] = base64.b64encode(
            (work / folder / "statement.json").read_bytes()).decode()
        path.write_text(json.dumps(env))

    forged = edit_and_push(remote, tmp_path, resign, amend=True)
    code, doc = run("audit", forged, "--repo", str(remote), "--public-key",
                    public_pem(public, tmp_path / "key.pub"), tmp_path=tmp_path)
    assert code == 1 and checks(doc)["signature"] == "failed"


def test_removed_evidence_and_statement_are_missing(remote, tmp_path):
    sha = promote(remote, "staging", f"{IMG}:v1.5.0", "--evidence", gate_file(tmp_path))
    folder = folder_of(remote, sha)

    def remove(work):
        (work / folder / "benchmark.json").unlink()
        (work / folder / "statement.json").unlink()

    forged = edit_and_push(remote, tmp_path, remove, amend=True)
    code, doc = run("audit", forged, "--repo", str(remote), tmp_path=tmp_path)
    assert code == 1
    assert checks(doc)["evidence benchmark.json"] == "missing"
    assert checks(doc)["statement"] == "missing"


def test_a_hand_commit_has_nothing_behind_it(remote, tmp_path):
    sha = hand_commit(remote, tmp_path, "bump by hand", files={
        "apps/churn/production/deployment.yaml": "kind: Deployment\n"})
    code, doc = run("audit", sha, "--repo", str(remote), tmp_path=tmp_path)
    assert code == 1
    result = doc["result"]
    assert result["kind"] == "hand edit" and result["app"] == ""
    assert checks(doc)["mlgate record"] == "missing"
    assert result["changed"] == ["apps/churn/production/deployment.yaml"]


def test_trailers_without_kept_evidence_are_missing(remote, tmp_path):
    sha = hand_commit(remote, tmp_path, "promote churn to staging\n\nMlgate-App: churn\n"
                      "Mlgate-Environment: staging\n"
                      f"Mlgate-Evidence-Sha256: {'a' * 64} benchmark.json\n"
                      "Mlgate-Evidence-Dir: ../../etc")
    code, doc = run("audit", sha, "--repo", str(remote), tmp_path=tmp_path)
    assert code == 1 and checks(doc)["evidence"] == "missing"


def test_a_rollback_and_a_canary_step_check_out(remote, tmp_path):
    promote(remote, "production", f"{IMG}:v1.5.0", "--evidence", gate_file(tmp_path))
    assert main(["rollback", "--repo", str(remote), "--app", "churn", "--path", "apps/churn",
                 "--environment", "production", "--reason", "error-rate 0.034 > 0.01"],
                environ=ENV) == 0
    rollback = git(remote, "rev-parse", "main").strip()
    code, doc = run("audit", rollback, "--repo", str(remote), tmp_path=tmp_path)
    assert code == 0, checks(doc)
    assert doc["result"]["kind"] == "rollback"
    assert doc["result"]["reason"] == "error-rate 0.034 > 0.01"
    assert main(["canary", "--repo", str(remote), "--app", "churn", "--path", "apps/churn",
                 "--environment", "production", "--image", f"{IMG}:v1.6.0",
                 "--max-steps", "1"], environ=ENV) == 0
    step = git(remote, "rev-parse", "main").strip()
    code, doc = run("audit", step, "--repo", str(remote), tmp_path=tmp_path)
    assert code == 0, checks(doc)
    assert doc["result"]["kind"] == "canary-step"


def test_audit_over_a_url(git_server, tmp_path):  # noqa: F811
    git_server.create_repo("config", tree_files(EXAMPLES))
    environ = {**ENV, "MLGATE_GIT_TOKEN": git_server.token("writer"),
               "MLGATE_GIT_USERNAME": "writer"}
    assert main(["promote", "--repo", git_server.url("config"), "--app", "churn", "--path",
                 "apps/churn", "--environment", "staging", "--image", f"{IMG}:v1.5.0",
                 "--evidence", gate_file(tmp_path)], environ=environ) == 0
    code, doc = run("history", "churn", "--repo", git_server.url("config"),
                    tmp_path=tmp_path, environ=environ)
    sha = doc["result"]["entries"][0]["commit"]
    code, doc = run("audit", sha[:12], "--repo", git_server.url("config"), tmp_path=tmp_path,
                    environ=environ)
    assert code == 0, checks(doc)
    assert doc["result"]["gates"][0]["verdict"] == "passed"
    assert git_server.token("writer") not in json.dumps(doc)


@pytest.mark.parametrize("args,needle", [
    (["not hex!"], "COMMIT 'not hex!': expected a commit SHA or a tag name"),
    (["nosuchtag"], "no such tag"),
    (["a..b"], "expected a commit SHA or a tag name"),
    (["abc"], "COMMIT"),
    (["--", "-c"], "COMMIT"),
    (["0123456789abcdef0123456789abcdef01234567"], "no such commit"),
    (["deadbeef"], "no such commit"),
])
def test_bad_commits_are_refused(remote, tmp_path, capsys, args, needle):
    promote(remote, "staging", f"{IMG}:v1.5.0")
    before = git(remote, "for-each-ref")
    code = main(["audit", "--repo", str(remote), *args], environ=ENV)
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0]
    assert git(remote, "for-each-ref") == before


@pytest.mark.parametrize("kind,needle", [
    ("private", "a private key"),
    ("garbage", "not a PEM public key"),
    ("rsa", "an Ed25519 or ECDSA P-256 key is needed"),
    ("missing", "--public-key"),
])
def test_bad_public_keys_are_refused(remote, tmp_path, capsys, kind, needle):
    sha = promote(remote, "staging", f"{IMG}:v1.5.0")
    path = tmp_path / "key.pub"
    if kind == "private":
        write_key(path)
    elif kind == "garbage":
        path.write_text("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
    elif kind == "rsa":
        public_pem(write_key(tmp_path / "rsa.pem", "rsa"), path)
    code = main(["audit", sha, "--repo", str(remote), "--public-key", str(path)], environ=ENV)
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0] and "--public-key" in err[0]


def test_a_tag_names_the_commit(remote, tmp_path):
    sha = promote(remote, "production", f"{IMG}:v1.5.0", "--evidence", gate_file(tmp_path),
                  "--tag", "Q2-2026-churn-model")
    code, doc = run("audit", "Q2-2026-churn-model", "--repo", str(remote), tmp_path=tmp_path)
    assert code == 0 and doc["result"]["commit"] == sha


def test_the_outcomes_recorded_afterwards_are_shown(remote, tmp_path):
    from mlgate.audit.outcome import Outcome, record, target_for

    sha = promote(remote, "staging", f"{IMG}:v1.5.0", "--evidence", gate_file(tmp_path))
    target = target_for(str(remote), ENV)
    for outcome in (Outcome("wait-sync", "Healthy", "2026-12-06T10:00:00Z"),
                    Outcome("verify", "Successful", "2026-12-06T10:05:00Z",
                            "https://ci.example.com/r/1")):
        assert record(target, sha, outcome, environ=ENV).recorded
    code, doc = run("audit", sha, "--repo", str(remote), "--report", str(tmp_path / "a.md"),
                    tmp_path=tmp_path)
    assert code == 0
    assert [(o["kind"], o["outcome"]) for o in doc["result"]["outcomes"]] == [
        ("wait-sync", "Healthy"), ("verify", "Successful")]
    md = (tmp_path / "a.md").read_text()
    assert "| verify | Successful at 2026" in md and "| wait\\-sync | Healthy at 2026" in md
