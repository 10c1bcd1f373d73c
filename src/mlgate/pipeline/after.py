"""The steps after the promotion: wait until the controller applied its commit, measure the
live model, and report the rollback a failed measurement made (then wait for that too).

They run only for a commit on the watched branch: a pull-request promotion waits for review,
so there is nothing to wait for yet (its merge triggers the config repo's own pipeline). A
wait that fails skips the verification (the model never went live); it does not roll back by
itself, because a timeout may be a slow controller rather than a bad model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlgate.pipeline.config import Environment, PipelineConfig
from mlgate.pipeline.steps import StepResult, StepRun, _values, run_step
from mlgate.stages.stage import Progress

AFTER_STEPS = ("wait-sync", "verify", "rollback", "rollback-wait-sync")
# promote's settings that say where the promotion went: a rollback lands there too
LANDING_KEYS = ("repo", "path", "layout", "provider", "mode", "base", "api-url", "author-name",
                "author-email", "committer-name", "committer-email", "signing-key",
                "signing-format", "attestation-key", "max-attempts", "label", "reviewer",
                "auto-merge", "tracking-uri")


def skipped(step: str, why: str) -> StepRun:
    return StepRun(StepResult(step, None, f"skipped: {why}", note="skipped"))


def after_promotion(cfg: PipelineConfig, env: Environment, promoted: StepResult | None,
                    reports: Path, environ: Mapping[str, str], progress: Progress,
                    evidence: Path | None, only: str | None = None,
                    version: str | None = None) -> list[StepRun]:
    """wait-sync, verify, rollback and the rollback's wait-sync, each run or skipped with
    its reason (only those the environment configures are reported). `only="verify"` is a
    later CI job: the wait-sync job's result is read from its JSON instead of run again."""
    from mlgate.stages.registry import stage

    wanted = [s for s, on in (("wait-sync", env.wait_sync is not None),
                              ("verify", env.verify is not None)) if on and only in (None, s)]
    if not wanted:
        return [skipped(only, f"environment {env.name} has no {only}: section")] if only else []
    why = _not_live(promoted, env)
    if why:
        return [skipped(s, why) for s in wanted]
    assert promoted is not None
    commit = promoted.outputs["commit"]
    runs: list[StepRun] = []
    if only == "verify" and env.wait_sync is not None:
        from mlgate.pipeline.steps import step_from_report

        earlier = step_from_report("wait-sync", reports)
        runs.append(earlier)
        if not earlier.result.passed:
            return [*runs, skipped("verify", "wait-sync did not pass: the commit is not live "
                                   "and healthy")]
    elif env.wait_sync is not None:
        wait = run_step(stage("wait-sync"), wait_values(cfg, env, commit), reports /
                        "wait-sync.json", environ, progress)
        runs.append(wait)
        if not wait.result.passed:
            if env.verify is not None:
                runs.append(skipped("verify", "wait-sync did not pass: the commit is not "
                                    "live and healthy"))
            return runs
    if env.verify is None or only == "wait-sync":
        return runs
    verified = run_step(stage("verify"), verify_values(cfg, env, commit, evidence, version),
                        reports / "verify.json", environ, progress)
    runs.append(verified)
    out = verified.result.outputs
    if out.get("rolled-back") != "true":
        why = ("verification passed" if verified.result.passed else
               "no check asked for a rollback" if verified.result.exit_code == 1 else
               "verification did not finish")
        runs.append(skipped("rollback", why))
        return runs
    back = out.get("rollback-commit", "")
    runs.append(StepRun(StepResult("rollback", 0, f"rolled back: {back[:12]} "
                                   f"({out.get('message', '')})"[:300],
                                   verified.result.report, {"commit": back},
                                   note="by verify")))
    if env.wait_sync is not None and back:
        waited = run_step(stage("wait-sync"), wait_values(cfg, env, back),
                          reports / "rollback-wait-sync.json", environ, progress)
        runs.append(dataclasses.replace(waited, result=dataclasses.replace(
            waited.result, step="rollback-wait-sync")))
    return runs


def _not_live(promoted: StepResult | None, env: Environment) -> str | None:
    if promoted is None or promoted.exit_code not in (0, 4):
        return "the promotion did not land"
    if promoted.outputs.get("changed") != "true" or not promoted.outputs.get("commit"):
        return "the promotion changed nothing: the environment already ran these values"
    if env.promote.get("mode") == "pull-request":
        return "the promotion waits for review (pull-request mode); run it after the merge"
    return None


def wait_values(cfg: PipelineConfig, env: Environment, commit: str) -> dict[str, Any]:
    from mlgate.stages.registry import stage

    assert env.wait_sync is not None
    given = {**env.wait_sync, "revision": commit, "repo": env.promote.get("repo")}
    return _values(stage("wait-sync"), given, cfg, f"environments {env.name}.wait-sync")


def verify_values(cfg: PipelineConfig, env: Environment, commit: str,
                  evidence: Path | None, version: str | None = None) -> dict[str, Any]:
    from mlgate.stages.registry import stage

    assert env.verify is not None
    given: dict[str, Any] = {**env.verify, "revision": commit, "app": cfg.app,
                             "environment": env.name}
    given.update({k: env.promote[k] for k in LANDING_KEYS if k in env.promote})
    if evidence is not None and evidence.is_file():
        given["evidence"] = str(evidence)
    if version and "model-version" not in given:
        given["model-version"] = version     # {model_version}, and the report's title
    return _values(stage("verify"), given, cfg, f"environments {env.name}.verify")
