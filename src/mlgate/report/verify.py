"""How a verify run reads in summaries, terminals and outputs.

The outputs are what a later step acts on: `passed`, the run's `phase` (Successful, Failed,
Inconclusive, Error), `failed-checks` (every check that ended other than Successful, in the
order given), `message` (the first reason), `actions` (`kind:commit-or-url` per action taken,
`kind:failed` for one that did not happen, e.g. `rollback:3f2a9c1,incident:https://...`), and
the report files written.
"""

from __future__ import annotations

from typing import Any

from mlgate.report.presentation import Annotation, Level, Presentation, Table
from mlgate.report.verify_markdown import (
    finite,
    last_value,
    phase_word,
    range_text,
    sections,
    sparkline,
    title,
    utf8_safe,
    value_text,
    verdict,
)
from mlgate.verify.result import ActionTaken, CheckResult, VerifyResult

OUTPUT_KEYS = ("passed", "phase", "failed-checks", "message", "rolled-back", "rollback-commit",
               "retrain-url", "incident-url", "report", "junit", "metrics-file")
TABLE_HEADERS = ("check", "phase", "range", "last value", "trend", "failed", "inconclusive",
                 "errors", "measurements")
_ENDED_BADLY = ("Failed", "Error", "Inconclusive")
_LEVEL: dict[str, Level] = {"Failed": "error", "Error": "error", "Inconclusive": "warning"}


def outputs(result: VerifyResult, paths: dict[str, str]) -> dict[str, str]:
    return {
        "passed": "true" if result.passed else "false",
        "phase": result.phase,
        "failed-checks": ",".join(c.name for c in result.checks if c.phase in _ENDED_BADLY),
        "message": result.message,
        "rolled-back": "true" if _done(result, "rollback") else "false",
        "rollback-commit": (_done(result, "rollback") or _EMPTY).commit or "",
        "retrain-url": (_done(result, "retrain") or _EMPTY).url or "",
        "incident-url": (_done(result, "incident") or _EMPTY).url or "",
        "report": paths.get("report", ""),
        "junit": paths.get("junit", ""),
        "metrics-file": paths.get("metrics-file", ""),
    }


_EMPTY = ActionTaken("rollback", False, "")


def _done(result: VerifyResult, kind: str) -> ActionTaken | None:
    """The action of that kind that went through (a failed one leaves the outputs empty)."""
    return next((a for a in result.actions if a.kind == kind and a.ok), None)


def present(result: VerifyResult, paths: dict[str, str]) -> Presentation:
    result = utf8_safe(result)
    rows = tuple((c.name, phase_word(c.phase), range_text(c), value_text(last_value(c), c.unit),
                  sparkline(c), str(c.failed), str(c.inconclusive), str(c.errors),
                  str(len(c.measurements))) for c in result.checks)
    annotations = [Annotation(_LEVEL[c.phase], (c.reason or f"{c.name}: {c.phase}")[:500],
                              title=f"mlgate verify: {c.name}"[:200])
                   for c in result.checks if c.phase in _ENDED_BADLY]
    annotations += [Annotation("notice" if a.ok else "error", f"{a.kind}: {a.detail}"[:500],
                               title="mlgate verify")
                    for a in result.actions]
    return Presentation(
        command="verify",
        title=title(result),
        verdict=verdict(result),
        exit_code=result.exit_code,
        outputs=outputs(result, paths),
        sections=sections(result),
        table=Table(TABLE_HEADERS, rows),
        annotations=tuple(annotations),
        result=result_data(result),
    )


def result_data(result: VerifyResult) -> dict[str, Any]:
    """Everything the run found, as JSON holds it: a value that is missing, NaN or infinite
    is null (`json.dumps(..., allow_nan=False)` refuses NaN: it is not JSON)."""
    return {
        "passed": result.passed,
        "phase": result.phase,
        "exit_code": result.exit_code,
        "message": result.message,
        "seconds": finite(result.seconds),
        "evidence": result.evidence,
        "labels": {str(k): str(v) for k, v in result.labels.items()},
        "checks": [_check_data(c) for c in result.checks],
        "actions": [{"kind": a.kind, "ok": a.ok, "detail": a.detail, "url": a.url,
                     "commit": a.commit} for a in result.actions],
    }


def _check_data(c: CheckResult) -> dict[str, Any]:
    return {
        "name": c.name,
        "phase": c.phase,
        "reason": c.reason,
        "query": c.query,
        "unit": c.unit,
        "limits": {"min": finite(c.min), "max": finite(c.max)},
        "baseline": finite(c.baseline),
        "on_failure": c.on_failure,
        "failed": c.failed,
        "inconclusive": c.inconclusive,
        "errors": c.errors,
        "consecutive_errors": c.consecutive_errors,
        "measurements": [{"at": finite(m.at), "time": m.time, "value": finite(m.value),
                          "phase": m.phase, "message": m.message} for m in c.measurements],
    }
