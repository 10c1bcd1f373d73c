"""mlgate scan as a user's CI runs it, once per runner, with the real Trivy binary, fully
offline: `uses: ./actions/scan-image` run by act, and gitlab-templates/scan-image.yml included
locally and run by gitlab-ci-local.

The test builds what a pipeline would have: an image tarball (`docker save` layout, committed in
the repository like a build job's artifact, with an AWS key pair planted in it) whose Debian
packages match a vulnerability DB it writes into a Trivy cache directory, one per job
(tests/support/trivyfix.py: CVE-2099-1001 CRITICAL 9.8 fixed, 1002 HIGH 7.5 no fix, 1003 and
1005 MEDIUM, 1004 LOW no fix, 1006 UNKNOWN no fix). Two jobs (side by side under act; one stage
each under gitlab-ci-local, `allowed` first):

- `blocked`: Trivy is found on PATH (act: a setup step puts it there, `$GITHUB_PATH`, as
  setup-trivy does; gitlab-ci-local: the job's PATH holds it, as a job image that ships it
  does); the default gate (HIGH and above, vulnerabilities and secrets) fails the job with exit
  1, yet its outputs and the SARIF, GitLab and JUnit reports are kept (act: a later `if:
  always()` step still reads the outputs and finds the reports; gitlab-ci-local: the artifacts,
  `when: always`, hold the dotenv report, the Markdown summary and every report, and the
  downstream job that `needs` it never runs).
- `allowed`: `fail-on-severity: CRITICAL`, `ignore-unfixed: true` and a .trivyignore for
  CVE-2099-1001 let the same image through (act: the `trivy:` input names the binary), and a
  later step / a downstream job reads the outputs.

act prints each step's job summary (`$GITHUB_STEP_SUMMARY`) in its log ("Summary - ..."); the
test reads it there, since act empties the file before every step.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from harness import Job
from support.images import DEFAULT_PACKAGES, debian_image, planted_secret
from support.trivyfix import build_db, trivy_bin

from mlgate.ci.gitlab import variable_name
from mlgate.interface import OUTPUTS as _ALL_OUTPUTS  # noqa: E402
OUTPUTS = _ALL_OUTPUTS["scan"]

pytestmark = pytest.mark.e2e

TITLE = "e2e scan"
IMAGE = "build/churn-image.tar"
REPORTS = {
    "act": {
        "sarif": "reports/trivy.sarif",
        "gitlab-report": "reports/gl-container-scanning-report.json",
        "junit": "reports/trivy-junit.xml",
        "json": "reports/mlgate-scan.json",
    },
    # The template keeps `mlgate-scan.*` as artifacts: reports named so are kept with them.
    "gitlab-ci-local": {
        "sarif": "mlgate-scan.sarif",
        "gitlab-report": "mlgate-scan.container-scanning.json",
        "junit": "mlgate-scan.junit.xml",
        "json": "mlgate-scan.json",
    },
}
TRIVYIGNORE = """\
# Fixed by the base image rebuild, tracked in SEC-42.
CVE-2099-1001
"""
JOBS = ("allowed", "blocked")
# What a setup-trivy step does: the directory holding trivy goes on PATH for the later steps.
TRIVY_ON_PATH = """\
      - name: Put Trivy on PATH
        shell: bash
        run: printf '%s\\n' "$E2E_TRIVY_DIR" >> "$GITHUB_PATH"
"""


def variable(runner_name: str, name: str) -> str:
    """A variable of the run's env, as an input refers to it."""
    return f"${{{{ env.{name} }}}}" if runner_name == "act" else f"${name}"


def scan_job(runner_name: str, name: str, inputs: dict[str, str]) -> Job:
    return Job(
        name,
        "scan-image",
        "scan",
        OUTPUTS,
        {
            "input": IMAGE,
            "offline": "true",
            # the runner's tool cache on GitHub, a CI/CD variable naming it on GitLab; here a DB
            # the test wrote, one per job (under act they run at the same time)
            "cache-dir": variable(runner_name, f"E2E_TRIVY_CACHE_{name.upper()}"),
            **REPORTS[runner_name],
            **inputs,
        },
        setup=TRIVY_ON_PATH if name == "blocked" else "",
    )


def scan_repo(make_repo, runner, tmp_path: Path, jobs: list[Job]) -> tuple[Path, dict[str, str]]:
    """The repository (CI file, image tarball, .trivyignore) and the env of its run."""
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
        {**runner.files(TITLE, jobs), IMAGE: image.read_bytes(), ".trivyignore": TRIVYIGNORE}
    )
    return repo, env


