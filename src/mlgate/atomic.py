"""The one way mlgate replaces a file: a reader sees the old file or the new one, never half.

Reports (--json, Markdown, SARIF, JUnit, ...), GitLab's dotenv and summary, and a downloaded
Trivy binary are all read by another job or process that would otherwise parse a truncated
file after a crash or a full disk. It sits on the bottom floor so the concern packages, the
report writers and the emitters all share it without importing one another.

Rewritten manifests are not written here: manifests/writer.py replaces many files as one
transaction (with backups to restore them all), a different job.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path


def write_atomic(path: str | os.PathLike[str], data: bytes, *, mode: int | None = None) -> None:
    """Replace `path` with `data` so a reader never sees half a file.

    A temporary file in the same directory and os.replace: a crash or a full disk leaves
    the old file (or none), never a truncated report another job would then parse. The file
    gets `mode` when given (an executable), else the usual 0666 less the umask.
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
        os.chmod(tmp, (0o666 & ~_current_umask()) if mode is None else mode)
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
