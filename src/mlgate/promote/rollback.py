"""`mlgate rollback`: restore what an environment ran before its last promotion(s).

A plain `git revert` would also undo unrelated edits that landed in the same files since; a
rollback instead re-applies only the recorded previous values, through the same rewrite and
landing as a promotion, guarded by the values the promotion set (--expect-current).
"""

from __future__ import annotations

from collections.abc import Callable

from mlgate.errors import BadInput, GateFailed
from mlgate.manifests.config import ImageTarget, RewriteConfig, parse_set
from mlgate.manifests.reference import ImageRef, parse_user_reference
from mlgate.promote import message as msg
from mlgate.promote.config import PromoteConfig, RollbackConfig
from mlgate.promote.confine import check_real, confine_recorded
from mlgate.promote.history import (Recorded, check_live, live_groups, live_promotions,
                                    read_history)
from mlgate.promote.landing import Planned, land
from mlgate.promote.promote import _existing_dir, _value_or_none, build_result
from mlgate.promote.result import PromoteResult
from mlgate.promote.settings import environment_path, provider_factory


def rollback(cfg: RollbackConfig, say: Callable[[str], None] = lambda _m: None) -> PromoteResult:
    if cfg.steps < 1:
        raise BadInput("--steps: at least 1")
    if cfg.to is not None and cfg.steps != 1:
        raise BadInput("--to and --steps do not go together: --to names the value to restore")
    if cfg.allow_unknown and cfg.to is None:
        raise BadInput("--allow-unknown goes with --to: it lets --to name an unrecorded version")
    history = read_history(cfg.target, cfg.app, cfg.environment)
    live = live_promotions(history)
    if not live:
        raise GateFailed(f"no promotion of {cfg.app} in {cfg.environment} to roll back")
    groups = live_groups(live)
    if cfg.to is None and cfg.steps > len(groups):
        # the request asks for more than the record holds: the input is wrong, not the gate
        raise BadInput(f"--steps {cfg.steps}: only {len(groups)} promotion(s) of {cfg.app} in "
                       f"{cfg.environment} on record to roll back")
    if cfg.of is not None:
        check_live(cfg.of, live, cfg.app, cfg.environment, "not rolled back")
    undone = [r for group in groups[: (1 if cfg.to else cfg.steps)] for r in group]
    oldest = undone[-1]
    current = live[0]
    env_path = _folder(cfg, current)
    restore = _restore_images(oldest, cfg.to)
    if cfg.to is not None and not cfg.allow_unknown:
        _check_known(restore[0], history, cfg.environment)
    expect = [parse_user_reference(new, "recorded Mlgate-New") for _, new in current.images]
    expect_by_repo = {r.repository: r for r in expect}
    set_restore = [] if cfg.to else _undo_values(
        [_split_set(prev, env_path, oldest.sha) for prev, _ in oldest.sets], current, env_path)
    if not restore and not set_restore:
        raise BadInput(f"promotion {oldest.sha[:12]} recorded nothing to restore")

    def plan(checkout: str) -> Planned:
        from mlgate.manifests.inspect import current_references

        _existing_dir(checkout, env_path, f"environment {cfg.environment!r}")
        repos = [r.repository for r in restore]
        seen = current_references(checkout, (env_path,), repos) if repos else {}
        previous = {repo: ", ".join(dict.fromkeys(str(s.ref) for s in seen[repo]))
                    for repo in repos if seen.get(repo)}
        for file, _path, _value in set_restore:
            check_real(checkout, env_path, file, f"recorded value file {file[:200]!r}")
        sets = tuple(parse_set(f"{file}:{path}={value}") for file, path, value in set_restore)
        config = RewriteConfig(
            root=checkout,
            paths=(env_path,),
            images=tuple(ImageTarget(r, expect_by_repo.get(r.repository)) for r in restore),
            sets=sets,
            flux_policies=(),
        )
        promotion = msg.Promotion(
            app=cfg.app,
            environment=cfg.environment,
            previous=previous,
            new={r.repository: str(r) for r in restore},
            sets=tuple(msg.SetChange(t.file, t.path_text, _value_or_none(checkout, t), t.value)
                       for t in sets),
            source=msg.source(cfg.environ),
            run_url=msg.run_url(cfg.environ),
            actor=msg.actor(cfg.environ),
            rollback_of=None,
            folder=env_path,
            extra={},
        )
        promotion = _with_rollback_of(promotion, undone)
        if cfg.reason:
            promotion.extra["Mlgate-Rollback-Reason"] = cfg.reason
        canaries = list(dict.fromkeys(r.canary_id for r in undone if r.canary_id))
        if canaries:   # the canary is over: its state in git says so
            promotion.extra["Mlgate-Canary"] = "rolled-back"
            promotion.extra["Mlgate-Canary-Id"] = " ".join(canaries)
        return Planned(config, promotion)

    landed = land(cfg.target, (env_path,), plan, cfg.options, provider_factory(cfg.target),
                  say, folder=env_path)
    registry = None
    notes: list[str] = []
    if landed.changed and cfg.target.mode == "push":
        registry = _restore_registry(undone, cfg.environment, cfg.tracking_uri, notes)
    pcfg = PromoteConfig(target=cfg.target, options=cfg.options, app=cfg.app,
                         environment=cfg.environment, env_path=env_path)
    return build_result(pcfg, landed, registry, notes)


