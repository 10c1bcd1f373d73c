"""Each check as a controller applies it: its final range (a max-drop turned into a floor from
the benchmark evidence, as verify does), and how a request to serve-analysis names it.

A check the controller cannot apply from Prometheus alone (a max-drop without the evidence's
score) can still be judged by serve-analysis, which reads the evidence itself; whether that is
allowed is the caller's choice (it depends on whether the server is in the manifests at all).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from mlgate.errors import BadInput
from mlgate.verify.check import Check


@dataclass(frozen=True)
class Rendered:
    check: Check
    low: float | None              # the range the controller applies; both None: none here
    high: float | None
    baseline: float | None         # max-drop: the candidate's score in the evidence
    request: str                   # how a request to serve-analysis names the check

    @property
    def has_range(self) -> bool:
        return self.low is not None or self.high is not None


def number_text(value: float) -> str:
    """A finite number as a plain decimal, exactly as Python reads it back, never in exponent
    form (expr, PromQL and YAML readers all take `0.00001`; not all take `1e-05`)."""
    text = format(Decimal(repr(float(value))), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def request_spec(check: Check) -> str:
    """How serve-analysis is asked for this check: a built-in by its SPEC (parse_check reads it
    back to the same range), a custom check by its name alone (the server defines its query:
    a request never carries PromQL)."""
    if not check.builtin:
        return check.name
    parts = []
    if check.min is not None:
        parts.append(f"min={number_text(check.min)}")
    if check.max is not None:
        parts.append(f"max={number_text(check.max)}")
    if check.max_drop is not None:
        drop = check.max_drop
        parts.append("max-drop=" + (f"{number_text(round(drop * 100, 10))}%"
                                    if check.drop_relative else number_text(drop)))
    return f"{check.name}:{','.join(parts)}"


def prepare(checks: Sequence[Check], baselines: Mapping[str, float],
            evidence: str | None) -> tuple[Rendered, ...]:
    """Every check with its final range. The Kubernetes check is refused: it is not a query,
    and Flagger and Argo Rollouts watch the workload's replicas themselves."""
    from mlgate.verify.evidence import drop_floor

    out = []
    for check in checks:
        what = f"--check {check.name}"
        if check.kube:
            raise BadInput(f"{what}: read from the Kubernetes API, not Prometheus; Flagger and "
                           "Argo Rollouts watch the workload's replicas themselves (leave it "
                           "out here)")
        low, high, baseline = check.min, check.max, None
        if check.max_drop is not None and check.name in baselines:
            baseline = baselines[check.name]
            floor = drop_floor(baseline, check.max_drop, check.drop_relative)
            low = floor if low is None else max(low, floor)
        elif check.max_drop is not None and evidence:
            raise BadInput(f"{what}: --evidence {evidence} holds no {check.name} score for the "
                           "candidate")
        out.append(Rendered(check, low, high, baseline, request_spec(check)))
    return tuple(out)


def no_range(rendered: Rendered, for_what: str) -> BadInput:
    """The refusal of a check the controller would have to judge without a range."""
    return BadInput(f"--check {rendered.check.name}: max-drop has no range for {for_what} "
                    "without the benchmark evidence's score: give --evidence (the JSON of "
                    "mlgate benchmark that promoted the model), or let serve-analysis judge it "
                    "(--analysis-url, and --evidence-name for the server's copy)")
