"""`mlgate sync-aliases`: move each MLflow alias to the model version its environment runs.

Why: in pull-request mode a promotion cannot move the alias (the change waits for review, and
may never merge), so the alias and the config repo drift apart. The config repo's head is the
truth: each promotion that names an alias records `Mlgate-Registry: model@alias before ->
after`. A job on pushes to the config repo reads what every environment runs from those
trailers and moves each alias there, after the merge, whoever merged it.

What an environment runs, per alias it recorded: the `after` version of its newest live
promotion (not rolled back) naming that alias; with none live, the `before` version of its
oldest promotion naming it (what the alias held before mlgate moved it). Moving is idempotent:
an alias already there is not touched (no tag, no write), so a re-run changes and records
nothing. Two environments asking one alias for different versions is refused (exit 2) rather
than settled by whichever comes last.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from mlgate.errors import BadInput
from mlgate.promote.config import SyncConfig
from mlgate.promote.history import Recorded, live_promotions, read_all
from mlgate.promote.result import AliasSync, SyncResult
from mlgate.redact import redact_url

# "model@alias before -> after", as promote writes it (_registry_trailer)
_TRAILER = re.compile(r"(?P<model>.+)@(?P<alias>[A-Za-z0-9_-]{1,255}) "
                      r"(?P<before>none|[0-9]{1,18}) -> (?P<after>[0-9]{1,18})")


@dataclass(frozen=True)
class Wanted:
    """Where one alias should point, and the config commit that says so."""

    app: str
    environment: str
    model: str
    alias: str
    version: str | None  # None: mlgate found it absent before its first move; left alone
    commit: str


def parse_registry(text: str) -> tuple[str, str, str | None, str] | None:
    """(model, alias, before, after) of a recorded `Mlgate-Registry`; None when it does not
    read as one (history is not trusted: a hand-made trailer is skipped, not followed)."""
    found = _TRAILER.fullmatch(text.strip())
    if found is None:
        return None
    before = found["before"]
    return found["model"], found["alias"], None if before == "none" else before, found["after"]


def wanted(history: dict[tuple[str, str], list[Recorded]]) -> list[Wanted]:
    """Where each recorded alias should point, by the trailers of what each environment runs."""
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
        for record in reversed(live):  # oldest first, so the newest live one wins
            parsed = parse_registry(record.registry or "")
            if parsed is not None:
                model, alias, _before, after = parsed
                named[(model, alias)] = Wanted(app, environment, model, alias, after,
                                               record.sha)
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
    for want in wanted(history):
        now = current_version(want.model, want.alias, tracking_uri=cfg.tracking_uri)
        if want.version is None or now == want.version:
            note = "no version recorded before mlgate's first move; left as it is" \
                if want.version is None and now != want.version else ""
            done.append(AliasSync(want.app, want.environment, want.model, want.alias, now, now,
                                  want.commit, changed=False, note=note))
            continue
        moved = move_alias(want.model, want.alias, want.version, commit=want.commit,
                           config_repo=repo, tracking_uri=cfg.tracking_uri)
        say(f"moved {want.model}@{want.alias}: {now or 'none'} -> {want.version} "
            f"({want.app}/{want.environment}, {want.commit[:12]})")
        done.append(AliasSync(want.app, want.environment, want.model, want.alias, now,
                              moved.new_version, want.commit, changed=moved.changed))
    return SyncResult(repo=repo, base=cfg.target.base, aliases=tuple(done))
