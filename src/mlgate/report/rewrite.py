"""How a rewrite result reads in a summary, a terminal and the action/template outputs."""

from __future__ import annotations

import json

from mlgate.manifests.result import RewriteResult
from mlgate.report.presentation import Presentation, Section, Table

MAX_TABLE_ROWS = 200
MAX_TERMINAL_ROWS = 40


def outputs(result: RewriteResult) -> dict[str, str]:
    return {
        "changed": "true" if result.changed else "false",
        "files": json.dumps(list(result.files)),
        "changes": json.dumps(
            [
                {"file": c.file, "line": c.line, "path": c.path, "kind": c.kind,
                 "old": c.old, "new": c.new}
                for c in result.changes
            ]
        ),
    }


def present(result: RewriteResult) -> Presentation:
    rows = tuple(
        (f"{c.file}:{c.line}", c.path, c.old if c.old is not None else "(added)", c.new)
        for c in result.changes[:MAX_TERMINAL_ROWS]
    )
    if len(result.changes) > MAX_TERMINAL_ROWS:
        more = len(result.changes) - MAX_TERMINAL_ROWS
        rows += ((f"… {more} more", "see the JSON report (--json)", "", ""),)
    if result.dry_run and result.changed:
        verdict = "would change (dry run)"
    elif result.changed:
        verdict = "changed"
    else:
        verdict = "unchanged"
    sections = [Section("Changes", _changes_md(result))]
    if result.diff:
        sections.append(Section("Diff", f"```diff\n{result.diff}```", fold=True))
    if result.skipped:
        skipped = "\n".join(f"- `{s.file}`: {s.reason}" for s in result.skipped)
        sections.append(Section(f"Skipped ({len(result.skipped)})", skipped, fold=True))
    if result.missing:
        sections.append(Section("Not found", "\n".join(f"- {m}" for m in result.missing)))
    title = f"mlgate rewrite: {len(result.changes)} value(s) in {len(result.files)} file(s)"
    return Presentation(
        command="rewrite",
        title=title,
        verdict=verdict,
        exit_code=0,
        outputs=outputs(result),
        sections=tuple(sections),
        table=Table(("where", "path", "old", "new"), rows),
        result=result.to_dict(),
        log=result.diff if result.dry_run and result.diff else "",
    )


def _changes_md(result: RewriteResult) -> str:
    if not result.changes:
        already = len(result.unchanged)
        return f"Nothing to change: {already} matching value(s) already at the new value."
    lines = ["| file | line | path | old | new |", "| --- | --- | --- | --- | --- |"]
    for c in result.changes[:MAX_TABLE_ROWS]:
        old = f"`{_cell(c.old)}`" if c.old is not None else "(added)"
        lines.append(f"| `{_cell(c.file)}` | {c.line} | `{_cell(c.path)}` | {old} | `{_cell(c.new)}` |")
    if len(result.changes) > MAX_TABLE_ROWS:
        lines.append(f"\n… and {len(result.changes) - MAX_TABLE_ROWS} more in the JSON report.")
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("`", "'").replace("\n", " ")
