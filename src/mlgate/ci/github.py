"""GitHub Actions: step outputs, the step summary, annotations and secret masks.

Everything here is written against the runner's documented parsing so that no value (a file
name, an image tag, a message from a model card) can set an output, register or stop command
processing, or break the summary. The runner reads workflow commands from every line of stdout
and stderr: `::name props::data` at the start of a line and the legacy `##[name]` anywhere.
"""

from __future__ import annotations

import os
import re
import secrets as _secrets
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import TextIO

from mlgate.ci.base import Destination, output_text, redact
from mlgate.errors import ReportFailed
from mlgate.redact import secret_fragments
from mlgate.report.markdown import fit_summary
from mlgate.report.presentation import Annotation, Presentation

SUMMARY_LIMIT = 1024 * 1024
ANNOTATIONS_PER_LEVEL = 10
LEVELS = ("error", "warning", "notice")
DELIMITER_PREFIX = "ghadelimiter_"
# Below this much room the summary would be only a note; better say so in the log.
_MIN_SUMMARY_ROOM = 1024
_OUTPUT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


# --------------------------------------------------------------------------- escaping


def escape_data(text: str) -> str:
    """A workflow command's message, as the runner unescapes it (toolkit's escapeData)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command property value; ':' and ',' would end the property list."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def neutralize(text: str) -> str:
    """A plain log line the runner cannot read as a workflow command.

    One line (a newline would let the rest start with '::'), and no '##[' (the legacy syntax
    is matched anywhere in a line, including `##[stop-commands]`, which would silence every
    later annotation and mask of the step). Callers make sure the line does not start with
    '::' by prefixing it.
    """
    flat = " ".join(_LINE_BREAK.split(text))
    while "##[" in flat:
        flat = flat.replace("##[", "# #[")
    return flat


# --------------------------------------------------------------------------- outputs


def heredoc(name: str, value: str, token: Callable[[int], str] = _secrets.token_hex) -> str:
    """One `name<<DELIM` block for $GITHUB_OUTPUT.

    The delimiter is random per value and redrawn if the value happens to contain it, so a
    value cannot end its own block early and start another output (the runner ends the block
    at the first line that equals the delimiter).
    """
    if not _OUTPUT_NAME.match(name):
        raise ValueError(f"invalid GitHub output name {name!r}")
    while True:
        delimiter = DELIMITER_PREFIX + token(16)
        if delimiter not in value and delimiter not in name:
            return f"{name}<<{delimiter}\n{value}\n{delimiter}\n"


def write_outputs(path: str, outputs: Mapping[str, str]) -> None:
    """Append every output to the $GITHUB_OUTPUT file in one write."""
    text = "".join(heredoc(name, output_text(value)) for name, value in outputs.items())
    if not text:
        return
    # newline="" keeps '\n' as is on Windows too: the value must come back byte for byte.
    with open(path, "a", encoding="utf-8", newline="") as handle:
        handle.write(text)


# --------------------------------------------------------------------------- masks


def mask_commands(secrets: Iterable[str]) -> list[str]:
    """`::add-mask::` lines, one per line of each secret.

    The runner masks per log line, so a multi-line secret (a key file) is registered line by
    line; blank lines are skipped because the runner refuses to mask whitespace.
    """
    lines: list[str] = []
    for fragment in secret_fragments(secrets):
        if "\n" in fragment or "\r" in fragment:
            continue  # its lines are fragments of their own
        lines.append(f"::add-mask::{escape_data(fragment)}")
    return lines


# --------------------------------------------------------------------------- annotations


def annotation_command(a: Annotation, default_title: str) -> str:
    level = a.level if a.level in LEVELS else "warning"
    props = []
    if a.file:
        props.append(f"file={escape_property(a.file)}")
        if a.line and a.line > 0:
            props.append(f"line={int(a.line)}")
    props.append(f"title={escape_property(a.title or default_title)}")
    return f"::{level} {','.join(props)}::{escape_data(a.message)}"


def annotation_commands(annotations: Iterable[Annotation], command: str) -> list[str]:
    """Annotation lines, at most 10 per level, then one notice counting the rest.

    GitHub keeps only the first 10 of each level per step and drops the rest silently; saying
    how many were left out (within the notice budget itself) tells the reader to look at the
    summary, which lists them all.
    """
    by_level: dict[str, list[Annotation]] = {level: [] for level in LEVELS}
    for a in annotations:
        by_level[a.level if a.level in LEVELS else "warning"].append(a)
    caps = {level: ANNOTATIONS_PER_LEVEL for level in LEVELS}
    if any(len(items) > ANNOTATIONS_PER_LEVEL for items in by_level.values()):
        caps["notice"] = ANNOTATIONS_PER_LEVEL - 1
    title = f"mlgate {command}"
    lines: list[str] = []
    omitted: dict[str, int] = {}
    for level in LEVELS:
        items = by_level[level]
        lines.extend(annotation_command(a, title) for a in items[: caps[level]])
        if len(items) > caps[level]:
            omitted[level] = len(items) - caps[level]
    if omitted:
        lines.append(_omitted_notice(omitted, title))
    return lines


def _omitted_notice(omitted: Mapping[str, int], title: str) -> str:
    total = sum(omitted.values())
    counts = ", ".join(f"{n} {level}" for level, n in omitted.items())
    message = (
        f"{total} more annotations were left out ({counts}): GitHub shows at most "
        f"{ANNOTATIONS_PER_LEVEL} per level per step. The step summary and the JSON report "
        "list them all."
    )
    return f"::notice title={escape_property(title)}::{escape_data(message)}"


# --------------------------------------------------------------------------- summary


def write_summary(path: str, p: Presentation) -> str | None:
    """Append the Markdown summary within GitHub's 1 MiB per step; a note if it was cut.

    The budget counts what earlier writers in this step already put in the file, since the
    runner measures the whole file and drops all of it when it is over the limit.
    """
    try:
        used = os.path.getsize(path)
    except OSError:
        used = 0
    room = SUMMARY_LIMIT - used - 1  # the trailing newline
    if room < _MIN_SUMMARY_ROOM:
        return "step summary skipped: the file is already at GitHub's 1 MiB limit"
    markdown, truncated = fit_summary(p, room)
    with open(path, "a", encoding="utf-8", newline="") as handle:
        handle.write(markdown + "\n")
    if truncated:
        return "step summary truncated to fit GitHub's 1 MiB limit; see the JSON report"
    return None


# --------------------------------------------------------------------------- log text


def human_line(p: Presentation) -> str:
    """`mlgate <command>: <title> — <verdict>`, without repeating a title that names us.

    Always starting with "mlgate" also keeps the line from starting with '::'.
    """
    prefix = f"mlgate {p.command}"
    title = p.title if p.title.startswith(prefix) else f"{prefix}: {p.title}"
    return f"{title} — {p.verdict}"


def stop_commands_block(text: str, token: Callable[[int], str] = _secrets.token_hex) -> str:
    """`text` wrapped so the runner reads none of its lines as a workflow command.

    For text that must stay byte-exact in the log (a diff of untrusted YAML): GitHub's
    `::stop-commands::TOKEN` ... `::TOKEN::` pause, with a token the text cannot contain.
    """
    while True:
        stop = token(16)
        if stop not in text:
            break
    body = text if text.endswith("\n") or not text else text + "\n"
    return f"::stop-commands::{stop}\n{body}::{stop}::\n"


# --------------------------------------------------------------------------- emitter


class GitHubEmitter:
    """Writes a presentation the way a GitHub Actions step reports."""

    def __init__(self, environ: Mapping[str, str], out: TextIO | None = None) -> None:
        self._environ = environ
        self._out = out

    def destinations(self, command: str) -> list[Destination]:
        """The runner's files this emitter appends to, for the check before any work."""
        return [Destination(f"${name}", path, "append")
                for name in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY")
                if (path := self._environ.get(name))]

    def emit(self, p: Presentation) -> None:
        """Masks, outputs, summary, log line and annotations; a file that cannot be written
        does not stop the rest (the log still says what happened), then ReportFailed."""
        out = self._out or sys.stdout
        # Masks first: the runner only hides a value in lines printed after its mask.
        for line in mask_commands(p.secrets):
            print(line, file=out)
        out.flush()
        shown = redact(p)
        failed: list[str] = []
        notes = []
        output_file = self._environ.get("GITHUB_OUTPUT")
        if output_file:
            _attempt(failed, "$GITHUB_OUTPUT", output_file,
                     lambda: write_outputs(output_file, shown.outputs))
        summary_file = self._environ.get("GITHUB_STEP_SUMMARY")
        if summary_file:
            note = _attempt(failed, "$GITHUB_STEP_SUMMARY", summary_file,
                            lambda: write_summary(summary_file, shown))
            if note:
                notes.append(note)
        print(neutralize(human_line(shown)), file=out)
        for note in notes:
            print(neutralize(f"mlgate {shown.command}: {note}"), file=out)
        for line in annotation_commands(shown.annotations, shown.command):
            print(line, file=out)
        out.flush()
        if failed:
            raise ReportFailed("; ".join(failed))


def _attempt(failed: list[str], label: str, path: str, write: Callable[[], str | None]
             ) -> str | None:
    """Run one write; an OSError becomes a line in `failed` instead of a traceback."""
    try:
        return write()
    except OSError as exc:
        failed.append(f"{label} {path}: cannot write: {exc.strerror or exc}")
        return None
