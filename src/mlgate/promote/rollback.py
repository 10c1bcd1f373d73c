"""`mlgate rollback`: restore what an environment ran before its last promotion(s).

A plain `git revert` would also undo unrelated edits that landed in the same files since; a
rollback instead re-applies only the recorded previous values, through the same rewrite and
landing as a promotion, guarded by the values the promotion set (--expect-current).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from mlgate.errors import BadInput, GateFailed
from mlgate.manifests.config import ImageTarget, RewriteConfig, parse_set
from mlgate.manifests.reference import parse_user_reference
from mlgate.promote import message as msg
from mlgate.promote.confine import check_real, confine_recorded
from mlgate.promote.history import Recorded, live_promotions, read_history
from mlgate.promote.landing import Options, Planned, Target, land
from mlgate.promote.promote import PromoteConfig, PromoteResult, _value_or_none, build_result
from mlgate.promote.settings import provider_factory


@dataclass(frozen=True)
class RollbackConfig:
    target: Target
    options: Options
    app: str
    environment: str
    env_path: str
    steps: int = 1
    to: str | None = None
    tracking_uri: str | None = None
    environ: Mapping[str, str] = field(default_factory=dict)


def rollback(cfg: RollbackConfig, say: Callable[[str], None] = lambda _m: None) -> PromoteResult:
    if cfg.steps < 1:
        raise BadInput("--steps: at least 1")
    if cfg.to is not None and cfg.steps != 1:
        raise BadInput("--to and --steps do not go together: --to names the value to restore")
    history = read_history(cfg.target, cfg.app, cfg.environment)
    live = live_promotions(history)
    if not live:
        raise GateFailed(f"no promotion of {cfg.app} in {cfg.environment} to roll back")
    if cfg.to is None and cfg.steps > len(live):
        raise GateFailed(f"only {len(live)} promotion(s) of {cfg.app} in {cfg.environment} "
                         f"to roll back, not {cfg.steps}")
    undone = live[: (1 if cfg.to else cfg.steps)]
    oldest = undone[-1]
    current = live[0]
    restore = _restore_images(oldest, cfg.to)
    expect = [parse_user_reference(new, "recorded Mlgate-New") for _, new in current.images]
    expect_by_repo = {r.repository: r for r in expect}
    set_restore = [] if cfg.to else [_split_set(prev, cfg.env_path, oldest.sha)
                                     for prev, _ in oldest.sets]
    if not restore and not set_restore:
        raise BadInput(f"promotion {oldest.sha[:12]} recorded nothing to restore")

    def plan(checkout: str) -> Planned:
        from mlgate.manifests.inspect import current_references

        repos = [r.repository for r in restore]
        seen = current_references(checkout, (cfg.env_path,), repos) if repos else {}
        previous = {repo: ", ".join(dict.fromkeys(str(s.ref) for s in seen[repo]))
                    for repo in repos if seen.get(repo)}
        for file, _path, _value in set_restore:
            check_real(checkout, cfg.env_path, file, f"recorded value file {file[:200]!r}")
        sets = tuple(parse_set(f"{file}:{path}={value}") for file, path, value in set_restore)
        config = RewriteConfig(
            root=checkout,
            paths=(cfg.env_path,),
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
            rollback_of=None,
            extra={},
        )
        promotion = _with_rollback_of(promotion, undone)
        return Planned(config, promotion)

    landed = land(cfg.target, (cfg.env_path,), plan, cfg.options, provider_factory(cfg.target),
                  say, folder=cfg.env_path)
    registry = None
    notes: list[str] = []
    if landed.changed and cfg.target.mode == "push":
        registry = _restore_registry(oldest, current, cfg.tracking_uri, notes)
    pcfg = PromoteConfig(target=cfg.target, options=cfg.options, app=cfg.app,
                         environment=cfg.environment, env_path=cfg.env_path)
    return build_result(pcfg, landed, registry, notes)


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


def _restore_registry(oldest: Recorded, current: Recorded, tracking_uri, notes: list[str]):
    if not oldest.registry:
        return None
    # "model@alias before -> after"
    head, _, versions = oldest.registry.partition(" ")
    model, _, alias = head.partition("@")
    before, _, after = versions.partition(" -> ")
    from mlgate.registry.mlflow_alias import restore_alias

    previous = None if before in ("", "none") else before
    expected = after or None
    if current.registry and current.registry != oldest.registry:
        expected = current.registry.rpartition(" -> ")[2] or expected
    return restore_alias(model, alias, previous, expected_current=expected,
                         tracking_uri=tracking_uri)
