"""Pieces every command shares: the --json option and turning a result into emitted output."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

import click

F = TypeVar("F", bound=Callable[..., object])


def json_option(func: F) -> F:
    return click.option(
        "--json",
        "json_path",
        type=click.Path(dir_okay=False),
        default=None,
        help="Also write the typed result as JSON to this file.",
    )(func)


def current_environ() -> dict[str, str]:
    """The environment main() was given (tests pass their own), else the process's."""
    ctx = click.get_current_context(silent=True)
    environ = (ctx.find_root().obj or {}).get("environ") if ctx is not None else None
    return dict(os.environ if environ is None else environ)


def finish(presentation, json_path: str | None) -> int:
    """Emit a presentation where the command runs and return its exit code."""
    from mlgate.ci.emit import emit

    emit(presentation, json_path=json_path, environ=current_environ())
    return presentation.exit_code
