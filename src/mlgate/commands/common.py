"""Pieces every command shares: the --json option, report path types, the check of every
output destination before a command does anything, and turning a result into output."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import TypeVar

import click

F = TypeVar("F", bound=Callable[..., object])


class OutputFile(click.Path):
    """A report file a command writes (--json, --junit, --sarif, ...).

    Its own type so that the check before the command runs finds every report option by
    itself: a new report option declared with it cannot be forgotten. click's own checks are
    left to that check, which says what is wrong in one line instead of a usage block.
    """

    def __init__(self) -> None:
        super().__init__(dir_okay=False)

    def convert(self, value, param, ctx):
        return os.fsdecode(value) if isinstance(value, bytes) else str(value)


class OutputDir(OutputFile):
    """A folder a command writes reports into (--reports-dir, --data-docs)."""

    def __init__(self) -> None:
        click.Path.__init__(self, file_okay=False)


def json_option(func: F) -> F:
    return click.option(
        "--json",
        "json_path",
        type=OutputFile(),
        default=None,
        help="Also write the typed result as JSON to this file.",
    )(func)


def current_environ() -> dict[str, str]:
    """The environment main() was given (tests pass their own), else the process's."""
    ctx = click.get_current_context(silent=True)
    environ = (ctx.find_root().obj or {}).get("environ") if ctx is not None else None
    return dict(os.environ if environ is None else environ)


def report_destinations(command: click.Command, params: dict) -> Iterator:
    """Every report path given to `command`'s OutputFile / OutputDir options."""
    from mlgate.ci.base import Destination

    for param in command.params:
        if not isinstance(param.type, OutputFile) or param.name is None:
            continue
        value = params.get(param.name)
        values = value if isinstance(value, (list, tuple)) else (value,)
        label = max(param.opts, key=len) if param.opts else param.name
        kind = "dir" if isinstance(param.type, OutputDir) else "file"
        for v in values:
            if v:
                yield Destination(label, os.fspath(v), kind)


def preflight(ctx: click.Context) -> None:
    """Check every output destination of the command about to run (exit 2 if one is bad).

    cli.py calls this for every command before its body, so nothing is cloned, rewritten or
    pushed when a report could not be written afterwards.
    """
    from mlgate.ci.emit import check_outputs

    assert ctx.command.name is not None
    check_outputs(ctx.command.name, report_destinations(ctx.command, ctx.params),
                  current_environ())


def finish(presentation, json_path: str | None) -> int:
    """Emit a presentation where the command runs and return its exit code.

    A report that fails here comes after the work: ReportFailed (exit 4) says what was done.
    """
    from mlgate.ci.emit import emit

    emit(presentation, json_path=json_path, environ=current_environ())
    return presentation.exit_code
