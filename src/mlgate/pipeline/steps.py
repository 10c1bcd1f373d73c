"""One step of a pipeline run: a stage run in process, its `<step>.json` written whatever way
it ends, and the line the pipeline reports for it. The gates, the promotion and the steps after
it (pipeline.after) all run through here."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgate import safe_load
from mlgate.errors import EXIT_REPORT, BadInput, MlgateError
from mlgate.pipeline.config import PipelineConfig
from mlgate.report.presentation import Presentation
from mlgate.stages.stage import Progress, Stage


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


def step_from_report(step: str, reports: Path) -> StepRun:
    """A step another job ran (a gate before `--only promote`, the promotion before `--only
    wait-sync`): its JSON must be there; the caller decides what its exit code allows."""
    out = reports / f"{step}.json"
    try:   # another job's file: read with the shared loader's limits
        data = safe_load.read_bytes(str(out), str(out))
        doc = safe_load.parse_json(data, str(out))
    except BadInput:
        doc = None
    if not isinstance(doc, dict):
        raise BadInput(f"{out} is missing or unreadable; the {step} job must run first and "
                       "pass it on as an artifact")
    code = int(doc.get("exit_code", 2))
    return StepRun(StepResult(step, code, _verdict(doc, code), str(out),
                              dict(doc.get("outputs") or {}), note="from an earlier job"),
                   data)
