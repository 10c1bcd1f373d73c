"""The evidence a promotion commit carries in the config repo itself.

A commit's `Mlgate-Evidence-Sha256` trailers name the gates' results, but the results lived in
CI artifacts, which expire: a year later nobody could show why a model went live. So every
promotion, rollback and canary step also writes, in the same commit,

    .mlgate/evidence/APP/ENV/ID/          (ID: UTC time + random hex, 20261206T201500Z-3fa2c1)
        <gate>.json        each --evidence file, its bytes verbatim, named by its file name
        <gate>.ref.json    instead, for a result over the caps: its sha256, size, the CI run
        summary.md         what changed and the gates' table (the request body's Markdown)
        statement.json     an in-toto Statement v1 about the promotion
        statement.dsse.json  with --attestation-key: the statement in a signed DSSE envelope

`.mlgate/` sits at the repo root, outside every environment folder Argo CD and Flux apply.
The commit names the folder in an `Mlgate-Evidence-Dir` trailer. Caps per file and per commit
keep the config repo small: a result over them is kept as its hash plus where to find it, and
the command says so.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlgate.promote.message import Evidence, Promotion, summary_line
from mlgate.promote.types import FileChange

ROOT = ".mlgate/evidence"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://mlgate.dev/promotion/v1"
MAX_FILE_BYTES = 1024 * 1024
MAX_COMMIT_BYTES = 4 * 1024 * 1024
RESERVED = frozenset({"summary.md", "statement.json", "statement.dsse.json"})
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,120}")
_DIGEST = re.compile(r"sha256:([0-9a-f]{64})")
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class EvidenceFiles:
    """What the commit adds under `folder`, and what the caps left out (said to the user)."""

    folder: str
    files: tuple[FileChange, ...]
    capped: tuple[str, ...] = ()

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(f.path for f in self.files)


def new_id(now: float | None = None) -> str:
    """Sortable by time, unique across concurrent promotions of the same app/environment."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    return f"{stamp}-{secrets.token_hex(3)}"


def folder_for(app: str, environment: str, evidence_id: str) -> str:
    # app and environment passed check_name (letters, digits, . _ -): safe path segments
    return f"{ROOT}/{app}/{environment}/{evidence_id}"


def build(folder: str, promotion: Promotion, manifests: list[FileChange], summary_md: str,
          *, verb: str = "promote", sign: Callable[[bytes], bytes] | None = None,
          max_file: int = MAX_FILE_BYTES, max_commit: int = MAX_COMMIT_BYTES) -> EvidenceFiles:
    """The evidence files for one promotion commit. `manifests` are the rewritten files (their
    new bytes, hashed into the statement); `sign` wraps the statement's bytes in a DSSE
    envelope (attest.envelope with the key bound)."""
    files: list[FileChange] = []
    capped: list[str] = []
    summary = (summary_md.rstrip("\n") + "\n").encode("utf-8")
    statement = statement_bytes(promotion, manifests, verb)
    envelope = sign(statement) if sign is not None else b""
    used = len(summary) + len(statement) + len(envelope)
    names = _file_names(promotion.evidence)
    for e, name in zip(promotion.evidence, names, strict=True):
        if not e.data:  # built without its bytes (not read by mlgate): the statement has its hash
            continue
        size = len(e.data)
        over = ("per-file" if size > max_file else
                "per-commit" if used + size > max_commit else None)
        if over is None:
            files.append(FileChange(f"{folder}/{name}", e.data))
            used += size
            continue
        ref = _reference(e, name, promotion.run_url, over, max_file if over == "per-file"
                         else max_commit)
        files.append(FileChange(f"{folder}/{name.removesuffix('.json')}.ref.json", ref))
        used += len(ref)
        capped.append(f"evidence {e.file} ({size} bytes) is over the {over} cap of "
                      f"{(max_file if over == 'per-file' else max_commit) // 1024} KiB: kept "
                      f"as its sha256 and the CI run URL in {name.removesuffix('.json')}.ref.json")
    files.append(FileChange(f"{folder}/summary.md", summary))
    files.append(FileChange(f"{folder}/statement.json", statement))
    if sign is not None:
        files.append(FileChange(f"{folder}/statement.dsse.json", envelope))
    return EvidenceFiles(folder, tuple(files), tuple(capped))


