"""`mlgate promote`: one app, one environment, new image and values, landed with evidence."""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable
from dataclasses import replace

from mlgate.errors import BadInput
from mlgate.manifests.config import ImageTarget, RewriteConfig, SetTarget, format_path, parse_set
from mlgate.manifests.inspect import current_references, current_value, single_version
from mlgate.manifests.reference import ImageRef, parse_user_reference
from mlgate.promote import message as msg
from mlgate.promote.config import PromoteConfig, RegistrySpec
from mlgate.promote.confine import check_folder, check_real, confine, confine_recorded
from mlgate.promote.history import Recorded, read_history
from mlgate.promote.landing import Landed, Planned, land
from mlgate.promote.result import PromoteResult
from mlgate.promote.settings import provider_factory
from mlgate.redact import redact_url


def image_targets(texts: tuple[str, ...], name_only_ok: bool) -> list[ImageRef]:
    refs = []
    for text in texts:
        refs.append(parse_user_reference(text, "--image", need_version=not name_only_ok))
    repos = [r.repository for r in refs]
    if len(set(repos)) != len(repos):
        raise BadInput("--image: the same repository is given twice")
    return refs


def make_planner(cfg: PromoteConfig, *, describe: bool = True) -> Callable[[str], Planned]:
    """The plan of one attempt on a checkout. Without `describe` the values in force before
    are not looked up (comply judges the result and needs no commit message; the lookup reads
    every file of the environment)."""
    refs = image_targets(cfg.images, name_only_ok=cfg.from_environment is not None)
    sets = [parse_set(s, value_optional=cfg.from_environment is not None) for s in cfg.sets]
    expects = {r.repository: r for r in (parse_user_reference(t, "--expect-current")
                                         for t in cfg.expect_current)}
    unknown = set(expects) - {r.repository for r in refs}
    if unknown:
        raise BadInput(f"--expect-current: no --image for {', '.join(sorted(unknown))}")
    if not refs and not sets:
        raise BadInput("nothing to promote: give --image or --set")
    if cfg.registry is not None and cfg.registry.when not in ("landed", "verified"):
        raise BadInput(f"--alias-when {cfg.registry.when[:40]!r}: landed or verified")

    # where each --set writes (and, with --from-environment, reads), checked before cloning
    writes = [confine(cfg.env_path, s.file, f"--set {s.spec[:120]!r}") for s in sets]
    reads = [confine(cfg.from_path or "", s.file, f"--set {s.spec[:120]!r}")
             for s in sets if cfg.from_environment and not s.value]

    def plan(checkout: str) -> Planned:
        env_dir = _existing_dir(checkout, cfg.env_path, f"environment {cfg.environment!r}")
        new_refs = list(refs)
        set_targets = []
        if cfg.from_environment:
            src_dir = _existing_dir(checkout, cfg.from_path or "",
                                    f"environment {cfg.from_environment!r}")
            new_refs = [_from_source(checkout, src_dir, r, cfg.from_environment) for r in refs]
        sources = iter(reads)
        for s, file in zip(sets, writes, strict=True):
            check_real(checkout, env_dir, file, f"--set {s.spec[:120]!r}")
            value = s.value
            if cfg.from_environment and not value:
                source = next(sources)
                check_real(checkout, src_dir, source, f"--set {s.spec[:120]!r}")
                value = current_value(checkout, SetTarget(source, s.path, "", s.spec))
            set_targets.append(SetTarget(file, s.path, value, s.spec))
        absent, undo = _late_sets(cfg, checkout, env_dir, set_targets)
        repos = [r.repository for r in new_refs]
        seen = current_references(checkout, (env_dir,), repos) if repos and describe else {}
        previous = {repo: _describe(seen[repo]) for repo in repos if seen.get(repo)}
        set_changes = tuple(
            msg.SetChange(t.file, format_path(t.path),
                          _value_or_none(checkout, t) or absent.get((t.file, t.path_text)),
                          t.value)
            for t in set_targets
        )
        config = RewriteConfig(
            root=checkout,
            paths=(env_dir,),
            images=tuple(ImageTarget(r, expects.get(r.repository)) for r in new_refs),
            sets=tuple(set_targets),
            flux_policies=(),
        )
        promotion = msg.Promotion(
            app=cfg.app,
            environment=cfg.environment,
            previous=previous,
            new={r.repository: _named(r, seen.get(r.repository)) for r in new_refs},
            sets=set_changes,
            source=msg.source(cfg.environ),
            source_time=msg.source_time(cfg.environ),
            run_url=msg.run_url(cfg.environ),
            actor=msg.actor(cfg.environ),
            evidence=cfg.evidence,
            registry=_registry_trailer(cfg.registry),
            alias_when=_alias_when(cfg.registry),
            rollback_of=cfg.rollback_of,
            from_environment=cfg.from_environment,
            from_commit=cfg.from_commit,
            from_evidence=cfg.from_evidence,
            folder=cfg.env_path,
            extra=dict(cfg.extra),
            note=cfg.note,
            set_undo=undo,
        )
        return Planned(config, promotion)

    return plan


