"""The promote package's results: what `promote` and `rollback` landed (`PromoteResult`, with
the pull/merge request a forge opened, `ChangeRequestResult`) and what `sync_aliases` moved
(`SyncResult`). The emitters and the report presenters render them; the inputs are in
`config.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlgate.manifests.result import Change
from mlgate.promote.message import Promotion
from mlgate.promote.tagging import TagResult


@dataclass(frozen=True)
class ChangeRequestResult:
    url: str
    number: int
    created: bool
    superseded: tuple[int, ...] = ()  # older mlgate requests for the same app/environment closed
    auto_merge: bool = False
    merged: bool = False  # merged at once (nothing left to wait for, so no auto-merge)
    note: str = ""  # what happened to --auto-merge when it is not simply "enabled", in plain words


@dataclass(frozen=True)
class PromoteResult:
    app: str
    environment: str
    provider: str
    mode: str
    base: str
    changed: bool
    commit: str | None
    pr_url: str | None
    previous: str
    new: str
    attempts: int
    changes: tuple[Change, ...]
    promotion: Promotion | None
    request: ChangeRequestResult | None = None
    registry: object | None = None
    message: str = ""
    notes: tuple[str, ...] = ()
    tag: TagResult | None = None  # promote --tag: the tag (and release) made on the commit


@dataclass(frozen=True)
class AliasSync:
    app: str
    environment: str
    model: str
    alias: str
    before: str | None
    after: str | None
    commit: str
    changed: bool
    note: str = ""


@dataclass(frozen=True)
class SyncResult:
    repo: str
    base: str
    aliases: tuple[AliasSync, ...]

    @property
    def changed(self) -> bool:
        return any(a.changed for a in self.aliases)