def _file_names(evidence: tuple[Evidence, ...]) -> list[str]:
    """Each result under its own file name; a name that is unsafe, reserved or already taken
    (two gates' `result.json` from different folders) gets a numbered prefix."""
    out: list[str] = []
    for i, e in enumerate(evidence, 1):
        name = e.file
        if not _SAFE_NAME.fullmatch(name) or name in RESERVED or name.endswith(".ref.json"):
            name = f"gate-{i}.json"
        while name in out or name.removesuffix(".json") + ".ref.json" in out:
            name = f"{i}-{name}"
        out.append(name)
    return out


def _reference(e: Evidence, name: str, run_url: str | None, over: str, cap: int) -> bytes:
    doc = {"name": name, "sha256": e.sha256, "size": len(e.data), "command": e.command,
           "verdict": e.verdict, "exit_code": e.exit_code, "run_url": run_url,
           "cap": {"kind": over, "bytes": cap}}
    return (json.dumps(doc, indent=2) + "\n").encode("utf-8")


def statement_bytes(promotion: Promotion, manifests: list[FileChange], verb: str) -> bytes:
    return (json.dumps(statement(promotion, manifests, verb), indent=2, sort_keys=False)
            + "\n").encode("utf-8")


def statement(p: Promotion, manifests: list[FileChange], verb: str) -> dict[str, Any]:
    """The in-toto Statement v1 (https://github.com/in-toto/attestation, spec/v1): every
    subject has a digest, as the spec requires, so the model goes in the subject only when its
    sha256 is known; its URI and version are always in the predicate."""
    docs = [(e, _parse(e.data)) for e in p.evidence]
    model = _model(p, docs)
    subjects: list[dict[str, Any]] = []
    for repo, new in p.new.items():
        digest = _DIGEST.search(new.rpartition("@")[2]) if "@" in new else None
        if digest:
            subjects.append({"name": repo, "digest": {"sha256": digest.group(1)}})
    if model and model.get("sha256"):
        subjects.append({"name": model.get("uri") or model.get("name") or "model",
                         "digest": {"sha256": model["sha256"]}})
    for name, sha in _data_hashes(docs):
        subjects.append({"name": name, "digest": {"sha256": sha}})
    for f in manifests:
        subjects.append({"name": f.path, "digest": {"sha256": hashlib.sha256(f.content)
                                                    .hexdigest()}})
    predicate: dict[str, Any] = {
        "kind": verb,
        "summary": summary_line(p, verb),
        "app": p.app,
        "environment": p.environment,
        "folder": p.folder,
        "change": {
            "images": [{"repository": repo, "previous": p.previous.get(repo), "new": new}
                       for repo, new in p.new.items()],
            "values": [{"file": s.file, "path": s.path, "previous": s.old, "new": s.new}
                       for s in p.sets],
        },
        "gates": [_gate(e, doc) for e, doc in docs],
        "model": model,
        "source": p.source,  # the model repo at its commit (Mlgate-Source)
        "source_time": p.source_time,  # when that commit was made (Mlgate-Source-Time)
        "run_url": p.run_url,
        "actor": p.actor,
        "registry": p.registry,
    }
    if p.rollback_of or verb == "rollback":
        predicate["rollback"] = {"of": p.rollback_of,
                                 "reason": p.extra.get("Mlgate-Rollback-Reason")}
    canary = {k.removeprefix("Mlgate-Canary").strip("-").lower() or "state": v
              for k, v in p.extra.items() if k.startswith("Mlgate-Canary")}
    if canary:
        predicate["canary"] = canary
    if p.from_environment:
        predicate["from"] = {"environment": p.from_environment, "commit": p.from_commit,
                             "evidence": list(p.from_evidence)}
    return {"_type": STATEMENT_TYPE, "subject": subjects, "predicateType": PREDICATE_TYPE,
            "predicate": predicate}


