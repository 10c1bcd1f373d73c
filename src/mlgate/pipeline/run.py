"""`mlgate pipeline`: the environment's gates, independently, then the promotion.

The pipeline composes stages directly: each gate's section of mlgate.yaml is converted by the
gate's own parameters into its typed Config, the gate runs in process, and its Presentation is
written to `<reports-dir>/<gate>.json`: the same files a GitLab pipeline passes between jobs,
so `--only promote` in a later job reads exactly what the gate jobs wrote. Gates never stop
each other: a reviewer sees all three verdicts even when the first one fails. The promotion
gets every gate's result as evidence (hashed from the very bytes written), so the commit
carries what was checked. An environment with `canary:` is promoted by the canary instead
(pipeline.canary), which also waits and verifies at every step.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgate.errors import EXIT_REPORT, BadInput
from mlgate.interface import GATES
from mlgate.pipeline.config import Environment, PipelineConfig
from mlgate.pipeline.after import AFTER_STEPS as AFTER
from mlgate.pipeline.after import after_promotion
from mlgate.pipeline.canary import ran_by_canary, run_canary
from mlgate.pipeline.steps import StepResult, StepRun, _values, run_step, step_from_report
from mlgate.stages.stage import Progress, silent

STEPS = (*GATES, "promote")
# the jobs that promote: `--only canary` is `--only promote` for an environment with canary:
PROMOTING = ("promote", "canary")


@dataclass(frozen=True)
class PipelineResult:
    config: str
    app: str
    environment: str
    steps: tuple[StepResult, ...]
    exit_code: int
    promoted: bool
    version: str | None
    reasons: tuple[str, ...] = ()
    only: str | None = None

    @property
    def passed(self) -> bool:
        return self.exit_code == 0


def gate_values(cfg: PipelineConfig, gates: list[str], reports: Path,
                env: Environment | None = None) -> dict[str, dict[str, Any]]:
    """Every gate's values, and every report path they name checked, before the first gate
    runs: a bad one is exit 2 naming the file and key, not a failure after other gates spent
    their time."""
    from mlgate.ci.base import Destination, check_destination
    from mlgate.stages.params import report_destinations, values_from
    from mlgate.stages.registry import stage

    out = {}
    for gate in gates:
        section = dict(cfg.sections.get(gate, {}))
        if gate == "benchmark" and "report" not in section:
            section["report"] = str(reports / "benchmark.md")
        if gate == "comply":
            assert env is not None
            section = comply_inputs(cfg, env, section)
        params = stage(gate).params
        values = _values(stage(gate), section, cfg, gate)
        written = values_from(params, section, where=f"{cfg.path.name}: {gate}")
        for dest, as_written in zip(report_destinations(params, values),
                                    report_destinations(params, written)):
            key = dest.label.lstrip("-")
            check_destination(Destination(f"{cfg.path.name}: {gate}.{key}", dest.path,
                                          dest.kind, shown=as_written.path))
        out[gate] = values
    return out


_COMPLY_FROM_PROMOTE = ("repo", "path", "layout", "provider", "base")


def comply_inputs(cfg: PipelineConfig, env: Environment, section: dict[str, Any]
                  ) -> dict[str, Any]:
    """The compliance gate's inputs: its sections (the environment's keys win) plus what it
    judges, taken from the promotion it precedes: where the config repo is, the app and
    environment, the images and values promote will set, the candidate's version."""
    promoted = promote_inputs(cfg, env, cfg.model_version)
    given = {**section, **(env.compliance or {})}
    given.setdefault("model-repo", ".")   # mlgate.yaml's folder: the model repository
    given.update({k: promoted[k] for k in _COMPLY_FROM_PROMOTE if k in promoted})
    given.update({"app": cfg.app, "environment": env.name, "image": promoted["image"],
                  "set": promoted["set"]})
    if cfg.model_version:
        given["model-version"] = cfg.model_version
    return given


def _with_gate_evidence(env: Environment, reports: Path):
    """Comply reads the other gates' results as its release input: those this environment
    lists, as they were written by this run (or by an earlier job, with --only comply)."""
    def adjust(config):
        paths = tuple(str(reports / f"{g}.json") for g in GATES
                      if g != "comply" and g in env.gates and (reports / f"{g}.json").exists())
        return dataclasses.replace(config, core=dataclasses.replace(config.core,
                                                                    evidence=paths))
    return adjust


def gate_from_report(gate: str, reports: Path) -> StepRun:
    """A gate another job ran (`--only promote`): its JSON must be there and say passed."""
    return step_from_report(gate, reports)


def _model_version(cfg: PipelineConfig, env: Environment, environ: Mapping[str, str]
                   ) -> str | None:
    """The version this environment gets: the candidate's, or with `from` what the source
    environment's registry alias points at."""
    if env.source is None:
        return cfg.model_version
    source = cfg.environment(env.source)
    if source.alias and cfg.model_name:
        from mlgate.registry.mlflow_alias import current_version

        found = current_version(cfg.model_name, source.alias,
                                tracking_uri=environ.get("MLFLOW_TRACKING_URI") or None)
        if found:
            return str(found)
    return cfg.model_version


