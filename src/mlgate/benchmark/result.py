"""The typed result of a benchmark: what was compared, every figure, every check and the verdict.

Report writers (Markdown, HTML, OpenMetrics, JSON) and the CLI presentation read only this, so
the pandas and Spark engines can differ in how they compute and still report the same way.
Curves for the HTML report travel beside the result (`Curves`), not inside its JSON: they are
large and only the HTML writer needs them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Role = Literal["champion", "candidate"]


@dataclass(frozen=True)
class ModelInfo:
    """Where a model came from and what it is."""

    role: Role
    uri: str
    format: str                      # mlflow-sklearn-skops, mlflow-pyfunc, skops, joblib, pickle
    size_bytes: int
    name: str | None = None          # registered model name
    version: str | None = None       # registered model version
    run_id: str | None = None        # MLflow run that produced it
    features: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()    # class labels as text (classification)


@dataclass(frozen=True)
class Check:
    """One requirement of a metric spec and whether it held.

    `bound` is the figure the decision used (the confidence bound of the oriented change, or
    the candidate's value for an absolute threshold); `point` the same figure from the point
    estimate alone, shown beside it so a reader sees when the two disagree.
    """

    kind: str            # threshold | min_absolute_change | min_relative_change | margin
    required: float      # the limit in the metric's own units (relative limits resolved)
    bound: float
    point: float
    passed: bool
    passed_by_point: bool
    text: str            # one human-readable line


@dataclass(frozen=True)
class MetricResult:
    """A metric on champion and candidate, the change, its interval and what it decided."""

    name: str
    greater_is_better: bool
    candidate: float
    champion: float | None = None
    delta: float | None = None        # candidate - champion
    low: float | None = None          # bootstrap percentile interval of delta
    high: float | None = None
    test: str | None = None           # mcnemar-exact | wilcoxon
    p_value: float | None = None
    gated: bool = True                # False: reported only (no requirement)
    checks: tuple[Check, ...] = ()
    passed: bool = True
    error: str | None = None          # why a figure is missing (e.g. no probabilities)

    @property
    def significant(self) -> bool | None:
        """True when the interval excludes zero."""
        if self.low is None or self.high is None:
            return None
        return self.low > 0 or self.high < 0


@dataclass(frozen=True)
class SliceResult:
    """Every gated metric on one value of the slice column."""

    column: str
    value: str
    rows: int
    metrics: tuple[MetricResult, ...]
    judged: bool                      # False: too few rows to judge (reported only)
    passed: bool


@dataclass(frozen=True)
class Latency:
    """Single-row prediction latency of one model, in milliseconds, and its size on disk."""

    role: Role
    p50_ms: float
    p95_ms: float
    samples: int


@dataclass(frozen=True)
class LatencyCheck:
    kind: str                         # max_p95_ms | max_regression
    required: float
    observed: float
    passed: bool
    text: str


# --- fairness across groups (--sensitive): figures only; mlgate comply judges them


@dataclass(frozen=True)
class GroupFigures:
    value: str
    rows: int
    # metric (and, for binary classifiers, each rate) -> figure; NaN-free: None when undefined
    candidate: dict[str, float | None]
    champion: dict[str, float | None] | None = None


@dataclass(frozen=True)
class Spread:
    """One figure over the groups: fairlearn's between-groups difference and ratio."""

    metric: str
    greater_is_better: bool
    candidate_min: float | None
    candidate_max: float | None
    candidate_difference: float | None
    candidate_ratio: float | None
    champion_difference: float | None = None
    champion_ratio: float | None = None


@dataclass(frozen=True)
class FairnessResult:
    column: str
    groups: tuple[GroupFigures, ...]
    spreads: tuple[Spread, ...]
    # binary classification only: fairlearn's figures over every group, per role
    demographic_parity_difference: dict[str, float | None] = field(default_factory=dict)
    equalized_odds_difference: dict[str, float | None] = field(default_factory=dict)
    missing_rows: int = 0
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class BenchmarkResult:
    task: str                         # classification | regression
    engine: str                       # pandas | spark
    data: str
    rows: int
    target: str
    confidence: float
    resamples: int
    seed: int
    candidate: ModelInfo
    champion: ModelInfo | None
    metrics: tuple[MetricResult, ...]
    passed: bool
    reasons: tuple[str, ...] = ()     # why it failed, one line each
    notes: tuple[str, ...] = ()       # what a reader must know (no champion, slices skipped…)
    slice_column: str | None = None
    slices: tuple[SliceResult, ...] = ()
    latency: tuple[Latency, ...] = ()
    latency_checks: tuple[LatencyCheck, ...] = ()
    labels: tuple[str, ...] = ()
    mlflow_run_id: str | None = None  # where metrics and report were logged, if they were
    seconds: float = 0.0
    fairness: tuple[FairnessResult, ...] = ()   # one per --sensitive column

    @property
    def champion_missing(self) -> bool:
        return self.champion is None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for m, src in zip(out["metrics"], self.metrics):
            m["significant"] = src.significant
        return out


@dataclass(frozen=True)
class Curve:
    """x/y points of one curve and the area or score printed in its legend."""

    x: tuple[float, ...]
    y: tuple[float, ...]
    score: float | None = None


@dataclass
class Curves:
    """What the HTML report plots, per model role.

    Classification: ROC and precision-recall curves (binary: of the positive class; more
    classes: one-vs-rest of each class, keyed "role:label"). Regression: a sample of
    (prediction, residual) points per model.
    """

    roc: dict[str, Curve] = field(default_factory=dict)
    pr: dict[str, Curve] = field(default_factory=dict)
    residuals: dict[str, Curve] = field(default_factory=dict)
