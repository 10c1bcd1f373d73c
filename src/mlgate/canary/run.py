"""`mlgate canary` end to end: each step a promotion commit that sets the traffic share, then
the wait for the controller, the pause and the checks; a failed check sends the traffic back
to 0 % and rolls the whole canary back, with the step in the reason.

Nothing is kept outside git: the step commits' trailers are the canary's state, so a job
killed mid-rollout is picked up by `--resume` (which judges the last step again, since the
killed job may not have) or undone by `--abort`, from any machine.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

from mlgate.canary.config import CanaryConfig
from mlgate.canary.result import CanaryResult, StepOutcome
from mlgate.canary.steps import OpenCanary, describe, open_canary
from mlgate.canary.traffic import setter
from mlgate.errors import BadInput, GateFailed, MlgateError
from mlgate.promote.config import PromoteConfig

Say = Callable[[str], None]


@dataclass
class _Run:
    """One run's facts as they become known: the canary's id, the images its first step
    set, and what an undo landed (the undo runs inside verify, which reports only actions)."""

    cfg: CanaryConfig
    id: str
    images: tuple[str, ...] = ()
    steps: list[StepOutcome] = field(default_factory=list)
    abort_commit: str | None = None
    rollback_commit: str | None = None
    undone: bool = False             # the rollback landed (or had nothing left to change)
    reason: str | None = None
    started: float = field(default_factory=time.monotonic)


def new_id(now: datetime | None = None) -> str:
    """Unique without coordination: the UTC second it started plus random bits."""
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(3)}"


def canary(cfg: CanaryConfig, progress: Say, *,
           sleep: Callable[[float], None] = time.sleep) -> CanaryResult:
    from mlgate.promote.history import read_history

    base = cfg.promote
    if base.target.mode != "push":
        raise BadInput("--mode pull-request: a canary's steps must land on the watched branch "
                       "one after another (use --mode push)")
    found = open_canary(read_history(base.target, base.app, base.environment))
    if cfg.mode == "abort":
        if found is None:
            raise BadInput(f"--abort: no open canary of {base.app} in {base.environment}")
        run = _Run(cfg, found.id, images=_recorded_images(found))
        progress(f"aborting {describe(found)}")
        _undo(run, found.step, found.total, cfg.reason or "aborted by hand (mlgate canary "
              f"--abort) at step {found.weight} %", progress, aborted=found.aborted)
        return _finish(run, found.total, "rolled-back")
    if cfg.mode == "resume":
        if found is None:
            raise BadInput(f"--resume: no open canary of {base.app} in {base.environment}")
        return _resume(cfg, found, progress, sleep)
    if found is not None:
        if not found.aborted and base.images and _same_images(base, found):
            # the same image again (a scheduled job running one step at a time): this canary
            progress(f"{describe(found)} brings in the same image: continuing it")
            return _resume(cfg, found, progress, sleep)
        raise BadInput(f"{describe(found)} is open for {base.app} in {base.environment}: "
                       "continue it with --resume or undo it with --abort before another")
    run = _Run(cfg, new_id())
    progress(f"canary {run.id}: {base.app} in {base.environment}, steps "
             + " → ".join(f"{s} %" for s in cfg.steps))
    return _walk(run, 1, progress, sleep)


def _resume(cfg: CanaryConfig, found: OpenCanary, progress: Say,
            sleep: Callable[[float], None]) -> CanaryResult:
    run = _Run(cfg, found.id, images=_recorded_images(found))
    if found.aborted:
        progress(f"finishing the rollback of {describe(found)}")
        _undo(run, found.step, found.total, "rollback of an aborted canary finished "
              "(mlgate canary --resume)", progress, aborted=True)
        return _finish(run, found.total, "rolled-back")
    if len(cfg.steps) != found.total or cfg.steps[found.step - 1] != found.weight:
        raise BadInput(f"--steps {','.join(map(str, cfg.steps))}: canary {found.id} was started "
                       f"with {found.total} steps, step {found.step} at {found.weight} %; give "
                       "the same steps to resume it")
    _check_images(cfg.promote, run.images, found)
    progress(f"resuming {describe(found)}: judging step {found.step} again")
    if not _judge(run, found.step, found.total, found.weight, found.commit, progress, sleep,
                  resumed=True):
        return _stopped(run, found.total)
    return _walk(run, found.step + 1, progress, sleep)


def _walk(run: _Run, start: int, progress: Say, sleep: Callable[[float], None]
          ) -> CanaryResult:
    cfg = run.cfg
    total = len(cfg.steps)
    done = 0
    for step in range(start, total + 1):
        if cfg.max_steps is not None and done >= cfg.max_steps:
            return _finish(run, total, "open", note=f"--max-steps {cfg.max_steps} reached")
        weight = cfg.steps[step - 1]
        landed = _land_step(run, step, total, weight, progress)
        done += 1
        if not _judge(run, step, total, weight, landed, progress, sleep):
            return _stopped(run, total)
    return _finish(run, total, "completed")


def _land_step(run: _Run, step: int, total: int, weight: int, progress: Say) -> str:
    from mlgate.promote.promote import promote

    progress(f"canary {run.id}: step {step}/{total}, {weight} % of the traffic")
    result = promote(_step_config(run, step, total, weight, f"{step}/{total}"), say=progress)
    if not result.changed or not result.commit:
        raise GateFailed(f"step {step}/{total} changed nothing: {run.cfg.promote.environment} "
                         f"already runs these values at {weight} %")
    if step == 1 or not run.images:
        run.images = tuple((result.promotion.new if result.promotion else {}).values())
    return result.commit


def _step_config(run: _Run, step: int, total: int, weight: int, state: str) -> PromoteConfig:
    """The promotion a step makes: the first one sets the image and values given; later ones
    only the share, guarded by the image the first one set (--expect-current)."""
    base = run.cfg.promote
    first = step == 1 and state != "aborted"
    note = (f"(canary {weight} %, step {step}/{total})" if state != "aborted" else
            "(canary aborted: traffic 0 %)")
    later = {} if first else {
        "images": run.images, "sets": (), "from_environment": None, "from_path": None,
        "expect_current": run.images}
    return replace(
        base, **later,
        late_sets=setter(run.cfg.traffic, weight, base.app),
        extra={"Mlgate-Canary": state, "Mlgate-Canary-Id": run.id,
               "Mlgate-Canary-Weight": str(weight)},
        note=note,
        # the alias moves with the step that gives the model all traffic, not before
        registry=base.registry if step == total and state != "aborted" else None,
    )


def _judge(run: _Run, step: int, total: int, weight: int, commit: str, progress: Say,
           sleep: Callable[[float], None], *, resumed: bool = False) -> bool:
    """Wait, pause and verify one step; True when the canary may go on."""
    cfg = run.cfg
    began = time.monotonic()
    outcome = StepOutcome(step, total, weight, commit, resumed)
    revision = commit
    if cfg.wait is not None:
        from mlgate.cluster.run import wait_sync

        waited = wait_sync(cfg.wait(commit), progress)
        outcome = replace(outcome, wait=waited.outcome, wait_message=waited.message)
        revision = _serving_revision(waited) or commit
        if not waited.passed:
            run.steps.append(replace(outcome, seconds=time.monotonic() - began))
            run.reason = f"step {step}/{total} ({weight} %): {waited.message}"
            return False
    if cfg.pause > 0:
        progress(f"pausing {cfg.pause:g} s at {weight} %")
        sleep(cfg.pause)
    if cfg.verify is not None:
        from mlgate.verify.run import verify

        labels = {"canary": _version(run.images), "revision": revision}
        checks = replace(cfg.verify(commit, labels),
                         undo=lambda check, say: _undo_action(run, step, total, weight,
                                                              check, say))
        if step != total and checks.rollback is not None:
            # only the last step moves the registry alias, so only its commit can leave one
            # waiting for verify to confirm: earlier ones skip that read of the history
            checks = replace(checks, rollback=replace(checks.rollback, of=None))
        verdict = verify(checks, progress)
        outcome = replace(outcome, verify=verdict.phase, verify_message=verdict.message)
        run.steps.append(replace(outcome, seconds=time.monotonic() - began))
        if verdict.phase != "Successful":
            run.reason = run.reason or (f"step {step}/{total} ({weight} %): "
                                        f"{verdict.phase}: {verdict.message}")
            if verdict.phase == "Error":
                run.reason = "Error: " + run.reason
            return False
        return True
    run.steps.append(replace(outcome, seconds=time.monotonic() - began))
    return True


def _undo_action(run: _Run, step: int, total: int, weight: int, check, say: Say):
    """verify's rollback, canary-shaped: traffic to 0 %, then every step undone."""
    from mlgate.verify.result import ActionTaken

    reason = f"{check.reason} at step {weight} %"[:300]
    try:
        _undo(run, step, total, reason, say)
    except MlgateError as exc:
        return ActionTaken("rollback", False, f"rollback failed: {exc}",
                           commit=run.abort_commit)
    where = run.rollback_commit or "nothing to change"
    return ActionTaken("rollback", True, f"traffic to 0 % ({(run.abort_commit or '')[:12]}), "
                       f"rolled back: {where}", commit=run.rollback_commit)


