"""All-or-nothing file replacement: every temp file is written before any is renamed."""

from __future__ import annotations

import os
import tempfile

from mlgate.errors import BadInput


def write_all(files: list[tuple[str, str, int]]) -> None:
    """Write (path, text, mode) triples; on any failure remove the temps and change nothing."""
    temps: list[tuple[str, str]] = []
    try:
        for path, text, mode in files:
            directory, name = os.path.split(path)
            fd, temp = tempfile.mkstemp(prefix=f".{name}.", suffix=".mlgate", dir=directory)
            temps.append((temp, path))
            with os.fdopen(fd, "wb") as fh:
                fh.write(text.encode("utf-8"))
                fh.flush()
                os.fsync(fh.fileno())
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
