"""gitlab-templates/scan-image.yml included locally and run by gitlab-ci-local with the real Trivy
binary, fully offline.

As in test_act_scan.py, the test builds an image tarball (committed like a build job's artifact,
an AWS key pair planted in it) whose Debian packages match a vulnerability DB it writes into a
Trivy cache directory. Trivy is on the job's PATH, as it is in a job image that ships it.

- The default gate (HIGH and above) fails the job with exit 1, yet the job's artifacts (`when:
  always`) hold the dotenv report, the Markdown summary, the JSON result and the SARIF, GitLab
  container-scanning and JUnit reports; the downstream job that `needs` it never runs.
- `fail-on-severity: CRITICAL`, `ignore-unfixed: true` and a .trivyignore for CVE-2099-1001 let
  the same image through, and a downstream job reads MLGATE_SCAN_PASSED=true and the rest of the
  dotenv report.
"""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from harness import gitlab_dotenv_job
from support.images import DEFAULT_PACKAGES, debian_image, planted_secret
from support.trivyfix import build_db, trivy_bin

from mlgate.ci.gitlab import variable_name
from mlgate.interface import OUTPUTS as _ALL_OUTPUTS  # noqa: E402
OUTPUTS = _ALL_OUTPUTS["scan"]

pytestmark = pytest.mark.e2e

JOB = "scan-churn-image"
IMAGE = "build/churn-image.tar"
VARIABLES = [variable_name("scan", name) for name in OUTPUTS]
# The template keeps `mlgate-scan.*` as artifacts: reports named so are kept with them.
REPORTS = {
    "sarif": "mlgate-scan.sarif",
    "gitlab-report": "mlgate-scan.container-scanning.json",
    "junit": "mlgate-scan.junit.xml",
    "json": "mlgate-scan.json",
}
TRIVYIGNORE = """\
# Fixed by the base image rebuild, tracked in SEC-42.
CVE-2099-1001
"""


def pipeline(inputs: dict[str, str]) -> str:
    lines = "".join(f"      {key}: {value}\n" for key, value in inputs.items())
    return (
        "stages: [scan, verify]\n"
        "include:\n"
        "  - local: gitlab-templates/scan-image.yml\n"
        "    inputs:\n"
        f"      job-name: {JOB}\n"
        "      stage: scan\n"
        '      install: . "$MLGATE_E2E_BIN/activate"\n'
        f"      input: {IMAGE}\n"
        "      offline: true\n"
        # a CI/CD variable naming the runner's cache; GitLab expands it in the job's variables
        "      cache-dir: $E2E_TRIVY_CACHE\n"
        + "".join(f"      {key}: {value}\n" for key, value in REPORTS.items())
        + lines
        + "\n"
        + gitlab_dotenv_job("read-outputs", JOB, VARIABLES, stage="verify")
    )


@pytest.fixture
def scan_world(tmp_path: Path) -> dict:
    """The image tarball, a Trivy cache holding the fixture DB, and a PATH directory with trivy."""
    image = debian_image(tmp_path / "image.tar", DEFAULT_PACKAGES, secret=True)
    cache = tmp_path / "trivy-cache"
    build_db(cache)
    tools = tmp_path / "tools"  # a directory holding trivy and nothing else
    tools.mkdir()
    os.symlink(trivy_bin(), tools / "trivy")
    return {"image": image.read_bytes(), "cache": cache, "tools": tools}


def run_scan(make_repo, run_gitlab_ci_local, world: dict, inputs: dict[str, str]):
    repo = make_repo(
        {".gitlab-ci.yml": pipeline(inputs), IMAGE: world["image"], ".trivyignore": TRIVYIGNORE}
    )
    run = run_gitlab_ci_local(
        repo,
        variables={"E2E_TRIVY_CACHE": str(world["cache"])},
        path_prepend=[world["tools"]],
    )
    return run, repo / ".gitlab-ci-local" / "artifacts" / JOB


def dotenv_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if line)
    return {key: value for key, value in pairs}


def assert_no_planted_secret(run, *trees: Path) -> None:
    for value in planted_secret().values():
        assert value not in run.log
        for tree in trees:
            for path in tree.rglob("*"):
                if path.is_file():
                    assert value.encode() not in path.read_bytes(), path


