"""The measuring loop: after the initial delay, every interval, one measurement of each check
still running, until all `count` are taken or a check ends the run.

Each measurement covers the interval that just passed (rates over `{window}`, by default the
interval), so the first is taken one interval after the initial delay, as Flagger does, and a
run that nothing ends early lasts initial delay + count × interval. Measurements are due on a
fixed schedule from the start, not an interval after the last one ended: a slow query does
not stretch the run. The start is when verify began (`started`), not when this loop began:
what comes before the first query (Python's imports, the HTTP client, reading the evidence)
then passes inside the initial delay and the first interval instead of adding to the run.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from mlgate.cluster.kube import rfc3339_now
from mlgate.cluster.wait import Clock
from mlgate.verify.analysis import (
    Limits,
    check_phase,
    finished,
    judge,
    longest_error_run,
    reason,
    show,
)
from mlgate.verify.check import Check
from mlgate.verify.result import CheckResult, Measurement, Phase


class MeasureError(Exception):
    """A measurement could not be taken (query error, Prometheus or the API unreachable):
    an Error measurement, counted toward the consecutive-error limit."""


@dataclass
class Prepared:
    """A check ready to measure: its query filled, its range final (max-drop turned into a
    min from the evidence's score), and how to read one value set."""

    check: Check
    query: str
    low: float | None
    high: float | None
    read: Callable[[], Sequence[float]]
    baseline: float | None = None
    measurements: list[Measurement] = field(default_factory=list)
    phase: Phase = "Running"


def measure(prepared: Sequence[Prepared], limits: Limits, interval: float,
            initial_delay: float, progress: Callable[[str], None],
            clock: Clock | None = None, wall: Callable[[], int] | None = None,
            started: float | None = None) -> tuple[tuple[CheckResult, ...], float]:
    """Run the analysis; the checks' results and the seconds it took since `started` (the
    clock's time when verify began; default now)."""
    clock = clock or Clock()
    now = clock.now()
    # a setup longer than the delay and one interval moves the schedule: the first
    # measurement is then due now, and the others still one interval apart, never bunched
    started = now if started is None else min(now, max(started, now - initial_delay - interval))
    if initial_delay > 0:
        progress(f"waiting {initial_delay:g} s before the first measurement")
    # an error is no measurement (AnalysisRun's count leaves it out), so a check with errors
    # measures longer; every round either counts or lengthens a run of errors, which the
    # consecutive-error limit ends, so the rounds are bounded
    most = (limits.count + 1) * (limits.consecutive_error_limit + 1)
    k = 0
    while k < most and not finished([p.phase for p in prepared]):
        k += 1
        wait = started + initial_delay + k * interval - clock.now()
        if wait > 0:
            clock.sleep(wait)
        for p in prepared:
            if p.phase == "Running":
                _take(p, limits, clock.now() - started, wall, progress)
    seconds = round(clock.now() - started, 3)
    return tuple(_result(p) for p in prepared), seconds


def take(p: Prepared, at: float, wall: Callable[[], int] | None = None) -> Measurement:
    """One measurement of a prepared check: its query read once and judged against its range
    (serve-analysis takes exactly one per request, verify `count` of them)."""
    try:
        values = [float(v) for v in p.read()]
    except MeasureError as exc:
        return Measurement(round(at, 3), _stamp(wall), None, "Error", str(exc))
    value, phase = judge(values, p.low, p.high)
    why = "" if phase != "Inconclusive" else (
        "NaN" if any(math.isnan(v) for v in values) else "no data (the query returned "
        "no series)")
    return Measurement(round(at, 3), _stamp(wall), value, phase, why)


def _take(p: Prepared, limits: Limits, at: float, wall: Callable[[], int] | None,
          progress: Callable[[str], None]) -> None:
    m = take(p, at, wall)
    p.measurements.append(m)
    p.phase = check_phase(p.measurements, limits)
    shown = show(m.value, p.check.unit) if m.value is not None else (m.message or "no value")
    counted = sum(1 for x in p.measurements if x.phase != "Error")
    progress(f"{p.check.name}: {shown} {m.phase.lower()} ({counted}/{limits.count})"
             + ("" if p.phase == "Running" else f" -> {p.phase}"))


def _stamp(wall: Callable[[], int] | None) -> str:
    return rfc3339_now(wall() if wall else None)


def _result(p: Prepared) -> CheckResult:
    ms = tuple(p.measurements)
    phase: Phase = p.phase
    return CheckResult(
        name=p.check.name, query=p.query, min=p.low, max=p.high, unit=p.check.unit,
        on_failure=p.check.on_failure, phase=phase, measurements=ms,
        failed=sum(1 for m in ms if m.phase == "Failed"),
        inconclusive=sum(1 for m in ms if m.phase == "Inconclusive"),
        errors=sum(1 for m in ms if m.phase == "Error"),
        consecutive_errors=longest_error_run(ms), baseline=p.baseline,
        reason=reason(p.check.name, p.check.unit, p.low, p.high, ms, phase))
