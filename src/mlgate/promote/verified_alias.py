"""The registry alias move that waits for verify (`promote --alias-when verified`).

Why: with `--alias-when landed` the alias (e.g. `champion`) names a model the moment its commit
lands, before Argo CD or Flux applied it and before anyone saw it serve; whoever reads
`models:/churn@champion` meanwhile (a batch job, the next benchmark's baseline) gets a model
that may be rolled back minutes later. With `verified`, the promotion commit records the move it
wants (`Mlgate-Registry: model@alias before -> after` plus `Mlgate-Alias-When: verified`) and
leaves the alias; verify, after a Successful run against the live model, calls
`confirm_alias`, which tags the version `mlgate.verified.<environment>` = the promotion commit
and then moves the alias (tag first: a failure in between leaves a tag that sync-aliases
finishes, never an alias without its tag).

The tag, not the commit message, says a waiting move was confirmed: it lives in the registry,
so a hand-made trailer in the config repo cannot claim a verification, and a tag naming another
commit confirms nothing. sync-aliases and rollback read it through `alias_due`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from mlgate.errors import BadInput, GateFailed
from mlgate.promote.config import Target
from mlgate.promote.history import (
    Recorded,
    check_live,
    live_promotions,
    parse_registry,
    read_history,
)
from mlgate.promote.settings import check_name
from mlgate.redact import redact_url
from mlgate.registry.result import AliasMove

# (model, version, tag name) -> the tag's value on that version, or None
TagReader = Callable[[str, str, str], str | None]

_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def verified_tag(environment: str) -> str:
    """The model version tag naming the config commit whose live model passed verify there."""
    from mlgate.registry.mlflow_alias import TAG_VERIFIED_PREFIX

    return f"{TAG_VERIFIED_PREFIX}{environment}"


def registry_tags(tracking_uri: str | None) -> TagReader:
    """Read version tags from the registry, each (model, version, tag) once per call site."""
    from mlgate.registry.mlflow_alias import version_tag

    seen: dict[tuple[str, str, str], str | None] = {}

    def read(model: str, version: str, key: str) -> str | None:
        if (model, version, key) not in seen:
            seen[(model, version, key)] = version_tag(model, version, key,
                                                      tracking_uri=tracking_uri)
        return seen[(model, version, key)]

    return read


def alias_due(record: Recorded, environment: str, tags: TagReader) -> bool:
    """Whether the alias should by now follow this promotion's recorded move: at once for one
    that moved with its commit; for one that waits, only when its version carries
    `mlgate.verified.<environment>` equal to its own commit. A waiting record whose
    Mlgate-Registry does not parse never is (and needs no registry call)."""
    if not record.alias_waits:
        return True
    parsed = parse_registry(record.registry or "")
    if parsed is None or record.alias_when != "verified":
        return False
    model, _alias, _before, after = parsed
    return tags(model, after, verified_tag(environment)) == record.sha


def confirm_alias(target: Target, app: str, environment: str, commit: str,
                  tracking_uri: str | None) -> AliasMove | None:
    """Move the alias the promotion `commit` recorded as waiting for verify: verify calls this
    after a Successful run against that promotion's live model.

    None when the promotion recorded no waiting alias (no `Mlgate-Registry`, or one that moved
    with the commit): nothing to do. Otherwise the version is tagged
    `mlgate.verified.<environment>` = `commit` and the alias moved from the recorded `before` to
    `after`. Idempotent: an alias already on `after` is left, its tags re-written.

    Refused with nothing written: `commit` not an mlgate promotion of this app and environment
    on the base branch, or no longer the latest live one (rolled back, or a newer promotion
    landed: the environment no longer runs what was verified) -> GateFailed; the alias neither
    on `before`, nor where sync-aliases holds it meanwhile (the `after` of the previous live
    promotion that counts), nor on `after`: someone moved it since -> GateFailed; a recorded
    `Mlgate-Alias-When` or `Mlgate-Registry` mlgate does not write -> BadInput.
    """
    check_name(app, "app")
    check_name(environment, "environment")
    if not isinstance(commit, str) or not _SHA.fullmatch(commit):
        raise BadInput(f"promotion commit {str(commit)[:80]!r}: not a full commit sha")
    history = read_history(target, app, environment)
    record = next((r for r in history if r.sha == commit), None)
    if record is None:
        raise GateFailed(f"commit {commit[:12]} is not an mlgate promotion of {app} in "
                         f"{environment} on {target.base}: registry alias not moved")
    if not record.registry or not record.alias_waits:
        return None
    if record.alias_when != "verified":
        raise BadInput(f"Mlgate-Alias-When {str(record.alias_when)[:60]!r} recorded in "
                       f"{commit[:12]}: not 'verified' as promote writes it; registry alias "
                       "not moved")
    parsed = parse_registry(record.registry)
    if parsed is None:
        raise BadInput(f"Mlgate-Registry {record.registry[:120]!r} recorded in {commit[:12]}: "
                       "not 'model@alias before -> after'; registry alias not moved")
    live = live_promotions(history)
    check_live(commit, live, app, environment, "registry alias not moved")
    model, alias, before, after = parsed
    held = _held_at(live[1:], model, alias, environment, registry_tags(tracking_uri))
    from mlgate.registry.mlflow_alias import move_alias

    found_at = (before,) if held is None else (before, held)
    return move_alias(model, alias, after, commit=commit, config_repo=redact_url(target.url),
                      tracking_uri=tracking_uri, only_from=found_at,
                      extra_tags={verified_tag(environment): commit})


def _held_at(older: list[Recorded], model: str, alias: str, environment: str,
             tags: TagReader) -> str | None:
    """Where sync-aliases holds the alias while a move waits: the `after` of the newest older
    live promotion of the alias that counts (None: none does, the waiting one's `before`).
    The alias found there was not moved by someone else, so confirming may move it on."""
    for record in older:  # newest first
        parsed = parse_registry(record.registry or "")
        if parsed and parsed[:2] == (model, alias) and alias_due(record, environment, tags):
            return parsed[3]
    return None
