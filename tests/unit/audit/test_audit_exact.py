"""`mlgate audit`'s every check and gate, asserted whole for each way evidence can go wrong, so a
changed verdict, status word or message is noticed: a result over the size cap kept as its hash,
two gates' files of the same name, a trailer that is not a sha256, forged trailers pointing at
the summary or the statement, a statement about another app, broken envelopes, a merge commit
and the repo's first commit."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess

import pytest
from support.auditrepo import (
    ENV,
    IMG,
    checks,
    edit_and_push,
    folder_of,
    gate_file,
    hand_commit,
    promote,
    public_pem,
    run,
)
from support.configrepo import GIT_ENV, git
from support.evidence import write_key
from support.fixtures import git_server  # noqa: F401


def full(doc):
    return [(c["what"], c["status"], c["detail"]) for c in doc["result"]["checks"]]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


ON_MAIN = ("on main", "ok", "the commit is on the branch the controller applies")
SINCE = ("evidence since", "ok", "unchanged on the branch since the commit")
UNSIGNED = ("signature", "not checked", "the statement is unsigned")


def statement_ok(environment="staging", manifests=1):
    return ("statement", "ok", f"in-toto statement about churn in {environment}; "
            f"{manifests} changed manifests match its subjects")


def test_a_good_promotion_whole(remote, tmp_path):
    validate = gate_file(tmp_path, "validate.json", command="validate")
    bench = tmp_path / "benchmark.json"
    bench.write_text(json.dumps({"command": "benchmark", "exit_code": 0, "title": "t"}))
    commit = promote(remote, "staging", f"{IMG}:v1.5.0", "--evidence", validate,
                     "--evidence", str(bench))
    folder = folder_of(remote, commit)
    code, doc = run("audit", commit, "--repo", str(remote), tmp_path=tmp_path)
    assert code == 0
    v_sha, b_sha = sha(open(validate, "rb").read()), sha(bench.read_bytes())
    assert full(doc) == [
        ON_MAIN,
        ("evidence validate.json", "ok", "validate.json has the recorded sha256 (passed)"),
        ("evidence benchmark.json", "ok", "benchmark.json has the recorded sha256 (unknown)"),
        statement_ok(), UNSIGNED, SINCE]
    assert doc["result"]["gates"] == [
        {"gate": "validate", "file": "validate.json", "sha256": v_sha, "verdict": "passed",
         "path": f"{folder}/validate.json"},
        {"gate": "benchmark", "file": "benchmark.json", "sha256": b_sha, "verdict": "unknown",
         "path": f"{folder}/benchmark.json"}]
    result = doc["result"]
    assert result["evidence_dir"] == folder and result["signature"] == "unsigned"
    assert result["changed"] == sorted(f"{folder}/{n}" for n in (
        "benchmark.json", "statement.json", "summary.md", "validate.json")) + [
        "apps/churn/staging/kustomization.yaml"]
    assert result["data"] == []
    assert doc["outputs"] == {"verdict": "passed", "problems": "0", "app": "churn",
                              "environment": "staging", "signature": "unsigned"}


@pytest.mark.parametrize("run_url", [None, "https://ci.example.com/r/7"])
def test_a_result_over_the_cap_is_kept_as_its_hash(remote, tmp_path, run_url):
    big = tmp_path / "scan.json"
    big.write_text(json.dumps({"command": "scan", "verdict": "passed", "exit_code": 0,
                               "title": "t", "result": {"pad": "x" * (1024 * 1024 + 10)}}))
    environ = {**ENV, **({"CI_JOB_URL": run_url} if run_url else {})}
    from mlgate.cli import main

    assert main(["promote", "--repo", str(remote), "--app", "churn", "--path", "apps/churn",
                 "--environment", "staging", "--image", f"{IMG}:v1.5.0", "--evidence",
                 str(big)], environ=environ) == 0
    commit = git(remote, "rev-parse", "main").strip()
    folder = folder_of(remote, commit)
    code, doc = run("audit", commit, "--repo", str(remote), tmp_path=tmp_path)
    assert code == 0
    where = run_url or "(no run URL recorded)"
    assert full(doc)[1] == (
        "evidence scan.json", "ok", "over the size cap: kept as its hash in scan.ref.json, "
        f"the file itself with the CI run {where}")
    assert doc["result"]["gates"] == [{"gate": "scan", "file": "scan.json",
                                       "sha256": sha(big.read_bytes()), "verdict": "passed",
                                       "path": f"{folder}/scan.ref.json"}]

    def tamper(work):  # the reference's hash changed: nothing kept has the recorded one
        path = work / folder / "scan.ref.json"
        ref = json.loads(path.read_text())
        ref["sha256"] = "0" * 64
        path.write_text(json.dumps(ref))

    forged = edit_and_push(remote, tmp_path, tamper, amend=True)
    code, doc = run("audit", forged, "--repo", str(remote), tmp_path=tmp_path)
    assert code == 1
    assert full(doc)[1] == ("evidence scan.json", "altered",
                            "scan.json's sha256 is not the one the commit recorded")
    assert doc["result"]["gates"][0]["verdict"] == "altered"
    assert doc["result"]["gates"][0]["path"] == f"{folder}/scan.json"


def test_two_results_of_one_name_are_found_by_their_hashes(remote, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = gate_file(tmp_path / "a", "result.json", command="validate")
    second = gate_file(tmp_path / "b", "result.json", verdict="failed", command="scan")
    commit = promote(remote, "staging", f"{IMG}:v1.5.0", "--evidence", first,
                     "--evidence", second)
    folder = folder_of(remote, commit)
    code, doc = run("audit", commit, "--repo", str(remote), tmp_path=tmp_path)
    assert code == 0
    stored = sorted(git(remote, "ls-tree", "--name-only", f"{commit}:{folder}").split())
    renamed = next(n for n in stored if n.endswith("result.json") and n != "result.json")
    assert [(g["verdict"], g["path"]) for g in doc["result"]["gates"]] == [
        ("passed", f"{folder}/result.json"), ("failed", f"{folder}/{renamed}")]
    assert full(doc)[2] == ("evidence result.json", "ok",
                            f"{renamed} has the recorded sha256 (failed)")


def forge(remote, tmp_path, commit, trailers, *, message_only=False):
    """A hand commit reusing `commit`'s trailers with some replaced (its evidence folder is
    still in the tree): what someone writing mlgate's trailers by hand could claim."""
    body = git(remote, "show", "-s", "--format=%B", commit).strip()
    subject, _, rest = body.partition("\n\n")
    lines = [ln for ln in rest.splitlines() if not ln.startswith("Mlgate-Evidence-Sha256")]
    message = subject + "\n\n" + "\n".join(lines + trailers)
    return hand_commit(remote, tmp_path, message, files={"NOTES.md": message})


