"""`mlgate history` and `mlgate status` as every emitter renders them: one table each, the
full records in the JSON result."""

from __future__ import annotations

import dataclasses

from mlgate.audit.outcome import Outcome
from mlgate.audit.result import AuditResult, Entry, Gate, HistoryResult, StatusResult
from mlgate.escape import escape_markdown
from mlgate.promote.config import Target
from mlgate.report.presentation import Presentation, Section, Table


def _short(ref: str) -> str:
    """A reference's version for a table cell: its tag, or a short digest."""
    tail = ref.rsplit("/", 1)[-1]
    if "@sha256:" in tail:
        return tail.split("@", 1)[0] + "@" + tail.rsplit(":", 1)[-1][:12]
    return tail


def _gates(gates: tuple[Gate, ...]) -> str:
    return ", ".join(f"{g.gate}: {g.verdict}" for g in gates) or "none recorded"


def _change(e: Entry) -> str:
    parts = [f"{_short(a)} -> {_short(b)}" for a, b in e.images]
    parts += [f"{a.rsplit(':', 1)[-1]} -> {b.rsplit('=', 1)[-1]}" for a, b in e.values]
    return "; ".join(parts)


def _what(e: Entry) -> str:
    if e.kind == "rollback":
        return "rollback" + (f" ({e.reason})" if e.reason else "")
    if e.canary:
        return f"canary {e.canary}" + (f" at {e.canary_weight} %" if e.canary_weight else "")
    return "promotion" + (f", rolled back by {e.rolled_back_by[:12]}" if e.rolled_back_by
                          else "")


def markdown_table(table: Table) -> str:
    """The table as Markdown, the one form every emitter shows (a terminal renders it too),
    so the rows are not printed twice."""
    lines = ["| " + " | ".join(table.headers) + " |", "|" + " --- |" * len(table.headers)]
    lines += ["| " + " | ".join(escape_markdown(c.replace("\n", " ")) for c in row) + " |"
              for row in table.rows]
    return "\n".join(lines)


def _outcome(found: Outcome | None) -> str:
    """A recorded wait-sync or verify outcome for a table cell: the word and when."""
    return f"{found.outcome} {found.when}" if found else ""


def _evidence(e: Entry) -> str:
    """Where the evidence is kept in the config repo (its files), else its folder or nothing."""
    paths = [g.path for g in e.evidence if g.path]
    return ", ".join(paths) or (e.evidence_dir or "")


def _secrets(target: Target) -> tuple[str, ...]:
    return (target.credentials.token,) if target.credentials else ()


def present_history(result: HistoryResult, target: Target) -> Presentation:
    rows = tuple((e.when, e.environment, _what(e), _change(e), e.author, e.source or "",
                  e.run or "", _gates(e.evidence), _outcome(e.wait_sync),
                  _outcome(e.verify), _evidence(e), e.commit[:12])
                 for e in result.entries)
    where = f"{result.app}" + (f" in {result.environment}" if result.environment else "")
    counts = {k: sum(1 for e in result.entries if e.kind == k)
              for k in ("promotion", "rollback", "canary-step", "canary-abort")}
    verdict = (f"{len(rows)} records" if rows else "no records") + (
        f" since {result.since}" if result.since else "")
    newest = result.entries[0].commit if result.entries else ""
    table = Table(("when", "environment", "what", "change", "by", "model commit", "CI run",
                   "gates", "wait-sync", "verify", "evidence", "commit"), rows) if rows else None
    return Presentation(
        command="history",
        title=f"mlgate history: {where} ({result.repo}, {result.base})",
        verdict=verdict,
        exit_code=0,
        outputs={"records": str(len(rows)), "promotions": str(counts["promotion"]),
                 "rollbacks": str(counts["rollback"]),
                 "canary-steps": str(counts["canary-step"] + counts["canary-abort"]),
                 "latest": newest},
        sections=(Section("History", markdown_table(table)),) if table else (),
        secrets=_secrets(target),
        result=dataclasses.asdict(result),
    )


