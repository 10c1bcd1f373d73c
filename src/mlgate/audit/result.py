"""What `mlgate history`, `status` and `audit` return: typed, JSON-ready, no rendering."""

from __future__ import annotations

from dataclasses import dataclass

from mlgate.audit.outcome import Outcome

UNKNOWN = "unknown"


@dataclass(frozen=True)
class Gate:
    """One gate's evidence a commit recorded (Mlgate-Evidence-Sha256 "sha256 file"). Its
    verdict is read from the config repo only where the commit kept the evidence there
    (Mlgate-Evidence-Dir) and the stored file still has the recorded hash; otherwise
    "unknown" (the file was a CI artifact), "missing" or "altered"."""

    gate: str
    file: str
    sha256: str
    verdict: str = UNKNOWN
    path: str | None = None  # the file in the config repo, when kept there


@dataclass(frozen=True)
class Entry:
    """One promotion, rollback or canary step, as `mlgate history` lists it."""

    commit: str
    kind: str  # promotion | rollback | canary-step | canary-abort
    app: str
    environment: str
    author: str
    when: str  # committer date, ISO 8601 UTC
    timestamp: int
    subject: str
    images: tuple[tuple[str, str], ...]  # (previous, new)
    values: tuple[tuple[str, str], ...]  # (previous, new) "file:path=value"
    source: str | None  # model repo@commit
    run: str | None  # CI run URL
    registry: str | None
    evidence: tuple[Gate, ...]
    evidence_dir: str | None
    reason: str | None = None  # a rollback's reason
    rollback_of: tuple[str, ...] = ()
    rolled_back_by: str | None = None  # the later rollback that undid this one
    canary: str | None = None  # STEP/TOTAL or "aborted"
    canary_id: str | None = None
    canary_weight: str | None = None
    # the newest outcome wait-sync and verify recorded for this commit (refs/notes/mlgate)
    wait_sync: Outcome | None = None
    verify: Outcome | None = None


@dataclass(frozen=True)
class HistoryResult:
    repo: str
    base: str
    app: str
    environment: str | None
    since: str | None
    entries: tuple[Entry, ...]


@dataclass(frozen=True)
class Row:
    """What one app runs in one environment, by the newest mlgate record of it."""

    app: str
    environment: str
    image: str  # the live record's Mlgate-New (several joined by ", "), or "unknown"
    model_version: str  # from Mlgate-Registry, or a Set-New value naming a version
    since: str  # ISO 8601 UTC of the newest record
    by: str  # its author
    commit: str
    gates: tuple[Gate, ...]  # of the promotion whose values run
    promotion: str | None  # that promotion's commit (None: a rollback left none live)
    canary: str | None  # an open canary, described; None when none is open
    rolled_back: bool  # the newest record is a rollback (of the promotion before it)
    rollback_reason: str | None = None
    # the newest outcome wait-sync and verify recorded for `promotion` (refs/notes/mlgate);
    # None when none was recorded
    wait_sync: Outcome | None = None
    verify: Outcome | None = None


@dataclass(frozen=True)
class StatusResult:
    repo: str
    base: str
    app: str | None
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class AuditCheck:
    """One thing `mlgate audit` re-checked: ok, or missing / altered / unsigned / failed (each
    fails the audit), or "not checked" (signed, but no --public-key to check it with)."""

    what: str
    status: str
    detail: str


@dataclass(frozen=True)
class AuditResult:
    """Everything behind one config commit, and whether it all still checks out."""

    repo: str
    commit: str
    kind: str  # promotion | rollback | canary-step | canary-abort | hand edit
    app: str
    environment: str
    author: str
    when: str
    subject: str
    changed: tuple[str, ...]  # the paths the commit changed
    checks: tuple[AuditCheck, ...]
    passed: bool
    images: tuple[tuple[str, str], ...] = ()
    values: tuple[tuple[str, str], ...] = ()
    model: dict[str, str] | None = None  # the statement's model: uri, name, version, sha256
    source: str | None = None  # model repo@commit
    run: str | None = None
    actor: str | None = None  # who ran the CI job (the statement's), beside the commit author
    reason: str | None = None
    rollback_of: tuple[str, ...] = ()
    evidence_dir: str | None = None
    gates: tuple[Gate, ...] = ()
    data: tuple[tuple[str, str], ...] = ()  # other subjects: images, model, data (name, sha256)
    signature: str = "no evidence kept"  # verified (keyid) | unsigned | not checked | invalid
    # what wait-sync and verify recorded about this commit afterwards (refs/notes/mlgate)
    outcomes: tuple[Outcome, ...] = ()
