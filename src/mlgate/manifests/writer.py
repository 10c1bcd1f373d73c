"""All-or-nothing file replacement: every file is replaced, or none is.

Each new text goes to a temp file beside its target first, and each target gets a backup (a
hard link to the original, or a copy where a link is refused) before any rename. Then the temps
are renamed over the targets; if one rename fails (an immutable or read-only file, a full or
failing disk), the targets already replaced get their backups renamed back. Whatever happens,
every temp and backup is removed, except a backup that could not be put back: that one is kept
and named in the error, since it is the only copy of the original.

A rename replaces a file whole, so a killed job leaves old or new content, never a mix. There
is no fsync per file: the files live in a CI checkout that is committed (or discarded) right
after, and hundreds of fsyncs would cost more than the rewrite itself.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass

from mlgate.errors import BadInput, ServiceError

SUFFIX = ".mlgate"
_BACKUP_SUFFIX = ".orig" + SUFFIX


@dataclass
class _Pending:
    """One target with its temp (the new text) and, once made, its backup (the old file)."""

    path: str
    temp: str
    backup: str | None = None
    keep_backup: bool = False  # the only copy of an original that could not be put back


def write_all(files: list[tuple[str, str]]) -> None:
    """Write (path, text) pairs keeping each file's mode: all replaced, or none (exit 2/3)."""
    pending = _write_temps(files)
    try:
        _make_backups(pending)
        _replace_all(pending)
    finally:
        for item in pending:
            _remove(item.temp)
            if item.backup is not None and not item.keep_backup:
                _remove(item.backup)  # a backup renamed back is gone already: nothing happens


def _write_temps(files: list[tuple[str, str]]) -> list[_Pending]:
    """Every new text in a temp file beside its target, with the target's mode."""
    pending: list[_Pending] = []
    try:
        for path, text in files:
            try:
                mode = os.stat(path).st_mode
                directory, name = os.path.split(path)
                # beside the target, so the rename that replaces it stays on one filesystem
                fd, temp = tempfile.mkstemp(prefix=f".{name}.", suffix=SUFFIX,
                                            dir=directory or ".")
                pending.append(_Pending(path, temp))
                with os.fdopen(fd, "wb") as fh:
                    fh.write(text.encode())
                os.chmod(temp, mode & 0o7777)
            except OSError as exc:
                raise BadInput(f"cannot write {path}: {exc.strerror}; no file was changed"
                               ) from None
    except BaseException:
        for item in pending:
            _remove(item.temp)
        raise
    return pending


def _make_backups(pending: list[_Pending]) -> None:
    """A second name for each original, so a replaced file can be put back by a rename."""
    for item in pending:
        try:
            item.backup = _backup(item.path)
        except OSError as exc:
            raise BadInput(f"cannot back up {item.path} before replacing it: {exc.strerror}; "
                           "no file was changed") from None


def _backup(path: str) -> str:
    """A hard link (same inode, owner and mode; no copying), else a copy with the metadata."""
    directory, name = os.path.split(path)
    for _ in range(100):
        backup = os.path.join(directory, f".{name}.{secrets.token_hex(6)}{_BACKUP_SUFFIX}")
        try:
            os.link(path, backup, follow_symlinks=False)
            return backup
        except FileExistsError:
            continue
        except OSError:
            break  # an immutable file cannot be linked; a filesystem may not link at all
    fd, backup = tempfile.mkstemp(prefix=f".{name}.", suffix=_BACKUP_SUFFIX, dir=directory or ".")
    os.close(fd)
    try:
        shutil.copy2(path, backup)
    except BaseException:
        _remove(backup)
        raise
    return backup


def _replace_all(pending: list[_Pending]) -> None:
    """Rename every temp over its target; on a failure put back what was replaced."""
    done: list[_Pending] = []
    try:
        for item in pending:
            os.replace(item.temp, item.path)
            done.append(item)
    except BaseException as exc:
        if len(done) == len(pending):
            raise  # an interrupt after the last rename: every file is replaced, nothing to undo
        failed = pending[len(done)].path  # the one after the last rename that succeeded
        unrestored = _restore(done)
        if unrestored:
            kept = "; ".join(f"{item.path} (original kept as {item.backup})" for item in unrestored)
            for item in unrestored:
                item.keep_backup = True  # the only copy of the original: do not remove it
            raise ServiceError(f"cannot replace {failed}: {_reason(exc)}, "
                               "and the files already replaced could not all be put back: "
                               f"{kept}") from None
        if isinstance(exc, OSError):
            raise BadInput(f"cannot replace {failed}: {_reason(exc)}; "
                           "no file was changed") from None
        raise


def _restore(done: list[_Pending]) -> list[_Pending]:
    """Rename each backup back over its replaced target, newest first; the ones that failed."""
    failed = []
    for item in reversed(done):
        assert item.backup is not None  # every target is backed up before the first rename
        try:
            os.replace(item.backup, item.path)
        except OSError:
            failed.append(item)
    return failed


def _reason(exc: BaseException) -> str:
    return exc.strerror or str(exc) if isinstance(exc, OSError) else type(exc).__name__


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass  # gone already, or best effort: the error that brought us here is the one to report