@pytest.mark.parametrize("target", ["summary.md", "statement.json", "statement.dsse.json"])
def test_a_trailer_naming_an_evidence_folder_file_is_not_a_gate(remote, tmp_path, target):
    write_key(tmp_path / "key.pem")
    commit = promote(remote, "staging", f"{IMG}:v1.5.0", "--evidence", gate_file(tmp_path),
                     "--attestation-key", str(tmp_path / "key.pem"))
    folder = folder_of(remote, commit)
    digest = sha(git_bytes(remote, f"{commit}:{folder}/{target}"))
    forged = forge(remote, tmp_path, commit, [f"Mlgate-Evidence-Sha256: {digest} {target}"])
    code, doc = run("audit", forged, "--repo", str(remote), tmp_path=tmp_path)
    assert code == 1
    assert (f"evidence {target}", "altered" if target in ("statement.json",
            "statement.dsse.json", "summary.md") else "missing") in [
        (w, s) for w, s, _ in full(doc)]


def git_bytes(repo, spec):
    return subprocess.run(["git", "cat-file", "blob", spec], cwd=repo, check=True,
                          capture_output=True).stdout


def test_a_trailer_hash_that_is_not_a_sha256(remote, tmp_path):
    commit = promote(remote, "staging", f"{IMG}:v1.5.0", "--evidence", gate_file(tmp_path))
    forged = forge(remote, tmp_path, commit, [
        "Mlgate-Evidence-Sha256: 0123456789abcdef0123456789-not-hex benchmark.json"])
    code, doc = run("audit", forged, "--repo", str(remote), tmp_path=tmp_path)
    assert code == 1
    assert full(doc)[1] == ("evidence benchmark.json", "altered",
                            "the trailer's hash '0123456789abcdef0123' is not a sha256")
    assert doc["result"]["gates"] == [{
        "gate": "benchmark", "file": "benchmark.json",
        "sha256": "0123456789abcdef0123456789-not-hex", "verdict": "unknown", "path": None}]
    # the forged commit changed NOTES.md, not a manifest, and its statement's gates differ
    assert full(doc)[2][0:2] == ("statement", "altered")
    assert "its gates' hashes are not the commit's Mlgate-Evidence-Sha256" in full(doc)[2][2]
    assert "NOTES.md changed but is not one of its subjects" in full(doc)[2][2]
    assert doc["outputs"]["problems"] == "2"


