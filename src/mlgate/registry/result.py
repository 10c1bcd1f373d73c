"""What the registry package returns: the record of one alias move."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AliasMove:
    """What a move or a restore did to one alias.

    ``previous_version`` is where the alias pointed before the call (None: it did not exist);
    ``new_version`` is where it points after (None only after ``restore_alias`` deleted it).
    ``changed`` is False when the alias already pointed there (a re-run).
    """

    model: str
    alias: str
    previous_version: str | None
    new_version: str | None
    changed: bool
