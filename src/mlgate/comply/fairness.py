"""Fairness limits judged on the benchmark's per-group figures (`mlgate benchmark --sensitive`).

A limit is `METRIC:RULE=VALUE` or `min-group-size=N`:
- `max-gap=X`: the candidate's largest difference between groups is at most X;
- `min-ratio=X`: its smallest group figure over its largest is at least X (four-fifths: 0.8);
- `min-group=X` / `max-group=X`: every group's figure is at least / at most X;
- `max-widen=X`: its gap exceeds the champion's gap by at most X (needs the champion's figures);
- `demographic_parity_difference:max=X`, `equalized_odds_difference:max=X` (binary classifiers).
Groups with fewer rows than `min-group-size` (default 30, as a benchmark slice) are reported and
not judged; the gaps and parity figures are recomputed over the judged groups from the
per-group figures the benchmark keeps (selection, true and false positive rates), so leaving a
group out changes them as it should. Every sensitive column in the evidence is judged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mlgate.errors import BadInput

DEFAULT_MIN_GROUP_SIZE = 30
PARITY = ("demographic_parity_difference", "equalized_odds_difference")
RULES = ("max-gap", "min-ratio", "min-group", "max-group", "max-widen")
_SPEC = re.compile(r"^(?P<metric>[A-Za-z0-9_]+):(?P<rule>[a-z-]+)=(?P<value>[^=]+)$")
_SIZE = re.compile(r"^min-group-size=(?P<n>[0-9]{1,9})$")


@dataclass(frozen=True)
class Limit:
    metric: str
    rule: str
    value: float
    spec: str


@dataclass(frozen=True)
class FairnessCheck:
    column: str
    limit: str            # as given, e.g. accuracy:max-gap=0.05
    passed: bool
    figure: float | None  # the candidate's figure the limit is about
    message: str
    judged: tuple[str, ...] = ()    # groups judged
    too_small: tuple[str, ...] = ()  # groups reported, not judged (below min-group-size)


def parse_limits(specs: tuple[str, ...]) -> tuple[tuple[Limit, ...], int]:
    limits: list[Limit] = []
    size = DEFAULT_MIN_GROUP_SIZE
    for text in specs:
        spec = text.strip()
        label = f"--fairness {spec[:120]!r}"
        found = _SIZE.match(spec)
        if found:
            size = int(found.group("n"))
            continue
        m = _SPEC.match(spec)
        if not m:
            raise BadInput(f"{label}: expected METRIC:RULE=VALUE (rules: {', '.join(RULES)}; "
                           "or demographic_parity_difference:max=X, "
                           "equalized_odds_difference:max=X) or min-group-size=N")
        metric, rule = m.group("metric"), m.group("rule")
        try:
            value = float(m.group("value"))
        except ValueError:
            raise BadInput(f"{label}: {m.group('value')!r} is not a number") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise BadInput(f"{label}: not a finite number")
        if metric in PARITY:
            if rule != "max":
                raise BadInput(f"{label}: {metric} takes max=X")
        elif rule not in RULES:
            raise BadInput(f"{label}: unknown rule {rule!r} (rules: {', '.join(RULES)})")
        limits.append(Limit(metric, rule, value, spec))
    return tuple(limits), size


def judge(limits: tuple[Limit, ...], min_size: int, benchmark: dict[str, Any] | None,
          path: str) -> list[FairnessCheck]:
    """Every limit on every sensitive column of the benchmark's result; exit 2 when there is
    nothing to judge (no benchmark result, one without --sensitive, a metric it lacks)."""
    if not limits:
        return []
    result = benchmark.get("result") if isinstance(benchmark, dict) else None
    if not isinstance(result, dict):
        raise BadInput("--fairness: needs the benchmark's result (--evidence benchmark.json)")
    columns = result.get("fairness")
    if not isinstance(columns, list) or not columns:
        raise BadInput(f"--fairness: {path} holds no fairness figures: run mlgate benchmark "
                       "with --sensitive COLUMN")
    checks = []
    for fair in columns:
        if not isinstance(fair, dict) or not isinstance(fair.get("groups"), list):
            raise BadInput(f"--fairness: {path}: fairness figures are not as mlgate writes them")
        column = str(fair.get("column"))
        groups = [g for g in fair["groups"] if isinstance(g, dict)]
        judged = [g for g in groups if _int(g.get("rows")) >= min_size]
        small = tuple(str(g.get("value")) for g in groups if _int(g.get("rows")) < min_size)
        for limit in limits:
            checks.append(_check(limit, column, judged, small, path))
    return checks


def _check(limit: Limit, column: str, judged: list[dict], small: tuple[str, ...],
           path: str) -> FairnessCheck:
    names = tuple(str(g.get("value")) for g in judged)

    def done(passed: bool, figure: float | None, message: str) -> FairnessCheck:
        return FairnessCheck(column, limit.spec, passed, figure, f"{column}: {message}", names,
                             small)

    if len(judged) < 2 and limit.rule not in ("min-group", "max-group"):
        return done(True, None, f"{limit.spec}: fewer than two groups with at least the minimum "
                                "size; nothing to compare (reported, not judged)")
    if limit.metric in PARITY:
        figure = _parity(limit.metric, judged, "candidate", path)
        return done(figure <= limit.value, figure,
                    f"{limit.metric} {figure:.4g} (max {limit.value:g})")
    values = _figures(limit.metric, judged, "candidate", path)
    if limit.rule in ("min-group", "max-group"):
        if not values:
            return done(True, None, f"{limit.spec}: no group with at least the minimum size")
        worst_group, worst = (min if limit.rule == "min-group" else max)(
            values.items(), key=lambda kv: kv[1])
        ok = worst >= limit.value if limit.rule == "min-group" else worst <= limit.value
        word = "lowest" if limit.rule == "min-group" else "highest"
        bound = "min" if limit.rule == "min-group" else "max"
        return done(ok, worst, f"{limit.metric} {word} in group {worst_group}: {worst:.4g} "
                               f"({bound} {limit.value:g})")
    if len(values) < 2:
        return done(True, None, f"{limit.spec}: {limit.metric} is undefined for all but one "
                                "group; nothing to compare (reported, not judged)")
    gap = max(values.values()) - min(values.values())
    if limit.rule == "max-gap":
        return done(gap <= limit.value, gap,
                    f"{limit.metric} gap between groups {gap:.4g} (max {limit.value:g})")
    if limit.rule == "min-ratio":
        top = max(values.values())
        ratio = min(values.values()) / top if top else 1.0
        return done(ratio >= limit.value, ratio,
                    f"{limit.metric} ratio between groups {ratio:.4g} (min {limit.value:g})")
    champion = _figures(limit.metric, judged, "champion", path)
    if len(champion) < 2:
        raise BadInput(f"--fairness {limit.spec}: {path} has no champion figures to compare "
                       "against")
    widened = gap - (max(champion.values()) - min(champion.values()))
    return done(widened <= limit.value, widened,
                f"{limit.metric} gap {gap:.4g} widens the champion's by {widened:.4g} "
                f"(max {limit.value:g})")


def _figures(metric: str, groups: list[dict], role: str, path: str) -> dict[str, float]:
    out = {}
    for g in groups:
        figures = g.get(role)
        if not isinstance(figures, dict) or metric not in figures:
            raise BadInput(f"--fairness {metric}: {path} has no {role} figure of {metric} per "
                           "group (is it one of the benchmark's --metric?)")
        value = figures[metric]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[str(g.get("value"))] = float(value)
    return out


def _parity(metric: str, groups: list[dict], role: str, path: str) -> float:
    if any(not isinstance(g.get(role), dict) or "selection_rate" not in g[role]
           for g in groups):
        raise BadInput(f"--fairness {metric}: {path} has no per-group rates: parity figures "
                       "exist for binary classifiers only")
    if metric == "demographic_parity_difference":
        rates = _figures("selection_rate", groups, role, path)
        return max(rates.values()) - min(rates.values())
    tpr = _figures("true_positive_rate", groups, role, path)
    fpr = _figures("false_positive_rate", groups, role, path)
    return max(max(tpr.values()) - min(tpr.values()), max(fpr.values()) - min(fpr.values()))


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
