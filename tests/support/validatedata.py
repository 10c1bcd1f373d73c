"""Data and suites the validate tests generate: a small customer table whose columns the
tests break one way or another, and suites in both forms GX can take (YAML, GX JSON)."""

from __future__ import annotations

from pathlib import Path

import yaml

ROWS = 400


def customers(rows: int = ROWS, seed: int = 7, shift: float = 0.0):
    """A churn-like table: id, age, income (shifted by `shift` standard deviations), plan."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "customer_id": np.arange(1, rows + 1),
        "age": rng.integers(18, 90, rows),
        "income": rng.normal(50_000 + shift * 10_000, 10_000, rows).round(2),
        "plan": rng.choice(["basic", "plus", "pro"], rows),
    })


# One expectation per severity, so each can be failed on its own.
SUITE = {
    "name": "churn",
    "expectations": [
        {"expectation": "expect_column_values_to_not_be_null",
         "kwargs": {"column": "customer_id"}, "severity": "critical"},
        {"expectation": "expect_column_values_to_be_between",
         "kwargs": {"column": "age", "min_value": 18, "max_value": 120}, "severity": "critical"},
        {"expectation": "ExpectColumnMeanToBeBetween",  # a class name works too
         "kwargs": {"column": "income", "min_value": 40_000, "max_value": 60_000},
         "severity": "warning"},
        {"expectation": "expect_column_values_to_be_in_set",
         "kwargs": {"column": "plan", "value_set": ["basic", "plus", "pro"]},
         "severity": "info"},
    ],
}


def write_suite(path: Path, suite: dict | None = None) -> Path:
    path.write_text(yaml.safe_dump(suite or SUITE, sort_keys=False), encoding="utf-8")
    return path