def test_template_gate_failure_keeps_reports(make_repo, run_gitlab_ci_local, scan_world):
    run, artifacts = run_scan(make_repo, run_gitlab_ci_local, scan_world, {})

    assert run.returncode != 0, run.log[-4000:]
    # exit 1, the gate; not 2 (bad input) or 3 (Trivy or its DB failed)
    assert re.search(rf"^{JOB} finished in .* FAIL 1\s*$", run.log, re.MULTILINE), run.log[-4000:]
    assert "failed: 4 blocking finding(s)" in run.log
    assert not run.outputs  # read-outputs `needs` the scan: it never ran

    # `artifacts: when: always`: the dotenv report and every report are kept all the same.
    env = dotenv_file(artifacts / "mlgate-scan.env")
    assert env == {
        "MLGATE_SCAN_PASSED": "false",
        "MLGATE_SCAN_CRITICAL": "3",  # CVE-2099-1001 and the two planted AWS keys
        "MLGATE_SCAN_HIGH": "1",
        "MLGATE_SCAN_MEDIUM": "2",
        "MLGATE_SCAN_LOW": "1",
        "MLGATE_SCAN_UNKNOWN": "1",
        "MLGATE_SCAN_MAX_CVSS": "9.8",
        "MLGATE_SCAN_SARIF": REPORTS["sarif"],
        "MLGATE_SCAN_GITLAB_REPORT": REPORTS["gitlab-report"],
        "MLGATE_SCAN_JUNIT": REPORTS["junit"],
    }
    gitlab = json.loads((artifacts / REPORTS["gitlab-report"]).read_text())
    assert gitlab["version"].startswith("15.") and gitlab["scan"]["type"] == "container_scanning"
    assert gitlab["scan"]["status"] == "success"  # the scan ran; the gate is mlgate's verdict
    severities = {v["identifiers"][0]["value"]: v["severity"] for v in gitlab["vulnerabilities"]}
    assert severities["CVE-2099-1001"] == "Critical" and severities["CVE-2099-1002"] == "High"
    sarif = json.loads((artifacts / REPORTS["sarif"]).read_text())
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["results"]
    junit = ET.parse(artifacts / REPORTS["junit"]).getroot()
    assert junit.get("failures") == "4"
    result = json.loads((artifacts / REPORTS["json"]).read_text())
    assert result["exit_code"] == 1
    assert result["result"]["trivy_path"] == str(scan_world["tools"] / "trivy")  # from PATH
    summary = (artifacts / "mlgate-scan.md").read_text()
    assert "4 findings fail the gate (policy: fail on severity HIGH or above)" in summary
    assert_no_planted_secret(run, artifacts)


def test_template_passing_scan_exports_dotenv(make_repo, run_gitlab_ci_local, scan_world):
    run, artifacts = run_scan(
        make_repo,
        run_gitlab_ci_local,
        scan_world,
        {
            "scanners": "vuln",
            "fail-on-severity": "CRITICAL",
            "ignore-unfixed": "true",
            "ignore-file": ".trivyignore",
        },
    )

    run.check()
    outputs = run.outputs  # what read-outputs, which `needs` the scan, got from its dotenv
    assert outputs["MLGATE_SCAN_PASSED"] == "true"
    assert outputs["MLGATE_SCAN_CRITICAL"] == outputs["MLGATE_SCAN_HIGH"] == "0"
    assert outputs["MLGATE_SCAN_MEDIUM"] == "2"
    assert outputs["MLGATE_SCAN_MAX_CVSS"] == "7.8"  # CVE-2099-1005, Red Hat's score
    assert outputs["MLGATE_SCAN_GITLAB_REPORT"] == REPORTS["gitlab-report"]
    result = json.loads((artifacts / REPORTS["json"]).read_text())
    assert result["exit_code"] == 0
    assert [(n["id"], n["source"], n["matched"]) for n in result["result"]["ignores"]] == [
        ("CVE-2099-1001", ".trivyignore", 1)
    ]
    for name in REPORTS.values():
        assert (artifacts / name).is_file(), name
    gitlab = json.loads((artifacts / REPORTS["gitlab-report"]).read_text())
    # Ignored and unfixed-ignored findings are left out of GitLab's vulnerability report.
    assert sorted(v["identifiers"][0]["value"] for v in gitlab["vulnerabilities"]) == [
        "CVE-2099-1003",
        "CVE-2099-1005",
    ]
