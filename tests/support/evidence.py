"""Checks of a promotion commit's evidence folder (.mlgate/evidence/APP/ENV/ID/), shared by
the git, GitHub and GitLab tests: the files are read back from the commit with plain git, so
what is checked is what landed, whichever way it was sent."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
from pathlib import Path

import jsonschema

# The in-toto Statement v1 layer (in-toto/attestation spec/v1/statement.md and
# resource_descriptor.md): _type fixed, subjects each with a non-empty digest map of
# lower-case hex, predicateType a URI, predicate an object.
STATEMENT_V1 = {
    "type": "object",
    "required": ["_type", "subject", "predicateType", "predicate"],
    "properties": {
        "_type": {"const": "https://in-toto.io/Statement/v1"},
        "subject": {
            "type": "array", "minItems": 1,
            "items": {
                "type": "object", "required": ["digest"],
                "properties": {
                    "name": {"type": "string"},
                    "digest": {"type": "object", "minProperties": 1,
                               "additionalProperties": {"type": "string",
                                                        "pattern": "^[0-9a-f]+$"}},
                },
            },
        },
        "predicateType": {"type": "string", "pattern": "^https://"},
        "predicate": {"type": "object"},
    },
}
EVIDENCE_DIR = re.compile(r"^\.mlgate/evidence/[^/]+/[^/]+/\d{8}T\d{6}Z-[0-9a-f]{6}$")


def blob(bare: Path | str, rev: str, path: str) -> bytes:
    return subprocess.run(["git", "-C", str(bare), "show", f"{rev}:{path}"],
                          capture_output=True, check=True).stdout


def evidence_dir(bare: Path | str, rev: str) -> str:
    out = subprocess.run(["git", "-C", str(bare), "log", "-1",
                          "--format=%(trailers:key=Mlgate-Evidence-Dir,valueonly)", rev],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert EVIDENCE_DIR.match(out), out
    return out


def changed(bare: Path | str, rev: str) -> list[str]:
    return subprocess.run(["git", "-C", str(bare), "diff", "--name-only", f"{rev}~1", rev],
                          capture_output=True, text=True, check=True).stdout.split()


def check_commit(bare: Path | str, rev: str, gates: dict[str, bytes]) -> dict:
    """The commit at `rev` carries its evidence folder (named by its trailer, inside the same
    commit), each gate result byte for byte, a summary and a statement whose manifest subjects
    hash the commit's own manifest bytes. Returns the statement."""
    folder = evidence_dir(bare, rev)
    paths = changed(bare, rev)
    inside = {p.rsplit("/", 1)[1] for p in paths if p.startswith(folder + "/")}
    assert set(gates) <= inside, (gates.keys(), inside)
    for name, data in gates.items():
        assert blob(bare, rev, f"{folder}/{name}") == data
    assert {"summary.md", "statement.json"} <= inside
    statement = json.loads(blob(bare, rev, f"{folder}/statement.json"))
    jsonschema.validate(statement, STATEMENT_V1)
    manifests = [p for p in paths if not p.startswith(".mlgate/")]
    by_name = {s["name"]: s["digest"]["sha256"] for s in statement["subject"]}
    for path in manifests:
        assert by_name[path] == hashlib.sha256(blob(bare, rev, path)).hexdigest(), path
    summary = blob(bare, rev, f"{folder}/summary.md").decode()
    assert "### Evidence" in summary and "### Changes" in summary
    return statement


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's PAE written out again here, independent of mlgate's."""
    t = payload_type.encode()
    return b"DSSEv1 " + str(len(t)).encode() + b" " + t + b" " + \
        str(len(payload)).encode() + b" " + payload


def verify_envelope(envelope: dict, public_key) -> bytes:
    """The payload when the envelope's signature verifies with public_key; raises
    cryptography's InvalidSignature otherwise."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    payload = base64.b64decode(envelope["payload"])
    [sig] = envelope["signatures"]
    signed = pae(envelope["payloadType"], payload)
    raw = base64.b64decode(sig["sig"])
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        public_key.verify(raw, signed, ec.ECDSA(hashes.SHA256()))
    else:
        public_key.verify(raw, signed)
    return payload


def write_key(path: Path, kind: str = "ed25519"):
    """A fresh private key in PEM at path; returns its public key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    if kind == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate()
    elif kind == "p256":
        key = ec.generate_private_key(ec.SECP256R1())
    elif kind == "p384":
        key = ec.generate_private_key(ec.SECP384R1())
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return key.public_key()
