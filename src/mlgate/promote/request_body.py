"""The pull/merge request body: what changes, on what evidence, in Markdown."""

from __future__ import annotations

from mlgate.manifests.result import RewriteResult
from mlgate.promote.message import Promotion, evidence_markdown

MAX_ROWS = 100


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("`", "'").replace("\n", " ")


def request_body(p: Promotion, result: RewriteResult, title: str) -> str:
    lines = [f"## {_cell(title)}", ""]
    if p.new:
        lines += ["| image | from | to |", "| --- | --- | --- |"]
        lines += [f"| `{_cell(repo)}` | `{_cell(p.previous.get(repo) or 'none')}` | `{_cell(new)}` |"
                  for repo, new in p.new.items()]
        lines.append("")
    if p.from_environment:
        lines += [f"Promoted exactly what `{_cell(p.from_environment)}` runs.", ""]
    lines += ["### Changes", "", "| file | line | path | old | new |", "| --- | --- | --- | --- | --- |"]
    for c in result.changes[:MAX_ROWS]:
        lines.append(f"| `{_cell(c.file)}` | {c.line} | `{_cell(c.path)}` | `{_cell(c.old)}` | "
                     f"`{_cell(c.new)}` |")
    if len(result.changes) > MAX_ROWS:
        lines.append(f"\n… and {len(result.changes) - MAX_ROWS} more.")
    lines += ["", "### Evidence", "", evidence_markdown(p.evidence)]
    if p.source or p.run_url:
        lines += ["", f"Source: {_cell(p.source) or 'n/a'} · Run: {_cell(p.run_url) or 'n/a'}"]
    return "\n".join(lines)