def _undo_values(restore: list[tuple[str, str, str]], current: Recorded, folder: str
                 ) -> list[tuple[str, str, str]]:
    """The values to restore, where the newest undone promotion asked for another value on
    its undo (Mlgate-Set-Undo: an unfinished KServe canary's traffic stays at 0 %, so the
    revision that rolled out before it keeps all traffic while the restored one starts)."""
    undo = {}
    for text in current.set_undo:
        file, path, value = _split_set(text, folder, current.sha)
        undo[(file, path)] = value
    return [(file, path, undo.get((file, path), value)) for file, path, value in restore]


def _folder(cfg: RollbackConfig, current: Recorded) -> str:
    """The environment folder: --path/--layout when given, else the one the promotion being
    undone recorded (Mlgate-Folder), so `rollback --app A --environment E` finds what
    `promote --path apps/A --app A --environment E` changed. A recorded folder is history, not
    trusted: it must be a plain relative folder inside the config repo."""
    if not (cfg.recorded_folder and current.folder):
        return cfg.env_path
    what = f"Mlgate-Folder {current.folder[:120]!r} recorded in {current.sha[:12]}"
    try:
        folder = environment_path("{path}", current.folder, cfg.app, cfg.environment)
    except BadInput:
        raise BadInput(f"{what}: not a folder inside the config repo; give --path") from None
    # a layout names each environment's folder after it: a record pointing at a folder that
    # does not (another app's, the repo's root) is refused rather than followed
    if cfg.environment not in folder.split("/"):
        raise BadInput(f"{what}: not a folder of environment {cfg.environment!r}; give --path")
    return folder


def _check_known(ref: ImageRef, history: list[Recorded], environment: str) -> None:
    """A rollback goes back to something known good: --to must name a version this
    environment ran (a recorded previous or new reference), unless --allow-unknown."""
    for record in history:
        for pair in record.images:
            for text in (t for side in pair for t in side.split(", ")):
                try:
                    seen = parse_user_reference(text, "recorded image")
                except BadInput:
                    continue  # "none", or a hostile trailer: never a match
                if seen.repository != ref.repository:
                    continue
                if ref.digest and seen.digest == ref.digest:
                    return
                if not ref.digest and ref.tag and seen.tag == ref.tag:
                    return
    raise BadInput(f"--to {str(ref)[:200]}: never ran in {environment} by mlgate's record; "
                   "a rollback restores a known version (add --allow-unknown to restore it "
                   "anyway)")


def _with_rollback_of(p: msg.Promotion, undone: list[Recorded]) -> msg.Promotion:
    from dataclasses import replace

    extra = dict(p.extra)
    promo = replace(p, rollback_of=undone[0].sha, extra=extra)
    if len(undone) > 1:  # several undone at once: name each, so none is counted again later
        return replace(promo, rollback_of=" ".join(r.sha for r in undone))
    return promo


def _restore_images(oldest: Recorded, to: str | None):
    if to is not None:
        return [parse_user_reference(to, "--to")]
    refs = []
    for previous, _new in oldest.images:
        if previous == "none" or not previous:
            raise BadInput(f"promotion {oldest.sha[:12]} had no previous image to restore; "
                           "use --to REF")
        refs.append(parse_user_reference(previous.split(", ")[0], "recorded Mlgate-Previous"))
    return refs


def _split_set(recorded: str, folder: str, sha: str) -> tuple[str, str, str]:
    """A recorded `file:path=value`, its file confined to the environment folder: history is
    read from the config repo and a hostile commit's trailers may name any file."""
    target = parse_set(recorded, value_optional=True)
    what = f"Mlgate-Set-Previous {recorded[:120]!r} recorded in {sha[:12]}"
    return confine_recorded(folder, target.file, what), target.path_text, target.value


def _restore_registry(undone: list[Recorded], environment: str, tracking_uri,
                      notes: list[str]):
    """Move the alias back to what the oldest undone promotion found, from where the newest
    undone one that moved it left it. A move that waited for verify and was never confirmed
    (promote --alias-when verified, no `mlgate.verified.<environment>` tag for its commit) did
    not happen: if no undone promotion's move did, the alias is left alone (no registry write,
    so no refusal either: someone else's move since is not this rollback's to judge)."""
    oldest = undone[-1]
    if not oldest.registry:
        return None
    # "model@alias before -> after"
    head, _, versions = oldest.registry.partition(" ")
    model, _, alias = head.partition("@")
    before, _, after = versions.partition(" -> ")
    from mlgate.promote.verified_alias import alias_due, registry_tags

    tags = registry_tags(tracking_uri)
    same = [r for r in undone if r.registry and r.registry.partition(" ")[0] == head]
    moved = [r for r in same if alias_due(r, environment, tags)]
    if not moved:
        notes.append(f"registry alias {alias} not moved back: the move the rollback undoes "
                     "waited for verify and never happened")
        return None
    from mlgate.registry.mlflow_alias import restore_alias

    previous = None if before in ("", "none") else before
    expected = (moved[0].registry or "").rpartition(" -> ")[2] or after or None
    return restore_alias(model, alias, previous, expected_current=expected,
                         tracking_uri=tracking_uri)
