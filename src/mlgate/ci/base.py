"""What every emitter shares: the Emitter shape, redaction of a whole presentation, and the
check that a destination can be written.

A presentation is redacted here, not in each emitter, so that GitHub, GitLab, the terminal and
the JSON report all hide exactly the same things: a secret that one writer forgot would still
leak. The text-level rules live in mlgate.redact, shared with promote and registry.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, is_dataclass, replace
from pathlib import Path
from typing import Any, Literal, Protocol

from mlgate.errors import BadInput
from mlgate.redact import redact_text, redact_value, secret_fragments
from mlgate.report.presentation import Annotation, Presentation, Section, Table


class Emitter(Protocol):
    """Writes one command's presentation for the place it runs (GitHub, GitLab, terminal)."""

    def destinations(self, command: str) -> list[Destination]: ...

    def emit(self, p: Presentation) -> None: ...


# --------------------------------------------------------------------------- redaction


def jsonable(value: Any) -> Any:
    """`value` as plain JSON types, so writing the report can never fail on a stray type.

    Dataclasses (the cores' results) become dicts, any mapping key becomes a string, sets and
    tuples become lists, and anything else (paths, dates) becomes its str().
    """
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if is_dataclass(value) and not isinstance(value, type):
        return jsonable(asdict(value))
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    return str(value)


def output_text(value: Any) -> str:
    """One output value as the string CI systems carry; tolerant of a non-str slipping in."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, separators=(",", ":"), default=str)
    return str(value)


_LAST: list[tuple[Presentation, Presentation]] = []   # (presentation, redacted), the last one


def redact(p: Presentation) -> Presentation:
    """The presentation with every secret hidden everywhere it could be shown or written.

    `secrets` is kept as is: the GitHub emitter still needs the raw values for ::add-mask::.
    The last answer is kept: emitting one presentation asks for it once per destination (the
    log, --json), and a large result costs tens of milliseconds each time.
    """
    last = _LAST[0] if _LAST else None
    if last is not None and last[0] is p:
        return last[1]
    shown = _redacted(p)
    _LAST[:] = [(p, shown)]
    return shown


def _redacted(p: Presentation) -> Presentation:
    fragments = secret_fragments(p.secrets)

    def r(text: str | None) -> str | None:
        return None if text is None else redact_text(str(text), fragments)

    table = None
    if p.table is not None:
        table = Table(
            headers=tuple(r(h) or "" for h in p.table.headers),
            rows=tuple(tuple(r(str(c)) or "" for c in row) for row in p.table.rows),
        )
    return replace(
        p,
        title=r(p.title) or "",
        verdict=r(p.verdict) or "",
        outputs={str(k): r(output_text(v)) or "" for k, v in p.outputs.items()},
        sections=tuple(
            Section(title=r(s.title) or "", markdown=r(s.markdown) or "", fold=s.fold)
            for s in p.sections
        ),
        table=table,
        annotations=tuple(
            Annotation(
                level=a.level,
                message=r(a.message) or "",
                file=r(a.file),
                line=a.line,
                title=r(a.title),
            )
            for a in p.annotations
        ),
        result=redact_value(jsonable(p.result), fragments),
    )


# --------------------------------------------------------------------------- destinations


@dataclass(frozen=True)
class Destination:
    """A file or directory a command will write its report or CI outputs to.

    `kind`: "file" is replaced atomically (missing parent folders are created), "dir" is
    created if missing and written into, "append" is a file the CI runner made that we append
    to (its folder must exist: the runner creates it, we never do).
    """

    label: str            # what the user set: --json, $GITHUB_OUTPUT, ...
    path: str
    kind: Literal["file", "dir", "append"] = "file"
    shown: str | None = None   # the path as written, when it was relative to another folder


def check_destination(dest: Destination) -> None:
    """Refuse (BadInput) a destination that could not be written, before anything is done.

    Writing is tried, not inferred from permission bits: root passes every access() check,
    yet cannot create a file in /proc, on a read-only mount or under a regular file. A probe
    file is created and removed in the folder that will receive the report (or the nearest
    existing one that would hold the folders to create), so nothing is left behind.
    """
    where = f"{dest.label} {dest.shown if dest.shown is not None else dest.path}"
    try:
        target = Path(dest.path)
        if dest.path.strip() == "" or "\x00" in dest.path:
            raise BadInput(f"{where}: not a valid path")
        if dest.kind == "dir":
            _check_folder(where, target, create=True)
            return
        if target.is_dir():
            raise BadInput(f"{where}: is a directory")
        if dest.kind == "append":
            _check_folder(where, target.parent, create=False)
            if target.exists():
                _try_append(where, target)
            return
        if target.exists() and not target.is_file():
            raise BadInput(f"{where}: not a regular file")
        _check_folder(where, target.parent, create=True)
    except (OSError, ValueError) as exc:
        raise BadInput(f"{where}: cannot write there: {_reason(exc)}") from None


def _check_folder(where: str, folder: Path, *, create: bool) -> None:
    """`folder` (or, with `create`, its nearest existing ancestor) is a folder we can write."""
    existing = folder
    while not existing.exists() and not existing.is_symlink():
        if not create:
            raise BadInput(f"{where}: folder {folder} does not exist")
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise BadInput(f"{where}: {existing} is not a directory")
    try:
        fd, probe = tempfile.mkstemp(dir=existing, prefix=".mlgate-probe-")
    except OSError as exc:
        raise BadInput(f"{where}: cannot write in {existing}: {_reason(exc)}") from None
    os.close(fd)
    os.unlink(probe)


def _try_append(where: str, target: Path) -> None:
    """Open an existing file for appending and close it: writes nothing, changes nothing."""
    try:
        with open(target, "a", encoding="utf-8"):
            pass
    except OSError as exc:
        raise BadInput(f"{where}: cannot write: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    return (exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)) or "error"
