"""`mlgate audit COMMIT`: from one config commit to everything behind it, every hash re-checked.

An auditor asks "why is this model live, and can I trust the answer?". The commit's trailers
say what changed and name the evidence by sha256; `.mlgate/evidence/...` keeps the evidence
and the in-toto statement; a DSSE envelope signs the statement. Each is checked against the
others and against the files themselves, as the commit holds them *and* as the branch holds
them today (an evidence file edited by a later commit is what a reader would find):

- every Mlgate-Evidence-Sha256 names a kept file with that hash (or a `.ref.json` for a
  result over the caps, recording the same hash);
- the statement is an in-toto Statement v1 about this app and environment, its gates are the
  trailers' gates, and each file the commit changed outside `.mlgate/` is a subject with that
  file's sha256 (a manifest changed but not attested, or attested with other bytes, fails);
- the envelope's payload is the statement's bytes and, with `--public-key`, a signature by
  that key verifies (required then: an unsigned statement fails).

Anything missing, altered or unsigned where a key is required makes the audit fail (exit 1).
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from dataclasses import dataclass
from typing import Any

from mlgate.audit.log import ConfigLog, evidence_path
from mlgate.audit.result import UNKNOWN, AuditCheck, AuditResult, Gate
from mlgate.audit.trail import iso, kind_of, verdict_in
from mlgate.errors import BadInput, MlgateError, ServiceError
from mlgate.promote.attest import PublicKey, open_envelope
from mlgate.promote.evidence_dir import PREDICATE_TYPE, ROOT, STATEMENT_TYPE
from mlgate.promote.git import GitError
from mlgate.promote.history import Recorded, record_from
from mlgate.safe_load import parse_json

# larger files are not read (the writer caps a file at 1 MiB; a manifest is far smaller)
MAX_READ = 8 * 1024 * 1024
_FORMAT = "%H %ct%n%an <%ae>%n%B"
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class _Tree:
    """The evidence folder as one commit holds it: name -> (mode, size)."""

    entries: dict[str, tuple[str, int]]


def audit(log: ConfigLog, commit: str, key: PublicKey | None, *, repo: str) -> AuditResult:
    sha = _resolve(log, commit)
    record = _record(log, sha)
    changed = _changed(log, sha)
    on_branch = _on_branch(log, sha)
    branch_check = AuditCheck(
        f"on {log.ref.rsplit('/', 1)[-1]}", "ok" if on_branch else "failed",
        "the commit is on the branch the controller applies" if on_branch else
        "the commit is not on the branch the controller applies: it never went live")
    if record is None:
        who, when = _who(log, sha)
        return AuditResult(
            repo=repo, commit=sha, kind="hand edit", app="", environment="", author=who,
            when=iso(when), subject=_subject(log, sha), changed=changed,
            checks=(branch_check, AuditCheck(
                "mlgate record", "missing",
                "no Mlgate-App trailer: a commit mlgate did not make, with no evidence "
                "behind it" + (f" (it changed {', '.join(changed[:5])})" if changed else ""))),
            passed=False)
    checks = [branch_check]
    folder = record.evidence_dir
    gates: tuple[Gate, ...] = tuple(_listed(line) for line in record.evidence)
    statement: dict[str, Any] = {}
    signature = "no evidence kept"
    if not folder or evidence_path(folder, "x") is None or not (
            posixpath.normpath(folder) + "/").startswith(ROOT + "/"):
        checks.append(AuditCheck(
            "evidence", "missing",
            "no Mlgate-Evidence-Dir under .mlgate/evidence: the evidence was a CI artifact "
            "(or the commit was written by hand), so nothing behind it can be checked"))
    else:
        folder = posixpath.normpath(folder)
        tree = _tree(log, sha, folder)
        files = _read(log, sha, folder, tree)
        gates, gate_checks = _check_gates(record, tree, files)
        checks += gate_checks
        statement, statement_checks = _check_statement(log, sha, record, files, changed, gates)
        checks += statement_checks
        sig_check, signature = _check_signature(files, key)
        checks.append(sig_check)
        checks.append(_check_since(log, sha, folder))
    predicate = statement.get("predicate") if isinstance(statement.get("predicate"), dict) else {}
    return AuditResult(
        repo=repo, commit=sha, kind=kind_of(record), app=record.app,
        environment=record.environment, author=record.author, when=iso(record.when),
        subject=record.subject, changed=changed, images=record.images, values=record.sets,
        model=predicate.get("model") if isinstance(predicate.get("model"), dict) else None,
        source=record.source, run=record.run,
        actor=predicate.get("actor") if isinstance(predicate.get("actor"), str) else None,
        reason=record.reason, rollback_of=record.rollback_of, evidence_dir=folder,
        gates=gates, data=_data_subjects(statement, changed, record), signature=signature,
        checks=tuple(checks), passed=all(c.status in ("ok", "not checked") for c in checks))


def _resolve(log: ConfigLog, commit: str) -> str:
    """A SHA (or prefix) as is; anything else is a tag (promote --tag), which a commits-only
    clone fetches first (it was cloned without tags)."""
    ref = commit
    if not re.fullmatch(r"[0-9a-f]{7,64}", commit):
        ref = f"refs/tags/{commit}"
        if log.partial:
            log.git.run("fetch", "--quiet", "--filter=tree:0", "--no-tags", "origin",
                        f"+{ref}:{ref}", cwd=log.repo, check=False)
    out = log.git.run("rev-parse", "--verify", "--quiet", "--end-of-options",
                      f"{ref}^{{commit}}", cwd=log.repo, check=False)
    found = out.stdout.strip()
    if out.returncode != 0 or not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", found):
        what = "commit" if ref == commit else "tag"
        raise BadInput(f"COMMIT {commit!r}: no such {what} in the config repo")
    return found


def _git(log: ConfigLog, *args: str) -> str:
    try:
        return log.git.run(*args, cwd=log.repo).stdout
    except GitError as exc:
        raise ServiceError(f"git {args[0]}: {exc.stderr.strip()[:300]}") from None


def _record(log: ConfigLog, sha: str) -> Recorded | None:
    out = _git(log, "show", "-s", f"--format={_FORMAT}", sha)
    head, _, rest = out.partition("\n")
    author, _, body = rest.partition("\n")
    return record_from(sha, body, author, int(head.split()[1]))


def _who(log: ConfigLog, sha: str) -> tuple[str, int]:
    head, _, author = _git(log, "show", "-s", "--format=%ct%n%an <%ae>", sha).partition("\n")
    return author.strip(), int(head)


def _subject(log: ConfigLog, sha: str) -> str:
    return _git(log, "show", "-s", "--format=%s", sha).strip()


def _changed(log: ConfigLog, sha: str) -> tuple[str, ...]:
    """The paths the commit changed against its first parent (what a merge brought in), or
    every path of a root commit."""
    parents = _git(log, "rev-list", "--parents", "-n", "1", sha).split()[1:]
    base = [parents[0], sha] if parents else ["--root", sha]
    out = _git(log, "diff-tree", "--no-commit-id", "-r", "-z", "--name-only", "--no-renames",
               *base)
    return tuple(p for p in out.split("\0") if p)


def _on_branch(log: ConfigLog, sha: str) -> bool:
    out = log.git.run("merge-base", "--is-ancestor", sha, log.ref, cwd=log.repo, check=False)
    return out.returncode == 0


def _tree(log: ConfigLog, sha: str, folder: str) -> _Tree:
    out = _git(log, "ls-tree", "-r", "-l", "-z", "--full-tree", sha, "--", folder + "/")
    entries = {}
    for line in out.split("\0"):
        meta, _, path = line.partition("\t")
        parts = meta.split()
        if len(parts) == 4 and path.startswith(folder + "/"):
            size = int(parts[3]) if parts[3].isdigit() else 0
            entries[path[len(folder) + 1:]] = (parts[0], size)
    return _Tree(entries)


def _read(log: ConfigLog, sha: str, folder: str, tree: _Tree) -> dict[str, bytes]:
    """The folder's regular files (a symlink or an oversized file is left out: not evidence)."""
    wanted = [(sha, folder, name) for name, (mode, size) in tree.entries.items()
              if mode in ("100644", "100755") and size <= MAX_READ and "/" not in name]
    blobs = log.blobs(wanted)
    return {name: blob.data for (_, _, name), blob in blobs.items() if blob.data is not None}


