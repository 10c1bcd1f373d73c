"""From mlgate records to the audit's answers: the history of one app, the status of all.

Both take the records of one log read (mlgate.audit.log) and reuse promote's own reading of
them (live_promotions, the canary's open_canary), so what rollback and canary act on and what
the audit shows cannot disagree.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from mlgate.audit.log import ConfigLog, evidence_path, sha256
from mlgate.audit.outcome import Outcome, last_of
from mlgate.audit.result import UNKNOWN, Entry, Gate, HistoryResult, Row, StatusResult
from mlgate.canary.steps import describe, open_canary
from mlgate.errors import BadInput, MlgateError
from mlgate.promote.history import Recorded, live_promotions, parse_registry
from mlgate.safe_load import parse_json

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9:.]{2,15}(Z|[+-][0-9]{2}:?[0-9]{2})?)?")


def parse_since(text: str, what: str = "--since") -> int:
    """`--since`: an ISO date or date and time (UTC unless it says otherwise), as seconds."""
    if not _DATE.fullmatch(text.strip()):
        raise BadInput(f"{what} {text[:60]!r}: an ISO date like 2026-05-01 or "
                       "2026-05-01T12:00:00Z")
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(f"{what} {text[:60]!r}: not a valid date") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp())


def iso(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def history(log: ConfigLog, *, repo: str, base: str, app: str, environment: str | None,
            since: str | None) -> HistoryResult:
    """Every record of `app` (in `environment`), newest first, each with the rollback that
    undid it; `since` keeps those committed at or after it."""
    after = parse_since(since) if since else None
    records = [r for r in log.records(app)
               if environment is None or r.environment == environment]
    undone = {sha: r.sha for r in records for sha in r.rollback_of}
    kept = [r for r in records if after is None or r.when >= after]
    gates = _gates(log, kept)
    notes = log.outcomes([r.sha for r in kept])
    entries = tuple(_entry(r, gates[r.sha], undone.get(r.sha), notes.get(r.sha, ()))
                    for r in kept)
    return HistoryResult(repo, base, app, environment, since, entries)


def status(log: ConfigLog, *, repo: str, base: str, app: str | None,
           all_history: bool = False) -> StatusResult:
    """One row per app and environment, from the newest records of each.

    The log is read newest first and, unless `all_history`, left as soon as every pair the
    evidence index names (mlgate.audit.log.ConfigLog.evidence_index) and every pair met on the
    way has what its row needs: a few hundred records instead of the whole history. A pair
    whose every record is older than that point and kept no evidence (promoted before mlgate
    kept evidence in the repo) is listed with all_history only."""
    grouped: dict[tuple[str, str], list[Recorded]] = {}
    index = None if all_history else log.evidence_index(app)
    waiting = set(index) if index is not None else None
    done: set[tuple[str, str]] = set()
    for record in log.iter_records(app):
        key = (record.app, record.environment)
        records = grouped.setdefault(key, [])
        records.append(record)
        if waiting is None or key in done:
            continue
        if settled(records):
            waiting.discard(key)
            done.add(key)
        else:
            waiting.add(key)
        if not waiting:
            break
    picked = {key: _running(records) for key, records in grouped.items()}
    gates = _gates(log, [p for p in picked.values() if p is not None])
    notes = log.outcomes([p.sha for p in picked.values() if p is not None])
    rows = []
    for key in sorted(grouped):
        records = grouped[key]
        newest, promotion = records[0], picked[key]
        canary = open_canary(records)
        rows.append(Row(
            app=key[0], environment=key[1],
            image=", ".join(new for _, new in newest.images) or UNKNOWN,
            model_version=model_version(newest) or (model_version(promotion) if promotion else None)
            or UNKNOWN,
            since=iso(newest.when), by=newest.author, commit=newest.sha,
            gates=gates[promotion.sha] if promotion else (),
            promotion=promotion.sha if promotion else None,
            canary=describe(canary) if canary else None,
            rolled_back=newest.is_rollback, rollback_reason=newest.reason,
            wait_sync=last_of(notes.get(promotion.sha, ()), "wait-sync") if promotion else None,
            verify=last_of(notes.get(promotion.sha, ()), "verify") if promotion else None,
        ))
    return StatusResult(repo, base, app, tuple(rows))


def settled(records: list[Recorded]) -> bool:
    """Whether older records could still change a pair's row (records: its newest ones,
    newest first): not once they hold its live promotion (a rollback of it would be newer, so
    already read) and the end of the newest record's canary (open_canary stops there)."""
    if not live_promotions(records):
        return False
    newest = records[0]
    if not newest.canary_id:
        return True
    return any(r.canary_id != newest.canary_id or r.is_rollback for r in records[1:])