def _undo(run: _Run, step: int, total: int, reason: str, say: Say, *,
          aborted: bool = False) -> None:
    """Send the canary's traffic back to 0 % (one commit: no new serving revision is needed,
    so the stable model has all traffic again as soon as the controller applies it), then
    restore what the environment ran before the first step (rollback undoes the canary's
    commits as one promotion)."""
    from mlgate.promote.promote import promote
    from mlgate.promote.rollback import rollback

    run.reason = reason
    if not aborted:
        say(f"canary {run.id}: traffic back to 0 %")
        zero = promote(_step_config(run, step, total, 0, "aborted"), say=say)
        run.abort_commit = zero.commit or None
    back = rollback(replace(run.cfg.rollback, reason=reason, of=None, steps=1), say=say)
    run.rollback_commit = back.commit or None
    run.undone = True


def _serving_revision(waited) -> str | None:
    """KServe's newest revision of the watched InferenceService (what {revision} names)."""
    for resource in waited.resources:
        if resource.resource.startswith("inferenceservice ") and resource.revision:
            return resource.revision
    return None


def _version(images: tuple[str, ...]) -> str:
    """The new image's tag (or digest): what {canary} names."""
    from mlgate.manifests.reference import parse_user_reference

    if not images:
        return ""
    ref = parse_user_reference(images[0].split(", ")[0], "the canary's image",
                               need_version=False)
    return ref.tag or ref.digest or ""


