"""The Markdown summary of one command: GitHub's step summary and GitLab's report artifact.

One renderer for both so that a reviewer sees the same report whichever CI ran the gate.
It can shrink itself to a byte budget (GitHub refuses a step summary over 1 MiB) by cutting
the longest sections first, always at a UTF-8 character boundary, and saying so.
"""

from __future__ import annotations

import html
import re

from mlgate.escape import escape_markdown
from mlgate.report.presentation import Annotation, Presentation, Section

TRUNCATION_NOTE = "… truncated, see the JSON report"
_NOTE_BLOCK = f"\n\n*{TRUNCATION_NOTE}*\n"
_ICONS = {0: "✅", 1: "❌"}
_OTHER_ICON = "⚠️"
_TITLE_CHARS = 500
_CELL_CHARS = 300
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def render_summary(p: Presentation, limit_bytes: int | None = None) -> str:
    """The summary as Markdown, at most `limit_bytes` bytes of UTF-8 when a limit is given."""
    return fit_summary(p, limit_bytes)[0]


def fit_summary(p: Presentation, limit_bytes: int | None) -> tuple[str, bool]:
    """The summary and whether it had to be cut to fit `limit_bytes`."""
    header = _header(p)
    sections = _all_sections(p)
    full = _join(header, sections)
    if limit_bytes is None or _size(full) <= limit_bytes:
        return full, False
    cap = _largest_cap(header, sections, limit_bytes)
    if cap is None:
        return _hard_cut(full, limit_bytes), True
    return _join(header, _capped(sections, cap)), True


# --------------------------------------------------------------------------- pieces


def _header(p: Presentation) -> str:
    icon = _ICONS.get(p.exit_code, _OTHER_ICON)
    title = escape_markdown(_shorten(p.title, _TITLE_CHARS)) or escape_markdown(f"mlgate {p.command}")
    verdict = escape_markdown(_shorten(p.verdict, _TITLE_CHARS))
    return f"## {title}\n\n{icon} **{verdict}** (exit code {p.exit_code})\n"


def _all_sections(p: Presentation) -> list[Section]:
    """The command's sections, then the outputs and the annotations as folded extras.

    Annotations are listed because GitHub shows at most 10 per level inline and GitLab has
    none: this is the one place a reader can see them all.
    """
    sections = list(p.sections)
    if p.outputs:
        sections.append(Section("Outputs", _outputs_table(p.outputs), fold=True))
    if p.annotations:
        title = f"Annotations ({len(p.annotations)})"
        sections.append(Section(title, _annotations_table(p.annotations), fold=True))
    return sections


def _outputs_table(outputs: dict[str, str]) -> str:
    rows = [f"| {escape_markdown(k)} | {_cell(v)} |" for k, v in outputs.items()]
    return "\n".join(["| Output | Value |", "| --- | --- |", *rows])


def _annotations_table(annotations: tuple[Annotation, ...]) -> str:
    rows = []
    for a in annotations:
        where = a.file or ""
        if a.file and a.line:
            where = f"{a.file}:{a.line}"
        message = f"{a.title}: {a.message}" if a.title else a.message
        rows.append(f"| {escape_markdown(a.level)} | {_cell(where)} | {_cell(message)} |")
    return "\n".join(["| Level | Where | Message |", "| --- | --- | --- |", *rows])


def _cell(value: str) -> str:
    return escape_markdown(_shorten(str(value), _CELL_CHARS))


def _shorten(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: chars - 1] + "…"


def _section_md(section: Section) -> str:
    body = section.markdown.strip("\n")
    if section.fold:
        summary = html.escape(" ".join(section.title.splitlines()), quote=False)
        return f"\n<details><summary>{summary}</summary>\n\n{body}\n\n</details>\n"
    return f"\n### {escape_markdown(section.title)}\n\n{body}\n"


def _join(header: str, sections: list[Section]) -> str:
    return header + "".join(_section_md(s) for s in sections)


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


# --------------------------------------------------------------------------- fitting


def _largest_cap(header: str, sections: list[Section], limit: int) -> int | None:
    """The largest per-section byte cap whose summary fits, or None if even 0 does not.

    A single cap for every section cuts the longest ones first and leaves short ones whole.
    The size is not strictly monotone in the cap (a cut section gains a note and a fold), so
    only caps that were actually rendered and measured are ever returned.
    """

    def fits(cap: int) -> bool:
        return _size(_join(header, _capped(sections, cap))) <= limit

    if not fits(0):
        return None
    lo, hi = 0, max((_size(s.markdown) for s in sections), default=0)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def _capped(sections: list[Section], cap: int) -> list[Section]:
    """Sections whose body is over `cap` bytes cut down, folded and marked as truncated."""
    out = []
    for s in sections:
        if _size(s.markdown) <= cap:
            out.append(s)
        else:
            out.append(Section(s.title, _cut_markdown(s.markdown, cap) + _NOTE_BLOCK, fold=True))
    return out


def _cut_markdown(text: str, cap: int) -> str:
    """At most `cap` bytes of `text`, ending at a line end when one is near.

    Cutting at a line end keeps table rows and list items whole; an open code fence is
    closed so the rest of the summary is not swallowed into it.
    """
    cut = _cut_utf8(text, cap)
    newline = cut.rfind("\n")
    if newline > len(cut) // 2:
        cut = cut[:newline]
    fence = _open_fence(cut)
    return f"{cut}\n{fence}" if fence else cut


def _cut_utf8(text: str, max_bytes: int) -> str:
    """The longest prefix of `text` that is at most `max_bytes` bytes of valid UTF-8."""
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    # Dropping the bytes of a character split by the cut; the input is valid UTF-8, so the
    # only undecodable bytes are that character's leading ones at the very end.
    return data[: max(max_bytes, 0)].decode("utf-8", "ignore")


def _open_fence(text: str) -> str | None:
    """The fence marker of a code block left open at the end of `text`, if any."""
    opened: str | None = None
    for line in text.split("\n"):
        match = _FENCE.match(line)
        if not match:
            continue
        marker = match.group(1)
        rest = line.strip()[len(marker) :].strip()
        if opened is None:
            opened = marker
        elif marker[0] == opened[0] and len(marker) >= len(opened) and not rest:
            opened = None
    return opened


def _hard_cut(text: str, limit: int) -> str:
    """Last resort when even empty sections do not fit: a byte cut with the note if room."""
    note = _NOTE_BLOCK
    room = limit - _size(note)
    if room < 0:
        return _cut_utf8(text, limit)
    return _cut_utf8(text, room) + note
