"""`--attestation-key`: sign a promotion's in-toto Statement in a DSSE envelope.

The commit signature (`--signing-key`) says who made the commit; the DSSE envelope says who
vouches for the statement inside it, and it travels with the evidence files, so a verifier
holding only the public key and a copy of `.mlgate/evidence/...` can check it without git.

DSSE (https://github.com/secure-systems-lab/dsse, envelope.md and protocol.md): the signature
covers PAE(payloadType, payload) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, LEN the
ASCII decimal byte length, never the JSON around it, so a signature made for one payload type
can not be replayed as another. ECDSA signatures are DER-encoded, as cosign and in-toto write
them; the keyid is the sha256 of the public key's DER SubjectPublicKeyInfo.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from mlgate import safe_load
from mlgate.errors import BadInput

PAYLOAD_TYPE = "application/vnd.in-toto+json"
MAX_KEY_BYTES = 64 * 1024


@dataclass(frozen=True)
class AttestationKey:
    """A loaded private key (Ed25519 or ECDSA P-256) and its DSSE keyid."""

    key: Any  # cryptography's Ed25519PrivateKey | EllipticCurvePrivateKey
    keyid: str
    algorithm: str  # ed25519 | ecdsa-p256-sha256

    def sign(self, data: bytes) -> bytes:
        if self.algorithm == "ed25519":
            return self.key.sign(data)
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        return self.key.sign(data, ec.ECDSA(hashes.SHA256()))


def load_key(path: str) -> AttestationKey:
    """The key from a PEM file, checked before anything is cloned: a bad key is exit 2 naming
    --attestation-key, and nothing lands (an unsigned promotion where one was asked for would
    pass for a signed one's sibling)."""
    what = f"--attestation-key {path}"
    data = safe_load.read_bytes(path, what, limit=MAX_KEY_BYTES)
    key = _load_pem(data, what, private=True)
    return AttestationKey(key, keyid(key.public_key()), _algorithm(key, what))


def _load_pem(data: bytes, what: str, *, private: bool) -> Any:
    try:
        from cryptography.exceptions import UnsupportedAlgorithm
        from cryptography.hazmat.primitives import serialization
    except ImportError:
        raise BadInput(f"{what}: needs the cryptography package "
                       "(pip install 'mlgate[attest]')") from None
    try:
        if private:
            return serialization.load_pem_private_key(data, password=None)
        return serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        kind = "an unencrypted PEM private key" if private else "a PEM public key"
        raise BadInput(f"{what}: not {kind} (Ed25519 or ECDSA P-256)") from None


def _algorithm(key: Any, what: str) -> str:
    """ed25519 or ecdsa-p256-sha256, for a private or a public key; BadInput for others."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    if isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
        return "ed25519"
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)) and \
            key.curve.name == "secp256r1":
        return "ecdsa-p256-sha256"
    raise BadInput(f"{what}: an Ed25519 or ECDSA P-256 key is needed, not "
                   f"{type(key).__name__.removeprefix('_')}")


def keyid(public_key: Any) -> str:
    from cryptography.hazmat.primitives import serialization

    der = public_key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what the signature covers."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def envelope(payload: bytes, key: AttestationKey) -> bytes:
    """The DSSE envelope (JSON) around `payload` (the statement's exact bytes)."""
    sig = key.sign(pae(PAYLOAD_TYPE, payload))
    doc = {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(payload).decode("ascii"),
        "signatures": [{"keyid": key.keyid, "sig": base64.b64encode(sig).decode("ascii")}],
    }
    return (json.dumps(doc, indent=2) + "\n").encode("utf-8")


@dataclass(frozen=True)
class PublicKey:
    """A verifier's key (`mlgate audit --public-key`): Ed25519 or ECDSA P-256, and its keyid."""

    key: Any
    keyid: str
    algorithm: str

    def verifies(self, signature: bytes, data: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature

        try:
            if self.algorithm == "ed25519":
                self.key.verify(signature, data)
            else:
                from cryptography.hazmat.primitives import hashes
                from cryptography.hazmat.primitives.asymmetric import ec

                self.key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return False
        return True


def load_public_key(path: str, what: str = "--public-key") -> PublicKey:
    """A PEM public key (SubjectPublicKeyInfo, as `openssl pkey -pubout` writes it); a
    private key is refused too, so the verifier never needs the signer's secret."""
    label = f"{what} {path}"
    data = safe_load.read_bytes(path, label, limit=MAX_KEY_BYTES)
    if b"PRIVATE KEY" in data:
        raise BadInput(f"{label}: a private key; give the public key (openssl pkey -pubout)")
    key = _load_pem(data, label, private=False)
    return PublicKey(key, keyid(key), _algorithm(key, label))


def open_envelope(data: bytes, key: PublicKey | None) -> tuple[bytes, str | None]:
    """The envelope's payload and, with a key, None when one of its signatures verifies over
    PAE(payloadType, payload), else what is wrong. ValueError when it is not a DSSE envelope
    of an in-toto statement (the caller reports it as altered)."""
    from mlgate.errors import MlgateError

    try:
        doc = safe_load.parse_json(data, "statement.dsse.json")
    except MlgateError as exc:
        raise ValueError(str(exc)) from None
    if not isinstance(doc, dict) or doc.get("payloadType") != PAYLOAD_TYPE:
        raise ValueError(f"not a DSSE envelope with payloadType {PAYLOAD_TYPE}")
    sigs = doc.get("signatures")
    try:
        payload = base64.b64decode(str(doc.get("payload", "")), validate=True)
    except ValueError:
        raise ValueError("its payload is not base64") from None
    if not isinstance(sigs, list) or not sigs:
        raise ValueError("it holds no signatures")
    if key is None:
        return payload, None
    signed = pae(PAYLOAD_TYPE, payload)
    for sig in sigs:
        if not isinstance(sig, dict) or sig.get("keyid") not in (None, "", key.keyid):
            continue
        try:
            raw = base64.b64decode(str(sig.get("sig", "")), validate=True)
        except ValueError:
            continue
        if key.verifies(raw, signed):
            return payload, None
    ids = ", ".join(str(s.get("keyid", ""))[:16] for s in sigs if isinstance(s, dict))
    return payload, (f"no signature verifies with the public key {key.keyid[:16]} "
                     f"(signed by keyid {ids or 'none'})")
