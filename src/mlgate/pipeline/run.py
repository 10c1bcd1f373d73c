"""`mlgate pipeline`: the environment's gates, independently, then the promotion.

The pipeline composes stages directly: each gate's section of mlgate.yaml is converted by the
gate's own parameters into its typed Config, the gate runs in process, and its Presentation is
written to `<reports-dir>/<gate>.json`: the same files a GitLab pipeline passes between jobs,
so `--only promote` in a later job reads exactly what the gate jobs wrote. Gates never stop
each other: a reviewer sees all three verdicts even when the first one fails. The promotion
gets every gate's result as evidence (hashed from the very bytes written), so the commit
carries what was checked.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgate import safe_load
from mlgate.errors import EXIT_REPORT, BadInput, MlgateError
from mlgate.interface import GATES
from mlgate.pipeline.config import Environment, PipelineConfig
from mlgate.report.presentation import Presentation
from mlgate.stages.stage import Progress, Stage, silent

STEPS = (*GATES, "promote")


@dataclass(frozen=True)
class StepResult:
    """One gate or the promotion: how it ended and what it reported."""

    step: str
    exit_code: int | None          # None: not run (skipped)
    verdict: str
    report: str | None = None      # its JSON file
    outputs: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    note: str = ""

    @property
    def passed(self) -> bool:
        return self.exit_code == 0


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


@dataclass(frozen=True)
class StepRun:
    """A step that ran here (or in an earlier job): its result line, and its JSON document's
    bytes, which the promotion hashes as evidence (None when it could not be written)."""

    result: StepResult
    json_bytes: bytes | None = None

    def evidence(self):
        """The promotion's record of this step, with the limits of any --evidence file."""
        from mlgate.promote.message import evidence_from

        assert self.json_bytes is not None and self.result.report is not None
        return evidence_from(self.result.report, self.json_bytes)


def _verdict(doc: dict | None, code: int) -> str:
    if doc and doc.get("verdict"):
        return str(doc["verdict"])
    return {0: "passed", 1: "failed", 2: "bad input", 3: "service error",
            4: "done, but its report could not be written"}.get(code, "error")


def _values(stage: Stage, given: Mapping[str, Any], cfg: PipelineConfig, where: str
            ) -> dict[str, Any]:
    """A section's values as the stage's parameters convert them, paths relative to
    mlgate.yaml's folder."""
    from mlgate.stages.params import values_from

    return values_from(stage.params, given, where=f"{cfg.path.name}: {where}",
                       base=cfg.base_dir, paths=getattr(stage, "paths", frozenset()),
                       name_or_path=getattr(stage, "name_or_path", frozenset()))


def gate_values(cfg: PipelineConfig, gates: list[str], reports: Path
                ) -> dict[str, dict[str, Any]]:
    """Every gate's values, and every report path they name checked, before the first gate
    runs: a bad one is exit 2 naming the file and key, not a failure after other gates spent
    their time."""
    from mlgate.ci.base import Destination, check_destination
    from mlgate.stages.params import report_destinations, values_from
    from mlgate.stages.registry import stage

    out = {}
    for gate in gates:
        section = dict(cfg.sections[gate])
        if gate == "benchmark" and "report" not in section:
            section["report"] = str(reports / "benchmark.md")
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