def test_a_missing_result_whole(remote, tmp_path):
    commit = promote(remote, "staging", f"{IMG}:v1.5.0", "--evidence", gate_file(tmp_path))
    folder = folder_of(remote, commit)
    forged = edit_and_push(remote, tmp_path,
                           lambda work: (work / folder / "benchmark.json").unlink(), amend=True)
    code, doc = run("audit", forged, "--repo", str(remote), tmp_path=tmp_path)
    assert code == 1
    assert full(doc)[1] == ("evidence benchmark.json", "missing",
                            f"no file in {folder} has the recorded sha256")
    gate = doc["result"]["gates"][0]
    assert (gate["gate"], gate["file"], gate["verdict"], gate["path"]) == (
        "benchmark", "benchmark.json", "missing", None)


@pytest.mark.parametrize("edit,expected", [
    (lambda d: d.update({"predicate": {**d["predicate"], "app": "other"}}),
     "it is about 'other' in 'staging', the commit about 'churn' in 'staging'"),
    (lambda d: d.update({"predicate": {**d["predicate"], "environment": "prod"}}),
     "it is about 'churn' in 'prod', the commit about 'churn' in 'staging'"),
])
def test_a_statement_about_another_app_or_environment(remote, tmp_path, edit, expected):
    commit = promote(remote, "staging", f"{IMG}:v1.5.0", "--evidence", gate_file(tmp_path))
    folder = folder_of(remote, commit)

    def change(work):
        path = work / folder / "statement.json"
        doc = json.loads(path.read_text())
        edit(doc)
        path.write_text(json.dumps(doc))

    forged = edit_and_push(remote, tmp_path, change, amend=True)
    code, doc = run("audit", forged, "--repo", str(remote), tmp_path=tmp_path)
    assert code == 1 and full(doc)[2] == ("statement", "altered", expected)


NOT_A_STATEMENT = ("statement", "altered", "statement.json is not an in-toto Statement v1 with "
                   "predicateType https://mlgate.dev/promotion/v1")


@pytest.mark.parametrize("text,expected", [
    ("[]", NOT_A_STATEMENT),
    (json.dumps({"_type": "https://in-toto.io/Statement/v0.1",
                 "predicateType": "https://mlgate.dev/promotion/v1", "predicate": {}}),
     NOT_A_STATEMENT),
    (json.dumps({"_type": "https://in-toto.io/Statement/v1",
                 "predicateType": "https://slsa.dev/provenance/v1", "predicate": {}}),
     NOT_A_STATEMENT),
    (json.dumps({"_type": "https://in-toto.io/Statement/v1",
                 "predicateType": "https://mlgate.dev/promotion/v1", "predicate": []}),
     NOT_A_STATEMENT),
    ("{not json", None),
])
def test_a_statement_that_is_not_one(remote, tmp_path, text, expected):
    commit = promote(remote, "staging", f"{IMG}:v1.5.0", "--evidence", gate_file(tmp_path))
    folder = folder_of(remote, commit)
    forged = edit_and_push(remote, tmp_path,
                           lambda work: (work / folder / "statement.json").write_text(text),
                           amend=True)
    code, doc = run("audit", forged, "--repo", str(remote), tmp_path=tmp_path)
    assert code == 1
    got = full(doc)[2]
    if expected is None:
        assert got[:2] == ("statement", "altered")
        assert got[2].startswith("statement.json:1: invalid JSON"), got[2]
        assert got[2].count("statement.json") == 1
    else:
        assert got == expected
    assert doc["result"]["model"] is None and doc["result"]["actor"] is None


def envelope_edit(change):
    def edit(work, folder):
        path = work / folder / "statement.dsse.json"
        env = json.loads(path.read_text())
        change(env, work / folder)
        path.write_text(json.dumps(env))
    return edit