def _late_sets(cfg: PromoteConfig, checkout: str, env_dir: str, targets: list[SetTarget]
               ) -> tuple[dict[tuple[str, str], str], tuple[str, ...]]:
    """Append the values only the checkout can name (cfg.late_sets), confined to the
    environment folder like any --set. Returns what a missing key among them means (so the
    commit records the value in force, and a rollback restores that rather than nothing) and
    their undo values as `file:path=value`."""
    absent: dict[tuple[str, str], str] = {}
    undo: list[str] = []
    if cfg.late_sets is None:
        return absent, ()
    for late in cfg.late_sets(checkout, env_dir):
        s = parse_set(late.spec)
        what = f"--set {late.spec[:120]!r}"
        file = confine(cfg.env_path, s.file, what)
        check_real(checkout, env_dir, file, what)
        targets.append(SetTarget(file, s.path, s.value, s.spec, typed=True))
        if late.absent is not None:
            absent[(file, s.path_text)] = late.absent
        if late.undo is not None:
            undo.append(f"{file}:{s.path_text}={late.undo}")
    return absent, tuple(undo)


def _existing_dir(checkout: str, rel: str, what: str) -> str:
    if not rel:
        raise BadInput(f"{what}: no folder {rel!r} in the config repo")
    check_folder(checkout, rel, what)  # a symlinked folder would redirect the promotion
    if not os.path.isdir(os.path.join(checkout, rel)):
        raise BadInput(f"{what}: no folder {rel!r} in the config repo")
    return rel


def _from_source(checkout: str, src_dir: str, ref: ImageRef, env: str) -> ImageRef:
    seen = current_references(checkout, (src_dir,), [ref.repository])[ref.repository]
    current = single_version(seen, ref.repository, f"environment {env!r}")
    return ImageRef(ref.name, ref.repository, current.tag, current.digest)


def _describe(seen) -> str:
    return ", ".join(dict.fromkeys(str(s.ref) for s in seen))


def _named(ref: ImageRef, seen) -> str:
    """The new reference as the environment spells the name (what the trailer should say)."""
    return f"{seen[0].ref.name}{ref.version}" if seen else str(ref)


def _value_or_none(checkout: str, target: SetTarget) -> str | None:
    try:
        return current_value(checkout, target)
    except BadInput:
        return None


def _registry_trailer(spec: RegistrySpec | None) -> str | None:
    if spec is None:
        return None
    from mlgate.registry.mlflow_alias import current_version

    before = current_version(spec.model, spec.alias, tracking_uri=spec.tracking_uri)
    return f"{spec.model}@{spec.alias} {before or 'none'} -> {spec.version}"


def _alias_when(spec: RegistrySpec | None) -> str | None:
    """Recorded only when the alias waits: a promotion whose alias moves with the commit keeps
    the trailers it always had."""
    return "verified" if spec is not None and spec.when == "verified" else None


def from_last_promotion(cfg: PromoteConfig, history: list[Recorded]) -> PromoteConfig:
    """`--from-environment staging` with nothing named: promote what staging's last promotion
    set (its images' repositories and its values' files and keys), read from staging's files at
    the head, and link the commit to that promotion and its evidence.

    The trailers say *which* images and values staging's promotion set; the planner then reads
    their current versions from staging's own files, so a later hand edit in staging is what
    gets copied, as with an explicit --image REPO. History is not trusted: a recorded file
    outside staging's folder is refused like any --set."""
    source = cfg.from_environment
    if not history:
        raise BadInput(f"--from-environment {source}: no mlgate promotion of {cfg.app} in "
                       f"{source} on record to copy; give --image or --set")
    last = history[0]
    what = f"{source}'s promotion {last.sha[:12]}"
    repos = []
    for _previous, new in last.images:
        ref = parse_user_reference(new.split(", ")[0], f"Mlgate-New of {what}",
                                   need_version=False)
        repos.append(ref.repository)
    sets = []
    for _previous, new in last.sets:
        recorded = parse_set(new, value_optional=True)
        file = confine_recorded(cfg.from_path or "", recorded.file,
                                f"Mlgate-Set-New {new[:120]!r} of {what}")
        rel = posixpath.relpath(file, cfg.from_path or "")
        sets.append(f"{rel}:{recorded.path_text}")
    if not repos and not sets:
        raise BadInput(f"--from-environment {source}: {what} recorded no image or value to "
                       "copy; give --image or --set")
    return replace(cfg, images=tuple(dict.fromkeys(repos)), sets=tuple(sets),
                   from_commit=last.sha, from_evidence=last.evidence)