def dotenv_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if line)
    return {key: value for key, value in pairs}


def test_scan_gates_and_reports(make_repo, runner, tmp_path):
    reports = REPORTS[runner.name]
    allowed_inputs = {
        "scanners": "vuln",
        "fail-on-severity": "CRITICAL",
        "ignore-unfixed": "true",
        "ignore-file": ".trivyignore",
    }
    if runner.name == "act":
        allowed_inputs["trivy"] = "${{ env.E2E_TRIVY }}"
    allowed_job = scan_job(runner.name, "allowed", allowed_inputs)
    blocked_job = scan_job(runner.name, "blocked", {})
    repo, env = scan_repo(make_repo, runner, tmp_path, [allowed_job, blocked_job])
    tools = Path(env["E2E_TRIVY_DIR"])

    run = runner.run(repo, env=env, path_prepend=[tools])

    log = run.log
    assert run.returncode != 0, log[-4000:]
    # the gate said no (1), not bad input (2) or Trivy or its DB failing (3)
    assert runner.exit_code(run, blocked_job) == 1, log[-4000:]
    assert runner.exit_code(run, allowed_job) == 0, log[-4000:]
    if runner.name == "act":
        assert "Job 'blocked' failed" in log and "Job 'allowed' failed" not in log, log[-4000:]
    else:
        assert "failed: 4 blocking finding(s)" in log

    # blocked: the gate failed the job; its outputs and every report are kept all the same.
    kept = runner.kept(run, blocked_job)
    if runner.name == "act":  # read by the `if: always()` step
        blocked = runner.outputs(run, blocked_job)
    else:  # `artifacts: when: always`: the dotenv report; read-blocked `needs` it, never ran
        assert runner.outputs(run, blocked_job) == {}
        env_file = dotenv_file(kept / "mlgate-scan.env")
        assert set(env_file) == {variable_name("scan", name) for name in OUTPUTS}
        blocked = {name: env_file[variable_name("scan", name)] for name in OUTPUTS}
    assert blocked == {
        "passed": "false",
        "critical": "3",  # CVE-2099-1001 and the two planted AWS keys
        "high": "1",
        "medium": "2",
        "low": "1",
        "unknown": "1",
        "max-cvss": "9.8",
        "sarif": reports["sarif"],
        "gitlab-report": reports["gitlab-report"],
        "junit": reports["junit"],
    }
    sarif = json.loads((kept / blocked["sarif"]).read_text())
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["results"]
    levels = {r["ruleId"]: r["level"] for r in sarif["runs"][0]["results"]}
    assert levels["CVE-2099-1001"] == levels["CVE-2099-1002"] == "error"
    assert {"aws-access-key-id", "aws-secret-access-key"} <= set(levels)
    rules = {r["id"]: r for r in sarif["runs"][0]["tool"]["driver"]["rules"]}
    assert rules["CVE-2099-1001"]["properties"]["security-severity"] == "9.8"
    gitlab = json.loads((kept / blocked["gitlab-report"]).read_text())
    assert gitlab["version"].startswith("15.") and gitlab["scan"]["type"] == "container_scanning"
    assert gitlab["scan"]["status"] == "success"  # the scan ran; the gate is mlgate's verdict
    assert {v["identifiers"][0]["value"] for v in gitlab["vulnerabilities"]} == {
        f"CVE-2099-100{n}" for n in range(1, 7)
    }
    severities = {v["identifiers"][0]["value"]: v["severity"] for v in gitlab["vulnerabilities"]}
    assert severities["CVE-2099-1001"] == "Critical" and severities["CVE-2099-1002"] == "High"
    junit = ET.parse(kept / blocked["junit"]).getroot()
    assert junit.get("failures") == "4"
    cases = junit.iter("testcase")
    failed = {c.get("name").split()[0] for c in cases if c.find("failure") is not None}
    blocking = {"CVE-2099-1001", "CVE-2099-1002", "aws-access-key-id", "aws-secret-access-key"}
    assert failed == blocking
    result = json.loads((kept / reports["json"]).read_text())
    assert result["exit_code"] == 1
    assert result["result"]["trivy_path"] == str(tools / "trivy")  # from PATH
    if runner.name == "act":
        text = runner.summary(run, blocked_job)
        assert "failed: 4 blocking finding(s)" in text
        assert "fail on severity HIGH or above" in text
        assert "| CVE-2099-1001 | CRITICAL | openssl |" in text
        assert "| CVE-2099-1002 | HIGH | openssl |" in text
        assert "Trivy 0.76.0" in text
    else:
        assert ("4 findings fail the gate (policy: fail on severity HIGH or above)"
                in runner.summary(run, blocked_job))

    # allowed: CRITICAL only, unfixed ignored, CVE-2099-1001 in .trivyignore: the same image
    # passes, and a later step / the downstream job reads its outputs.
    kept = runner.kept(run, allowed_job)
    out = runner.outputs(run, allowed_job)
    assert {k: out[k] for k in ("passed", "critical", "high", "medium", "max-cvss")} == {
        "passed": "true",
        "critical": "0",
        "high": "0",
        "medium": "2",
        "max-cvss": "7.8",  # CVE-2099-1005: Red Hat's score, above NVD's 6.5
    }
    assert out["gitlab-report"] == reports["gitlab-report"]
    allowed = json.loads((kept / reports["json"]).read_text())
    assert allowed["exit_code"] == 0
    assert allowed["result"]["trivy_path"] == (
        env["E2E_TRIVY"] if runner.name == "act" else str(tools / "trivy"))
    statuses = {f["id"]: f["status"] for f in allowed["result"]["findings"]}
    assert statuses == {
        "CVE-2099-1001": "ignored",
        "CVE-2099-1002": "unfixed-ignored",
        "CVE-2099-1003": "allowed",
        "CVE-2099-1004": "unfixed-ignored",
        "CVE-2099-1005": "allowed",
        "CVE-2099-1006": "unfixed-ignored",
    }
    assert [(n["id"], n["source"], n["matched"]) for n in allowed["result"]["ignores"]] == [
        ("CVE-2099-1001", ".trivyignore", 1)
    ]
    for report in ("sarif", "gitlab-report", "junit"):
        assert (kept / out[report]).is_file()
    for name in reports.values():
        assert (kept / name).is_file(), name
    gitlab = json.loads((kept / reports["gitlab-report"]).read_text())
    # Ignored and unfixed-ignored findings are left out of GitLab's vulnerability report.
    assert sorted(v["identifiers"][0]["value"] for v in gitlab["vulnerabilities"]) == [
        "CVE-2099-1003",
        "CVE-2099-1005",
    ]
    if runner.name == "act":
        text = runner.summary(run, allowed_job)
        assert "passed" in text and "Ignored findings (4)" in text
        assert ("CVE-2099-1001 (CRITICAL) in openssl 3.0.11-1~deb12u2: ignored by .trivyignore"
                in text)

    # The planted key pair never reaches the log, the outputs or a report.
    outputs = {**runner.outputs(run, blocked_job), **out}
    for value in planted_secret().values():
        assert value not in log
        assert all(value not in v for v in outputs.values())
        for job in (blocked_job, allowed_job):
            # act: the kept workspace holds the image itself; its reports/ what mlgate wrote
            tree = runner.kept(run, job) / ("reports" if runner.name == "act" else "")
            for path in tree.rglob("*"):
                if path.is_file():
                    assert value.encode() not in path.read_bytes(), path


