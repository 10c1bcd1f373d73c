"""How a canary run reads: one row per step (share, commit, wait, verdict), how it ended, and
the outputs a later job uses (the canary's id, where it stands)."""

from __future__ import annotations

import dataclasses

from mlgate.canary.result import CanaryResult
from mlgate.escape import escape_markdown
from mlgate.report.presentation import Annotation, Presentation, Section, Table

ICON = {"completed": "✅", "open": "⏸️", "rolled-back": "↩️"}


def outputs(result: CanaryResult) -> dict[str, str]:
    last = result.last
    return {
        "outcome": result.outcome,
        "canary-id": result.id,
        "step": f"{last.step}/{result.total}" if last else "",
        "weight": str(last.weight) if last else "",
        "commit": (last.commit or "") if last else "",
        "rolled-back": "true" if result.outcome == "rolled-back" else "false",
        "rollback-commit": result.rollback_commit or "",
        "message": result.message,
    }


def _cell(value: str | None) -> str:
    return value or "—"


def present(result: CanaryResult) -> Presentation:
    rows = tuple((f"{s.step}/{s.total}", f"{s.weight} %", (s.commit or "")[:12],
                  _cell(s.wait), _cell(s.verify), f"{s.seconds:.1f}",
                  s.verify_message or s.wait_message)
                 for s in result.steps)
    lines = [f"| {s.step}/{s.total}{' (again)' if s.resumed else ''} | {s.weight} % | "
             f"`{(s.commit or '')[:12]}` | {_cell(s.wait)} | {_cell(s.verify)} | "
             f"{escape_markdown(s.verify_message or s.wait_message)} |"
             for s in result.steps]
    table = ["| step | traffic | commit | wait-sync | verify | details |",
             "| --- | --- | --- | --- | --- | --- |", *lines]
    md = f"{ICON[result.outcome]} {escape_markdown(result.message)}\n\n" + "\n".join(table)
    if result.rollback_commit or result.abort_commit:
        md += ("\n\nTraffic back to 0 % in `" + (result.abort_commit or "—")[:12]
               + "`, rolled back in `" + (result.rollback_commit or "—")[:12] + "`.")
    data = dataclasses.asdict(result)
    data["passed"] = result.passed
    return Presentation(
        command="canary",
        title=f"mlgate canary {result.app} in {result.environment}: {result.outcome}",
        verdict=result.outcome if result.passed else f"{result.outcome}: {result.message}",
        exit_code=result.exit_code,
        outputs=outputs(result),
        sections=(Section("Canary", md),),
        table=Table(("step", "traffic", "commit", "wait-sync", "verify", "seconds", "details"),
                    rows),
        annotations=() if result.passed else (
            Annotation("error", result.message[:500], title="mlgate canary"),),
        result=data,
    )
