"""The promotion of an environment with `canary:`: `mlgate canary` in place of `mlgate promote`.

The canary gets exactly what the plain promotion would (the promote section, the images and
values, the registry alias, the gates' results as evidence, hashed from the bytes each gate
wrote) plus the steps, and waits and verifies at every step with the environment's wait-sync:
and verify: options (pipeline.canary_section). Its result is the step "canary" with
`<reports-dir>/canary.json`, and the steps after the promotion do not run again: the canary
ran them at every step, the last one at 100 %.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mlgate.errors import BadInput
from mlgate.pipeline.after import skipped
from mlgate.pipeline.canary_section import merged
from mlgate.pipeline.config import Environment, PipelineConfig
from mlgate.pipeline.steps import StepResult, StepRun, _values, run_step
from mlgate.stages.stage import Progress


def canary_inputs(env: Environment, promotion: Mapping[str, Any], evidence: Sequence[str],
                  version: str | None) -> dict[str, Any]:
    """The canary stage's inputs: the promotion's (as promote_inputs built them) and the
    environment's canary, wait-sync and verify options, with the gates' JSON as evidence (the
    benchmark's is the baseline of checks relative to it, as verify's evidence is)."""
    assert env.canary is not None
    for key in ("tag", "release"):
        if promotion.get(key):
            raise BadInput(f"environments {env.name}: promote's {key} does not apply to a canary "
                           "(one commit per step); tag the completed canary's commit instead")
    promotion = {k: v for k, v in promotion.items() if k not in ("tag", "release")}
    given = {**merged(env.canary, env.wait_sync, env.verify), **promotion,
             "evidence": list(evidence)}
    if given.get("check") and given.get("registry-alias"):
        # the alias names a model verified live: the last step's checks move it
        given.setdefault("alias-when", "verified")
    if version and "model-version" not in given:
        given["model-version"] = version
    return given


def run_canary(cfg: PipelineConfig, env: Environment, promotion: Mapping[str, Any],
               gates: Sequence[StepRun], version: str | None, reports: Path,
               environ: Mapping[str, str], progress: Progress) -> StepResult:
    from mlgate.stages.registry import stage

    canary = stage("canary")
    ran = [r for r in gates if r.json_bytes is not None and r.result.report is not None]
    given = canary_inputs(env, promotion, [str(r.result.report) for r in ran], version)
    values = _values(canary, given, cfg, f"environments {env.name}.canary")

    def with_evidence(config):
        # the very bytes each gate wrote (or an earlier job's, read once), not a re-read
        evidence = tuple(r.evidence() for r in ran)
        return dataclasses.replace(config, promote=dataclasses.replace(config.promote,
                                                                       evidence=evidence))

    return run_step(canary, values, reports / "canary.json", environ, progress,
                    adjust=with_evidence).result


def ran_by_canary(step: str, env: Environment) -> StepRun:
    """A step after the promotion that a canary environment's later CI job asks for: the
    canary already ran it at every step."""
    what = "waited for the controller" if step == "wait-sync" else "verified"
    return skipped(step, f"environment {env.name} promotes by canary, which {what} at every "
                         "step (see canary.json)")
