"""The example suite shipped for the demo (examples/model-project/suites/breast_cancer.yaml)
holds for scikit-learn's breast cancer data, and catches the data going wrong."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mlgate.cli import main

pytest.importorskip("great_expectations", reason="the validate extra is not installed")
datasets = pytest.importorskip("sklearn.datasets", reason="scikit-learn is not installed")

SUITE = Path(__file__).resolve().parents[3] / "examples" / "model-project" / "suites" \
    / "breast_cancer.yaml"


def run(tmp_path, data):
    out = tmp_path / "result.json"
    code = main(["validate", "--data", str(data), "--suite", str(SUITE), "--json", str(out)],
                environ={"PATH": os.environ.get("PATH", "")})
    return code, json.loads(out.read_text())


def test_breast_cancer_data_passes_the_example_suite(tmp_path):
    frame = datasets.load_breast_cancer(as_frame=True).frame
    path = tmp_path / "breast_cancer.parquet"
    frame.to_parquet(path)
    code, data = run(tmp_path, path)
    assert code == 0, data["verdict"]
    assert data["outputs"]["failed"] == "0"
    assert int(data["outputs"]["evaluated"]) == 66

    broken = frame.copy()
    broken["mean radius"] = broken["mean radius"] * 10  # millimetres for centimetres
    broken.loc[0, "target"] = 2
    path = tmp_path / "broken.parquet"
    broken.to_parquet(path)
    code, data = run(tmp_path, path)
    assert code == 1
    failed = {(o["column"], o["type"]) for o in data["result"]["outcomes"] if not o["success"]}
    assert failed == {("target", "expect_column_distinct_values_to_be_in_set"),
                      ("mean radius", "expect_column_values_to_be_between"),
                      ("mean radius", "expect_column_mean_to_be_between")}