def _listed(line: str) -> Gate:
    digest, _, file = line.partition(" ")
    name = file.strip() or digest
    return Gate(name.removesuffix(".json"), name, digest)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check_gates(record: Recorded, tree: _Tree, files: dict[str, bytes]
                 ) -> tuple[tuple[Gate, ...], list[AuditCheck]]:
    """Each trailer's hash against the kept files: the writer may have renamed a file (two
    gates' `result.json`), so a file is found by its hash first, then by its name."""
    by_hash = {_sha(data): name for name, data in files.items()
               if name not in ("summary.md", "statement.json", "statement.dsse.json")}
    refs = {}
    for name, data in files.items():
        if name.endswith(".ref.json"):
            try:
                doc = parse_json(data, name)
            except MlgateError:
                continue
            if isinstance(doc, dict) and isinstance(doc.get("sha256"), str):
                refs[doc["sha256"]] = (name, doc)
    gates, checks = [], []
    for line in record.evidence:
        gate = _listed(line)
        path = f"{record.evidence_dir}/{gate.file}"
        if not _HEX64.fullmatch(gate.sha256):
            gates.append(gate)
            checks.append(AuditCheck(f"evidence {gate.file}", "altered",
                                     f"the trailer's hash {gate.sha256[:20]!r} is not a sha256"))
            continue
        if gate.sha256 in by_hash:
            name = by_hash[gate.sha256]
            verdict = verdict_in(files[name], name)
            gates.append(Gate(gate.gate, gate.file, gate.sha256, verdict,
                              f"{record.evidence_dir}/{name}"))
            checks.append(AuditCheck(f"evidence {gate.file}", "ok",
                                     f"{name} has the recorded sha256 ({verdict})"))
        elif gate.sha256 in refs:
            name, doc = refs[gate.sha256]
            verdict = str(doc.get("verdict") or UNKNOWN)
            gates.append(Gate(gate.gate, gate.file, gate.sha256, verdict,
                              f"{record.evidence_dir}/{name}"))
            checks.append(AuditCheck(
                f"evidence {gate.file}", "ok",
                f"over the size cap: kept as its hash in {name}, the file itself with the CI "
                f"run {doc.get('run_url') or '(no run URL recorded)'}"))
        elif gate.file in tree.entries or gate.file.removesuffix(".json") + ".ref.json" in \
                tree.entries:
            gates.append(Gate(gate.gate, gate.file, gate.sha256, "altered", path))
            checks.append(AuditCheck(f"evidence {gate.file}", "altered",
                                     f"{gate.file}'s sha256 is not the one the commit recorded"))
        else:
            gates.append(Gate(gate.gate, gate.file, gate.sha256, "missing", None))
            checks.append(AuditCheck(f"evidence {gate.file}", "missing",
                                     f"no file in {record.evidence_dir} has the recorded sha256"))
    return tuple(gates), checks


