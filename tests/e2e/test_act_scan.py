"""`uses: ./actions/scan-image` run by act with the real Trivy binary, fully offline.

The test builds what a pipeline would have: an image tarball (`docker save` layout, committed in
the repository like a build job's artifact, with an AWS key pair planted in it) whose Debian
packages match a vulnerability DB it writes into a Trivy cache directory
(tests/support/trivyfix.py: CVE-2099-1001 CRITICAL 9.8 fixed, 1002 HIGH 7.5 no fix, 1003 and
1005 MEDIUM, 1004 LOW no fix, 1006 UNKNOWN no fix). One workflow, two jobs run side by side:

- `blocked`: a setup step puts Trivy on PATH (`$GITHUB_PATH`, as setup-trivy does) and the action
  finds it there; the default gate (HIGH and above, vulnerabilities and secrets) fails the step
  with exit 1, and a later `if: always()` step still reads the outputs and finds the SARIF,
  GitLab and JUnit reports.
- `allowed`: the `trivy:` input names the binary; `fail-on-severity: CRITICAL`,
  `ignore-unfixed: true` and a .trivyignore for CVE-2099-1001 let the same image through.

act prints each step's job summary (`$GITHUB_STEP_SUMMARY`) in its log ("Summary - ..."); the
test reads it there, since act empties the file before every step.
"""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from harness import CHECKOUT_STEP, CiRun, github_collect_step
from support.images import DEFAULT_PACKAGES, debian_image, planted_secret
from support.trivyfix import build_db, trivy_bin

from mlgate.interface import OUTPUTS as _ALL_OUTPUTS  # noqa: E402
OUTPUTS = _ALL_OUTPUTS["scan"]

pytestmark = pytest.mark.e2e

IMAGE = "build/churn-image.tar"
REPORTS = {
    "sarif": "reports/trivy.sarif",
    "gitlab-report": "reports/gl-container-scanning-report.json",
    "junit": "reports/trivy-junit.xml",
    "json": "reports/mlgate-scan.json",
}
TRIVYIGNORE = """\
# Fixed by the base image rebuild, tracked in SEC-42.
CVE-2099-1001
"""
JOBS = ("blocked", "allowed")
# What a setup-trivy step does: the directory holding trivy goes on PATH for the later steps.
TRIVY_ON_PATH = """\
      - name: Put Trivy on PATH
        shell: bash
        run: printf '%s\\n' "$E2E_TRIVY_DIR" >> "$GITHUB_PATH"
"""


def scan_job(name: str, setup: str, inputs: dict[str, str]) -> str:
    """A job that scans with ./actions/scan-image, then (always) saves its outputs and workspace
    (outputs as $E2E_OUT/<name>-<output>, the workspace as $E2E_KEEP/<name>)."""
    with_block = "".join(f"          {key}: {value}\n" for key, value in inputs.items())
    return (
        f"  {name}:\n"
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        f"{CHECKOUT_STEP}"
        f"{setup}"
        "      - id: scan\n"
        "        uses: ./actions/scan-image\n"
        "        with:\n"
        f"{with_block}" + github_collect_step("scan", OUTPUTS, keep=name, prefix=f"{name}-")
    )


def workflow(blocked: dict[str, str], allowed: dict[str, str]) -> str:
    return (
        "name: e2e scan\n"
        "on: push\n"
        "permissions: {}\n"
        "jobs:\n" + scan_job("blocked", TRIVY_ON_PATH, blocked) + scan_job("allowed", "", allowed)
    )


def common_inputs(job: str) -> dict[str, str]:
    return {
        "input": IMAGE,
        "offline": "true",
        # the runner's tool cache on GitHub; here a DB the test wrote, one per job (they run at
        # the same time)
        "cache-dir": f"${{{{ env.E2E_TRIVY_CACHE_{job.upper()} }}}}",
        **REPORTS,
    }


