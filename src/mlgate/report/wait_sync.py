"""How a wait-sync result reads: one row per resource, the reason it ended, the outputs."""

from __future__ import annotations

import dataclasses

from mlgate.cluster.result import WaitSyncResult
from mlgate.escape import escape_markdown
from mlgate.report.presentation import Annotation, Presentation, Section, Table

ICON = {"ready": "✅", "failed": "❌", "degraded": "⚠️", "paused": "⏸️"}


def outputs(result: WaitSyncResult) -> dict[str, str]:
    return {
        "synced": "true" if result.synced else "false",
        "healthy": "true" if result.healthy else "false",
        "revision": result.applied or "",
        "seconds": f"{result.seconds:.1f}",
        "message": result.message,
    }


def present(result: WaitSyncResult) -> Presentation:
    rows = tuple((r.resource, r.state, r.revision or "", f"{r.seconds:.1f}", r.message)
                 for r in result.resources)
    lines = [f"- {ICON.get(r.state, '⏳')} **{escape_markdown(r.resource)}**: {r.state}"
             + (f" at `{escape_markdown(r.revision)}`" if r.revision else "")
             + (f" after {r.seconds:.1f} s" if r.state == "ready" else "")
             + (f" — {escape_markdown(r.message)}" if r.message and r.state != "ready" else "")
             for r in result.resources]
    verdict = {"ready": "synced and healthy", "failed": "failed",
               "timeout": "timed out"}[result.outcome]
    md = (f"Waited for `{result.revision[:12]}`: {escape_markdown(result.message)}\n\n"
          + "\n".join(lines))
    data = dataclasses.asdict(result)
    data["passed"] = result.passed
    return Presentation(
        command="wait-sync",
        title=f"mlgate wait-sync {result.revision[:12]}: {verdict}",
        verdict=verdict if result.passed else f"{verdict}: {result.message}",
        exit_code=0 if result.passed else 1,
        outputs=outputs(result),
        sections=(Section("Sync", md),),
        table=Table(("resource", "state", "revision", "seconds", "message"), rows),
        annotations=() if result.passed else (
            Annotation("error", result.message[:500], title="mlgate wait-sync"),),
        result=data,
    )
