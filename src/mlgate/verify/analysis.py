"""The verdict rules, as Argo Rollouts' AnalysisRun applies them, kept free of I/O so every
branch is tested on its own.

A measurement is Successful inside the check's range, Failed outside it, Inconclusive when
there is nothing to judge (no series, NaN) and Error when it could not be taken. A check is
Failed once its failed measurements outnumber `failure_limit`, Inconclusive once its
inconclusive ones outnumber `inconclusive_limit`, Error once more than
`consecutive_error_limit` errors came in a row, and Successful when `count` measurements were
taken without that (an error is no measurement: it does not count). The run takes the worst
phase of its checks (Failed, then Error, then Inconclusive) and ends as soon as one check
reaches a final phase other than Successful.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from mlgate.errors import BadInput
from mlgate.verify.result import Measurement, MeasurementPhase, Phase


@dataclass(frozen=True)
class Limits:
    """AnalysisRun's count and limits. A count below 1 would pass a check that measured
    nothing, and a negative limit would fail or error a check on its first measurement."""

    count: int = 5
    failure_limit: int = 0
    inconclusive_limit: int = 0
    consecutive_error_limit: int = 4

    def __post_init__(self) -> None:
        if self.count < 1:
            raise BadInput(f"count {self.count}: at least 1 measurement")
        for name in ("failure_limit", "inconclusive_limit", "consecutive_error_limit"):
            if getattr(self, name) < 0:
                raise BadInput(f"{name.replace('_', '-')} {getattr(self, name)}: at least 0")


def judge(values: Sequence[float], low: float | None, high: float | None
          ) -> tuple[float | None, MeasurementPhase]:
    """One measurement's phase from the values a query returned (one per series): every
    series must be in range; the value shown is the first out of range, else the largest
    (the smallest when there is only a lower limit). No series, or a NaN, is Inconclusive."""
    if not values or any(math.isnan(v) for v in values):
        return None, "Inconclusive"
    for v in values:
        if (low is not None and v < low) or (high is not None and v > high):
            return v, "Failed"
    if high is not None:
        return max(values), "Successful"
    return min(values), "Successful"


def consecutive_errors(measurements: Sequence[Measurement]) -> int:
    """Errors in a row at the end of the measurements (a value in between resets it)."""
    run = 0
    for m in measurements:
        run = run + 1 if m.phase == "Error" else 0
    return run


def longest_error_run(measurements: Sequence[Measurement]) -> int:
    best = run = 0
    for m in measurements:
        run = run + 1 if m.phase == "Error" else 0
        best = max(best, run)
    return best


def check_phase(measurements: Sequence[Measurement], limits: Limits) -> Phase:
    """The check's phase after these measurements. `count` counts the measurements taken
    without an error (AnalysisRun's MetricResult.count): an error is no measurement, so a
    run of errors short of the limit never completes a check."""
    failed = sum(1 for m in measurements if m.phase == "Failed")
    inconclusive = sum(1 for m in measurements if m.phase == "Inconclusive")
    if failed > limits.failure_limit:
        return "Failed"
    if consecutive_errors(measurements) > limits.consecutive_error_limit:
        return "Error"
    if inconclusive > limits.inconclusive_limit:
        return "Inconclusive"
    if sum(1 for m in measurements if m.phase != "Error") >= limits.count:
        return "Successful"
    return "Running"


_WORST: tuple[Phase, ...] = ("Failed", "Error", "Inconclusive", "Running", "Successful")


def run_phase(phases: Sequence[Phase]) -> Phase:
    """The run's phase: the worst of its checks' (no checks: Successful)."""
    for phase in _WORST:
        if phase in phases:
            return phase
    return "Successful"


def finished(phases: Sequence[Phase]) -> bool:
    """The run stops when every check is done, or as soon as one ends other than
    Successful (a failed check is acted on at once, not after the others' measurements)."""
    return all(p != "Running" for p in phases) or any(
        p in ("Failed", "Error", "Inconclusive") for p in phases)


def show(value: float, unit: str) -> str:
    """A value as people read it: latencies in ms below a second, others to 4 digits."""
    if unit == "seconds":
        return f"{value * 1000:.4g}ms" if abs(value) < 1 else f"{value:.4g}s"
    return f"{value:.4g}"


def reason(name: str, unit: str, low: float | None, high: float | None,
           measurements: Sequence[Measurement], phase: Phase) -> str:
    """One line naming the check, the value against the limit and how many measurements:
    `error-rate 0.034 > 0.01 (3 of 5 measurements)`."""
    taken = len(measurements)
    if phase == "Failed":
        failed = [m for m in measurements if m.phase == "Failed"]
        last = failed[-1].value
        assert last is not None
        if high is not None and last > high:
            cmp = f"> {show(high, unit)}"
        else:
            cmp = f"< {show(low, unit)}" if low is not None else "out of range"
        return f"{name} {show(last, unit)} {cmp} ({len(failed)} of {taken} measurements)"
    if phase == "Inconclusive":
        count = sum(1 for m in measurements if m.phase == "Inconclusive")
        why = next((m.message for m in reversed(measurements)
                    if m.phase == "Inconclusive" and m.message), "no data")
        return f"{name}: {why} ({count} of {taken} measurements inconclusive)"
    if phase == "Error":
        why = next((m.message for m in reversed(measurements) if m.phase == "Error"), "")
        return f"{name}: {why} ({consecutive_errors(measurements)} errors in a row)"
    return ""
