"""What every emitter shares: the Emitter shape, secret redaction and safe file writing.

Redaction lives here, not in each emitter, so that GitHub, GitLab, the terminal and the JSON
report all hide exactly the same things: a secret that one writer forgot would still leak.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, is_dataclass, replace
from pathlib import Path
from typing import Any, Literal, Protocol

from mlgate.errors import BadInput
from mlgate.report.presentation import Annotation, Presentation, Section, Table

REDACTED = "***"

# Credentials written into a URL (https://user:password@host) are secrets even when nobody
# declared them: git remotes and tracking URIs are often built this way.
# re.ASCII: with Unicode \s a U+00A0 in the password, or a letter like "é" glued before the
# scheme (Unicode \b), stopped the match and left the password in clear.
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^/\s:@]*):[^/\s@]+@", re.ASCII)
# Token formats GitHub and GitLab document, caught even if a command forgot to declare them.
_KNOWN_TOKENS = re.compile(
    r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,}"
    r"|gl(?:pat|dt|rt|cbt|ptt|ft|imt|agent|oas|soat|ffct)-[A-Za-z0-9_\-]{20,})",
    re.ASCII,  # an ASCII \b: with Unicode's, "éghp_…" (a letter glued before it) hid a token
)
# Environment variables whose values are secrets by their name (GITHUB_TOKEN, CI_JOB_TOKEN,
# MLFLOW_TRACKING_PASSWORD, AWS_SECRET_ACCESS_KEY, ...). Names that point at a secret instead
# of holding it (..._FILE, ..._ENV, ..._NAME) are left alone so a path or a variable name is
# not hidden everywhere it appears.
_SECRET_ENV_NAME = re.compile(r"TOKEN|PASSWORD|PASSWD|SECRET|CREDENTIAL|PRIVATE_KEY|API_?KEY")
_POINTER_ENV_SUFFIX = re.compile(
    r"_(?:FILE|PATH|DIR|URL|URI|ENV|VAR|NAME|ID|USER|USERNAME|TYPE|KIND|HOST)$"
)
_ENV_NAME_LIKE = re.compile(r"^[A-Z][A-Z0-9_]*$")
_MIN_ENV_SECRET = 8
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


class Emitter(Protocol):
    """Writes one command's presentation for the place it runs (GitHub, GitLab, terminal)."""

    def destinations(self, command: str) -> list[Destination]: ...

    def emit(self, p: Presentation) -> None: ...


# --------------------------------------------------------------------------- redaction


def secret_fragments(secrets: Iterable[str]) -> tuple[str, ...]:
    """Every string to hide, longest first.

    Each line of a multi-line secret is hidden on its own too, because logs and tables break
    text into lines and a key file would otherwise leak line by line. Longest first so that a
    short secret inside a longer one cannot leave the rest of the longer one visible.
    """
    found: set[str] = set()
    for secret in secrets:
        if not isinstance(secret, str) or not secret.strip():
            continue
        found.add(secret)
        found.update(line for line in _LINE_BREAK.split(secret) if line.strip())
    return tuple(sorted(found, key=lambda s: (-len(s), s)))


def clean_text(text: str) -> str:
    """Text that encodes as UTF-8: lone surrogates (from undecodable file names) become '?'."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def redact_text(text: str, fragments: tuple[str, ...]) -> str:
    """`text` with every secret fragment, URL password and known token format as ***."""
    text = clean_text(text)
    for fragment in fragments:
        if fragment in text:
            text = text.replace(fragment, REDACTED)
    text = _URL_PASSWORD.sub(lambda m: f"{m.group(1)}:{REDACTED}@", text)
    return _KNOWN_TOKENS.sub(REDACTED, text)


def redact_value(value: Any, fragments: tuple[str, ...]) -> Any:
    """A JSON-shaped value (dicts, lists, strings, numbers) with every string redacted.

    Non-finite floats become None: JSON has no NaN, and a reader choking on it would lose the
    whole report over one undefined metric.
    """
    if isinstance(value, str):
        return redact_text(value, fragments)
    if isinstance(value, dict):
        return {
            redact_text(str(k), fragments): redact_value(v, fragments) for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redact_value(v, fragments) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


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


def redact(p: Presentation) -> Presentation:
    """The presentation with every secret hidden everywhere it could be shown or written.

    `secrets` is kept as is: the GitHub emitter still needs the raw values for ::add-mask::.
    """
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


def env_secrets(environ: Mapping[str, str]) -> tuple[str, ...]:
    """Values of environment variables that hold a secret by their name (GITHUB_TOKEN, ...).

    They are hidden even when a command did not declare them, because an error message from a
    library (an HTTP client echoing a header, a git remote URL) can carry them anywhere.
    """
    found = []
    for name, value in environ.items():
        upper = name.upper()
        if not _SECRET_ENV_NAME.search(upper) or _POINTER_ENV_SUFFIX.search(upper):
            continue
        value = value.strip()
        if len(value) < _MIN_ENV_SECRET or _ENV_NAME_LIKE.match(value):
            continue
        found.append(value)
    return tuple(sorted(set(found)))


# --------------------------------------------------------------------------- text for logs


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


# --------------------------------------------------------------------------- files


def write_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace `path` with `data` so a reader never sees half a file.

    A temporary file in the same directory and os.replace: a crash or a full disk leaves
    the old file (or none), never a truncated report another job would then parse.
    """
    target = Path(path)
    if target.exists() and not target.is_file():
        # os.replace would put the report in place of a directory, /dev/null or a socket
        raise IsADirectoryError(errno.EISDIR, "not a regular file", str(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_current_umask())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _current_umask() -> int:
    """The process umask (only readable by setting it), so reports get the usual 0644."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


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