def present_status(result: StatusResult, target: Target) -> Presentation:
    rows = tuple((r.app, r.environment, _short(r.image) if "," not in r.image else r.image,
                  r.model_version, r.since, r.by, _gates(r.gates), _outcome(r.wait_sync),
                  _outcome(r.verify), r.canary or "",
                  ("yes" + (f" ({r.rollback_reason})" if r.rollback_reason else ""))
                  if r.rolled_back else "no", r.commit[:12])
                 for r in result.rows)
    rolled = [f"{r.app}/{r.environment}" for r in result.rows if r.rolled_back]
    canaries = [f"{r.app}/{r.environment}" for r in result.rows if r.canary]
    verdict = (f"{len(rows)} app environments" if rows else "no mlgate records") + (
        f", {len(rolled)} rolled back" if rolled else "") + (
        f", {len(canaries)} open canaries" if canaries else "")
    table = Table(("app", "environment", "image", "model version", "since", "promoted by",
                   "gates", "wait-sync", "verify", "open canary", "rolled back", "commit"),
                  rows) if rows else None
    sections = (Section("Status", markdown_table(table)),) if table else ()
    if any(g.verdict == "unknown" for r in result.rows for g in r.gates):
        sections += (Section("Gate verdicts", "A gate shown as *unknown* was recorded by its "
                            "hash only: its evidence is not kept in the config repo "
                            "(no Mlgate-Evidence-Dir), so its verdict cannot be read from "
                            "git."),)
    return Presentation(
        command="status",
        title=f"mlgate status: {result.repo} ({result.base})"
              + (f", {result.app}" if result.app else ""),
        verdict=verdict,
        exit_code=0,
        outputs={"rows": str(len(rows)), "rolled-back": "\n".join(rolled),
                 "open-canaries": "\n".join(canaries)},
        sections=sections,
        secrets=_secrets(target),
        result=dataclasses.asdict(result),
    )


def present_audit(result: AuditResult, target: Target) -> Presentation:
    problems = [c for c in result.checks if c.status not in ("ok", "not checked")]
    facts: list[tuple[str, str]] = [
        ("commit", result.commit), ("what", result.kind + (f" ({result.reason})"
                                                           if result.reason else "")),
        ("app", result.app), ("environment", result.environment),
        ("committed by", f"{result.author}, {result.when}"),
    ]
    facts += [("image", f"{old or 'none'} -> {new}") for old, new in result.images]
    facts += [("value", f"{old} -> {new}") for old, new in result.values]
    if result.model:
        facts.append(("model", " ".join(f"{k}={v}" for k, v in result.model.items())))
    for key, value in (("model commit", result.source), ("CI run", result.run),
                       ("CI actor", result.actor), ("evidence", result.evidence_dir),
                       ("rollback of", ", ".join(result.rollback_of))):
        if value:
            facts.append((key, value))
    facts += [(f"gate {g.gate}", g.verdict) for g in result.gates]
    facts += [("subject " + name, f"sha256:{sha}") for name, sha in result.data]
    facts.append(("signature", result.signature))
    facts += [(o.kind, f"{o.outcome} at {o.when}" + (f" ({o.detail})" if o.detail else ""))
              for o in result.outcomes]
    if result.kind == "hand edit":
        facts = [f for f in facts if f[1]] + [("changed", ", ".join(result.changed))]
    checks = Table(("check", "result", "detail"),
                   tuple((c.what, c.status, c.detail) for c in result.checks))
    verdict = ("audit passed: every hash checks out" + (
        ", signature verified" if result.signature.startswith("verified") else "")
        if result.passed else f"audit failed: {len(problems)} problems "
        f"({', '.join(c.what for c in problems)})")
    return Presentation(
        command="audit",
        title=f"mlgate audit: {result.commit[:12]} ({result.repo})",
        verdict=verdict,
        exit_code=0 if result.passed else 1,
        outputs={"verdict": "passed" if result.passed else "failed",
                 "problems": str(len(problems)), "app": result.app,
                 "environment": result.environment, "signature": result.signature},
        sections=(Section("Commit", markdown_table(Table(("", ""), tuple(facts)))),
                  Section("Checks", markdown_table(checks))),
        secrets=_secrets(target),
        result=dataclasses.asdict(result),
    )
