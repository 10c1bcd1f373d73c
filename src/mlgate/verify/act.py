"""What a Failed verification does: each failed check's own choice (or --on-failure for all).

`rollback` undoes the verified promotion in git (the existing rollback: restore the values it
changed, move the registry alias back) with the failed check as the recorded reason; `retrain`
starts the model repository's training workflow, because a drifted input hurts the previous
model as much as this one; `none` only reports. When something was undone or started and a
forge token is at hand, an incident issue says why, with the measurements.

An action that fails is reported, never raised: a failed incident must not hide that the
rollback happened, and a failed rollback must still be said loudly (the run stays Failed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from mlgate.errors import MlgateError
from mlgate.verify.config import VerifyConfig
from mlgate.verify.result import ActionTaken, CheckResult, VerifyResult


def wanted(cfg: VerifyConfig, checks: tuple[CheckResult, ...]) -> dict[str, CheckResult]:
    """The actions the failed checks ask for, each with the first check asking it."""
    out: dict[str, CheckResult] = {}
    for c in checks:
        if c.phase != "Failed":
            continue
        action = c.on_failure if cfg.on_failure == "check" else cfg.on_failure
        if action != "none":
            out.setdefault(action, c)
    return out


def act(cfg: VerifyConfig, result: VerifyResult,
        progress: Callable[[str], None]) -> tuple[ActionTaken, ...]:
    actions: list[ActionTaken] = []
    todo = wanted(cfg, result.checks)
    if "rollback" in todo:
        undo = cfg.undo or (lambda check, say: _rollback(cfg, check, say))
        actions.append(undo(todo["rollback"], progress))
    if "retrain" in todo:
        actions.append(_retrain(cfg, todo["retrain"], result, progress))
    if actions and cfg.incident is not None:
        from mlgate.verify.incident import incident_body, incident_title, open_incident

        # the body names result.evidence and hashes that same file
        done = replace(result, actions=tuple(actions))
        body = incident_body(done, run_url=_run_url(cfg.environ))
        progress("opening an incident issue")
        actions.append(open_incident(cfg.incident, incident_title(done), body))
    return tuple(actions)


def confirm(cfg: VerifyConfig, progress: Callable[[str], None]) -> ActionTaken | None:
    """After a Successful run: move the registry alias the verified promotion left waiting
    (`--alias-when verified`), so the alias names only a model verified live. None when the
    promotion left none waiting, or verify was not told which promotion it judged."""
    from mlgate.promote.verified_alias import confirm_alias

    landing = cfg.rollback
    if landing is None or landing.of is None:
        return None
    try:
        moved = confirm_alias(landing.target, landing.app, landing.environment, landing.of,
                              landing.tracking_uri)
    except MlgateError as exc:
        return ActionTaken("alias", False, f"registry alias not moved: {exc}")
    if moved is None:
        return None
    where = f"{moved.model}@{moved.alias} -> version {moved.new_version}"
    progress(f"verified: {where}")
    return ActionTaken("alias", True, (f"moved {where}" if moved.changed else
                                       f"{where} already"))


def _rollback(cfg: VerifyConfig, check: CheckResult,
              progress: Callable[[str], None]) -> ActionTaken:
    from mlgate.promote.rollback import rollback

    if cfg.rollback is None:   # config_from refuses this; kept for a direct caller
        return ActionTaken("rollback", False, "no config repo given (--repo, --app, "
                           "--environment): not rolled back")
    progress(f"rolling back {cfg.rollback.app} in {cfg.rollback.environment}: {check.reason}")
    try:
        done = rollback(replace(cfg.rollback, reason=check.reason[:300]), say=progress)
    except MlgateError as exc:
        return ActionTaken("rollback", False, f"rollback failed: {exc}")
    commit = done.commit or None
    where = done.pr_url or commit or "nothing to change"
    return ActionTaken("rollback", True, f"rolled back: {where}", url=done.pr_url or None,
                       commit=commit)


def _retrain(cfg: VerifyConfig, check: CheckResult, result: VerifyResult,
             progress: Callable[[str], None]) -> ActionTaken:
    from mlgate.verify.retrain import retrain_inputs, start_retrain

    if cfg.retrain is None:
        return ActionTaken("retrain", False, "no training workflow given (--retrain-workflow): "
                           "not started")
    progress(f"starting the training workflow: {check.reason}")
    return start_retrain(cfg.retrain, retrain_inputs(result, _run_url(cfg.environ)))


def _run_url(environ) -> str | None:
    from mlgate.promote.message import run_url

    return run_url(environ)