def scan_repo(make_repo, tmp_path: Path, text: str) -> tuple[Path, dict[str, str]]:
    """The repository (workflow, image tarball, .trivyignore) and the env of its act run."""
    image = debian_image(tmp_path / "image.tar", DEFAULT_PACKAGES, secret=True)
    trivy = trivy_bin()
    tools = tmp_path / "tools"  # a directory holding trivy and nothing else
    tools.mkdir()
    os.symlink(trivy, tools / "trivy")
    env = {"E2E_TRIVY_DIR": str(tools), "E2E_TRIVY": trivy}
    for job in JOBS:
        cache = tmp_path / f"trivy-cache-{job}"
        build_db(cache)
        env[f"E2E_TRIVY_CACHE_{job.upper()}"] = str(cache)
    repo = make_repo(
        {
            ".github/workflows/scan.yml": text,
            IMAGE: image.read_bytes(),
            ".trivyignore": TRIVYIGNORE,
        }
    )
    return repo, env


def summary(log: str, job: str) -> str:
    """The first job summary act printed for `job`, Markdown escapes removed."""
    pattern = rf"^\[e2e scan/{job}\]\s+⚙\s+Summary - (.*?)(?=^\[e2e scan/)"
    match = re.search(pattern, log, re.MULTILINE | re.DOTALL)
    assert match, f"no job summary for {job} in act's log:\n{log[-4000:]}"
    return re.sub(r"\\(.)", r"\1", match.group(1))


def kept(run: CiRun, job: str) -> Path:
    """The workspace the collect step of `job` kept."""
    return run.workspace.parent / job


def test_scan_action_gates_and_reports(make_repo, run_act, tmp_path):
    allowed_inputs = {
        **common_inputs("allowed"),
        "scanners": "vuln",
        "fail-on-severity": "CRITICAL",
        "ignore-unfixed": "true",
        "ignore-file": ".trivyignore",
        "trivy": "${{ env.E2E_TRIVY }}",
    }
    repo, env = scan_repo(make_repo, tmp_path, workflow(common_inputs("blocked"), allowed_inputs))

    run = run_act(repo, env=env)

    log = run.log
    assert run.returncode != 0, log[-4000:]
    assert "Job 'blocked' failed" in log and "Job 'allowed' failed" not in log, log[-4000:]
    assert "[e2e scan/blocked] exit status 1" in log  # the gate said no (1), not bad input (2)
    assert "[e2e scan/allowed] 🏁  Job succeeded" in log, log[-4000:]
    out = run.outputs

    # blocked: the gate failed the step, the `if: always()` step still read every output.
    assert {k: out[f"blocked-{k}"] for k in OUTPUTS} == {
        "passed": "false",
        "critical": "3",  # CVE-2099-1001 and the two planted AWS keys
        "high": "1",
        "medium": "2",
        "low": "1",
        "unknown": "1",
        "max-cvss": "9.8",
        "sarif": REPORTS["sarif"],
        "gitlab-report": REPORTS["gitlab-report"],
        "junit": REPORTS["junit"],
    }
    workspace = kept(run, "blocked")
    sarif = json.loads((workspace / out["blocked-sarif"]).read_text())
    assert sarif["version"] == "2.1.0"
    levels = {r["ruleId"]: r["level"] for r in sarif["runs"][0]["results"]}
    assert levels["CVE-2099-1001"] == levels["CVE-2099-1002"] == "error"
    assert {"aws-access-key-id", "aws-secret-access-key"} <= set(levels)
    rules = {r["id"]: r for r in sarif["runs"][0]["tool"]["driver"]["rules"]}
    assert rules["CVE-2099-1001"]["properties"]["security-severity"] == "9.8"
    gitlab = json.loads((workspace / out["blocked-gitlab-report"]).read_text())
    assert gitlab["version"].startswith("15.") and gitlab["scan"]["type"] == "container_scanning"
    assert {v["identifiers"][0]["value"] for v in gitlab["vulnerabilities"]} == {
        f"CVE-2099-100{n}" for n in range(1, 7)
    }
    junit = ET.parse(workspace / out["blocked-junit"]).getroot()
    cases = junit.iter("testcase")
    failed = {c.get("name").split()[0] for c in cases if c.find("failure") is not None}
    blocking = {"CVE-2099-1001", "CVE-2099-1002", "aws-access-key-id", "aws-secret-access-key"}
    assert failed == blocking
    result = json.loads((workspace / REPORTS["json"]).read_text())
    assert result["exit_code"] == 1
    assert result["result"]["trivy_path"] == str(Path(env["E2E_TRIVY_DIR"]) / "trivy")  # PATH
    text = summary(log, "blocked")
    assert "failed: 4 blocking finding(s)" in text
    assert "fail on severity HIGH or above" in text
    assert "| CVE-2099-1001 | CRITICAL | openssl |" in text
    assert "| CVE-2099-1002 | HIGH | openssl |" in text
    assert "Trivy 0.76.0" in text

    # allowed: CRITICAL only, unfixed ignored, CVE-2099-1001 in .trivyignore: the same image passes.
    assert {k: out[f"allowed-{k}"] for k in ("passed", "critical", "high", "max-cvss")} == {
        "passed": "true",
        "critical": "0",
        "high": "0",
        "max-cvss": "7.8",  # CVE-2099-1005: Red Hat's score, above NVD's 6.5
    }
    allowed = json.loads((kept(run, "allowed") / REPORTS["json"]).read_text())
    assert allowed["exit_code"] == 0 and allowed["result"]["trivy_path"] == env["E2E_TRIVY"]
    statuses = {f["id"]: f["status"] for f in allowed["result"]["findings"]}
    assert statuses == {
        "CVE-2099-1001": "ignored",
        "CVE-2099-1002": "unfixed-ignored",
        "CVE-2099-1003": "allowed",
        "CVE-2099-1004": "unfixed-ignored",
        "CVE-2099-1005": "allowed",
        "CVE-2099-1006": "unfixed-ignored",
    }
    for report in ("sarif", "gitlab-report", "junit"):
        assert (kept(run, "allowed") / out[f"allowed-{report}"]).is_file()
    text = summary(log, "allowed")
    assert "passed" in text and "Ignored findings (4)" in text
    assert "CVE-2099-1001 (CRITICAL) in openssl 3.0.11-1~deb12u2: ignored by .trivyignore" in text

    # The planted key pair never reaches the log, the outputs or a report.
    for value in planted_secret().values():
        assert value not in log
        assert all(value not in v for v in out.values())
        for job in JOBS:
            for path in (kept(run, job) / "reports").iterdir():
                assert value not in path.read_text(), path



