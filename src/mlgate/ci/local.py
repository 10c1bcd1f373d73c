"""A laptop or any other log: the result as a readable terminal rendering (rich).

rich is imported only when something is printed, so importing the CLI stays fast. Colour is
used only on a real terminal: CI logs, pipes and pytest's capture get plain text, with no
ANSI codes to garble them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TextIO

from mlgate.ci.base import Destination, redact
from mlgate.escape import printable
from mlgate.report.presentation import Presentation

_VERDICT_STYLES = {0: "bold green", 1: "bold red"}
_OTHER_STYLE = "bold yellow"
_FOLDED_LINES = 20
# rich lays a table out by rendering every cell to measure it: 150 rows of status take 0.6 s,
# longer than reading 100k commits did. Longer tables are laid out here, in one pass.
_LONG_TABLE = 40
_ANNOTATION_LINES = 50
_VALUE_CHARS = 2000
_LOG_WIDTH = 120


class LocalEmitter:
    """Prints a presentation for a human reading a terminal or a job log."""

    def __init__(self, environ: Mapping[str, str] | None = None, out: TextIO | None = None):
        self._environ = os.environ if environ is None else environ
        self._out = out

    def destinations(self, command: str) -> list[Destination]:
        """Nothing but the log: no file to check before the work."""
        return []

    def emit(self, p: Presentation) -> None:
        print_presentation(redact(p), self._out or sys.stdout, self._environ)


def preload() -> None:
    """Import what printing needs (rich, markdown-it) now rather than when the result is
    known: for a command that idles before its result (verify's initial delay), so that its
    result follows its last measurement at once."""
    import markdown_it  # noqa: F401
    import rich.console
    import rich.table
    import rich.text  # noqa: F401


def print_presentation(p: Presentation, out: TextIO, environ: Mapping[str, str]) -> None:
    """Print an already redacted presentation to `out`."""
    console = _console(out, environ)
    _print_head(console, p)
    shown: set[tuple[str, str]] = set()
    if p.table is not None and p.table.headers:
        console.print(_table(p.table.headers, p.table.rows))
        shown = {(str(row[0]), str(row[1])) for row in p.table.rows if len(row) == 2}
    # outputs the table already lists (promote's) are not printed again as a second table
    if p.outputs and not set(p.outputs.items()) <= shown:
        rows = tuple((k, _shorten(v)) for k, v in p.outputs.items())
        console.print(_table(("Output", "Value"), rows))
    for section in p.sections:
        _print_section(console, section.title, section.markdown, section.fold)
    _print_annotations(console, p)
    out.flush()


def _console(out: TextIO, environ: Mapping[str, str]):
    """A console that decides colour from `out` itself, not from FORCE_COLOR or a guess."""
    from rich.console import Console

    is_tty = bool(getattr(out, "isatty", lambda: False)())
    width = None if is_tty else _log_width(environ)
    return Console(
        file=out,
        force_terminal=is_tty,
        color_system="auto" if is_tty else None,
        no_color=bool(environ.get("NO_COLOR")),
        width=width,
        markup=False,
        emoji=False,
        highlight=False,
        force_jupyter=False,
        force_interactive=False,
    )


def _log_width(environ: Mapping[str, str]) -> int:
    try:
        return max(40, int(environ.get("COLUMNS", "")))
    except ValueError:
        return _LOG_WIDTH


def _print_head(console, p: Presentation) -> None:
    from rich.text import Text

    console.print(Text(printable(p.title or f"mlgate {p.command}"), style="bold"), soft_wrap=True)
    style = _VERDICT_STYLES.get(p.exit_code, _OTHER_STYLE)
    verdict = Text.assemble(
        "Verdict: ", (printable(p.verdict), style), f" (exit code {p.exit_code})"
    )
    console.print(verdict, soft_wrap=True)


def _table(headers, rows):
    from rich.table import Table
    from rich.text import Text

    table = Table(show_lines=False, show_header=any(str(h) for h in headers))
    for header in headers:
        table.add_column(Text(printable(str(header))), overflow="fold")
    for row in rows:
        cells = [Text(printable(str(c)), overflow="fold") for c in row]
        cells += [Text("")] * (len(headers) - len(cells))
        table.add_row(*cells[: len(headers)])
    return table


def _plain_table(headers, rows, width: int) -> str:
    """Columns separated by │, each as wide as its longest cell or, when the row would pass
    `width`, narrowed from the widest down and its cells folded, never cut."""
    import textwrap

    cells = [[printable(str(c)) for c in row] + [""] * (len(headers) - len(row))
             for row in (headers, *rows)]
    cells = [row[: len(headers)] for row in cells]
    widths = [max(len(row[i]) for row in cells) or 1 for i in range(len(headers))]
    room = max(width - 3 * (len(widths) - 1), 6 * len(widths))
    while sum(widths) > room:
        widest = max(range(len(widths)), key=widths.__getitem__)
        if widths[widest] <= 6:
            break
        widths[widest] -= 1
    out = []
    for n, row in enumerate(cells):
        folded = [textwrap.wrap(c, w, break_long_words=True, break_on_hyphens=False) or [""]
                  for c, w in zip(row, widths, strict=True)]
        for i in range(max(map(len, folded))):
            out.append(" │ ".join((f[i] if i < len(f) else "").ljust(w)
                                  for f, w in zip(folded, widths, strict=True)).rstrip())
        if n == 0:
            out.append("─┼─".join("─" * w for w in widths))
    return "\n".join(out)


def _print_section(console, title: str, markdown: str, fold: bool) -> None:
    """A section's Markdown rendered for a terminal or a job log, not shown as Markdown source.

    Escapes (`breast\\_cancer`), emphasis (`**Passed**`), headings and HTML tags (`<details>`)
    are rendered away; a table becomes a terminal table whose cells fold rather than being cut;
    a fenced code block (a diff, a commit message) and every line break are kept exactly, so
    the text stays copyable. Folded sections are the long or secondary ones; only their start
    is shown so a scan with thousands of findings does not flood the terminal.
    """
    from rich.text import Text

    console.rule(Text(printable(title)), align="left")
    lines = markdown.strip("\n").splitlines()
    shown = lines[:_FOLDED_LINES] if fold else lines
    for block in _markdown_blocks("\n".join(shown)):
        if isinstance(block, tuple):  # a table: (headers, rows)
            if len(block[1]) > _LONG_TABLE:
                console.print(Text(_plain_table(*block, console.width)), soft_wrap=True)
            else:
                console.print(_table(*block))
        else:
            for line in block.splitlines() or [""]:
                console.print(Text(printable(line)), soft_wrap=True)
    if len(shown) < len(lines):
        more = len(lines) - len(shown)
        console.print(Text(f"… {more} more lines, see the JSON report", style="dim"))


def _markdown_blocks(markdown: str) -> list:
    """Markdown as terminal blocks: plain text (str) and tables ((headers, rows)).

    Parsed by markdown-it (rich's own Markdown parser, so no extra dependency), CommonMark with
    tables; raw HTML is dropped, since in a log it is only noise.
    """
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    blocks: list = []
    text: list[str] = []
    list_depth = 0
    row: list[str] | None = None
    table: list[list[str]] | None = None

    def flush() -> None:
        if text:
            blocks.append("\n".join(text))
            text.clear()

    for i, tok in enumerate(tokens):
        kind = tok.type
        if kind in ("fence", "code_block"):
            text.append(tok.content.rstrip("\n"))
        elif kind == "table_open":
            flush()
            table = []
        elif kind == "table_close" and table is not None:
            blocks.append((tuple(table[0]) if table else (), tuple(map(tuple, table[1:]))))
            table = None
        elif kind == "tr_open":
            row = []
        elif kind == "tr_close" and row is not None and table is not None:
            table.append(row)
            row = None
        elif kind == "inline":
            plain = _inline_text(tok)
            if row is not None:
                row.append(plain)
            elif tokens[i - 1].type == "heading_open" if i else False:
                text.append(plain)
            elif list_depth and tokens[i - 2].type == "list_item_open" if i > 1 else False:
                marker = tokens[i - 2].info or ""
                bullet = f"{marker}." if marker else "-"
                text.append("  " * (list_depth - 1) + f"{bullet} {plain}")
            elif list_depth:
                text.append("  " * list_depth + plain)
            else:
                text.append(plain)
        elif kind in ("bullet_list_open", "ordered_list_open"):
            list_depth += 1
        elif kind in ("bullet_list_close", "ordered_list_close"):
            list_depth -= 1
        elif kind == "hr":
            text.append("─" * 20)
        elif kind in ("paragraph_close", "heading_close") and not list_depth:
            text.append("")
    flush()
    # No blank line at the end of a text block, nor two in a row.
    cleaned: list = []
    for block in blocks:
        if isinstance(block, str):
            block = "\n".join(_squeeze(block.splitlines())).strip("\n")
            if not block:
                continue
        cleaned.append(block)
    return cleaned


def _squeeze(lines: list[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        if line == "" and out and out[-1] == "":
            continue
        out.append(line)
    return out


def _inline_text(token) -> str:
    """An inline token's text: escapes resolved, emphasis and HTML dropped, line breaks kept,
    a link as `text (url)` unless the text is the URL."""
    parts: list[str] = []
    href: list[str] = []
    for child in token.children or ():
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif child.type == "link_open":
            href.append(str(child.attrs.get("href", "")))
            parts.append("\0")
        elif child.type == "link_close" and href:
            url = href.pop()
            head, _, label = "".join(parts).rpartition("\0")
            parts = [head, label if label == url or not url else f"{label} ({url})"]
        elif child.type == "image":
            parts.append(child.content)
    return "".join(parts).replace("\0", "")


def _print_annotations(console, p: Presentation) -> None:
    from rich.text import Text

    if not p.annotations:
        return
    console.rule(Text(f"Annotations ({len(p.annotations)})"), align="left")
    styles = {"error": "red", "warning": "yellow", "notice": "cyan"}
    for a in p.annotations[:_ANNOTATION_LINES]:
        where = f"{a.file}:{a.line}" if a.file and a.line else (a.file or "")
        text = " ".join(part for part in (where, a.title and f"{a.title}:", a.message) if part)
        console.print(
            Text.assemble((a.level, styles.get(a.level, "")), " ", printable(text)),
            soft_wrap=True,
        )
    rest = len(p.annotations) - _ANNOTATION_LINES
    if rest > 0:
        console.print(Text(f"… {rest} more, see the JSON report", style="dim"))


def _shorten(value: str) -> str:
    return value if len(value) <= _VALUE_CHARS else value[: _VALUE_CHARS - 1] + "…"