@pytest.mark.parametrize("change,status,detail", [
    (lambda env, f: env.update(payloadType="text/plain"), "altered",
     "statement.dsse.json: not a DSSE envelope with payloadType application/vnd.in-toto+json"),
    (lambda env, f: env.update(payload="%%%"), "altered",
     "statement.dsse.json: its payload is not base64"),
    (lambda env, f: env.update(signatures=[]), "altered",
     "statement.dsse.json: it holds no signatures"),
    (lambda env, f: env.update(payload=base64.b64encode(b"{}").decode()), "altered",
     "the envelope's payload is not statement.json's bytes"),
    (lambda env, f: env["signatures"].insert(0, {"keyid": "other", "sig": "AAAA"}), "ok", None),
    (lambda env, f: env["signatures"].__setitem__(0, {**env["signatures"][0], "sig": "%%"}),
     "failed", None),
    (lambda env, f: env["signatures"].__setitem__(0, {**env["signatures"][0], "keyid": ""}),
     "ok", None),
])
def test_envelopes_whole(remote, tmp_path, change, status, detail):
    public = write_key(tmp_path / "key.pem")
    pub = public_pem(public, tmp_path / "key.pub")
    commit = promote(remote, "staging", f"{IMG}:v1.5.0", "--evidence", gate_file(tmp_path),
                     "--attestation-key", str(tmp_path / "key.pem"))
    folder = folder_of(remote, commit)
    edit = envelope_edit(change)
    forged = edit_and_push(remote, tmp_path, lambda work: edit(work, folder), amend=True)
    code, doc = run("audit", forged, "--repo", str(remote), "--public-key", pub,
                    tmp_path=tmp_path)
    sig = next(c for c in full(doc) if c[0] == "signature")
    from mlgate.promote.attest import load_public_key

    keyid = load_public_key(pub).keyid
    if status == "ok":
        assert code == 0 and sig == ("signature", "ok", f"verified with ed25519 key {keyid[:16]}")
        assert doc["result"]["signature"] == f"verified ({keyid[:16]})"
    elif status == "failed":
        assert code == 1 and sig == (
            "signature", "failed", f"no signature verifies with the public key {keyid[:16]} "
            f"(signed by keyid {keyid[:16]})")
    else:
        assert code == 1 and sig == ("signature", status, detail)
        assert doc["result"]["signature"] == "invalid"


def test_signed_without_a_key_and_unsigned_with_one_whole(remote, tmp_path):
    public = write_key(tmp_path / "key.pem")
    commit = promote(remote, "staging", f"{IMG}:v1.5.0", "--evidence", gate_file(tmp_path),
                     "--attestation-key", str(tmp_path / "key.pem"))
    code, doc = run("audit", commit, "--repo", str(remote), tmp_path=tmp_path)
    assert code == 0 and full(doc)[-2] == (
        "signature", "not checked", "signed; give --public-key to check the signature")
    assert doc["result"]["signature"] == "not checked"
    unsigned = promote(remote, "production", f"{IMG}:v1.5.0", "--evidence",
                       gate_file(tmp_path))
    code, doc = run("audit", unsigned, "--repo", str(remote), "--public-key",
                    public_pem(public, tmp_path / "key.pub"), tmp_path=tmp_path)
    assert code == 1 and full(doc)[-2] == (
        "signature", "unsigned", "--public-key requires a signed statement; this one is "
        "unsigned (promoted without --attestation-key)")
    assert doc["result"]["signature"] == "unsigned"
    assert doc["outputs"]["signature"] == "unsigned"


def test_later_edits_are_named_five_at_most(remote, tmp_path):
    commit = promote(remote, "staging", f"{IMG}:v1.5.0", "--evidence", gate_file(tmp_path))
    folder = folder_of(remote, commit)
    later = []
    for n in range(6):
        later.append(edit_and_push(remote, tmp_path, lambda work, n=n: (
            work / folder / "summary.md").write_text(f"edit {n}\n")))
    code, doc = run("audit", commit, "--repo", str(remote), tmp_path=tmp_path)
    assert code == 1
    newest = list(reversed(later))[:5]
    assert full(doc)[-1] == ("evidence since", "altered", "changed after the commit by "
                             + ", ".join(c[:12] for c in newest))


