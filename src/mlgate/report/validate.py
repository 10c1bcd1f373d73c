"""How a validation result reads in summaries, terminals and outputs."""

from __future__ import annotations

import dataclasses

from mlgate.report.presentation import Presentation, Section, Table
from mlgate.validate.result import ValidationResult

MAX_ROWS = 40


def outputs(result: ValidationResult, paths: dict[str, str]) -> dict[str, str]:
    return {
        "passed": "true" if result.passed else "false",
        "evaluated": str(result.evaluated),
        "failed": str(len(result.failed)),
        "success-percent": f"{result.success_percent:.2f}",
        "drifted": "" if result.drift is None else str(len(result.drift.drifted)),
        "junit": paths.get("junit", ""),
        "data-docs": paths.get("data-docs", ""),
    }


def _without_title(md: str) -> str:
    first, _, rest = md.partition("\n")
    return rest.lstrip("\n") if first.startswith("## ") else md


def _verdict(result: ValidationResult) -> str:
    if result.passed:
        return "passed"
    parts = []
    if result.blocking:
        parts.append(f"{len(result.blocking)} expectation(s) failed at or above "
                     f"{result.fail_on}")
    if result.drift_blocking:
        parts.append(f"{result.drift_blocking} drift finding(s) at or above {result.fail_on}")
    return "failed: " + "; ".join(parts)


def present(result: ValidationResult, paths: dict[str, str]) -> Presentation:
    from mlgate.report.validate_markdown import markdown

    shown = sorted(result.failed, key=lambda o: (not o.blocking, o.index))
    rows = tuple((str(o.index), o.severity, "blocks" if o.blocking else "allowed", o.column,
                  o.type, (o.error or o.observed)[:80],
                  "" if o.unexpected_count is None else str(o.unexpected_count))
                 for o in shown[:MAX_ROWS])
    if len(shown) > MAX_ROWS:
        rows += ((f"… {len(shown) - MAX_ROWS} more", "", "", "", "", "see the reports", ""),)
    files = result.data[0] if len(result.data) == 1 else f"{len(result.data)} files"
    title = (f"mlgate validate {files}: {result.evaluated - len(result.failed)} of "
             f"{result.evaluated} expectations met")
    data = dataclasses.asdict(result)
    data.update(passed=result.passed, evaluated=result.evaluated,
                failed=len(result.failed), success_percent=result.success_percent)
    return Presentation(
        command="validate",
        title=title,
        verdict=_verdict(result),
        exit_code=0 if result.passed else 1,
        outputs=outputs(result, paths),
        sections=(Section("Expectations", _without_title(markdown(result))),),
        table=Table(("#", "severity", "gate", "column", "expectation", "observed",
                     "unexpected"), rows) if rows else None,
        result=data,
    )
