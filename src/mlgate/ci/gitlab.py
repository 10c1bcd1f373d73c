"""GitLab CI: a dotenv report for later jobs, a Markdown report, and the terminal view.

GitLab's dotenv parser is strict and unforgiving: it rejects the whole artifact (so downstream
jobs get no variable at all) when the file is 5120 bytes or more, has more variables than the
plan allows, or a line is not NAME=VALUE. So the file is built to stay inside those limits,
leaving out the longest values with a marker variable naming them rather than failing.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from mlgate import __version__
from mlgate.atomic import write_atomic
from mlgate.ci.base import Destination, redact
from mlgate.ci.local import print_presentation
from mlgate.errors import ReportFailed
from mlgate.escape import printable
from mlgate.report.markdown import render_summary
from mlgate.report.presentation import Presentation

# Where the GitLab templates install mlgate from by default: this project's git repository at
# the tag of this version (the release workflow publishes `v<version>` tags). The one place both
# are set: every template job carries them as the variables MLGATE_REPOSITORY_URL and MLGATE_REF
# (tests/unit/repo/test_gitlab_template_install.py checks each template against these), and a
# project CI/CD variable of the same name overrides them, e.g. for a mirror.
SOURCE_REPOSITORY_URL = "https://github.com/owner/mlgate.git"
SOURCE_REF = f"v{__version__}"


def default_install(extras: str = "") -> str:
    """The templates' default `install` input: pip from git at $MLGATE_REPOSITORY_URL, $MLGATE_REF.

    The variables are expanded by GitLab (or the job's shell) from the job's `variables:`.
    """
    spec = f"mlgate[{extras}]" if extras else "mlgate"
    return f'pip install --quiet "{spec} @ git+${{MLGATE_REPOSITORY_URL}}@${{MLGATE_REF}}"'


# GitLab rejects a dotenv artifact whose size is not *below* 5 KiB.
DOTENV_LIMIT = 5 * 1024
# 20 is the lowest limit GitLab has shipped (older self-managed instances and the legacy
# paid plans; GitLab.com Free allows 50): staying under it works everywhere.
DOTENV_MAX_VARIABLES = 20
REPORT_DIR_ENV = "MLGATE_REPORT_DIR"
_NOT_NAME_CHAR = re.compile(r"[^A-Z0-9_]")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def file_stem(command: str) -> str:
    """`mlgate-<command>`: one name per command so several gates can share a directory."""
    return "mlgate-" + re.sub(r"[^A-Za-z0-9_.-]", "_", command)


def variable_name(command: str, output: str) -> str:
    """MLGATE_<COMMAND>_<OUTPUT>, e.g. MLGATE_REWRITE_CHANGED; GitLab allows [A-Z0-9_] only."""
    raw = f"MLGATE_{command}_{output}".upper().replace("-", "_")
    return _NOT_NAME_CHAR.sub("_", raw)


def dotenv_value(value: str) -> tuple[str, bool]:
    """`value` as GitLab will read it back, and whether a line break had to go.

    GitLab reads one line per variable and strips the ends, so line breaks become spaces and
    the ends are stripped here: what the report says is exactly what the next job gets.
    """
    flat = _LINE_BREAK.sub(" ", value)
    changed = flat != value
    return flat.replace("\x00", "").strip(), changed


def render_dotenv(entries: list[tuple[str, str]]) -> str:
    return "".join(f"{name}={value}\n" for name, value in entries)


def fit_dotenv(
    entries: list[tuple[str, str]], marker: str
) -> tuple[list[tuple[str, str]], list[str]]:
    """The entries that fit GitLab's limits, and the names left out.

    Over the size limit, the longest values go first (one long value costs many short ones).
    Over the variable count, empty values go first (an unset variable reads as empty anyway),
    then the last ones: a command lists its outputs most important first. When anything is
    left out, `marker`=<comma list of the left-out names> is added, and it counts against the
    same limits.
    """
    kept = list(entries)
    left_out: list[str] = []

    def trial() -> list[tuple[str, str]]:
        return kept + ([(marker, ",".join(left_out))] if left_out else [])

    def too_big() -> bool:
        return len(render_dotenv(trial()).encode("utf-8")) >= DOTENV_LIMIT

    while kept and (too_big() or len(trial()) > DOTENV_MAX_VARIABLES):
        if too_big():
            drop = max(kept, key=lambda e: len(f"{e[0]}={e[1]}".encode()))
        else:
            empty = [e for e in kept if e[1] == ""]
            drop = empty[-1] if empty else kept[-1]
        kept.remove(drop)
        left_out.append(drop[0])
    if left_out:
        kept.append((marker, ",".join(left_out)))
        while len(render_dotenv(kept).encode("utf-8")) >= DOTENV_LIMIT:
            kept.pop()  # only if the marker alone is too long: drop it rather than the file
    return kept, left_out


class GitLabEmitter:
    """Writes a presentation the way a GitLab CI job reports."""

    def __init__(
        self,
        environ: Mapping[str, str],
        out: TextIO | None = None,
        err: TextIO | None = None,
    ) -> None:
        self._environ = environ
        self._out = out
        self._err = err

    def report_dir(self) -> Path:
        return Path(self._environ.get(REPORT_DIR_ENV) or ".")

    def destinations(self, command: str) -> list[Destination]:
        """The report folder and the two files this emitter writes into it."""
        directory = self.report_dir()
        label = f"${REPORT_DIR_ENV}" if self._environ.get(REPORT_DIR_ENV) else "report folder"
        stem = file_stem(command)
        return [Destination(label, str(directory), "dir"),
                *(Destination(label, str(directory / f"{stem}{ext}")) for ext in (".env", ".md"))]

    def emit(self, p: Presentation) -> None:
        """The terminal view, then the dotenv and Markdown reports; a report that cannot be
        written does not stop the other, then ReportFailed names what failed."""
        shown = redact(p)
        print_presentation(shown, self._out or sys.stdout, self._environ)
        directory = self.report_dir()
        stem = file_stem(shown.command)
        failed: list[str] = []
        warnings: list[str] = []
        dotenv = directory / f"{stem}.env"
        try:
            warnings = self._write_dotenv(dotenv, shown)
        except OSError as exc:
            failed.append(f"dotenv report {dotenv}: cannot write: {exc.strerror or exc}")
        summary = directory / f"{stem}.md"
        try:
            write_atomic(summary, render_summary(shown, None).encode("utf-8"))
        except OSError as exc:
            failed.append(f"Markdown report {summary}: cannot write: {exc.strerror or exc}")
        err = self._err or sys.stderr
        for warning in warnings:
            print(printable(f"mlgate {shown.command}: warning: {warning}"), file=err)
        err.flush()
        if failed:
            raise ReportFailed("; ".join(failed))

    def _write_dotenv(self, path: Path, p: Presentation) -> list[str]:
        warnings: list[str] = []
        entries = []
        for output, value in p.outputs.items():
            name = variable_name(p.command, output)
            flat, changed = dotenv_value(value)
            if changed:
                warnings.append(
                    f"output {output!r} has line breaks, which GitLab dotenv cannot hold; "
                    f"{name} has them replaced by spaces (the JSON report has the exact value)"
                )
            entries.append((name, flat))
        marker = variable_name(p.command, "truncated")
        kept, left_out = fit_dotenv(entries, marker)
        if left_out:
            warnings.append(
                f"left out of {path.name} to stay within GitLab's dotenv limits "
                f"({DOTENV_LIMIT - 1} bytes, {DOTENV_MAX_VARIABLES} variables): "
                f"{', '.join(left_out)}; {marker} lists them, the JSON report has their values"
            )
        write_atomic(path, render_dotenv(kept).encode("utf-8"))
        return warnings