def test_a_merge_and_the_first_commit_list_what_they_changed(remote, tmp_path):
    first = git(remote, "rev-list", "--max-parents=0", "main").strip()
    code, doc = run("audit", first, "--repo", str(remote), tmp_path=tmp_path)
    assert code == 1 and doc["result"]["kind"] == "hand edit"
    files = git(remote, "ls-tree", "-r", "--name-only", first).split()
    assert doc["result"]["changed"] == files
    work = tmp_path / "merge"
    git(tmp_path, "clone", "-q", str(remote), str(work))
    env = {**os.environ, **GIT_ENV}
    subprocess.run(["git", "checkout", "-qb", "side"], cwd=work, check=True, env=env)
    (work / "apps/churn/staging/extra.yaml").write_text("kind: ConfigMap\n")
    subprocess.run(["git", "add", "-A"], cwd=work, check=True, env=env)
    subprocess.run(["git", "commit", "-qm", "side"], cwd=work, check=True, env=env)
    subprocess.run(["git", "checkout", "-q", "main"], cwd=work, check=True, env=env)
    (work / "NOTES.md").write_text("main moved\n")
    subprocess.run(["git", "add", "-A"], cwd=work, check=True, env=env)
    subprocess.run(["git", "commit", "-qm", "main"], cwd=work, check=True, env=env)
    subprocess.run(["git", "merge", "-q", "--no-ff", "-m", "merge side", "side"], cwd=work,
                   check=True, env=env)
    git(work, "push", "-q", "origin", "HEAD:main")
    merge = git(work, "rev-parse", "HEAD").strip()
    code, doc = run("audit", merge, "--repo", str(remote), tmp_path=tmp_path)
    assert doc["result"]["changed"] == ["apps/churn/staging/extra.yaml"]
    assert checks(doc)["mlgate record"] == "missing"
    assert full(doc)[1][2] == ("no Mlgate-App trailer: a commit mlgate did not make, with no "
                               "evidence behind it (it changed apps/churn/staging/extra.yaml)")


def test_everything_behind_a_promotion_is_shown(remote, tmp_path):
    from mlgate.cli import main

    data_sha, model_sha = "d" * 64, "e" * 64
    validate = tmp_path / "validate.json"
    validate.write_text(json.dumps({"command": "validate", "verdict": "passed", "exit_code": 0,
                                    "title": "t", "result": {"data": "holdout.csv",
                                                             "data_sha256": data_sha}}))
    bench = tmp_path / "benchmark.json"
    bench.write_text(json.dumps({"command": "benchmark", "verdict": "passed", "exit_code": 0,
                                 "title": "t", "result": {"candidate": {
                                     "uri": "models:/churn/7", "name": "churn", "version": "7",
                                     "sha256": model_sha}}}))
    digest = "f" * 64
    environ = {**ENV, "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "ml/churn",
               "GITHUB_RUN_ID": "42", "GITHUB_SHA": "a" * 40, "GITHUB_ACTOR": "octocat"}
    assert main(["promote", "--repo", str(remote), "--app", "churn", "--path", "apps/churn",
                 "--environment", "staging", "--image", f"{IMG}@sha256:{digest}",
                 "--evidence", str(validate), "--evidence", str(bench)], environ=environ) == 0
    commit = git(remote, "rev-parse", "main").strip()
    code, doc = run("audit", commit, "--repo", str(remote), tmp_path=tmp_path)
    assert code == 0, full(doc)
    r = doc["result"]
    assert r["data"] == [[IMG, digest], ["models:/churn/7", model_sha],
                         ["holdout.csv", data_sha]]
    assert r["model"] == {"uri": "models:/churn/7", "name": "churn", "version": "7",
                          "sha256": model_sha}
    assert r["source"] == f"https://github.com/ml/churn@{'a' * 40}"
    assert r["run"] == "https://github.com/ml/churn/actions/runs/42"
    assert r["actor"] == "octocat"
    assert r["images"] == [[f"{IMG}:v1.4.0", f"{IMG}@sha256:{digest}"]]
    assert r["values"] == [] and r["reason"] is None and r["rollback_of"] == []
    assert r["subject"] == git(remote, "log", "-1", "--format=%s", commit).strip()
    author = git(remote, "log", "-1", "--format=%an <%ae>", commit).strip()
    assert r["author"] == author and r["kind"] == "promotion"
    when = int(git(remote, "log", "-1", "--format=%ct", commit))
    from mlgate.audit.trail import iso

    assert r["when"] == iso(when)