@pytest.mark.parametrize("runner", ["act"], indirect=True)
def test_report_identities_do_not_depend_on_the_checkout_path(make_repo, runner, tmp_path):
    """The same image scanned from two checkouts (act gives each job its own directory) gets
    the same SARIF fingerprints and GitLab vulnerability ids, and no report names either
    checkout: code scanning and GitLab's vulnerability report then track one finding, not a new
    one per runner directory."""
    inputs = {"scanners": "vuln", "fail-on-severity": "NONE", "trivy": "${{ env.E2E_TRIVY }}"}
    jobs = [scan_job(runner.name, name, inputs) for name in JOBS]
    repo, env = scan_repo(make_repo, runner, tmp_path, jobs)

    run = runner.run(repo, env=env).check()

    fingerprints, gitlab_ids = {}, {}
    for job in jobs:
        reports = runner.kept(run, job) / "reports"
        sarif = json.loads((reports / "trivy.sarif").read_text())
        fingerprints[job.name] = {
            r["ruleId"]: r["partialFingerprints"] for r in sarif["runs"][0]["results"]
        }
        gitlab = json.loads((reports / "gl-container-scanning-report.json").read_text())
        gitlab_ids[job.name] = sorted(v["id"] for v in gitlab["vulnerabilities"])
        for path in reports.iterdir():
            assert "hostexecutor" not in path.read_text(), \
                f"{job.name}: {path.name} names the checkout"
    assert fingerprints["blocked"] == fingerprints["allowed"]
    assert gitlab_ids["blocked"] == gitlab_ids["allowed"]