def _check_statement(log: ConfigLog, sha: str, record: Recorded, files: dict[str, bytes],
                     changed: tuple[str, ...], gates: tuple[Gate, ...]
                     ) -> tuple[dict[str, Any], list[AuditCheck]]:
    data = files.get("statement.json")
    if data is None:
        return {}, [AuditCheck("statement", "missing",
                               f"no statement.json in {record.evidence_dir}")]
    try:
        doc = parse_json(data, "statement.json")
    except MlgateError as exc:
        return {}, [AuditCheck("statement", "altered", str(exc))]  # it names the file
    problems = []
    predicate = doc.get("predicate") if isinstance(doc, dict) else None
    if not isinstance(doc, dict) or doc.get("_type") != STATEMENT_TYPE or \
            doc.get("predicateType") != PREDICATE_TYPE or not isinstance(predicate, dict):
        return {}, [AuditCheck("statement", "altered",
                               f"statement.json is not an in-toto Statement v1 with "
                               f"predicateType {PREDICATE_TYPE}")]
    if predicate.get("app") != record.app or predicate.get("environment") != record.environment:
        problems.append(f"it is about {predicate.get('app')!r} in "
                        f"{predicate.get('environment')!r}, the commit about {record.app!r} "
                        f"in {record.environment!r}")
    said = {g.get("sha256") for g in predicate.get("gates") or [] if isinstance(g, dict)}
    if said != {g.sha256 for g in gates}:
        problems.append("its gates' hashes are not the commit's Mlgate-Evidence-Sha256")
    subjects = {}
    for s in doc.get("subject") or []:
        if isinstance(s, dict) and isinstance(s.get("digest"), dict):
            subjects[str(s.get("name"))] = s["digest"].get("sha256")
    manifests = [p for p in changed if not p.startswith(".mlgate/")]
    actual = _blob_hashes(log, sha, manifests)
    for path in manifests:
        if path not in subjects:
            problems.append(f"{path} changed but is not one of its subjects")
        elif actual.get(path) != subjects[path]:
            problems.append(f"{path}'s sha256 is not the one it attests")
    checks = [AuditCheck("statement", "altered" if problems else "ok",
                         "; ".join(problems) if problems else
                         f"in-toto statement about {record.app} in {record.environment}; "
                         f"{len(manifests)} changed manifests match its subjects")]
    return doc, checks