def _recorded_images(found: OpenCanary) -> tuple[str, ...]:
    return tuple(new.split(", ")[0] for _previous, new in found.first.images)


def _same_images(base: PromoteConfig, found: OpenCanary) -> bool:
    """--image names exactly what the open canary's first step set (the same versions)."""
    from mlgate.manifests.reference import parse_user_reference

    if base.from_environment is not None:
        return False
    recorded = [parse_user_reference(t, "recorded Mlgate-New") for t in _recorded_images(found)]
    given = [parse_user_reference(t, "--image") for t in base.images]
    return ({r.repository: r.version for r in given}
            == {r.repository: r.version for r in recorded})


def _check_images(base: PromoteConfig, recorded: tuple[str, ...], found: OpenCanary) -> None:
    """--resume continues the canary with the image its first step set; an --image naming
    another version is a different canary."""
    from mlgate.manifests.reference import parse_user_reference

    known = {r.repository: r for r in (parse_user_reference(t, "recorded Mlgate-New")
                                       for t in recorded)}
    for text in base.images:
        given = parse_user_reference(text, "--image", need_version=False)
        seen = known.get(given.repository)
        if seen is None or (given.version and given.version != seen.version):
            raise BadInput(f"--image {text[:120]}: canary {found.id} runs "
                           f"{', '.join(recorded) or 'no image'}; resume it without --image "
                           "or --abort it first")


def _stopped(run: _Run, total: int) -> CanaryResult:
    """A step that did not pass: rolled back when the undo landed; else left open (an abort
    whose rollback failed is finished by --resume or --abort)."""
    return _finish(run, total, "rolled-back" if run.undone else "open")


def _finish(run: _Run, total: int, outcome: str, note: str = "") -> CanaryResult:
    cfg = run.cfg.promote
    last = run.steps[-1] if run.steps else None
    if outcome == "completed":
        message, code = f"canary {run.id} completed: {total} steps, 100 % of the traffic", 0
    elif outcome == "rolled-back":
        message, code = f"canary {run.id} rolled back: {run.reason}", 1
    elif note:
        where = f"step {last.step}/{total} ({last.weight} %)" if last else "no step"
        message, code = f"canary {run.id} left open at {where}: {note}; continue with --resume", 0
    else:
        message = f"canary {run.id} left open: {run.reason}; --resume or --abort"
        code = 3 if (run.reason or "").startswith("Error: ") else 1
    return CanaryResult(run.id, cfg.app, cfg.environment, outcome, tuple(run.steps), total,
                        message, code, run.abort_commit, run.rollback_commit,
                        run.reason if outcome == "rolled-back" else None,
                        time.monotonic() - run.started)
