"""All-or-nothing file replacement: every temp file is written before any is renamed.

A rename replaces a file whole, so a killed job leaves old or new content, never a mix. There
is no fsync per file: the files live in a CI checkout that is committed (or discarded) right
after, and hundreds of fsyncs would cost more than the rewrite itself.
"""

from __future__ import annotations

import os
import tempfile

from mlgate.errors import BadInput


def write_all(files: list[tuple[str, str]]) -> None:
    """Write (path, text) pairs keeping each file's mode; on failure remove temps, change nothing."""
    temps: list[tuple[str, str]] = []
    try:
        for path, text in files:
            mode = os.stat(path).st_mode
            directory, name = os.path.split(path)
            fd, temp = tempfile.mkstemp(prefix=f".{name}.", suffix=".mlgate", dir=directory)
            temps.append((temp, path))
            with os.fdopen(fd, "wb") as fh:
                fh.write(text.encode("utf-8"))
            os.chmod(temp, mode & 0o7777)
    except OSError as exc:
        for temp, _ in temps:
            _remove(temp)
        raise BadInput(f"cannot write {exc.filename or 'a file'}: {exc.strerror}") from None
    for temp, path in temps:
        os.replace(temp, path)


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass
