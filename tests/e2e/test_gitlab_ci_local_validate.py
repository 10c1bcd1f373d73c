"""gitlab-templates/validate-data.yml included locally and run by gitlab-ci-local, with real
Great Expectations, on scikit-learn's breast cancer data (written into the repository by the
test, as a data job's artifact would be) and the example suite.

- Data that breaks the suite fails the job with exit 1, yet its artifacts (`when: always`) hold
  the dotenv report, the Markdown summary, the JSON result, the JUnit report and the Data Docs;
  the downstream job that `needs` it never runs.
- The data as published passes, and a downstream job reads MLGATE_VALIDATE_PASSED=true and the
  rest of the dotenv report.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from harness import gitlab_dotenv_job

from mlgate.ci.gitlab import variable_name
from mlgate.interface import OUTPUTS as _ALL_OUTPUTS  # noqa: E402
OUTPUTS = _ALL_OUTPUTS["validate"]

pytestmark = pytest.mark.e2e

datasets = pytest.importorskip("sklearn.datasets", reason="scikit-learn is not installed")

JOB = "validate-breast-cancer"
SUITE = "examples/model-project/suites/breast_cancer.yaml"
VARIABLES = [variable_name("validate", name) for name in OUTPUTS]
REPORTS = {
    "junit": "mlgate-validate.junit.xml",
    "data-docs": "mlgate-validate.docs",
    "json": "mlgate-validate.json",
}


def pipeline(data: str) -> str:
    return (
        "stages: [validate, verify]\n"
        "include:\n"
        "  - local: gitlab-templates/validate-data.yml\n"
        "    inputs:\n"
        f"      job-name: {JOB}\n"
        "      stage: validate\n"
        '      install: . "$MLGATE_E2E_BIN/activate"\n'
        f"      data: {data}\n"
        f"      suite: {SUITE}\n"
        "      reference: data/reference-*.csv\n"
        + "".join(f"      {key}: {value}\n" for key, value in REPORTS.items())
        + "\n"
        + gitlab_dotenv_job("read-outputs", JOB, VARIABLES, stage="verify")
    )


def run_validate(make_repo, run_gitlab_ci_local, bin_dir: Path, data: str):
    frame = datasets.load_breast_cancer(as_frame=True).frame
    broken = frame.copy()
    broken.loc[:49, "worst area"] = None  # 50 missing measurements: a critical expectation
    files = {
        ".gitlab-ci.yml": pipeline(data),
        "data/holdout.jsonl": frame.iloc[::2].to_json(orient="records", lines=True),
        "data/broken.jsonl": broken.to_json(orient="records", lines=True),
        # the reference as a glob of two files, read as one batch
        "data/reference-1.csv": frame.iloc[1:300:2].to_csv(index=False),
        "data/reference-2.csv": frame.iloc[301::2].to_csv(index=False),
    }
    repo = make_repo(files)
    run = run_gitlab_ci_local(repo, variables={"MLGATE_E2E_BIN": str(bin_dir)})
    return run, repo / ".gitlab-ci-local" / "artifacts" / JOB


def dotenv_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if line)
    return {key: value for key, value in pairs}


def test_template_gate_failure_keeps_reports(make_repo, run_gitlab_ci_local,
                                             mlgate_validate_bin):
    run, artifacts = run_validate(make_repo, run_gitlab_ci_local, mlgate_validate_bin.parent,
                                  "data/broken.jsonl")

    assert run.returncode != 0, run.log[-4000:]
    assert re.search(rf"^{JOB} finished in .* FAIL 1\s*$", run.log, re.MULTILINE), \
        run.log[-4000:]
    assert not run.outputs  # read-outputs `needs` the validation: it never ran
    env = dotenv_file(artifacts / "mlgate-validate.env")
    assert env == {
        "MLGATE_VALIDATE_PASSED": "false",
        "MLGATE_VALIDATE_EVALUATED": "66",
        "MLGATE_VALIDATE_FAILED": "1",
        "MLGATE_VALIDATE_SUCCESS_PERCENT": "98.48",
        "MLGATE_VALIDATE_DRIFTED": "0",
        "MLGATE_VALIDATE_JUNIT": REPORTS["junit"],
        "MLGATE_VALIDATE_DATA_DOCS": REPORTS["data-docs"] + "/index.html",
    }
    junit = ET.parse(artifacts / REPORTS["junit"]).getroot()
    assert junit.get("failures") == "1"
    assert (artifacts / REPORTS["data-docs"] / "index.html").is_file()
    result = json.loads((artifacts / REPORTS["json"]).read_text())
    assert result["exit_code"] == 1
    failed = [o for o in result["result"]["outcomes"] if not o["success"]]
    assert [(o["column"], o["type"], o["unexpected_count"]) for o in failed] == [
        ("worst area", "expect_column_values_to_not_be_null", 50)]
    summary = (artifacts / "mlgate-validate.md").read_text()
    assert "1 expectation(s) failed at or above critical" in summary


def test_template_passing_data_exports_dotenv(make_repo, run_gitlab_ci_local,
                                              mlgate_validate_bin):
    run, artifacts = run_validate(make_repo, run_gitlab_ci_local, mlgate_validate_bin.parent,
                                  "data/holdout.jsonl")

    run.check()
    outputs = run.outputs  # what read-outputs, which `needs` the validation, got
    assert outputs["MLGATE_VALIDATE_PASSED"] == "true"
    assert outputs["MLGATE_VALIDATE_EVALUATED"] == "66"
    assert outputs["MLGATE_VALIDATE_FAILED"] == "0"
    assert outputs["MLGATE_VALIDATE_SUCCESS_PERCENT"] == "100.00"
    assert outputs["MLGATE_VALIDATE_DRIFTED"] == "0"
    result = json.loads((artifacts / REPORTS["json"]).read_text())
    assert result["result"]["drift"]["reference"] == ["data/reference-1.csv",
                                                      "data/reference-2.csv"]
    assert result["result"]["drift"]["schema"] == []
