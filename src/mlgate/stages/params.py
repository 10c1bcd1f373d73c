"""Parameter pieces the stages share, and the one conversion of raw inputs into their values.

Inputs reach a stage three ways: CLI options (click converts them), mlgate.yaml sections and
the pipeline (converted here with the same click types, never through argv), and the actions'
MLGATE_IN_* variables (turned into CLI options by the CLI). Converting with the parameters
themselves means one definition of every input's type, bounds and default.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import click

from mlgate.errors import BadInput
from mlgate.interface import input_name

if TYPE_CHECKING:
    from pathlib import Path


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


def json_param() -> click.Option:
    return click.Option(
        ["--json", "json_path"],
        type=OutputFile(),
        default=None,
        help="Also write the typed result as JSON to this file.",
    )


def optional(option: click.Parameter) -> click.Parameter:
    """A command's required option as another command takes it when it may go without (a
    verify that only reports has no config repo; a canary may run without checks); with no
    default of its own it defaults to nothing (empty for a repeatable one)."""
    copied = copy.copy(option)
    copied.required = False
    if option.default is None or option.default is _UNSET:
        copied.default = () if copied.multiple else None
    return copied


def by_input(params: tuple[click.Parameter, ...]) -> dict[str, click.Parameter]:
    """Parameters by their input name: the keys of mlgate.yaml sections and action inputs."""
    return {input_name(p): p for p in params if p.name is not None}


def report_destinations(
    params: tuple[click.Parameter, ...] | list[click.Parameter], values: Mapping[str, Any]
) -> Iterator:
    """Every report path given to the OutputFile / OutputDir parameters."""
    from mlgate.ci.base import Destination

    for param in params:
        if not isinstance(param.type, OutputFile) or param.name is None:
            continue
        value = values.get(param.name)
        found = value if isinstance(value, (list, tuple)) else (value,)
        label = max(param.opts, key=len) if param.opts else param.name
        kind = "dir" if isinstance(param.type, OutputDir) else "file"
        for v in found:
            if v:
                yield Destination(label, os.fspath(v), kind)


# A URI (models:/x, runs:/x, s3://x, https://x) or scp-like git address: not a local path.
_NOT_A_PATH = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*:|[^/\s]+@[^/\s:]+:)")


def resolve_path(value: str, base: Path, *, name_or_path: bool = False) -> str:
    """`value` relative to `base` when it is a relative local path, else unchanged.

    mlgate.yaml's paths are relative to its own folder whatever the working directory;
    URIs and absolute paths pass through. `name_or_path` (a GPG key id or a key file) is
    resolved only when the file exists there.
    """
    if not value or os.path.isabs(value) or _NOT_A_PATH.match(value):
        return value
    joined = base / value
    if name_or_path and not joined.exists():
        return value
    return str(joined)


# click (8.3 on) marks a value nobody gave with a sentinel and turns it into None only at the
# end of its own parse, which values_from does not go through
_UNSET = getattr(click.core, "UNSET", object())


def values_from(
    params: tuple[click.Parameter, ...],
    given: Mapping[str, Any],
    *,
    where: str,
    base: Path | None = None,
    paths: frozenset[str] = frozenset(),
    name_or_path: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """The values a stage's config_from takes (keyed by parameter name), from raw values keyed
    by input name: each converted by its own parameter (type, bounds, default, callback), as
    click does for the CLI. `where` names the source in an error (`mlgate.yaml: validate`).

    With `base`, relative local paths are resolved against it: click.Path parameters and the
    stage's `paths` (plain-text inputs that name files, globs or URIs).
    """
    known = by_input(params)
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise BadInput(f"{where}: unknown input {unknown[0]!r}")
    ctx = click.Context(click.Command("mlgate"))
    out: dict[str, Any] = {}
    for key, param in known.items():
        assert param.name is not None
        raw = _text(param, given.get(key))
        if raw is not None and base is not None:
            raw = _resolved(param, raw, base, paths, name_or_path)
        try:
            value, _ = param.handle_parse_result(
                ctx, {param.name: raw} if raw is not None else {}, []
            )
        except click.UsageError as exc:
            raise BadInput(f"{where}.{key}: {exc.format_message()}") from None
        # what click's own parse ends with: an option nobody gave and without a default is
        # None, not click's internal "unset" marker (a canary's optional --prometheus)
        out[param.name] = None if value is _UNSET else value
    return out


def _text(param: click.Parameter, raw: Any) -> Any:
    """A YAML value as the text a command line would carry (1.5 for an integer input is
    refused, not truncated), lists item by item; a flag takes true/false."""
    if raw is None:
        return None
    if isinstance(param, click.Option) and param.is_flag:
        return raw is True or str(raw).lower() == "true"
    many = getattr(param, "multiple", False) or param.nargs != 1
    if isinstance(raw, (list, tuple)):
        return tuple(str(v) for v in raw)
    return (str(raw),) if many else str(raw)


def _resolved(
    param: click.Parameter,
    raw: Any,
    base: Path,
    paths: frozenset[str],
    name_or_path: frozenset[str],
) -> Any:
    if not (
        isinstance(param.type, click.Path) or param.name in paths or param.name in name_or_path
    ):
        return raw
    soft = param.name in name_or_path

    def one(v: Any) -> Any:
        return resolve_path(v, base, name_or_path=soft) if isinstance(v, str) else v

    return [one(v) for v in raw] if isinstance(raw, (list, tuple)) else one(raw)
