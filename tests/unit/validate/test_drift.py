"""Drift against a reference dataset: the statistics themselves, then `mlgate validate
--reference` finding drift (and schema changes) where the test put them and none where it
did not."""

from __future__ import annotations

import json
import os

import pytest
from support.validatedata import customers, write_suite

from mlgate.cli import main

np = pytest.importorskip("numpy")
pytest.importorskip("great_expectations", reason="the validate extra is not installed")

from mlgate.validate.drift import ks_statistic, psi_categorical, psi_numeric  # noqa: E402


def test_statistics_are_near_zero_for_the_same_distribution_and_large_for_a_shift():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, 5000), rng.normal(0, 1, 5000)
    assert psi_numeric(a, b) < 0.02
    assert ks_statistic(a, b) < 0.05
    shifted = rng.normal(1, 1, 5000)
    assert psi_numeric(a, shifted) > 0.5
    assert 0.3 < ks_statistic(a, shifted) < 0.5  # about 2 * Phi(0.5) - 1 = 0.38


def test_ks_matches_the_definition_on_a_small_case():
    # F_a jumps at 1, 2, 3; F_b at 2.5, 3.5: the largest gap is 2/3 at x in [2, 2.5)
    assert ks_statistic(np.array([1.0, 2.0, 3.0]), np.array([2.5, 3.5])) == pytest.approx(2 / 3)


def test_psi_of_categories():
    import pandas as pd

    same = pd.Series(["a"] * 50 + ["b"] * 50)
    assert psi_categorical(same, same) == 0.0
    moved = pd.Series(["a"] * 90 + ["b"] * 10)
    # (0.9-0.5) ln(0.9/0.5) + (0.1-0.5) ln(0.1/0.5)
    assert psi_categorical(same, moved) == pytest.approx(0.4 * np.log(1.8) - 0.4 * np.log(0.2))


def run(tmp_path, *args):
    out = tmp_path / "result.json"
    code = main(["validate", *args, "--json", str(out)],
                environ={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)})
    return code, json.loads(out.read_text())


@pytest.fixture
def files(tmp_path):
    suite = write_suite(tmp_path / "churn.yaml")
    reference = tmp_path / "train.parquet"
    customers(rows=2000, seed=1).to_parquet(reference)
    return suite, reference


def test_no_drift_on_a_fresh_sample_of_the_same_population(tmp_path, files):
    suite, reference = files
    current = tmp_path / "current.parquet"
    customers(rows=2000, seed=2).to_parquet(current)
    for method in ("psi", "ks"):
        code, data = run(tmp_path, "--data", str(current), "--suite", str(suite),
                         "--reference", str(reference), "--drift-method", method)
        assert code == 0
        drift = data["result"]["drift"]
        assert drift["schema"] == []
        assert [c["column"] for c in drift["columns"] if c["drifted"]] == []
        assert data["outputs"]["drifted"] == "0"
        methods = {c["column"]: c["method"] for c in drift["columns"]}
        assert methods["plan"] == "psi" and methods["income"] == method


def test_drift_and_schema_changes_found_and_gated_by_severity(tmp_path, files):
    suite, reference = files
    frame = customers(rows=2000, seed=2, shift=1.0)  # income one standard deviation up
    frame["age"] = frame["age"].astype(float)  # retyped integer -> float
    frame = frame.drop(columns=["customer_id"]).assign(region="north")  # missing, new
    current = tmp_path / "current.csv"
    frame.to_csv(current, index=False)
    args = ["--data", str(current), "--suite", str(suite), "--reference", str(reference)]

    code, data = run(tmp_path, *args, "--drift-method", "ks")
    drift = data["result"]["drift"]
    changes = {(c["column"], c["change"]) for c in drift["schema"]}
    assert changes == {("customer_id", "missing"), ("region", "new"), ("age", "retyped")}
    assert [c["column"] for c in drift["columns"] if c["drifted"]] == ["income"]
    assert data["outputs"]["drifted"] == "1"
    # drift is a warning by default; the missing customer_id column fails its critical
    # expectation, so the gate fails for that and not for the drift
    assert code == 1
    assert data["result"]["outcomes"][0]["blocking"]
    assert not any(c["blocking"] for c in drift["columns"])

    suite_without_id = write_suite(tmp_path / "no-id.yaml", {"name": "x", "expectations": [
        {"expectation": "expect_column_to_exist", "kwargs": {"column": "income"}}]})
    args[3] = str(suite_without_id)
    code, data = run(tmp_path, *args)
    assert code == 0 and data["outputs"]["passed"] == "true"  # drift only warns
    code, data = run(tmp_path, *args, "--drift-severity", "critical")
    assert code == 1 and "drift finding(s)" in data["verdict"]
    code, data = run(tmp_path, *args, "--fail-on", "warning")
    assert code == 1
    code, data = run(tmp_path, *args, "--psi-threshold", "50")  # nothing is that far apart
    assert data["outputs"]["drifted"] == "0"
