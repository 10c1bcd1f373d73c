"""The typed result of a rewrite: what changed, where, and what was looked at."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Skipped:
    """A file the rewrite looked at and left alone, and why (a Helm template, a symlinked
    directory...)."""

    file: str
    reason: str


@dataclass(frozen=True)
class Change:
    file: str
    line: int
    path: str
    kind: str
    old: str | None
    new: str


@dataclass(frozen=True)
class RewriteResult:
    root: str
    changes: tuple[Change, ...]
    unchanged: tuple[Change, ...]  # matches already at the new value (idempotent re-runs)
    files: tuple[str, ...]
    skipped: tuple[Skipped, ...]
    missing: tuple[str, ...]  # targets that matched nothing (only with --allow-missing)
    scanned: int
    parsed: int
    dry_run: bool
    written: bool
    diff: str = field(repr=False, default="")
    # the new text of each changed file by its path under root, written or not: comply judges
    # the manifests as the promotion would leave them without writing them
    texts: dict[str, str] = field(repr=False, compare=False, default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("texts")
        data["changed"] = self.changed
        return data