def _running(records: list[Recorded]) -> Recorded | None:
    """The promotion whose values the environment runs: the newest one not rolled back (after
    a rollback, the one it went back to; None when it went back past every promotion)."""
    live = live_promotions(records)
    return live[0] if live else None


def model_version(record: Recorded) -> str | None:
    """The model version a record put live: Mlgate-Registry's new version, else a --set value
    whose path names a version (e.g. ...model-version.yaml:spec.version=7)."""
    parsed = parse_registry(record.registry) if record.registry else None
    if parsed is not None:
        return parsed[3]
    for _, new in record.sets:
        where, _, value = new.rpartition("=")
        if "version" in where.rsplit(":", 1)[-1].lower() and value:
            return value
    return None


def kind_of(record: Recorded) -> str:
    if record.is_rollback:
        return "rollback"
    if record.canary == "aborted":
        return "canary-abort"
    return "canary-step" if record.canary else "promotion"


def _entry(r: Recorded, gates: tuple[Gate, ...], undone_by: str | None,
           notes: tuple[Outcome, ...] = ()) -> Entry:
    return Entry(commit=r.sha, kind=kind_of(r), app=r.app, environment=r.environment,
                 author=r.author, when=iso(r.when), timestamp=r.when, subject=r.subject,
                 images=r.images, values=r.sets, source=r.source, run=r.run,
                 registry=r.registry, evidence=gates, evidence_dir=r.evidence_dir,
                 reason=r.reason, rollback_of=r.rollback_of, rolled_back_by=undone_by,
                 canary=r.canary, canary_id=r.canary_id, canary_weight=r.canary_weight,
                 wait_sync=last_of(notes, "wait-sync"), verify=last_of(notes, "verify"))


def _gates(log: ConfigLog, records: list[Recorded]) -> dict[str, tuple[Gate, ...]]:
    """Each record's gates, their verdicts read (one cat-file for all) where the record
    keeps its evidence in the repo."""
    listed = {r.sha: [_listed(r, line) for line in r.evidence] for r in records}
    wanted = [(r.sha, r.evidence_dir, g.file) for r in records if r.evidence_dir
              for g in listed[r.sha] if g is not None]
    blobs = log.blobs(wanted) if wanted else {}
    out = {}
    for r in records:
        gates = []
        for gate in listed[r.sha]:
            if gate is None:
                continue
            blob = blobs.get((r.sha, r.evidence_dir or "", gate.file))
            if blob is not None:
                gate = Gate(gate.gate, gate.file, gate.sha256, _verdict(gate, blob.data,
                            blob.problem), evidence_path(r.evidence_dir or "", gate.file))
            gates.append(gate)
        out[r.sha] = tuple(gates)
    return out


def _listed(record: Recorded, line: str) -> Gate | None:
    digest, _, file = line.partition(" ")
    if not re.fullmatch(r"[0-9a-f]{64}", digest) or not file:
        return None
    name = file.strip()
    return Gate(name.removesuffix(".json"), name, digest)


def _verdict(gate: Gate, data: bytes | None, problem: str | None) -> str:
    if data is None:
        return problem or "missing"
    if sha256(data) != gate.sha256:
        return "altered (hash differs from the commit's)"
    return verdict_in(data, gate.file)


def verdict_in(data: bytes, name: str) -> str:
    """A kept gate result's `verdict`; unknown when it has none or is not JSON."""
    try:
        doc = parse_json(data, name)
    except MlgateError:
        return UNKNOWN
    verdict = doc.get("verdict") if isinstance(doc, dict) else None
    return str(verdict) if verdict else UNKNOWN