def promote(cfg: PromoteConfig, say: Callable[[str], None] = lambda _m: None) -> PromoteResult:
    if cfg.from_environment and not cfg.images and not cfg.sets:
        cfg = from_last_promotion(cfg, read_history(cfg.target, cfg.app, cfg.from_environment))
    planner = make_planner(cfg)
    if cfg.tag is not None:
        check_tag_early(cfg)
    sparse = tuple(p for p in (cfg.env_path, cfg.from_path) if p)
    landed = land(cfg.target, sparse, planner, cfg.options, provider_factory(cfg.target), say,
                  folder=cfg.env_path, tag=cfg.tag)
    notes: list[str] = []
    if cfg.tag is not None and not landed.changed:
        notes.append("--tag: nothing changed, so no commit and no tag were made")
    registry = None
    if cfg.registry is not None and landed.changed:
        if cfg.registry.when == "verified":
            notes.append(f"registry alias {cfg.registry.alias} moves once verify passes on the "
                         "live model (Mlgate-Alias-When: verified)")
        elif cfg.target.mode == "push":
            registry = _move_alias(cfg, landed)
        else:
            notes.append(f"registry alias {cfg.registry.alias} not moved: the change waits for "
                         "review; run promote in push mode (or after merge) to move it")
    return build_result(cfg, landed, registry, notes)


def check_tag_early(cfg: PromoteConfig) -> None:
    """--tag's name checked before cloning, with the values the options give: a bad template
    or name is exit 2 before anything is fetched. Values only the checkout names (the image tag
    --from-environment copies) stand in as "0" here; the real name is checked again on them."""
    from mlgate.promote import tagging

    assert cfg.tag is not None
    refs = image_targets(cfg.images, name_only_ok=cfg.from_environment is not None)
    image = refs[0].tag if refs and refs[0].tag else ("0" if cfg.from_environment else None)
    known = msg.Promotion(cfg.app, cfg.environment, {}, {}, evidence=cfg.evidence)
    version = tagging.model_version(known) or (cfg.registry.version if cfg.registry else None)
    tagging.expand(cfg.tag.template, {"app": cfg.app, "environment": cfg.environment,
                                      "date": cfg.tag.date, "tag": image,
                                      "version": version or image})


def _move_alias(cfg: PromoteConfig, landed: Landed):
    from mlgate.registry.mlflow_alias import move_alias

    assert cfg.registry is not None and cfg.registry.version is not None
    return move_alias(cfg.registry.model, cfg.registry.alias, cfg.registry.version,
                      commit=landed.commit, config_repo=redact_url(cfg.target.url),
                      tracking_uri=cfg.registry.tracking_uri)


def build_result(cfg: PromoteConfig, landed: Landed, registry, notes: list[str]) -> PromoteResult:
    p = landed.promotion
    previous = new = ""
    if p is not None and p.new:
        repo = next(iter(p.new))
        previous, new = p.previous.get(repo, ""), p.new[repo]
    elif p is not None and p.sets:
        previous, new = p.sets[0].old or "", p.sets[0].new
    changes = landed.rewrite.changes if landed.rewrite else ()
    return PromoteResult(
        app=cfg.app,
        environment=cfg.environment,
        provider=cfg.target.provider,
        mode=cfg.target.mode,
        base=cfg.target.base,
        changed=landed.changed,
        commit=landed.commit,
        pr_url=landed.request.url if landed.request else None,
        previous=previous,
        new=new,
        attempts=landed.attempts,
        changes=tuple(changes),
        promotion=p,
        request=landed.request,
        registry=registry,
        message=landed.message,
        notes=(*notes, *landed.notes),
        tag=landed.tag,
    )