def test_a_rollback_shows_its_reason_and_what_it_undid(remote, tmp_path):
    from mlgate.cli import main

    promoted = promote(remote, "production", f"{IMG}:v1.5.0", "--evidence",
                       gate_file(tmp_path))
    assert main(["rollback", "--repo", str(remote), "--app", "churn", "--path", "apps/churn",
                 "--environment", "production", "--reason", "error-rate 0.034 > 0.01"],
                environ=ENV) == 0
    rollback = git(remote, "rev-parse", "main").strip()
    code, doc = run("audit", rollback, "--repo", str(remote), tmp_path=tmp_path)
    assert code == 0
    assert doc["result"]["rollback_of"] == [promoted]
    assert doc["result"]["reason"] == "error-rate 0.034 > 0.01"
    assert doc["result"]["images"] == [[f"{IMG}:v1.5.0", f"{IMG}:v1.4.0"]]


def test_a_hand_commit_whole(remote, tmp_path):
    sha = hand_commit(remote, tmp_path, "bump by hand", files={
        "apps/churn/production/deployment.yaml": "kind: Deployment\n"})
    code, doc = run("audit", sha, "--repo", str(remote), tmp_path=tmp_path)
    r = doc["result"]
    assert (r["subject"], r["kind"], r["evidence_dir"], r["gates"]) == (
        "bump by hand", "hand edit", None, [])
    assert r["author"] == git(remote, "log", "-1", "--format=%an <%ae>", sha).strip()
    from mlgate.audit.trail import iso

    assert r["when"] == iso(int(git(remote, "log", "-1", "--format=%ct", sha)))


@pytest.mark.parametrize("how,status", [("subfolder", "missing"), ("executable", "ok")])
def test_only_the_folders_own_regular_files_are_evidence(remote, tmp_path, how, status):
    commit = promote(remote, "staging", f"{IMG}:v1.5.0", "--evidence", gate_file(tmp_path))
    folder = folder_of(remote, commit)

    def move(work):
        path = work / folder / "benchmark.json"
        if how == "subfolder":
            (work / folder / "sub").mkdir()
            path.rename(work / folder / "sub" / "benchmark.json")
        else:
            path.chmod(0o755)

    forged = edit_and_push(remote, tmp_path, move, amend=True)
    code, doc = run("audit", forged, "--repo", str(remote), tmp_path=tmp_path)
    assert full(doc)[1][:2] == ("evidence benchmark.json", status)


def test_a_statement_with_subjects_that_are_not_objects(remote, tmp_path):
    commit = promote(remote, "staging", f"{IMG}:v1.5.0", "--evidence", gate_file(tmp_path))
    folder = folder_of(remote, commit)

    def change(work):
        path = work / folder / "statement.json"
        doc = json.loads(path.read_text())
        doc["subject"] = ["apps/churn/staging/kustomization.yaml", *doc["subject"][:0]]
        path.write_text(json.dumps(doc))

    forged = edit_and_push(remote, tmp_path, change, amend=True)
    code, doc = run("audit", forged, "--repo", str(remote), tmp_path=tmp_path)
    assert code == 1 and full(doc)[2] == (
        "statement", "altered",
        "apps/churn/staging/kustomization.yaml changed but is not one of its subjects")
    assert doc["result"]["data"] == []


def test_a_tag_over_a_url(git_server, tmp_path):  # noqa: F811
    from support.configrepo import EXAMPLES, tree_files

    from mlgate.cli import main

    git_server.create_repo("config", tree_files(EXAMPLES))
    environ = {**ENV, "MLGATE_GIT_TOKEN": git_server.token("writer"),
               "MLGATE_GIT_USERNAME": "writer"}
    assert main(["promote", "--repo", git_server.url("config"), "--app", "churn", "--path",
                 "apps/churn", "--environment", "staging", "--image", f"{IMG}:v1.5.0",
                 "--evidence", gate_file(tmp_path), "--tag", "churn-q4"], environ=environ) == 0
    code, doc = run("audit", "churn-q4", "--repo", git_server.url("config"), tmp_path=tmp_path,
                    environ=environ)
    assert code == 0, full(doc)
    assert doc["result"]["environment"] == "staging"
    code = main(["audit", "no-such-tag", "--repo", git_server.url("config")], environ=environ)
    assert code == 2
