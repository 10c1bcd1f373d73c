"""The decision: each metric spec's rules judged on the confidence bound of the change.

Why the bound and not the point estimate: a candidate that looks 0.3 points better on one test
set may be worse on the next. A change rule passes only when the whole interval clears it, so a
gain must be both real (the interval excludes the limit) and large enough (the limit is the
minimum improvement) — with very large data a significant but tiny gain still fails a minimum
improvement. The point-estimate verdict is kept beside each check so the report can show both.

An absolute threshold is judged on the candidate's value, as MLflow's `MetricThreshold` does.
Without a champion, change rules and margins cannot be judged; only thresholds count, and the
result says so.
"""

from __future__ import annotations

from mlgate.benchmark.result import Check, MetricResult, SliceResult
from mlgate.benchmark.scores import Scores
from mlgate.benchmark.spec import MetricSpec
from mlgate.errors import BadInput

MIN_SLICE_ROWS = 30
MAX_SLICES = 100


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def _oriented(spec: MetricSpec, delta: float, low: float, high: float) -> tuple[float, float]:
    """(change, lower bound of the change) with positive meaning better."""
    if spec.greater_is_better:
        return delta, low
    return -delta, -high


def _change_checks(spec: MetricSpec, champion: float, delta: float, low: float,
                   high: float, confidence: float, *, margin_only: bool) -> list[Check]:
    change, bound = _oriented(spec, delta, low, high)
    pct = f"{confidence * 100:g}%"
    checks: list[Check] = []
    if not margin_only:
        if spec.min_absolute_change is not None:
            req = spec.min_absolute_change
            checks.append(Check(
                "min_absolute_change", req, bound, change, bound > req, change > req,
                f"better by more than {_fmt(req)}: {pct} bound of the gain {_fmt(bound)} "
                f"(point {_fmt(change)})"))
        if spec.min_relative_change is not None:
            req = spec.min_relative_change * abs(champion)
            checks.append(Check(
                "min_relative_change", req, bound, change, bound > req, change > req,
                f"better by more than {spec.min_relative_change * 100:g}% of the champion "
                f"({_fmt(req)}): {pct} bound of the gain {_fmt(bound)} (point {_fmt(change)})"))
    if spec.margin is not None:
        allowed = spec.margin.resolve(champion)
        assert allowed is not None
        checks.append(Check(
            "margin", -allowed, bound, change, bound >= -allowed, change >= -allowed,
            f"worse by at most {spec.margin} ({_fmt(allowed)}): {pct} bound of the change "
            f"{_fmt(bound)} (point {_fmt(change)})"))
    return checks


def _threshold_check(spec: MetricSpec, candidate: float) -> Check | None:
    if spec.threshold is None:
        return None
    thr = spec.threshold
    ok = candidate >= thr if spec.greater_is_better else candidate <= thr
    word = "at least" if spec.greater_is_better else "at most"
    return Check("threshold", thr, candidate, candidate, ok, ok,
                 f"{word} {_fmt(thr)}: candidate {_fmt(candidate)}")


def judge_metric(spec: MetricSpec, scores: Scores, *, resamples: int, confidence: float,
                 seed: int, margin_only: bool = False) -> MetricResult:
    """One spec on one set of scores (the whole data, or a slice with `margin_only`)."""
    metric = spec.metric
    try:
        candidate = scores.value(metric, "candidate")
    except BadInput as exc:
        raise BadInput(f"--metric {spec.text}: {exc}") from None
    checks: list[Check] = []
    if not margin_only:
        thr = _threshold_check(spec, candidate)
        if thr is not None:
            checks.append(thr)
    if not scores.has_champion:
        return MetricResult(metric.name, spec.greater_is_better, candidate, gated=spec.gated,
                            checks=tuple(checks), passed=all(c.passed for c in checks))
    try:
        champion = scores.value(metric, "champion")
        interval = scores.interval(metric, resamples, confidence, seed)
    except BadInput as exc:
        raise BadInput(f"--metric {spec.text}: {exc}") from None
    sig = scores.significance(metric)
    checks += _change_checks(spec, champion, interval.delta, interval.low, interval.high,
                             confidence, margin_only=margin_only)
    return MetricResult(
        metric.name, spec.greater_is_better, candidate, champion, interval.delta,
        interval.low, interval.high, sig[0] if sig else None, sig[1] if sig else None,
        gated=spec.gated, checks=tuple(checks), passed=all(c.passed for c in checks))


def check_slice_count(column: str | None, count: int) -> None:
    """Refuse more than MAX_SLICES distinct slice values (each slice is judged with its own
    bootstrap). The one check for both engines: the pandas path counts its slices, the Spark
    engine counts distinct keys (capped at MAX_SLICES + 1) before it aggregates per slice."""
    if count > MAX_SLICES:
        raise BadInput(f"--slice {column}: more than {MAX_SLICES} distinct values; "
                       "slice by a coarser column")


def judge_slices(specs: list[MetricSpec], slices: list[tuple[str, Scores]], column: str, *,
                 resamples: int, confidence: float, seed: int, min_rows: int = MIN_SLICE_ROWS
                 ) -> list[SliceResult]:
    """Every spec on every slice; a slice fails when a metric regresses beyond its margin.

    Slices with fewer than `min_rows` rows are reported but not judged: their intervals are too
    wide for a margin check to mean anything. A metric undefined on a slice (a class absent
    from it, say) is reported with the reason and not judged on that slice.
    """
    out = []
    for value, sub in slices:
        judged = sub.rows >= min_rows and sub.has_champion
        results = []
        for spec in specs:
            try:
                results.append(judge_metric(spec, sub, resamples=resamples,
                                            confidence=confidence, seed=seed,
                                            margin_only=True))
            except BadInput as exc:
                results.append(MetricResult(spec.name, spec.greater_is_better, float("nan"),
                                            gated=False, passed=True, error=str(exc)))
        passed = (not judged) or all(r.passed for r in results)
        out.append(SliceResult(column, value, sub.rows, tuple(results), judged, passed))
    return out