def _parse(data: bytes) -> dict[str, Any]:
    """The gate's JSON (already parsed once by evidence_from, so it is valid and bounded)."""
    if not data:
        return {}
    from mlgate import safe_load

    doc = safe_load.parse_json(data, "evidence")
    return doc if isinstance(doc, dict) else {}


def _gate(e: Evidence, doc: dict[str, Any]) -> dict[str, Any]:
    result = doc.get("result") if isinstance(doc.get("result"), dict) else {}
    return {"file": e.file, "sha256": e.sha256, "command": e.command, "verdict": e.verdict,
            "exit_code": e.exit_code, "title": e.title, "thresholds": _thresholds(result)}


def _thresholds(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Every requirement a gate checked, as its JSON records it: an object with a `kind` and a
    `required` limit (benchmark's metric and latency checks), and a `fail_on` level (validate,
    scan). Read generically, so a new gate's requirements are kept without code here."""
    out: list[dict[str, Any]] = []
    if isinstance(result.get("fail_on"), str):
        out.append({"kind": "fail_on", "required": result["fail_on"]})

    def walk(node: Any, metric: str | None, depth: int) -> None:
        if depth > 8 or len(out) >= 200:
            return
        if isinstance(node, dict):
            name = node.get("name") if isinstance(node.get("name"), str) else metric
            if "kind" in node and "required" in node:
                item = {"kind": node["kind"], "required": node["required"],
                        "passed": node.get("passed")}
                if name:
                    item["metric"] = name
                for key in ("bound", "observed", "point"):
                    if key in node:
                        item[key] = node[key]
                out.append(item)
                return
            for value in node.values():
                walk(value, name, depth + 1)
        elif isinstance(node, list):
            for value in node:
                walk(value, metric, depth + 1)

    walk(result, None, 0)
    return out


def model_of(p: Promotion) -> dict[str, Any] | None:
    """The model the promotion records (see _model), read from its evidence; promote's --tag
    takes {version} from here."""
    return _model(p, [(e, _parse(e.data)) for e in p.evidence])


def _model(p: Promotion, docs: list[tuple[Evidence, dict[str, Any]]]) -> dict[str, Any] | None:
    """The model artifact: the benchmark's candidate (URI, registered name and version, a
    sha256 when the result holds one), else the registry trailer's model and version."""
    for e, doc in docs:
        result = doc.get("result")
        if e.command == "benchmark" and isinstance(result, dict):
            cand = result.get("candidate")
            if isinstance(cand, dict) and cand.get("uri"):
                out = {k: cand[k] for k in ("uri", "name", "version", "run_id")
                       if isinstance(cand.get(k), str)}
                sha = cand.get("sha256")
                if isinstance(sha, str) and _HEX64.fullmatch(sha):
                    out["sha256"] = sha
                return out
    if p.registry:  # "model@alias previous -> new"
        head, _, new = p.registry.partition(" -> ")
        name = head.split("@", 1)[0]
        return {"uri": f"models:/{name}/{new.strip()}", "name": name, "version": new.strip()}
    return None


def _data_hashes(docs: list[tuple[Evidence, dict[str, Any]]]) -> list[tuple[str, str]]:
    """The validated data's sha256, where the validate gate's JSON holds one (`data_sha256`
    or `sha256`, a hash or {file: hash})."""
    out = []
    for e, doc in docs:
        result = doc.get("result")
        if e.command != "validate" or not isinstance(result, dict):
            continue
        data = result.get("data")
        default = ", ".join(data) if isinstance(data, list) else str(data or "data")
        for key in ("data_sha256", "sha256"):
            value = result.get(key)
            if isinstance(value, str) and _HEX64.fullmatch(value):
                out.append((default, value))
            elif isinstance(value, dict):
                out += [(str(k), v) for k, v in value.items()
                        if isinstance(v, str) and _HEX64.fullmatch(v)]
    return out