def run_step(stage: Stage, values: Mapping[str, Any], out: Path, environ: Mapping[str, str],
             progress: Progress, adjust=None) -> StepRun:
    """Run one stage in process and write its `<step>.json`, whatever way it ends.

    An error (bad input, a service down) ends this step only, reported the way the CLI
    reports it: one line on stderr and a JSON result saying error. The step's own emitter is
    the quiet one: the pipeline emits one combined result for where it runs.
    """
    from mlgate.ci.emit import emit, emit_error
    from mlgate.errors import ReportFailed
    from mlgate.report.error import error_presentation

    if out.exists():
        out.unlink()      # a stale result from an earlier run must never count
    quiet = {**environ, "MLGATE_CI": "quiet"}
    started = time.perf_counter()
    try:
        config = stage.config_from(values, environ)
        if adjust is not None:
            config = adjust(config)
        presentation: Presentation = stage.present(stage.run(config, progress))
    except MlgateError as exc:
        emit_error(stage.name, str(exc), exc.exit_code, quiet)
        if exc.exit_code == EXIT_REPORT:   # the work was done; its reports were tried
            return StepRun(StepResult(stage.name, EXIT_REPORT, _verdict(None, EXIT_REPORT),
                                      None, {}, round(time.perf_counter() - started, 2)))
        presentation = error_presentation(stage.name, str(exc), exc.exit_code)
    try:
        written = emit(presentation, json_path=str(out), environ=quiet)
        code = presentation.exit_code
    except ReportFailed as exc:
        emit_error(stage.name, str(exc), exc.exit_code, quiet)
        written, code = None, exc.exit_code
    doc = safe_load.parse_json(written, str(out)) if written else None
    result = StepResult(stage.name, code, _verdict(doc, code),
                        str(out) if out.exists() else None,
                        dict((doc or {}).get("outputs") or {}),
                        round(time.perf_counter() - started, 2))
    return StepRun(result, written)


def gate_from_report(gate: str, reports: Path) -> StepRun:
    """A gate another job ran (`--only promote`): its JSON must be there and say passed."""
    out = reports / f"{gate}.json"
    try:   # another job's file: read with the shared loader's limits
        data = safe_load.read_bytes(str(out), str(out))
        doc = safe_load.parse_json(data, str(out))
    except BadInput:
        doc = None
    if not isinstance(doc, dict):
        raise BadInput(f"--only promote: {out} is missing or unreadable; the {gate} gate's job "
                       "must run first and pass it on as an artifact")
    code = int(doc.get("exit_code", 2))
    return StepRun(StepResult(gate, code, _verdict(doc, code), str(out),
                              dict(doc.get("outputs") or {}), note="from an earlier job"),
                   data)


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
    if only in GATES and only not in env.gates:
        # a CI template has one job per gate; an environment without this gate skips it
        skipped = StepResult(only, None, f"skipped: environment {env.name} does not list "
                                         "this gate", note="skipped")
        return PipelineResult(str(cfg.path), cfg.app, env.name, (skipped,), 0, False, None,
                              only=only)
    gates = [g for g in GATES if g in env.gates and only in (None, g, "promote")]
    if only == "promote":
        runs = [gate_from_report(g, reports) for g in gates]
    else:
        values = gate_values(cfg, gates, reports)
        runs = [run_step(stage(g), values[g], reports / f"{g}.json", environ, progress)
                for g in gates]
    steps = [r.result for r in runs]
    reasons = [f"{s.step}: {s.verdict}" for s in steps if not s.passed]
    version = None
    want_promote = promote and only in (None, "promote")
    if want_promote and all(s.exit_code == 0 for s in steps):
        version = _model_version(cfg, env, environ)
        promoter = stage("promote")
        values = _values(promoter, promote_inputs(cfg, env, version), cfg, "promote")

        def with_evidence(config):
            evidence = tuple(r.evidence() for r in runs if r.json_bytes is not None)
            return dataclasses.replace(config, evidence=evidence)

        step = run_step(promoter, values, reports / "promote.json", environ, progress,
                        adjust=with_evidence).result
        steps.append(step)
        if step.exit_code != 0:
            reasons.append(f"promote: {step.verdict}")
    elif want_promote:
        steps.append(StepResult("promote", None, "not run: a gate did not pass",
                                note="blocked"))
    codes = [s.exit_code for s in steps if s.exit_code is not None]
    exit_code = next((c for c in (2, 3, 1) if c in codes), max(codes, default=0))
    # exit 4: the promotion landed and only its report failed; it did land
    promoted = any(s.step == "promote" and s.exit_code in (0, EXIT_REPORT) for s in steps)
    return PipelineResult(str(cfg.path), cfg.app, env.name, tuple(steps), exit_code, promoted,
                          version, tuple(reasons), only)