def _blob_hashes(log: ConfigLog, sha: str, paths: list[str]) -> dict[str, str]:
    blobs = log.read([f"{sha}:{p}" for p in paths])
    return {p: _sha(b.data) for p, b in zip(paths, blobs, strict=True) if b.data is not None}


def _check_signature(files: dict[str, bytes], key: PublicKey | None) -> tuple[AuditCheck, str]:
    envelope = files.get("statement.dsse.json")
    if envelope is None:
        if key is not None:
            return AuditCheck("signature", "unsigned",
                              "--public-key requires a signed statement; this one is "
                              "unsigned (promoted without --attestation-key)"), "unsigned"
        return AuditCheck("signature", "not checked", "the statement is unsigned"), "unsigned"
    try:
        payload, problem = open_envelope(envelope, key)
    except ValueError as exc:
        return AuditCheck("signature", "altered", f"statement.dsse.json: {exc}"), "invalid"
    if payload != files.get("statement.json"):
        return AuditCheck("signature", "altered",
                          "the envelope's payload is not statement.json's bytes"), "invalid"
    if key is None:
        return AuditCheck("signature", "not checked",
                          "signed; give --public-key to check the signature"), "not checked"
    if problem:
        return AuditCheck("signature", "failed", problem), "invalid"
    return (AuditCheck("signature", "ok", f"verified with {key.algorithm} key {key.keyid[:16]}"),
            f"verified ({key.keyid[:16]})")


def _check_since(log: ConfigLog, sha: str, folder: str) -> AuditCheck:
    """The evidence as the branch holds it today: a later commit that edited or removed it
    leaves a reader with other files than the promotion kept."""
    out = _git(log, "log", "--format=%H", "--no-renames", f"{sha}..{log.ref}", "--",
               folder + "/")
    later = [c for c in out.split() if c]
    if not later:
        return AuditCheck("evidence since", "ok", "unchanged on the branch since the commit")
    return AuditCheck("evidence since", "altered",
                      f"changed after the commit by {', '.join(c[:12] for c in later[:5])}")


def _data_subjects(statement: dict[str, Any], changed: tuple[str, ...], record: Recorded
                   ) -> tuple[tuple[str, str], ...]:
    """The statement's subjects other than the changed manifests: image digests, the model
    artifact and the validated data, as recorded (mlgate cannot re-hash what it does not hold)."""
    out = []
    for s in statement.get("subject") or []:
        if isinstance(s, dict) and isinstance(s.get("digest"), dict) and \
                str(s.get("name")) not in changed:
            out.append((str(s.get("name")), str(s["digest"].get("sha256"))))
    return tuple(out)
