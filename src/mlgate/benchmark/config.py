"""What a benchmark is asked to do: the models, the data, the metrics, the statistics' settings
and the limits.

The inputs of `mlgate benchmark`, kept apart from its result (benchmark/result.py) as in every
concern package: `<package>/config.py` holds what goes in, `<package>/result.py` what comes out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mlgate.benchmark.decide import MIN_SLICE_ROWS

# The fewest rows a benchmark judges by default: the same rule of thumb as a slice (below ~30
# paired rows a bootstrap interval is mostly noise; on 3 rows it is [0, 0] and "passes").
MIN_ROWS = MIN_SLICE_ROWS


@dataclass(frozen=True)
class LatencyLimits:
    max_p95_ms: float | None = None
    max_regression: float | None = None   # fraction: 0.10 = candidate p95 <= 1.1 x champion's


@dataclass
class BenchmarkConfig:
    candidate: str
    data: str
    target: str
    champion: str | None = None
    task: str | None = None
    metrics: tuple[str, ...] = ()
    confidence: float = 0.95
    resamples: int = 1000
    seed: int = 0
    slice_column: str | None = None
    min_slice_rows: int = MIN_SLICE_ROWS
    min_rows: int = MIN_ROWS
    ignore_columns: tuple[str, ...] = ()
    # --sensitive: each metric per group (fairness); never fed to the models
    sensitive: tuple[str, ...] = ()
    latency: bool = False
    latency_samples: int = 200
    limits: LatencyLimits = field(default_factory=LatencyLimits)
    engine: str = "pandas"
    spark_master: str | None = None
    trust_pickle: bool = False
    trusted_types: tuple[str, ...] = ()
    workers: int | None = None
    curves: bool = False          # the HTML report will want ROC / PR curves (probabilities)
    # MLflow's URIs for models:/ and runs:/ models, from the environ mapping the command was
    # given (None: MLflow's own default, from os.environ)
    tracking_uri: str | None = None
    registry_uri: str | None = None
