"""Revisions as the GitOps controllers report them, and whether one is (or contains) a commit.

The formats read here (and nothing else; anything else has no commit, ``sha=None``):

- Argo CD ``status.sync.revision`` / ``revisions[]``: a bare commit SHA, 40 hex (SHA-1) or 64 hex
  (a repository in the SHA-256 object format). A Helm-chart source reports its chart version
  (``1.2.3``) and an OCI source a digest: neither is a commit.
- Flux v2 (fluxcd/pkg ``git.Commit.String`` / ``AbsoluteReference``): ``main@sha1:SHA``,
  ``sha1:SHA`` (no named pointer), ``refs/heads/main@sha1:SHA``, tags ``v1.0@sha1:SHA``; the named
  pointer is everything before the last ``@`` (as ``git.ExtractNamedPointerFromRevision``).
  Flux's git library labels only 40-hex hashes ``sha1``; ``@sha256:`` is an OCI or Helm
  artifact digest (``1.2.3@sha256:...``, ``latest@sha256:...``), never a commit.
- Flux's old format (``git.TransformRevision`` still reads it): ``main/SHA``,
  ``feature/branch/SHA``, ``HEAD/SHA`` (no branch).

Hex is lower-case ASCII and of exact length, matched with explicit ``[0-9a-f]`` classes and
``fullmatch`` (so no Unicode digit and no trailing newline gets through).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from mlgate.errors import BadInput

_BARE = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
# a named pointer: any text without ASCII whitespace or control characters (branch names may be
# Unicode); greedy, so the pointer ends at the last '@' as in Flux
_FLUX = re.compile(r"(?:(?P<ref>[^\x00-\x20\x7f]+)@)?sha1:(?P<sha>[0-9a-f]{40})")
_OLD_FLUX = re.compile(r"(?P<ref>[^\x00-\x20\x7f]+)/(?P<sha>[0-9a-f]{40})")
_HEX = re.compile(r"[0-9a-fA-F]+")
_HEADS = "refs/heads/"
MIN_SHORT = 7


@dataclass(frozen=True)
class Revision:
    """A controller's revision text: the commit in it (None when it names no git commit) and
    the branch or tag it was fetched from (None when the text names none)."""

    sha: str | None
    branch: str | None
    raw: str


def parse_revision(text: str) -> Revision:
    """Read a revision in any format the controllers report; ``sha=None`` when it is no commit."""
    if not isinstance(text, str):
        return Revision(None, None, "")
    if _BARE.fullmatch(text):
        return Revision(text, None, text)
    m = _FLUX.fullmatch(text) or _OLD_FLUX.fullmatch(text)
    if m is None:
        return Revision(None, None, text)
    ref = m["ref"]
    if ref == "HEAD":
        ref = None
    elif ref is not None:
        ref = ref.removeprefix(_HEADS)
    return Revision(m["sha"], ref, text)


def check_sha(want: str, what: str, *, allow_short: bool = False) -> str:
    """The commit SHA a user gave, lower-cased; BadInput (exit 2) naming `what` otherwise.

    A full SHA (40 hex, or 64 for the SHA-256 object format) is required unless `allow_short`,
    which accepts a prefix of at least 7 hex for a caller that resolves it in the config repo:
    a controller reports full SHAs, and a prefix compared as such could match another commit.
    """
    if not isinstance(want, str) or not _HEX.fullmatch(want):
        raise BadInput(f"{what}: expected a commit SHA (hex digits), got {want!r}")
    text = want.lower()
    if _BARE.fullmatch(text):
        return text
    if allow_short and MIN_SHORT <= len(text) < 40:
        return text
    if MIN_SHORT <= len(text) < 40:
        raise BadInput(f"{what}: {want!r} is an abbreviated commit SHA; give the full "
                       f"40-character SHA (git rev-parse {text})")
    raise BadInput(f"{what}: expected a full commit SHA (40 hex digits), got {want!r}")


def revision_matches(reported: str, want: str,
                     is_descendant: Callable[[str, str], bool]) -> bool:
    """True when the reported revision's commit is `want` or a descendant of it.

    `want` is a full SHA (BadInput otherwise, see check_sha); `is_descendant(sha, want)` asks
    the config repo whether `sha` has `want` among its ancestors. A revision naming no commit
    never matches, and a SHA of the other object format (40 against 64 hex) is never asked
    about: the two cannot be related in one repository.
    """
    want = check_sha(want, "revision")
    sha = parse_revision(reported).sha
    if sha is None:
        return False
    if sha == want:
        return True
    if len(sha) != len(want):
        return False
    return bool(is_descendant(sha, want))
