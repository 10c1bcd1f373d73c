"""The typed result of a validation: every expectation's outcome, the drift checks against a
reference dataset, and the verdict. The reports (Markdown, JUnit, JSON) read only this.

Unexpected values are kept to a few per expectation and rows never: a dataset may hold
personal data, and a CI log or artifact is no place for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

SEVERITIES = ("info", "warning", "critical")  # lowest first
Severity = Literal["info", "warning", "critical"]
MAX_UNEXPECTED_VALUES = 5


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES) - 1


def blocks(severity: str, fail_on: str) -> bool:
    """Whether a failed check of `severity` fails a gate set to `--fail-on fail_on`."""
    return severity_rank(severity) >= severity_rank(fail_on)


@dataclass(frozen=True)
class Outcome:
    """One expectation of the suite and what GX found."""

    index: int  # position in the suite, from 1
    type: str  # expect_column_values_to_not_be_null
    column: str  # the column (or "a, b" for multi-column expectations), "" for table-level
    kwargs: dict[str, object]  # the expectation's arguments, as in the suite
    severity: Severity
    success: bool
    observed: str = ""  # GX's observed_value, or "" for column-map expectations
    element_count: int | None = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    unexpected_values: tuple[str, ...] = ()  # at most MAX_UNEXPECTED_VALUES, each shortened
    error: str = ""  # the expectation raised (a missing column): GX's message, one line
    blocking: bool = False  # failed at or above --fail-on


@dataclass(frozen=True)
class SchemaChange:
    """A column that is new, missing or of another type than in the reference dataset."""

    column: str
    change: Literal["new", "missing", "retyped"]
    reference_type: str = ""
    current_type: str = ""
    blocking: bool = False


@dataclass(frozen=True)
class ColumnDrift:
    """One column's distribution against the reference: PSI or the KS statistic."""

    column: str
    method: Literal["psi", "ks"]
    statistic: float | None  # None when it cannot be computed (no values on one side)
    threshold: float
    drifted: bool
    note: str = ""
    blocking: bool = False


@dataclass(frozen=True)
class DriftReport:
    reference: tuple[str, ...]  # the reference files
    reference_rows: int
    method: Literal["psi", "ks"]  # for numeric columns; categorical ones always use PSI
    psi_threshold: float
    ks_threshold: float
    severity: Severity
    schema: tuple[SchemaChange, ...]
    columns: tuple[ColumnDrift, ...]

    @property
    def drifted(self) -> tuple[ColumnDrift, ...]:
        return tuple(c for c in self.columns if c.drifted)


@dataclass(frozen=True)
class ValidationResult:
    data: tuple[str, ...]  # the files validated as one batch
    suite: str  # the suite file, as given
    suite_name: str
    engine: Literal["pandas", "spark"]
    fail_on: Severity
    result_format: str
    rows: int
    columns: tuple[str, ...]
    outcomes: tuple[Outcome, ...]
    drift: DriftReport | None = None
    gx_version: str = ""
    duration_s: float = 0.0
    data_docs: str = ""  # the index.html written with --data-docs
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def evaluated(self) -> int:
        return len(self.outcomes)

    @property
    def failed(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if not o.success)

    @property
    def blocking(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if o.blocking)

    @property
    def drift_blocking(self) -> int:
        if self.drift is None:
            return 0
        return sum(c.blocking for c in self.drift.schema) + sum(
            c.blocking for c in self.drift.columns)

    @property
    def passed(self) -> bool:
        return not self.blocking and not self.drift_blocking

    @property
    def success_percent(self) -> float:
        if not self.outcomes:
            return 100.0
        return 100.0 * sum(o.success for o in self.outcomes) / len(self.outcomes)
