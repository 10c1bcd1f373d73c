"""mlgate validate as a user's CI runs it, once per runner, with real Great Expectations:
`uses: ./actions/validate-data` run by act, and gitlab-templates/validate-data.yml included
locally and run by gitlab-ci-local.

The test writes scikit-learn's breast cancer data (shipped inside scikit-learn, nothing is
downloaded) into the repository, as a pipeline's data step would, and validates it against the
example suite (examples/model-project/suites/breast_cancer.yaml). Two jobs:

- `holdout`: every other row of the data as published, against the rest as the reference
  (act: a parquet file; gitlab-ci-local: a glob of two CSV files, read as one batch): the job
  passes, no column drifted, and the JUnit report, the Data Docs and the JSON result are kept; a
  later step / a downstream job reads the outputs.
- `broken`: data breaking the suite fails the job with exit 1, yet its reports are kept (act: a
  later `if: always()` step still reads the outputs and finds them; gitlab-ci-local: the
  artifacts, `when: always`, hold the dotenv report and every report, and the downstream job
  that `needs` it never runs). act's data has a radius in millimetres and a label 2 and gates on
  warnings; gitlab-ci-local's misses 50 "worst area" values (a critical expectation).

act prints each step's job summary in its log ("Summary - ..."); the test reads it there.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from harness import Job

from mlgate.interface import OUTPUTS as _ALL_OUTPUTS  # noqa: E402
OUTPUTS = _ALL_OUTPUTS["validate"]

pytestmark = pytest.mark.e2e

datasets = pytest.importorskip("sklearn.datasets", reason="scikit-learn is not installed")

TITLE = "e2e validate"
SUITE = "examples/model-project/suites/breast_cancer.yaml"
# act writes the reports where a workflow would; the template keeps `mlgate-validate.*`.
REPORTS = {
    "act": {
        "junit": "reports/validate.junit.xml",
        "data-docs": "reports/data-docs",
        "json": "reports/validate.json",
    },
    "gitlab-ci-local": {
        "junit": "mlgate-validate.junit.xml",
        "data-docs": "mlgate-validate.docs",
        "json": "mlgate-validate.json",
    },
}


def act_files() -> dict[str, bytes]:
    import io

    frame = datasets.load_breast_cancer(as_frame=True).frame
    broken = frame.copy()
    broken["mean radius"] = broken["mean radius"] * 10
    broken.loc[0, "target"] = 2

    def parquet(f) -> bytes:
        buf = io.BytesIO()
        f.to_parquet(buf)
        return buf.getvalue()

    return {
        "data/holdout.parquet": parquet(frame.iloc[::2]),
        "data/train.parquet": parquet(frame.iloc[1::2]),
        "data/broken.csv": broken.to_csv(index=False).encode(),
    }


def gitlab_files() -> dict[str, str]:
    frame = datasets.load_breast_cancer(as_frame=True).frame
    broken = frame.copy()
    broken.loc[:49, "worst area"] = None  # 50 missing measurements: a critical expectation
    return {
        "data/holdout.jsonl": frame.iloc[::2].to_json(orient="records", lines=True),
        "data/broken.jsonl": broken.to_json(orient="records", lines=True),
        # the reference as a glob of two files, read as one batch
        "data/reference-1.csv": frame.iloc[1:300:2].to_csv(index=False),
        "data/reference-2.csv": frame.iloc[301::2].to_csv(index=False),
    }


def jobs(runner_name: str) -> tuple[Job, Job]:
    reports = REPORTS[runner_name]
    if runner_name == "act":
        holdout = {"data": "data/holdout.parquet", "reference": "data/train.parquet"}
        broken = {"data": "data/broken.csv", "fail-on": "warning",
                  "reference": "data/train.parquet"}
    else:
        holdout = {"data": "data/holdout.jsonl", "reference": "data/reference-*.csv"}
        broken = {"data": "data/broken.jsonl", "reference": "data/reference-*.csv"}
    return tuple(
        Job(name, "validate-data", "validate", OUTPUTS,
            {"data": inputs.pop("data"), "suite": SUITE, **inputs, **reports})
        for name, inputs in (("holdout", holdout), ("broken", broken))
    )


def dotenv_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if line)
    return {key: value for key, value in pairs}


def test_validate_passes_and_fails_with_reports(make_repo, runner, mlgate_validate_bin):
    reports = REPORTS[runner.name]
    holdout, broken = jobs(runner.name)
    data = act_files() if runner.name == "act" else gitlab_files()
    repo = make_repo({**runner.files(TITLE, [holdout, broken]), **data})

    run = runner.run(repo, bin_dir=mlgate_validate_bin.parent)

    log = run.log
    assert run.returncode != 0, log[-4000:]
    assert runner.exit_code(run, holdout) == 0, log[-6000:]
    assert runner.exit_code(run, broken) == 1, log[-6000:]
    if runner.name == "act":
        assert "Job 'broken' failed" in log, log[-6000:]

    # holdout: passes, no drift, every report kept, the outputs read by a later step / job.
    assert runner.outputs(run, holdout) == {
        "passed": "true",
        "evaluated": "66",
        "failed": "0",
        "success-percent": "100.00",
        "drifted": "0",
        "junit": reports["junit"],
        "data-docs": reports["data-docs"] + "/index.html",
    }
    kept = runner.kept(run, holdout)
    assert (kept / reports["data-docs"] / "index.html").is_file()
    result = json.loads((kept / reports["json"]).read_text())
    assert result["exit_code"] == 0 and result["result"]["rows"] == 285
    assert result["result"]["drift"]["method"] == "psi"
    assert len(result["result"]["drift"]["columns"]) == 31
    if runner.name == "act":
        text = runner.summary(run, holdout)
        assert "66 evaluated · 0 failed · 100.0% successful · 285 rows" in text
    else:
        assert result["result"]["drift"]["reference"] == ["data/reference-1.csv",
                                                          "data/reference-2.csv"]
        assert result["result"]["drift"]["schema"] == []

    # broken: the gate failed the job; its reports are kept all the same.
    kept = runner.kept(run, broken)
    junit = ET.parse(kept / reports["junit"]).getroot()
    if runner.name == "act":  # the `if: always()` step still read the outputs
        out = runner.outputs(run, broken)
        assert out["passed"] == "false"
        assert out["failed"] == "3"
        assert out["drifted"] == "1"  # the radius, ten times larger
        failing = sorted(c.get("name") for c in junit.iter("testcase")
                         if c.find("failure") is not None)
        # the info-level check on the mean radius fails too, below --fail-on warning
        # the drift is a warning, so it fails the gate as well
        assert failing == ["4. expect_column_distinct_values_to_be_in_set (target)",
                           "7. expect_column_values_to_be_between (mean radius)",
                           "psi mean radius"]
        text = runner.summary(run, broken)
        assert ("failed: 2 expectation(s) failed at or above warning; 1 drift finding(s) at or "
                "above warning") in text
        assert ("| 4 | ❌ failed | critical | target | "
                "expect_column_distinct_values_to_be_in_set |") in text
        assert ("| 66 | ⚠️ failed | info | mean radius | "
                "expect_column_mean_to_be_between |") in text
    else:
        assert runner.outputs(run, broken) == {}  # read-broken `needs` it: it never ran
        assert dotenv_file(kept / "mlgate-validate.env") == {
            "MLGATE_VALIDATE_PASSED": "false",
            "MLGATE_VALIDATE_EVALUATED": "66",
            "MLGATE_VALIDATE_FAILED": "1",
            "MLGATE_VALIDATE_SUCCESS_PERCENT": "98.48",
            "MLGATE_VALIDATE_DRIFTED": "0",
            "MLGATE_VALIDATE_JUNIT": reports["junit"],
            "MLGATE_VALIDATE_DATA_DOCS": reports["data-docs"] + "/index.html",
        }
        assert junit.get("failures") == "1"
        assert (kept / reports["data-docs"] / "index.html").is_file()
        result = json.loads((kept / reports["json"]).read_text())
        assert result["exit_code"] == 1
        failed = [o for o in result["result"]["outcomes"] if not o["success"]]
        assert [(o["column"], o["type"], o["unexpected_count"]) for o in failed] == [
            ("worst area", "expect_column_values_to_not_be_null", 50)]
        assert "1 expectation(s) failed at or above critical" in runner.summary(run, broken)
