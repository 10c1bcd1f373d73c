"""How a promotion or rollback reads in summaries, terminals and outputs."""

from __future__ import annotations

import dataclasses

from mlgate.promote.config import Target
from mlgate.promote.message import evidence_markdown
from mlgate.report.presentation import Presentation, Section, Table


def outputs(result, command: str = "promote") -> dict[str, str]:
    out = {
        "changed": "true" if result.changed else "false",
        "commit": result.commit or "",
        "pr-url": result.pr_url or "",
        "previous": result.previous or "",
        "new": result.new or "",
        "attempts": str(result.attempts),
    }
    if command == "promote":  # --tag is promote's alone
        tag = getattr(result, "tag", None)
        out["tag"] = tag.name if tag else ""
        out["release-url"] = (tag.release_url or "") if tag else ""
    return out


def _tag_section(tag) -> Section:
    """What the tag names, in the step summary and the terminal."""
    signed = "signed" if tag.signed else "unsigned"
    text = (f"Annotated tag `{tag.name}` ({signed}) on commit `{tag.commit[:12]}`"
            + (f"; release: {tag.release_url}" if tag.release_url else "") + ".")
    return Section("Tag", text)


def present(result, target: Target, command: str = "promote") -> Presentation:
    verb = "rolled back" if command == "rollback" else "promoted"
    if not result.changed:
        verdict = "unchanged"
    elif result.pr_url:
        verdict = "request opened"
    else:
        verdict = verb
    title = (f"mlgate {command}: {result.app} in {result.environment}: "
             f"{result.previous or 'none'} -> {result.new or 'none'}")
    # one table: every output under its output name, then where it landed (a terminal shows
    # this table and not the outputs again; a step summary shows it once)
    rows = [*outputs(result, command).items(), ("provider", f"{result.provider} ({result.mode})"),
            ("base", result.base)]
    sections = []
    if result.changes:
        lines = ["| file | line | path | old | new |", "| --- | --- | --- | --- | --- |"]
        lines += [f"| `{c.file}` | {c.line} | `{c.path}` | `{c.old}` | `{c.new}` |"
                  for c in result.changes[:100]]
        sections.append(Section("Changes", "\n".join(lines)))
    if result.promotion is not None and result.promotion.evidence:
        sections.append(Section("Evidence", evidence_markdown(result.promotion.evidence)))
    if getattr(result, "tag", None) is not None:
        sections.append(_tag_section(result.tag))
    if result.message:
        sections.append(Section("Commit message", f"```\n{result.message}```", fold=True))
    for note in result.notes:
        sections.append(Section("Note", note))
    data = dataclasses.asdict(result)
    secrets = (target.credentials.token,) if target.credentials else ()
    return Presentation(
        command=command,
        title=title,
        verdict=verdict,
        exit_code=0,
        outputs=outputs(result, command),
        sections=tuple(sections),
        table=Table(("", ""), tuple(rows)),
        secrets=secrets,
        result=data,
    )


def sync_outputs(result) -> dict[str, str]:
    moved = [a for a in result.aliases if a.changed]
    return {
        "changed": "true" if moved else "false",
        "moved": "\n".join(f"{a.model}@{a.alias}={a.after}" for a in moved),
        "aliases": str(len(result.aliases)),
    }


def present_sync(result, target: Target) -> Presentation:
    """One table: each alias, the environment whose record names it, before and after."""
    moved = sum(1 for a in result.aliases if a.changed)
    verdict = f"{moved} moved" if moved else ("in sync" if result.aliases else "no alias recorded")
    rows = tuple(
        (f"{a.model}@{a.alias}", f"{a.app}/{a.environment}", a.before or "none",
         a.after or "none", "moved" if a.changed else (a.note or "unchanged"), a.commit[:12])
        for a in result.aliases)
    secrets = (target.credentials.token,) if target.credentials else ()
    return Presentation(
        command="sync-aliases",
        title=f"mlgate sync-aliases: {result.repo} ({result.base})",
        verdict=verdict,
        exit_code=0,
        outputs=sync_outputs(result),
        table=Table(("alias", "environment", "before", "after", "status", "config commit"),
                    rows) if rows else None,
        secrets=secrets,
        result=dataclasses.asdict(result) | {"changed": result.changed},
    )
