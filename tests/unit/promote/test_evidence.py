"""Evidence in the config repo (issue 19): every promotion, rollback and canary step commits
`.mlgate/evidence/APP/ENV/ID/` with the gates' results, a summary, an in-toto Statement v1
and, with --attestation-key, a DSSE envelope; over plain git against bare repositories (the
GitHub and GitLab paths are in test_github.py / test_gitlab.py)."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from support.configrepo import example_remote, git
from support.evidence import (blob, changed, check_commit, evidence_dir, pae, verify_envelope,
                              write_key)

from mlgate.cli import main

IMG = "registry.example.com/ml/churn"
DIGEST = "sha256:" + "d" * 64
DATA_SHA = "e" * 64
ENV = {"PATH": "/usr/bin:/bin", "GITHUB_REPOSITORY": "team/churn-model", "GITHUB_SHA": "a" * 40,
       "GITHUB_RUN_ID": "42", "GITHUB_SERVER_URL": "https://github.com", "GITHUB_ACTOR": "ana"}
RUN = "https://github.com/team/churn-model/actions/runs/42"


def gate_files(tmp_path):
    """A benchmark and a validate result as the gates write them with --json."""
    bench = {"command": "benchmark", "verdict": "passed", "exit_code": 0,
             "title": "candidate beats champion", "outputs": {},
             "result": {"candidate": {"role": "candidate", "uri": "models:/churn/7",
                                      "name": "churn", "version": "7", "run_id": "r1"},
                        "metrics": [{"name": "f1", "checks": [
                            {"kind": "min_absolute_change", "required": 0.01, "bound": 0.02,
                             "point": 0.03, "passed": True, "text": "ok"}]}]}}
    valid = {"command": "validate", "verdict": "passed", "exit_code": 0, "title": "12 checks",
             "result": {"data": ["data/batch.parquet"], "fail_on": "critical",
                        "data_sha256": DATA_SHA}}
    paths = {}
    for name, doc in (("benchmark.json", bench), ("validate.json", valid)):
        path = tmp_path / name
        path.write_text(json.dumps(doc, indent=1) + "\n")
        paths[name] = path
    return paths


def promote(remote, *args, env=ENV, json_path=None):
    argv = ["promote", "--repo", str(remote), "--app", "churn", "--path", "apps/churn", *args]
    if json_path:
        argv += ["--json", str(json_path)]
    return main(argv, environ=env)


@pytest.fixture
def remote(tmp_path):
    return example_remote(tmp_path)


def test_promotion_commit_carries_results_summary_and_signed_statement(remote, tmp_path):
    gates = gate_files(tmp_path)
    key = tmp_path / "attest.pem"
    public = write_key(key)
    out = tmp_path / "r.json"
    assert promote(remote, "--environment", "staging", "--image", f"{IMG}:v1.5.0@{DIGEST}",
                   "--set", "model-version.yaml:spec.predictor.model.storageUri=s3://m/7",
                   *(a for p in gates.values() for a in ("--evidence", str(p))),
                   "--attestation-key", str(key), json_path=out) == 0
    statement = check_commit(remote, "main", {n: p.read_bytes() for n, p in gates.items()})
    folder = evidence_dir(remote, "main")
    assert folder.startswith(".mlgate/evidence/churn/staging/")
    # one commit: the manifests, and exactly this folder's files
    assert {p.rsplit("/", 1)[0] for p in changed(remote, "main") if p.startswith(".mlgate")} \
        == {folder}
    names = {s["name"]: s["digest"]["sha256"] for s in statement["subject"]}
    assert names[IMG] == "d" * 64
    assert names["data/batch.parquet"] == DATA_SHA
    assert "models:/churn/7" not in names  # no sha256 known: a subject must have a digest
    assert statement["predicateType"] == "https://mlgate.dev/promotion/v1"
    pred = statement["predicate"]
    assert pred["app"] == "churn" and pred["environment"] == "staging"
    assert pred["kind"] == "promote" and pred["actor"] == "ana" and pred["run_url"] == RUN
    assert pred["source"] == "https://github.com/team/churn-model@" + "a" * 40
    assert pred["model"] == {"uri": "models:/churn/7", "name": "churn", "version": "7",
                             "run_id": "r1"}
    assert pred["change"]["images"] == [{"repository": IMG, "previous": f"{IMG}:v1.4.0",
                                         "new": f"{IMG}:v1.5.0@{DIGEST}"}]
    bench, valid = pred["gates"]
    assert bench["verdict"] == "passed" and bench["exit_code"] == 0
    assert bench["sha256"] == hashlib.sha256(gates["benchmark.json"].read_bytes()).hexdigest()
    assert bench["thresholds"] == [{"kind": "min_absolute_change", "required": 0.01,
                                    "passed": True, "metric": "f1", "bound": 0.02,
                                    "point": 0.03}]
    assert valid["thresholds"] == [{"kind": "fail_on", "required": "critical"}]
    # the DSSE envelope: the statement's exact bytes, signed over PAE, with the public key
    envelope = json.loads(blob(remote, "main", f"{folder}/statement.dsse.json"))
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    payload = verify_envelope(envelope, public)
    assert payload == blob(remote, "main", f"{folder}/statement.json")
    trailers = git(remote, "log", "-1", "--format=%(trailers:only,unfold)", "main")
    assert f"Mlgate-Evidence-Dir: {folder}" in trailers
    # the command's JSON names the folder, and never carries the results' bytes again
    promotion = json.loads(out.read_text())["result"]["promotion"]
    assert promotion["evidence_dir"] == folder
    assert all(set(e) == {"file", "sha256", "command", "verdict", "exit_code", "title"}
               for e in promotion["evidence"])


def test_a_changed_payload_byte_fails_the_signature(remote, tmp_path):
    from cryptography.exceptions import InvalidSignature

    key = tmp_path / "attest.pem"
    public = write_key(key, "p256")
    assert promote(remote, "--environment", "staging", "--image", f"{IMG}:v1.5.0",
                   "--attestation-key", str(key)) == 0
    folder = evidence_dir(remote, "main")
    envelope = json.loads(blob(remote, "main", f"{folder}/statement.dsse.json"))
    verify_envelope(envelope, public)  # ECDSA P-256, DER signature: verifies as written
    payload = bytearray(base64.b64decode(envelope["payload"]))
    payload[payload.index(b"staging")] ^= 0x01
    forged = dict(envelope, payload=base64.b64encode(bytes(payload)).decode())
    with pytest.raises(InvalidSignature):
        verify_envelope(forged, public)
    # and the payload type is inside what is signed
    with pytest.raises(InvalidSignature):
        verify_envelope(dict(envelope, payloadType="application/json"), public)


def test_keyid_is_the_sha256_of_the_public_key(remote, tmp_path):
    from cryptography.hazmat.primitives import serialization

    key = tmp_path / "attest.pem"
    public = write_key(key)
    assert promote(remote, "--environment", "staging", "--image", f"{IMG}:v1.5.0",
                   "--attestation-key", str(key)) == 0
    envelope = json.loads(blob(remote, "main", f"{evidence_dir(remote, 'main')}"
                                               "/statement.dsse.json"))
    der = public.public_bytes(serialization.Encoding.DER,
                              serialization.PublicFormat.SubjectPublicKeyInfo)
    assert envelope["signatures"][0]["keyid"] == hashlib.sha256(der).hexdigest()


def test_without_a_key_there_is_no_envelope(remote, tmp_path):
    assert promote(remote, "--environment", "staging", "--image", f"{IMG}:v1.5.0") == 0
    folder = evidence_dir(remote, "main")
    names = {p.rsplit("/", 1)[1] for p in changed(remote, "main") if p.startswith(folder)}
    assert names == {"summary.md", "statement.json"}


@pytest.mark.parametrize("content, says", [
    (None, "no such file"),
    (b"not a key\n", "not an unencrypted PEM private key"),
    ("rsa", "an Ed25519 or ECDSA P-256 key is needed"),
    ("p384", "an Ed25519 or ECDSA P-256 key is needed"),
])
@pytest.mark.parametrize("command", ["promote", "rollback", "canary"])
def test_a_bad_key_is_exit_2_naming_the_option_and_lands_nothing(remote, tmp_path, capsys,
                                                                  content, says, command):
    key = tmp_path / "bad.pem"
    if isinstance(content, bytes):
        key.write_bytes(content)
    elif content:
        write_key(key, content)
    before = git(remote, "for-each-ref")
    extra = ["--image", f"{IMG}:v1.5.0"] if command != "rollback" else []
    code = main([command, "--repo", str(remote), "--app", "churn", "--path", "apps/churn",
                 "--environment", "staging", *extra, "--attestation-key", str(key)],
                environ=ENV)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and "--attestation-key" in err[0] and says in err[0], err
    assert git(remote, "for-each-ref") == before


def test_rollback_statement_holds_its_reason(remote, tmp_path):
    assert promote(remote, "--environment", "staging", "--image", f"{IMG}:v1.5.0") == 0
    promoted = git(remote, "rev-parse", "main").strip()
    key = tmp_path / "attest.pem"
    public = write_key(key)
    assert main(["rollback", "--repo", str(remote), "--app", "churn", "--path", "apps/churn",
                 "--environment", "staging", "--reason", "p99 latency doubled",
                 "--attestation-key", str(key)], environ=ENV) == 0
    statement = check_commit(remote, "main", {})
    pred = statement["predicate"]
    assert pred["kind"] == "rollback"
    assert pred["rollback"] == {"of": promoted, "reason": "p99 latency doubled"}
    assert pred["change"]["images"][0]["new"] == f"{IMG}:v1.4.0"
    folder = evidence_dir(remote, "main")
    assert folder != evidence_dir(remote, promoted)
    envelope = json.loads(blob(remote, "main", f"{folder}/statement.dsse.json"))
    assert json.loads(verify_envelope(envelope, public)) == statement


def test_each_canary_step_writes_its_own_folder(remote, tmp_path):
    gates = gate_files(tmp_path)
    before = git(remote, "rev-parse", "main").strip()
    assert main(["canary", "--repo", str(remote), "--app", "churn", "--path", "apps/churn",
                 "--environment", "production", "--image", f"{IMG}:v1.5.0", "--steps", "5,100",
                 "--evidence", str(gates["benchmark.json"])], environ=ENV) == 0
    commits = git(remote, "log", "--format=%H", f"{before}..main").split()
    assert len(commits) == 2
    folders = [evidence_dir(remote, c) for c in commits]
    assert len(set(folders)) == 2
    for commit, weight in zip(commits, ("100", "5"), strict=True):
        statement = check_commit(remote, commit,
                                 {"benchmark.json": gates["benchmark.json"].read_bytes()})
        canary = statement["predicate"]["canary"]
        assert canary["weight"] == weight and canary["id"]


def test_a_result_over_the_file_cap_is_kept_as_its_hash_and_the_run(remote, tmp_path, capsys):
    big = tmp_path / "scan.json"
    doc = {"command": "scan-image", "verdict": "passed", "exit_code": 0, "title": "0 critical",
           "result": {"findings": ["x" * 100] * 15000}}
    big.write_text(json.dumps(doc))
    data = big.read_bytes()
    assert len(data) > 1024 * 1024
    out = tmp_path / "r.json"
    assert promote(remote, "--environment", "staging", "--image", f"{IMG}:v1.5.0",
                   "--evidence", str(big), json_path=out) == 0
    folder = evidence_dir(remote, "main")
    ref = json.loads(blob(remote, "main", f"{folder}/scan.ref.json"))
    assert ref["sha256"] == hashlib.sha256(data).hexdigest() and ref["size"] == len(data)
    assert ref["run_url"] == RUN and ref["cap"] == {"kind": "per-file", "bytes": 1024 * 1024}
    assert f"{folder}/scan.json" not in changed(remote, "main")
    said = capsys.readouterr()
    assert "over the per-file cap of 1024 KiB" in said.out + said.err
    notes = json.loads(out.read_text())["result"]["notes"]
    assert any("scan.ref.json" in n for n in notes)


def test_results_over_the_commit_cap_keep_the_first_and_refer_to_the_rest(remote, tmp_path):
    paths = []
    for i in range(5):
        path = tmp_path / f"gate{i}.json"
        path.write_text(json.dumps({"command": f"gate{i}", "verdict": "passed", "exit_code": 0,
                                    "title": "", "result": {"pad": "y" * 900_000}}))
        paths.append(path)
    assert promote(remote, "--environment", "staging", "--image", f"{IMG}:v1.5.0",
                   *(a for p in paths for a in ("--evidence", str(p)))) == 0
    folder = evidence_dir(remote, "main")
    names = {p.rsplit("/", 1)[1] for p in changed(remote, "main") if p.startswith(folder)}
    assert {f"gate{i}.json" for i in range(4)} <= names
    assert "gate4.ref.json" in names and "gate4.json" not in names
    total = sum(len(blob(remote, "main", f"{folder}/{n}")) for n in names)
    assert total <= 4 * 1024 * 1024


def test_pae_matches_the_dsse_definition():
    from mlgate.promote.attest import pae as mlgate_pae

    assert mlgate_pae("http://example.com/HelloWorld", b"hello world") == \
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    assert mlgate_pae("tybé", b"") == pae("tybé", b"") == b"DSSEv1 5 tyb\xc3\xa9 0 "


def test_clashing_and_unsafe_result_names_get_their_own_file():
    from mlgate.promote.evidence_dir import _file_names
    from mlgate.promote.message import Evidence

    def ev(name):
        return Evidence(name, "0" * 64, "benchmark", "passed", 0, "")

    assert _file_names((ev("result.json"), ev("result.json"), ev("statement.json"),
                        ev(".hidden"), ev("a.ref.json"))) == \
        ["result.json", "2-result.json", "gate-3.json", "gate-4.json", "gate-5.json"]
