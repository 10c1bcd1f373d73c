"""`mlgate sync-aliases`: move each MLflow alias to the model version its environment runs.

Why: in pull-request mode a promotion cannot move the alias (the change waits for review, and
may never merge), so the alias and the config repo drift apart. The config repo's head is the
truth: each promotion that names an alias records `Mlgate-Registry: model@alias before ->
after`. A job on pushes to the config repo reads what every environment runs from those
trailers and moves each alias there, after the merge, whoever merged it.

Where an alias should point, per environment and alias it recorded: the `after` version of its
newest live promotion (not rolled back) naming that alias that *counts*; with none live, the
`before` version of its oldest promotion naming it (what the alias held before mlgate moved it).

A promotion counts at once unless it recorded `Mlgate-Alias-When` (promote --alias-when
verified): then the alias waits for verify, and the promotion counts only once its `after`
version carries the registry tag `mlgate.verified.<environment>` equal to its own commit sha
(what verified_alias.confirm_alias writes after a Successful verify). Until then the alias stays
where it was before that promotion: at the `after` of the previous live promotion that counts,
or, with none, at this promotion's own `before`. A waiting record mlgate did not write (an
unknown Mlgate-Alias-When, a tag naming another commit) never counts: it can hold an alias back,
never move it forward.

Moving is idempotent: an alias already there is not touched (no tag, no write), so a re-run
changes and records nothing. Two environments asking one alias for different versions is
refused (exit 2) rather than settled by whichever comes last.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from mlgate.errors import BadInput
from mlgate.promote.config import SyncConfig
from mlgate.promote.history import Recorded, live_promotions, parse_registry, read_all
from mlgate.promote.result import AliasSync, SyncResult
from mlgate.promote.verified_alias import TagReader, alias_due, registry_tags
from mlgate.redact import redact_url

__all__ = ["Wanted", "parse_registry", "sync_aliases", "wanted"]


@dataclass(frozen=True)
class Wanted:
    """Where one alias should point, and the config commit that says so."""

    app: str
    environment: str
    model: str
    alias: str
    version: str | None  # None: mlgate found it absent before its first move; left alone
    commit: str
    waiting: str | None = None  # a newer live promotion whose move still waits for verify


def _no_tags(_model: str, _version: str, _key: str) -> str | None:
    return None


def wanted(history: dict[tuple[str, str], list[Recorded]],
           tags: TagReader = _no_tags) -> list[Wanted]:
    """Where each recorded alias should point, by the trailers of what each environment runs
    and, for a move that waits for verify, the version's `mlgate.verified.<environment>` tag
    (read through `tags`; without it, no waiting move counts)."""
    out: dict[tuple[str, str], Wanted] = {}
    for (app, environment), records in sorted(history.items()):
        live = live_promotions(records)
        named: dict[tuple[str, str], Wanted] = {}
        for record in reversed(records):  # oldest first: the first mention's "before"
            parsed = parse_registry(record.registry or "")
            if parsed is None:
                continue
            model, alias, before, _after = parsed
            named.setdefault((model, alias), Wanted(app, environment, model, alias, before,
                                                    record.sha))
        counted: set[tuple[str, str]] = set()
        for record in reversed(live):  # oldest first, so the newest live one wins
            parsed = parse_registry(record.registry or "")
            if parsed is None:
                continue
            model, alias, before, after = parsed
            key = (model, alias)
            if alias_due(record, environment, tags):
                named[key] = Wanted(app, environment, model, alias, after, record.sha)
                counted.add(key)
            elif key in counted:  # held at the previous counting promotion's "after"
                named[key] = replace(named[key], waiting=record.sha)
            else:  # held where it was before this promotion
                named[key] = Wanted(app, environment, model, alias, before, record.sha,
                                    waiting=record.sha)
        for key, want in named.items():
            other = out.get(key)
            if other is not None and other.version != want.version:
                raise BadInput(
                    f"MLflow alias {key[0]}@{key[1]}: {other.app}/{other.environment} runs "
                    f"version {other.version} ({other.commit[:12]}) but {app}/{environment} "
                    f"runs {want.version} ({want.commit[:12]}); give --app/--environment")
            out.setdefault(key, want)
    return sorted(out.values(), key=lambda w: (w.app, w.environment, w.model, w.alias))


def sync_aliases(cfg: SyncConfig, say: Callable[[str], None] = lambda _m: None) -> SyncResult:
    from mlgate.registry.mlflow_alias import current_version, move_alias

    history = read_all(cfg.target, cfg.app)
    if cfg.environment is not None:
        history = {k: v for k, v in history.items() if k[1] == cfg.environment}
    repo = redact_url(cfg.target.url)
    done = []
    for want in wanted(history, registry_tags(cfg.tracking_uri)):
        now = current_version(want.model, want.alias, tracking_uri=cfg.tracking_uri)
        waits = (f"promotion {want.waiting[:12]} waits for verify"
                 if want.waiting else "")
        if want.version is None or now == want.version:
            note = "no version recorded before mlgate's first move; left as it is" \
                if want.version is None and now != want.version else waits
            done.append(AliasSync(want.app, want.environment, want.model, want.alias, now, now,
                                  want.commit, changed=False, note=note))
            continue
        moved = move_alias(want.model, want.alias, want.version, commit=want.commit,
                           config_repo=repo, tracking_uri=cfg.tracking_uri)
        say(f"moved {want.model}@{want.alias}: {now or 'none'} -> {want.version} "
            f"({want.app}/{want.environment}, {want.commit[:12]})"
            + (f"; {waits}" if waits else ""))
        done.append(AliasSync(want.app, want.environment, want.model, want.alias, now,
                              moved.new_version, want.commit, changed=moved.changed,
                              note=waits))
    return SyncResult(repo=repo, base=cfg.target.base, aliases=tuple(done))
