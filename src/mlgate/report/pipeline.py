"""How a pipeline run reads: one line per step, then the union of the steps' outputs."""

from __future__ import annotations

import dataclasses

from mlgate.interface import GATES, OUTPUTS
from mlgate.report.presentation import Annotation, Presentation, Section, Table

ICON = {True: "✅", False: "❌", None: "⏭️"}


def outputs(result, reports_dir: str) -> dict[str, str]:
    out = {k: "" for k in OUTPUTS["pipeline"]}
    out.update({
        "passed": "true" if result.passed else "false",
        "environment": result.environment,
        "promoted": "true" if result.promoted else "false",
        "model-version": result.version or "",
        "reports-dir": reports_dir,
    })
    for step in result.steps:
        for name, value in step.outputs.items():
            key = f"{step.step}-{name}"
            if key in out:
                out[key] = value
    if result.only in GATES:
        # a gate's own job: its outputs and the pipeline's, not forty empty ones
        prefix = f"{result.only}-"
        out = {k: v for k, v in out.items() if "-" not in k or k.startswith(prefix)
               or k in ("model-version", "reports-dir")}
    return out


def present(result, reports_dir: str) -> Presentation:
    rows = []
    lines = []
    for s in result.steps:
        ok = None if s.exit_code is None else s.exit_code == 0
        code = "" if s.exit_code is None else str(s.exit_code)
        rows.append((s.step, code, s.verdict, s.report or "", s.note))
        lines.append(f"- {ICON[ok]} **{s.step}**: {s.verdict}"
                     + (f" (exit {code})" if code and code != "0" else "")
                     + (f" — {s.note}" if s.note else ""))
    verdict = "passed" if result.passed else "failed: " + "; ".join(result.reasons or
                                                                   ("see the steps",))
    md = "\n".join(lines) + "\n\nEach step's JSON result is in `" + reports_dir + "`."
    data = dataclasses.asdict(result)
    data["passed"] = result.passed
    return Presentation(
        command="pipeline",
        title=f"mlgate pipeline {result.app} → {result.environment}",
        verdict=verdict,
        exit_code=result.exit_code,
        outputs=outputs(result, reports_dir),
        sections=(Section("Steps", md),),
        table=Table(("step", "exit", "verdict", "report", "note"), tuple(rows)),
        annotations=tuple(Annotation("error", f"{r}", title="mlgate pipeline")
                          for r in result.reasons),
        result=data,
    )
