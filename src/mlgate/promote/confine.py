"""Where a promotion may write: inside its environment's folder, and nowhere else.

The sparse checkout a promotion works in also holds the files of every parent folder (git's
cone mode) and, with --from-environment, the source environment's folder; a path that left the
target folder would let a promotion to staging edit production or shared values under a
staging trailer, around the policy that gates production. So every path a promotion or a
rollback writes is checked three times, each check failing with BadInput (exit 2):

1. `confine` / `confine_recorded`: the path as given (a --set file, a recorded trailer), read
   lexically, before anything is cloned where the input is known that early;
2. `check_real`: the same path in the checkout, symlinks resolved, before the rewrite;
3. `check_changed`: every path the final commit changes (the index and the work tree for git,
   the FileChange list for the APIs), right before the commit is made or sent. It knows
   nothing about how the change was made, so it also covers code that does not exist yet.
   The one other place a commit writes is its own new evidence folder under .mlgate/evidence
   (evidence_dir), allowed by name and never an environment folder Argo CD or Flux apply.

Names are compared exactly: a name differing only in case (`STAGING` for `staging`) is another
folder on a case-sensitive disk and the same one on a case-insensitive disk, so it is refused
on either reading rather than trusted on one.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable

from mlgate.errors import BadInput

_FORBIDDEN_CHARS = ("\x00", "\n", "\r", "\\")


def is_inside(folder: str, path: str) -> bool:
    """True when repo-relative `path` names something strictly below repo-relative `folder`.

    Pure and lexical: both are normalised first, so `..` and `.` segments count for what they
    resolve to; case is compared exactly (see the module docstring); a `.git` segment anywhere
    is never inside (git's own metadata is not a promotion's to edit)."""
    if any(c in path + folder for c in _FORBIDDEN_CHARS):
        return False
    # "" and "." read as "." and an absolute path starts with "/": neither is ever below a
    # relative folder, so only the folder needs refusing when it is absolute or leaves the repo
    norm = posixpath.normpath(path)
    base = posixpath.normpath(folder)
    if base == ".." or base.startswith(("../", "/")):
        return False
    if any(seg.casefold() == ".git" for seg in norm.split("/")):
        return False
    return norm.startswith(base + "/")


def confine(folder: str, given: str, what: str) -> str:
    """`given` (relative to the environment folder, as `--set FILE:...` names it) as a
    normalised repo-relative path inside `folder`; BadInput naming the input otherwise. An
    empty, absolute (join drops the folder) or backslashed `given` fails is_inside too."""
    joined = posixpath.join(folder, given)
    if not is_inside(folder, joined):
        raise BadInput(_outside(what, folder))
    return posixpath.normpath(joined)


def confine_recorded(folder: str, recorded: str, what: str) -> str:
    """A repo-relative path read back from history (a rollback's trailers): history is not
    trusted, a hostile commit can name any path."""
    if not is_inside(folder, recorded):
        raise BadInput(_outside(what, folder))
    return posixpath.normpath(recorded)


def check_folder(checkout: str, folder: str, what: str) -> str:
    """The environment folder's real path in the checkout; BadInput when the folder, or one
    of the folders above it, is a symlink (it would point the promotion somewhere else)."""
    current = checkout
    for part in folder.split("/"):
        current = os.path.join(current, part)
        if os.path.islink(current):
            link = os.path.relpath(current, checkout).replace(os.sep, "/")
            raise BadInput(symlinked_folder(f"{what} ({folder})", link))
    return os.path.realpath(os.path.join(checkout, folder))  # no symlink left below checkout


def check_real(checkout: str, folder: str, rel: str, what: str) -> None:
    """`rel` (repo-relative) resolves, symlinks followed, inside `folder` in the checkout."""
    real_folder = check_folder(checkout, folder, "environment folder")
    real = os.path.realpath(os.path.join(checkout, rel))
    if not real.startswith(real_folder + os.sep):
        shown = os.path.relpath(real, os.path.realpath(checkout)).replace(os.sep, "/")
        raise BadInput(f"{what}: resolves to {shown[:200]!r} through a symlink, outside the "
                       f"environment folder {folder}; refusing")


def outside_paths(paths: Iterable[str], folder: str) -> list[str]:
    """The changed paths (repo-relative, as git or an API names them) not inside `folder`."""
    return [p for p in paths if not is_inside(folder, p)]


def check_changed(paths: Iterable[str], folder: str, evidence: str | None = None) -> None:
    """The last line of defence before a commit is made or sent: refuse if it would change
    anything outside the environment folder (and this commit's own evidence folder under
    .mlgate/evidence, see evidence_dir), whatever produced the change."""
    paths = list(paths)
    outside = outside_paths(paths, folder)
    if evidence is not None:
        outside = outside_paths(outside, evidence)
    if outside:
        more = f" (and {len(outside) - 1} more)" if len(outside) > 1 else ""
        raise BadInput(f"refusing to commit {outside[0][:200]!r}{more}: a promotion to "
                       f"{folder} may change files only inside that folder")


def _outside(what: str, folder: str) -> str:
    return f"{what}: must be inside the environment folder {folder}"


def symlinked_folder(what: str, link: str) -> str:
    """The one line for a folder that is (or sits below) a symlink in the config repo."""
    return (f"{what}: {link} is a symlink in the config repo; a promotion writes only into a "
            "real folder, never through a symlink")
