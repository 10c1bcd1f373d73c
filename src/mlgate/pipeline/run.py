"""`mlgate pipeline`: the environment's gates, independently, then the promotion.

Each gate runs as its own mlgate command, in process, with its result written to
`<reports-dir>/<gate>.json`: the same files a GitLab pipeline passes between jobs, so
`--only promote` in a later job reads exactly what the gate jobs wrote. Gates never stop each
other: a reviewer sees all three verdicts even when the first one fails. The promotion gets
every gate's JSON as `--evidence`, so the commit carries what was checked.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgate import safe_load
from mlgate.errors import EXIT_REPORT, BadInput
from mlgate.pipeline.config import Environment, PipelineConfig
from mlgate.pipeline.schema import GATES

STEPS = (*GATES, "promote")
Cli = Callable[[list[str], Mapping[str, str]], int]


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


def _args(command: str, section: Mapping[str, Any]) -> list[str]:
    """A config section as CLI arguments (`--name=value`, flags bare, lists repeated)."""
    from mlgate.cli import params_by_input

    params = params_by_input(command)
    out: list[str] = []
    for key, value in section.items():
        param = params[key]   # the schema allows only known keys
        opt = param.opts[0]
        if getattr(param, "is_flag", False):
            if value is True or str(value).lower() == "true":
                out.append(opt)
            continue
        values = value if isinstance(value, list) else [value]
        out += [f"{opt}={v}" for v in values]
    return out


@contextmanager
def _cwd(path: Path):
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def _read_report(path: Path) -> dict[str, Any] | None:
    try:   # the step's own report, but a step can be any command: read it with the limits
        return safe_load.load_json(str(path), str(path))
    except BadInput:
        return None


def _verdict(doc: dict | None, code: int) -> str:
    if doc and doc.get("verdict"):
        return str(doc["verdict"])
    return {0: "passed", 1: "failed", 2: "bad input", 3: "service error",
            4: "done, but its report could not be written"}.get(code, "error")


def check_gate_outputs(cfg: PipelineConfig, gates: list[str]) -> None:
    """Every report path the gates' sections name, checked before the first gate runs: a bad
    one is exit 2 naming the file and key, not a failure after other gates spent their time."""
    from dataclasses import replace

    from mlgate.ci.base import check_destination
    from mlgate.cli import command_module, params_by_input
    from mlgate.commands.common import report_destinations

    for gate in gates:
        by_input = params_by_input(gate)
        params = {by_input[k].name: v for k, v in cfg.sections[gate].items() if k in by_input}
        for dest in report_destinations(command_module(gate).command, params):
            key = dest.label.lstrip("-")
            check_destination(replace(dest, label=f"{cfg.path.name}: {gate}.{key}"))


def run_gate(gate: str, cfg: PipelineConfig, reports: Path, cli: Cli,
             environ: Mapping[str, str]) -> StepResult:
    out = reports / f"{gate}.json"
    if out.exists():
        out.unlink()      # a stale result from an earlier run must never count
    section = dict(cfg.sections[gate])
    if gate == "benchmark" and "report" not in section:
        section["report"] = str(reports / "benchmark.md")
    args = [gate, *_args(gate, section), f"--json={out}"]
    started = time.perf_counter()
    code = cli(args, environ)
    doc = _read_report(out)
    return StepResult(gate, code, _verdict(doc, code), str(out) if out.exists() else None,
                      dict((doc or {}).get("outputs") or {}),
                      round(time.perf_counter() - started, 2))


def gate_from_report(gate: str, reports: Path) -> StepResult:
    """A gate another job ran (`--only promote`): its JSON must be there and say passed."""
    out = reports / f"{gate}.json"
    doc = _read_report(out)
    if doc is None:
        raise BadInput(f"--only promote: {out} is missing or unreadable; the {gate} gate's job "
                       "must run first and pass it on as an artifact")
    code = int(doc.get("exit_code", 2))
    return StepResult(gate, code, _verdict(doc, code), str(out),
                      dict(doc.get("outputs") or {}), note="from an earlier job")


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


def promote_args(cfg: PipelineConfig, env: Environment, version: str | None,
                 evidence: list[str], out: Path) -> list[str]:
    args = ["promote", *_args("promote", env.promote), f"--app={cfg.app}",
            f"--environment={env.name}"]
    if env.source:
        args.append(f"--from-environment={env.source}")
        # with --from-environment an image is just the repository to copy
        args += [f"--image={_repository(i)}" for i in env.images]
    else:
        args += [f"--image={i}" for i in env.images]
    for s in env.set:
        if "{version}" in s:
            if version is None:
                raise BadInput(f"environments {env.name}: set uses {{version}} but no model "
                               "version is known")
            s = s.replace("{version}", version)
        args.append(f"--set={s}")
    args += [f"--evidence={e}" for e in evidence]
    if env.alias and cfg.model_name and version:
        args += [f"--registry-model={cfg.model_name}", f"--registry-version={version}",
                 f"--registry-alias={env.alias}"]
    args.append(f"--json={out}")
    return args


def _repository(image: str) -> str:
    """registry/name:tag@digest -> registry/name, by the one reference grammar (exit 2 naming
    the value for a bad one, not a half-parsed name handed on to promote)."""
    from mlgate.manifests.reference import parse_user_reference

    return parse_user_reference(image, "mlgate.yaml image", need_version=False).name


def run_pipeline(cfg: PipelineConfig, env: Environment, *, reports: Path, cli: Cli,
                 environ: Mapping[str, str], only: str | None = None,
                 promote: bool = True) -> PipelineResult:
    reports.mkdir(parents=True, exist_ok=True)
    sub_env = {**environ, "MLGATE_CI": "quiet"}
    steps: list[StepResult] = []
    if only in GATES and only not in env.gates:
        # a CI template has one job per gate; an environment without this gate skips it
        skipped = StepResult(only, None, f"skipped: environment {env.name} does not list "
                                         "this gate", note="skipped")
        return PipelineResult(str(cfg.path), cfg.app, env.name, (skipped,), 0, False, None,
                              only=only)
    with _cwd(cfg.base_dir):
        if only != "promote":
            check_gate_outputs(cfg, [g for g in GATES if g in env.gates and only in (None, g)])
        for gate in GATES:
            if only not in (None, gate, "promote"):
                continue
            if gate not in env.gates:
                continue
            if only == "promote":
                steps.append(gate_from_report(gate, reports))
            else:
                steps.append(run_gate(gate, cfg, reports, cli, sub_env))
        gate_codes = [s.exit_code for s in steps]
        reasons = [f"{s.step}: {s.verdict}" for s in steps if not s.passed]
        version = None
        want_promote = promote and only in (None, "promote")
        if want_promote and all(c == 0 for c in gate_codes):
            version = _model_version(cfg, env, environ)
            out = reports / "promote.json"
            if out.exists():
                out.unlink()
            args = promote_args(cfg, env, version, [s.report for s in steps if s.report], out)
            started = time.perf_counter()
            code = cli(args, sub_env)
            doc = _read_report(out)
            steps.append(StepResult("promote", code, _verdict(doc, code),
                                    str(out) if out.exists() else None,
                                    dict((doc or {}).get("outputs") or {}),
                                    round(time.perf_counter() - started, 2)))
            if code != 0:
                reasons.append(f"promote: {_verdict(doc, code)}")
        elif want_promote:
            steps.append(StepResult("promote", None, "not run: a gate did not pass",
                                    note="blocked"))
    codes = [s.exit_code for s in steps if s.exit_code is not None]
    exit_code = next((c for c in (2, 3, 1) if c in codes), max(codes, default=0))
    # exit 4: the promotion landed and only its report failed; it did land
    promoted = any(s.step == "promote" and s.exit_code in (0, EXIT_REPORT) for s in steps)
    return PipelineResult(str(cfg.path), cfg.app, env.name, tuple(steps), exit_code, promoted,
                          version, tuple(reasons), only)




