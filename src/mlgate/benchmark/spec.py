"""Metric specs: which metric gates the candidate and by what rule.

A spec on the command line is ``NAME`` or ``NAME:key=value,key=value``. The keys are MLflow's
`MetricThreshold` fields plus a non-inferiority margin:

- ``threshold=V``            the candidate's value must be at least (greater is better) or at
                             most V; absolute, so it also applies when there is no champion;
- ``min_absolute_change=D``  the candidate must beat the champion by more than D;
- ``min_relative_change=R``  ... by more than R x |champion| (R = 0.05 or 5%);
- ``margin=M``               non-inferiority: the candidate may be worse by at most M
                             (absolute, or ``2%`` of the champion's value);
- ``greater_is_better=true|false`` overrides the metric's own direction (rarely needed).

Change rules and the margin are judged on the confidence bound of the change, not on the
point estimate (see `decide`). A bare ``NAME`` is reported with its interval but gates nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlgate.benchmark.metrics import PRIMARY, Metric, get_metric
from mlgate.errors import BadInput

DEFAULT_MARGIN = 0.01
_KEYS = ("threshold", "min_absolute_change", "min_relative_change", "margin",
         "greater_is_better")
_ALIASES = {"max_regression": "margin", "non_inferiority_margin": "margin",
            "min_abs_change": "min_absolute_change", "min_rel_change": "min_relative_change"}


@dataclass(frozen=True)
class Amount:
    """A limit that is either absolute or relative to the champion's value."""

    value: float
    relative: bool = False

    def resolve(self, champion: float | None) -> float | None:
        """The limit in the metric's units; None when relative and there is no champion."""
        if not self.relative:
            return self.value
        if champion is None:
            return None
        return self.value * abs(champion)

    def __str__(self) -> str:
        return f"{self.value * 100:g}%" if self.relative else f"{self.value:g}"


@dataclass(frozen=True)
class MetricSpec:
    metric: Metric
    greater_is_better: bool
    threshold: float | None = None
    min_absolute_change: float | None = None
    min_relative_change: float | None = None
    margin: Amount | None = None
    text: str = ""

    @property
    def name(self) -> str:
        return self.metric.name

    @property
    def gated(self) -> bool:
        return any(v is not None for v in (self.threshold, self.min_absolute_change,
                                           self.min_relative_change, self.margin))


def _number(spec: str, key: str, raw: str, *, percent_ok: bool) -> tuple[float, bool]:
    text = raw.strip()
    relative = text.endswith("%")
    if relative:
        if not percent_ok:
            raise BadInput(f"--metric {spec!r}: {key} takes a plain number, not a percentage")
        text = text[:-1]
    try:
        value = float(text)
    except ValueError:
        raise BadInput(f"--metric {spec!r}: {key}={raw!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise BadInput(f"--metric {spec!r}: {key} must be finite")
    return (value / 100.0 if relative else value), relative


def parse_spec(text: str, task: str | None = None) -> MetricSpec:
    """Parse one ``--metric`` value; exit 2 naming it when it is malformed."""
    spec = str(text).strip()
    name, _, rest = spec.partition(":")
    if not name.strip():
        raise BadInput(f"--metric {spec!r}: no metric name")
    try:
        metric = get_metric(name)
    except BadInput as exc:
        raise BadInput(f"--metric {spec!r}: {exc}") from None
    if task is not None and metric.task != task:
        raise BadInput(f"--metric {spec!r}: {metric.name} is a {metric.task} metric, the task "
                       f"is {task}")
    values: dict[str, object] = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, raw = part.partition("=")
        key = key.strip().lower().replace("-", "_")
        key = _ALIASES.get(key, key)
        if not eq or key not in _KEYS:
            raise BadInput(f"--metric {spec!r}: {part!r} is not KEY=VALUE with KEY one of "
                           f"{', '.join(_KEYS)}")
        if key in values:
            raise BadInput(f"--metric {spec!r}: {key} given twice")
        if key == "greater_is_better":
            low = raw.strip().lower()
            if low not in ("true", "false"):
                raise BadInput(f"--metric {spec!r}: greater_is_better must be true or false")
            values[key] = low == "true"
        elif key == "margin":
            value, relative = _number(spec, key, raw, percent_ok=True)
            if value < 0:
                raise BadInput(f"--metric {spec!r}: margin must not be negative")
            values[key] = Amount(value, relative)
        elif key == "min_relative_change":
            value, _ = _number(spec, key, raw, percent_ok=True)
            values[key] = value
        else:
            values[key] = _number(spec, key, raw, percent_ok=False)[0]
    for key in ("min_absolute_change", "min_relative_change"):
        if key in values and float(values[key]) < 0:  # type: ignore[arg-type]
            raise BadInput(f"--metric {spec!r}: {key} must not be negative (use margin= "
                           "to allow a regression)")
    gib = values.pop("greater_is_better", metric.greater_is_better)
    return MetricSpec(metric=metric, greater_is_better=bool(gib), text=spec,
                      **values)  # type: ignore[arg-type]


def default_specs(task: str) -> list[MetricSpec]:
    """No --metric: non-inferiority on the task's primary metric, absolute margin 0.01."""
    metric = get_metric(PRIMARY[task])
    return [MetricSpec(metric=metric, greater_is_better=metric.greater_is_better,
                       margin=Amount(DEFAULT_MARGIN),
                       text=f"{metric.name}:margin={DEFAULT_MARGIN:g}")]


def parse_specs(texts, task: str) -> list[MetricSpec]:
    specs = [parse_spec(t, task) for t in texts] if texts else default_specs(task)
    seen: set[str] = set()
    for s in specs:
        if s.name in seen:
            raise BadInput(f"--metric: {s.name} given twice; put all its rules in one spec, "
                           f"e.g. {s.name}:threshold=0.8,margin=0.01")
        seen.add(s.name)
    return specs