def test_report_identities_do_not_depend_on_the_checkout_path(make_repo, run_act, tmp_path):
    """The same image scanned from two checkouts (act gives each job its own directory) gets
    the same SARIF fingerprints and GitLab vulnerability ids, and no report names either
    checkout: code scanning and GitLab's vulnerability report then track one finding, not a new
    one per runner directory."""
    inputs = {"scanners": "vuln", "fail-on-severity": "NONE", "trivy": "${{ env.E2E_TRIVY }}"}
    repo, env = scan_repo(
        make_repo,
        tmp_path,
        workflow({**common_inputs("blocked"), **inputs}, {**common_inputs("allowed"), **inputs}),
    )

    run = run_act(repo, env=env).check()

    fingerprints, gitlab_ids = {}, {}
    for job in JOBS:
        reports = kept(run, job) / "reports"
        sarif = json.loads((reports / "trivy.sarif").read_text())
        fingerprints[job] = {
            r["ruleId"]: r["partialFingerprints"] for r in sarif["runs"][0]["results"]
        }
        gitlab = json.loads((reports / "gl-container-scanning-report.json").read_text())
        gitlab_ids[job] = sorted(v["id"] for v in gitlab["vulnerabilities"])
        for path in reports.iterdir():
            assert "hostexecutor" not in path.read_text(), f"{job}: {path.name} names the checkout"
    assert fingerprints["blocked"] == fingerprints["allowed"]
    assert gitlab_ids["blocked"] == gitlab_ids["allowed"]
