"""Writing the report files a validation was asked for, atomically, before the gate's exit."""

from __future__ import annotations

from mlgate.atomic import write_atomic
from mlgate.errors import BadInput
from mlgate.validate.result import ValidationResult


def write_reports(result: ValidationResult, *, junit: str | None) -> dict[str, str]:
    written: dict[str, str] = {}
    if junit:
        from mlgate.report.validate_junit import junit as build

        try:
            write_atomic(junit, build(result).encode("utf-8"))
        except OSError as exc:
            raise BadInput(f"--junit {junit!r}: cannot write: {exc.strerror}") from None
        written["junit"] = junit
    if result.data_docs:
        written["data-docs"] = result.data_docs
    return written
