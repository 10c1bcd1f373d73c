"""What a validation is asked to do: the data, the suite, the engine, and the drift policy against
a reference dataset.

The inputs of `mlgate validate`, kept apart from its result (validate/result.py) as in every
concern package: `<package>/config.py` holds what goes in, `<package>/result.py` what comes out.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class DriftPolicy:
    method: str = "psi"
    psi_threshold: float = 0.2
    ks_threshold: float = 0.1
    severity: str = "warning"
    fail_on: str = "critical"


@dataclass(frozen=True)
class ValidateConfig:
    data: str
    suite: str
    engine: str = "pandas"
    spark_master: str | None = None
    reference: str | None = None
    fail_on: str = "critical"
    result_format: str = "SUMMARY"
    data_docs: str | None = None
    drift: DriftPolicy = field(default_factory=DriftPolicy)