def promote_inputs(cfg: PipelineConfig, env: Environment, version: str | None
                   ) -> dict[str, Any]:
    """The promote stage's inputs for this environment: its section plus what the pipeline
    sets itself (app, environment, images, values, the registry alias)."""
    given: dict[str, Any] = {**env.promote, "app": cfg.app, "environment": env.name}
    if env.source:
        given["from-environment"] = env.source
        # with --from-environment an image is just the repository to copy
        given["image"] = [_repository(i) for i in env.images]
    else:
        given["image"] = list(env.images)
    sets = []
    for s in env.set:
        if "{version}" in s:
            if version is None:
                raise BadInput(f"environments {env.name}: set uses {{version}} but no model "
                               "version is known")
            s = s.replace("{version}", version)
        sets.append(s)
    given["set"] = sets
    if env.alias and cfg.model_name and version:
        given.update({"registry-model": cfg.model_name, "registry-version": version,
                      "registry-alias": env.alias})
        if env.verify is not None:
            # the alias names a model verified live: verify moves it, not the commit
            given.setdefault("alias-when", "verified")
    return given


def _repository(image: str) -> str:
    """registry/name:tag@digest -> registry/name, by the one reference grammar (exit 2 naming
    the value for a bad one, not a half-parsed name handed on to promote)."""
    from mlgate.manifests.reference import parse_user_reference

    return parse_user_reference(image, "mlgate.yaml image", need_version=False).name


def run_pipeline(cfg: PipelineConfig, env: Environment, *, reports: Path,
                 environ: Mapping[str, str], only: str | None = None, promote: bool = True,
                 progress: Progress = silent) -> PipelineResult:
    from mlgate.stages.registry import stage

    reports.mkdir(parents=True, exist_ok=True)
    runs: list[StepRun] = []
    missing = _not_configured(only, env)
    if missing:
        # a CI template has one job per step; an environment without this one skips it
        skipped = StepResult(only, None, f"skipped: environment {env.name} {missing}",
                             note="skipped")
        return PipelineResult(str(cfg.path), cfg.app, env.name, (skipped,), 0, False, None,
                              only=only)
    if only in AFTER and env.canary is not None:
        return _finish(cfg, env, [ran_by_canary(only, env).result], [], None, only)
    if only in AFTER:
        # a later job: the promotion's result comes from its JSON (the gates' are not read)
        promoted = step_from_report("promote", reports).result
        steps = [promoted, *(r.result for r in after_promotion(
            cfg, env, promoted, reports, environ, progress, reports / "benchmark.json",
            only=only, version=_model_version(cfg, env, environ)))]
        return _finish(cfg, env, steps, [], None, only)
    # with canary: the canary is the environment's promotion, so a promote job runs it too
    gates = [g for g in GATES if g in env.gates and only in (None, g, *PROMOTING)]
    if only in PROMOTING:
        runs = [gate_from_report(g, reports) for g in gates]
    else:
        values = gate_values(cfg, gates, reports, env)
        runs = [run_step(stage(g), values[g], reports / f"{g}.json", environ, progress,
                         adjust=_with_gate_evidence(env, reports) if g == "comply" else None)
                for g in gates]
    steps = [r.result for r in runs]
    reasons = [f"{s.step}: {s.verdict}" for s in steps if not s.passed]
    version = None
    want_promote = promote and only in (None, *PROMOTING)
    # with canary: the canary is this environment's promotion (and its steps after it)
    name = "promote" if env.canary is None else "canary"
    if want_promote and all(s.exit_code == 0 for s in steps):
        version = _model_version(cfg, env, environ)
        given = promote_inputs(cfg, env, version)
        if env.canary is not None:
            step = run_canary(cfg, env, given, runs, version, reports, environ, progress)
        else:
            step = _promote(cfg, given, runs, reports, environ, progress)
        steps.append(step)
        if step.exit_code != 0:
            reasons.append(f"{name}: {step.verdict}")
        if only is None and env.canary is None:
            steps += [r.result for r in after_promotion(
                cfg, env, step, reports, environ, progress,
                reports / "benchmark.json" if "benchmark" in gates else None,
                version=version)]
    elif want_promote:
        steps.append(StepResult(name, None, "not run: a gate did not pass", note="blocked"))
    return _finish(cfg, env, steps, reasons, version, only)


def _not_configured(only: str | None, env: Environment) -> str | None:
    if only in GATES and only not in env.gates:
        return "does not list this gate"
    if only == "canary" and env.canary is None:
        return "has no canary: section"
    return None


def _promote(cfg: PipelineConfig, given: dict[str, Any], gates: list[StepRun], reports: Path,
             environ: Mapping[str, str], progress: Progress) -> StepResult:
    from mlgate.stages.registry import stage

    promoter = stage("promote")
    values = _values(promoter, given, cfg, "promote")

    def with_evidence(config):
        evidence = tuple(r.evidence() for r in gates if r.json_bytes is not None)
        return dataclasses.replace(config, evidence=evidence)

    return run_step(promoter, values, reports / "promote.json", environ, progress,
                    adjust=with_evidence).result


def _landed(step: StepResult) -> bool:
    """The promotion landed (exit 4: only its report failed; it did land); a canary only
    once it completed at 100 %, not while left open at a step."""
    if step.exit_code not in (0, EXIT_REPORT):
        return False
    return step.step == "promote" or (step.step == "canary" and step.outputs.get(
        "outcome", "completed") == "completed")


def _finish(cfg: PipelineConfig, env: Environment, steps: list[StepResult],
            reasons: list[str], version: str | None, only: str | None) -> PipelineResult:
    reasons = reasons + [f"{s.step}: {s.verdict}" for s in steps
                         if s.step in AFTER and s.exit_code not in (None, 0)]
    codes = [s.exit_code for s in steps if s.exit_code is not None]
    exit_code = next((c for c in (2, 3, 1) if c in codes), max(codes, default=0))
    promoted = any(_landed(s) for s in steps)
    return PipelineResult(str(cfg.path), cfg.app, env.name, tuple(steps), exit_code, promoted,
                          version, tuple(reasons), only)
