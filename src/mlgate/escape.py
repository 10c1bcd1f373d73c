"""Untrusted text made safe where it is shown: in Markdown, in a terminal, on one log line.

One definition per job, on the bottom floor, so every report writer (report/) and every
emitter (ci/) escapes the same way: a file name, an image reference, a finding's title or a
server's message can then never add a link, an image or HTML to a summary, recolour or fake a
job-log line, or split one line in two. GitHub's workflow-command escaping stays in
ci/github.py: only the GitHub emitter writes workflow commands.
"""

from __future__ import annotations

import re

# Backslash-escapable ASCII punctuation that starts inline Markdown constructs (emphasis,
# links, images, code, tables, strikethrough, raw HTML) in GitHub- and GitLab-flavoured
# Markdown; the backslash itself is escaped first. '<' and '&' are written as entities because
# escaping them is not reliable in HTML. Done with str.replace, several times faster than a
# regex or a translation table: reports for thousands of findings escape every cell.
_MD_SPECIAL = "`*_{}[]()#+-.!|~>"
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def escape_markdown(text: object) -> str:
    """Untrusted text (file names, image references, messages) shown literally in Markdown.

    On one line; it cannot close a table cell, start a link, an image, code or emphasis, or
    emit HTML. Everything a report writes into Markdown that it did not write itself goes
    through this.
    """
    s = " ".join(str(text).splitlines()).strip()
    s = s.replace("\\", "\\\\").replace("&", "&amp;").replace("<", "&lt;")
    for c in _MD_SPECIAL:
        if c in s:
            s = s.replace(c, "\\" + c)
    return s


def one_line(text: str) -> str:
    """Text on a single line: log readers and CI command parsers work line by line."""
    return " ".join(_LINE_BREAK.split(text)).strip()


def printable(text: str) -> str:
    """Text safe to put in a terminal or a job log.

    Control characters become visible escapes: an ESC in a file name must not recolour,
    erase or fake log lines (GitLab renders ANSI codes and its section markers).
    """
    return _CONTROL.sub(_escape_control, text)


def _escape_control(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
