"""`uses: ./actions/validate-data` run by act on this machine, with real Great Expectations.

The test writes scikit-learn's breast cancer data (shipped inside scikit-learn, nothing is
downloaded) into the repository, as a pipeline's data step would, and validates it against the
example suite (examples/model-project/suites/breast_cancer.yaml). One workflow, two jobs:

- `holdout`: every other row of the data as published, against the rest as the reference: the
  step passes, no column drifted, and the JUnit report, the Data Docs and the JSON result are in
  the workspace.
- `broken`: the same data with a radius in millimetres and a label 2: the critical expectation
  on the label fails the step with exit 1, the radius is reported as drifted, and a later `if: always()` step still reads the
  outputs and finds the reports.

act prints each step's job summary in its log ("Summary - ..."); the test reads it there.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest
from harness import CHECKOUT_STEP, github_collect_step

from mlgate.interface import OUTPUTS as _ALL_OUTPUTS  # noqa: E402
OUTPUTS = _ALL_OUTPUTS["validate"]

pytestmark = pytest.mark.e2e

datasets = pytest.importorskip("sklearn.datasets", reason="scikit-learn is not installed")

SUITE = "examples/model-project/suites/breast_cancer.yaml"
REPORTS = {
    "junit": "reports/validate.junit.xml",
    "data-docs": "reports/data-docs",
    "json": "reports/validate.json",
}


def job(name: str, inputs: dict[str, str]) -> str:
    with_block = "".join(f"          {key}: {value}\n" for key, value in inputs.items())
    return (
        f"  {name}:\n"
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        f"{CHECKOUT_STEP}"
        "      - id: validate\n"
        "        uses: ./actions/validate-data\n"
        "        with:\n"
        f"{with_block}"
        + github_collect_step("validate", OUTPUTS, keep=name, prefix=f"{name}-")
    )


def breast_cancer_files() -> dict[str, bytes]:
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


def summary(log: str, name: str) -> str:
    pattern = rf"^\[e2e validate/{name}\s*\]\s+⚙\s+Summary - (.*?)(?=^\[e2e validate/)"
    match = re.search(pattern, log, re.MULTILINE | re.DOTALL)
    assert match, f"no job summary for {name} in act's log:\n{log[-4000:]}"
    return re.sub(r"\\(.)", r"\1", match.group(1))


def test_validate_action_passes_and_fails_with_reports(make_repo, run_act, mlgate_validate_bin):
    workflow = (
        "name: e2e validate\n"
        "on: push\n"
        "permissions: {}\n"
        "jobs:\n"
        + job("holdout", {"data": "data/holdout.parquet", "suite": SUITE,
                          "reference": "data/train.parquet", **REPORTS})
        + job("broken", {"data": "data/broken.csv", "suite": SUITE, "fail-on": "warning",
                         "reference": "data/train.parquet", **REPORTS})
    )
    repo = make_repo({".github/workflows/validate.yml": workflow, **breast_cancer_files()})

    run = run_act(repo)

    log = run.log
    assert run.returncode != 0, log[-4000:]
    # act pads the shorter job's name in its log: "[e2e validate/broken ]"
    assert re.search(r"^\[e2e validate/holdout\s*\] 🏁  Job succeeded", log, re.M), log[-6000:]
    assert "Job 'broken' failed" in log, log[-6000:]
    assert re.search(r"^\[e2e validate/broken\s*\] exit status 1$", log, re.M), log[-6000:]
    out = run.outputs
    assert {k: out[f"holdout-{k}"] for k in OUTPUTS} == {
        "passed": "true",
        "evaluated": "66",
        "failed": "0",
        "success-percent": "100.00",
        "drifted": "0",
        "junit": REPORTS["junit"],
        "data-docs": REPORTS["data-docs"] + "/index.html",
    }
    holdout = run.workspace.parent / "holdout"
    assert (holdout / REPORTS["data-docs"] / "index.html").is_file()
    result = json.loads((holdout / REPORTS["json"]).read_text())
    assert result["exit_code"] == 0 and result["result"]["rows"] == 285
    assert result["result"]["drift"]["method"] == "psi"
    assert len(result["result"]["drift"]["columns"]) == 31
    text = summary(log, "holdout")
    assert "66 evaluated · 0 failed · 100.0% successful · 285 rows" in text

    assert out["broken-passed"] == "false"
    assert out["broken-failed"] == "3"
    assert out["broken-drifted"] == "1"  # the radius, ten times larger
    broken = run.workspace.parent / "broken"
    junit = ET.parse(broken / REPORTS["junit"]).getroot()
    failing = sorted(c.get("name") for c in junit.iter("testcase")
                     if c.find("failure") is not None)
    # the info-level check on the mean radius fails too, below --fail-on warning
    # the drift is a warning, so it fails the gate as well
    assert failing == ["4. expect_column_distinct_values_to_be_in_set (target)",
                       "7. expect_column_values_to_be_between (mean radius)",
                       "psi mean radius"]
    text = summary(log, "broken")
    assert ("failed: 2 expectation(s) failed at or above warning; 1 drift finding(s) at or "
            "above warning") in text
    assert "| 4 | ❌ failed | critical | target | expect_column_distinct_values_to_be_in_set |" \
        in text
    assert "| 66 | ⚠️ failed | info | mean radius | expect_column_mean_to_be_between |" in text
