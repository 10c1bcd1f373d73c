"""The scan's report writers (Markdown, SARIF, GitLab container scanning, JUnit) on hand-built
results holding every kind of finding, validated against the formats' schemas: SARIF against
the SARIF 2.1.0 schema bundled from Microsoft's SARIF SDK (tests/schemas) and by the reference
validator, `sarif-multitool validate` from .ci/node, with GitHub's ingestion rules; GitLab's
report against the 15.x format (see tests/schemas/README.md for why it is transcribed)."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
from support.tools import missing_tool

from mlgate.escape import escape_markdown
from mlgate.report import scan_sarif
from mlgate.report.scan_gitlab import gitlab_container_scanning
from mlgate.report.scan_junit import junit
from mlgate.report.scan_markdown import MAX_ROWS, markdown
from mlgate.report.scan_sarif import default_category, sarif
from mlgate.scan.config import Policy
from mlgate.scan.result import Finding, IgnoreNote, ScanResult

REPO = Path(__file__).resolve().parents[3]
SARIF_SCHEMA = REPO / "tests" / "schemas" / "sarif-2.1.0.json"
MULTITOOL = REPO / ".ci" / "node" / "node_modules" / ".bin" / "sarif-multitool"
IMAGE = "registry.example.com/ml/churn:1.4.2"
OS_TARGET = "registry.example.com/ml/churn:1.4.2 (debian 12.5)"
NASTY = "bad | pipe `tick` <img src=x onerror=alert(1)> [x](javascript:alert(1))\nsecond line"

# GitLab's container-scanning report format 15.x, as far as it constrains what mlgate writes:
# the required scan block (times without zone or fraction), vulnerability fields with their
# enums and lengths, identifiers (at least one, at most 20) and the container location.
GITLAB_CS_15 = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["version", "scan", "vulnerabilities"],
    "properties": {
        "version": {"type": "string", "pattern": r"^15\.[0-9]+\.[0-9]+$"},
        "schema": {"type": "string", "pattern": "^https?://"},
        "scan": {
            "type": "object",
            "required": ["analyzer", "scanner", "type", "start_time", "end_time", "status"],
            "properties": {
                "analyzer": {"$ref": "#/definitions/component"},
                "scanner": {"$ref": "#/definitions/component"},
                "type": {"enum": ["container_scanning"]},
                "start_time": {"$ref": "#/definitions/time"},
                "end_time": {"$ref": "#/definitions/time"},
                "status": {"enum": ["success", "failure"]},
                "messages": {"type": "array", "items": {
                    "type": "object", "required": ["level", "value"],
                    "properties": {"level": {"enum": ["info", "warn", "fatal"]},
                                   "value": {"type": "string"}}}},
            },
        },
        "vulnerabilities": {"type": "array", "items": {"$ref": "#/definitions/vulnerability"}},
        "remediations": {"type": "array", "items": {
            "type": "object", "required": ["fixes", "summary", "diff"]}},
    },
    "definitions": {
        "time": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$"},
        "text": {"type": "string", "minLength": 1},
        "component": {
            "type": "object",
            "required": ["id", "name", "version", "vendor"],
            "properties": {
                "id": {"$ref": "#/definitions/text"},
                "name": {"type": "string", "minLength": 1, "maxLength": 255},
                "url": {"type": "string", "format": "uri", "pattern": "^https?://"},
                "version": {"$ref": "#/definitions/text"},
                "vendor": {"type": "object", "required": ["name"], "properties": {
                    "name": {"type": "string", "minLength": 1, "maxLength": 255}}},
            },
        },
        "vulnerability": {
            "type": "object",
            "required": ["id", "identifiers", "location"],
            "properties": {
                "id": {"$ref": "#/definitions/text"},
                "name": {"type": "string", "maxLength": 255},
                "description": {"type": "string", "maxLength": 1048576},
                "severity": {"enum": ["Info", "Unknown", "Low", "Medium", "High", "Critical"]},
                "solution": {"type": "string", "maxLength": 7000},
                "identifiers": {"type": "array", "minItems": 1, "maxItems": 20, "items": {
                    "type": "object", "required": ["type", "name", "value"],
                    "properties": {"type": {"$ref": "#/definitions/text"},
                                   "name": {"$ref": "#/definitions/text"},
                                   "value": {"$ref": "#/definitions/text"},
                                   "url": {"type": "string", "format": "uri"}}}},
                "links": {"type": "array", "items": {
                    "type": "object", "required": ["url"],
                    "properties": {"name": {"type": "string"},
                                   "url": {"type": "string", "format": "uri"}}}},
                "location": {
                    "type": "object",
                    "required": ["dependency", "operating_system", "image"],
                    "properties": {
                        "dependency": {"type": "object", "properties": {
                            "package": {"type": "object", "properties": {
                                "name": {"$ref": "#/definitions/text"}}},
                            "version": {"type": "string"}}},
                        "operating_system": {"$ref": "#/definitions/text"},
                        "image": {"$ref": "#/definitions/text"},
                    },
                },
            },
        },
    },
}


# --------------------------------------------------------------------------- fixtures


def vuln(id_, severity, status, *, package="openssl", installed="3.0.1", fixed="3.0.2",
         cvss=None, title=None, url=None, target=OS_TARGET, reasons=()):
    return Finding("vulnerability", id_, title if title is not None else f"{id_} in {package}",
                   severity, target, package, installed, fixed, cvss,
                   url if url is not None else f"https://avd.aquasec.com/nvd/{id_.lower()}",
                   f"Description of {id_}.", status=status, reasons=reasons)


def every_kind() -> ScanResult:
    findings = (
        vuln("CVE-2024-0001", "CRITICAL", "blocking", cvss=9.8, title=NASTY,
             reasons=("severity CRITICAL >= HIGH", "CVSS 9.8 > 7.0")),
        vuln("CVE-2024-0002", "MEDIUM", "allowed", package="zlib", fixed="", cvss=None),
        vuln("CVE-2024-0003", "LOW", "allowed", package="libc6", cvss=3.1,
             url="javascript:alert(1)"),
        vuln("GHSA-aaaa-bbbb-cccc", "HIGH", "blocking", package="requests", installed="2.0.0",
             fixed="2.32.0", target="usr/lib/python3/dist-packages/requests/METADATA",
             reasons=("severity HIGH >= HIGH",)),
        vuln("CVE-2024-0004", "HIGH", "unfixed-ignored", package="perl", fixed="",
             reasons=("no fix available (--ignore-unfixed)",)),
        vuln("CVE-2024-0005", "CRITICAL", "ignored", package="curl",
             reasons=("ignored by .trivyignore.yaml: not reachable in our image",)),
        vuln("CVE-2023-9999", "HIGH", "blocking", package="bash", cvss=7.5,
             reasons=("ignore entry in .trivyignore.yaml expired on 2024-01-01",
                      "severity HIGH >= HIGH")),
        Finding("secret", "aws-access-key-id", "AWS Access Key ID", "CRITICAL", "app/.env",
                location="app/.env", start_line=3, end_line=3, status="blocking",
                reasons=("severity CRITICAL >= HIGH",)),
        Finding("misconfiguration", "KSV001", "Process can elevate its own privileges",
                "MEDIUM", "deploy/deployment.yaml", url="https://avd.aquasec.com/misconfig/ksv001",
                description="Container 'app' should set allowPrivilegeEscalation to false",
                location="deploy/deployment.yaml", start_line=20, end_line=31,
                status="allowed"),
        Finding("license", "GPL-3.0-only", "restricted license GPL-3.0-only", "HIGH",
                "OS Packages", package="readline", location="OS Packages", status="blocking",
                reasons=("severity HIGH >= HIGH",)),
        Finding("misconfiguration", "DS002", "Image user should not be \x00root\x1b[31m",
                "UNKNOWN", "Dockerfile", location="Dockerfile", start_line=1,
                status="allowed"),
    )
    ignores = (
        IgnoreNote("CVE-2023-9999", ".trivyignore.yaml", expired=True, expired_at="2024-01-01",
                   statement="waiting for the base image"),
        IgnoreNote("CVE-2024-0005", ".trivyignore.yaml", expired_at="2099-01-01",
                   statement="not reachable in our image", matched=1),
        IgnoreNote("CVE-2020-0000", ".trivyignore"),
    )
    return ScanResult(
        target=IMAGE, target_kind="image", scanners=("vuln", "secret", "misconfig", "license"),
        policy=Policy("HIGH", 7.0, True), findings=findings, ignores=ignores,
        trivy_version="0.76.0", artifact_name=IMAGE, os="debian 12.5",
        db_updated_at="2026-11-22T00:00:00Z", duration_s=4.25,
        started_at="2026-11-23T10:00:00Z", notes=("a note from the scan",))


def many(n: int, blocking_share: float = 0.1) -> ScanResult:
    severities = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN")
    findings = []
    for i in range(n):
        status = "blocking" if i < n * blocking_share else ("ignored" if i % 17 == 0
                                                             else "allowed")
        if i % 10 == 9:
            findings.append(Finding("secret", f"rule-{i % 40}", "a secret", "HIGH",
                                    f"src/file{i % 300}.py", location=f"src/file{i % 300}.py",
                                    start_line=i % 500 + 1, status=status))
        else:
            findings.append(vuln(f"CVE-2024-{i:05d}", severities[i % 5], status,
                                 package=f"pkg{i % 700}", cvss=(i % 100) / 10 or None,
                                 fixed="" if i % 3 else "9.9", target=f"target-{i % 7}"))
    return ScanResult(IMAGE, "image", ("vuln", "secret"), Policy("HIGH"), tuple(findings),
                      trivy_version="0.76.0", os="debian 12.5", duration_s=60.0)


# --------------------------------------------------------------------------- Markdown


def table_rows(md: str) -> list[str]:
    return [line for line in md.splitlines() if line.startswith("| ")]


def unescaped_pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


def test_markdown_verdict_counts_and_blocking_table():
    result = every_kind()
    md = markdown(result)
    assert "❌ **Failed**: 5 findings fail the gate" in md
    assert "fail on severity HIGH or above, fail on CVSS above 7.0" in md
    assert "| Critical | High | Medium | Low | Unknown | Ignored | Max CVSS |" in md
    assert "| 2 | 3 | 2 | 1 | 1 | 2 | 9.8 |" in md
    blocking_part = md.split("### Findings that fail the gate (5)", 1)[1].split("<details>")[0]
    rows = table_rows(blocking_part)
    assert rows[0] == "| ID | Severity | Package | Installed | Fixed | CVSS | Title | Link |"
    assert len(rows) == 2 + 5
    # Ordered by severity then CVSS: the critical CVE with CVSS 9.8 first.
    assert rows[2].startswith("| CVE\\-2024\\-0001 | CRITICAL | openssl | 3\\.0\\.1 | 3\\.0\\.2 | 9.8 |")
    assert "app/\\.env:3" in blocking_part
    assert "[link](https://avd.aquasec.com/nvd/cve-2024-0001)" in rows[2]


def test_markdown_escapes_cells_and_emits_no_html_from_findings():
    md = markdown(every_kind())
    finding_rows = [r for r in table_rows(md) if not r.startswith(("| Critical", "| ---:"))
                    and not r.startswith("| 2 |")]
    assert len(finding_rows) == 2 * 2 + 5 + 4  # two tables: header and rule, 5 + 4 findings
    assert all(unescaped_pipes(r) == 9 for r in finding_rows), finding_rows  # 8 cells each
    assert "\\| pipe \\`tick\\`" in md
    assert re.search(r"(?<!\\)`", md) is None  # every backtick escaped
    assert "second line" in md and "\nsecond line" not in md  # newline flattened in the cell
    tags = set(re.findall(r"</?[A-Za-z][^>\s]*", md))
    assert tags <= {"<details", "</details", "<summary", "</summary"}, tags
    assert "&lt;img" in md
    assert "\\[x\\]\\(javascript:alert\\(1\\)\\)" in md  # shown as text, not a link
    assert "](javascript" not in md


def test_markdown_folds_allowed_and_lists_ignored_and_expired():
    md = markdown(every_kind())
    folded = md.split("<details><summary>Findings the policy allows (4)</summary>", 1)[1]
    folded = folded.split("</details>", 1)[0]
    assert "CVE\\-2024\\-0002" in folded and "no fix" in folded
    assert "KSV001" in folded and "deploy/deployment\\.yaml:20\\-31" in folded
    ignored = md.split("### Ignored findings (2)", 1)[1].split("###", 1)[0]
    assert "CVE\\-2024\\-0004" in ignored and "no fix available" in ignored
    assert "CVE\\-2024\\-0005" in ignored and "not reachable in our image" in ignored
    rules = md.split("### Ignore rules (3)", 1)[1]
    expired = next(line for line in rules.splitlines() if "2023\\-9999" in line)
    assert "expired** on 2024\\-01\\-01 and no longer ignores" in expired
    assert "1 finding with this ID is reported again" in expired
    assert "CVE\\-2024\\-0005 (\\.trivyignore\\.yaml): ignored 1 finding, until 2099" in rules
    assert "CVE\\-2020\\-0000 (\\.trivyignore): matched no finding" in rules
    assert "a note from the scan" in md


def test_markdown_caps_tables_and_says_how_many_more():
    result = many(1000, blocking_share=0.5)
    md = markdown(result)
    blocking_part = md.split("### Findings that fail the gate (500)", 1)[1].split("<details>")[0]
    assert len(table_rows(blocking_part)) == 2 + MAX_ROWS
    assert f"… {500 - MAX_ROWS} more" in blocking_part


# The summary renderer's escaping as it was first written (a regex), kept as the specification
# the one escaper (mlgate.escape, str.replace for speed on thousands of cells) must match.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


def _reference_escape(text: str) -> str:
    flat = " ".join(str(text).splitlines()).strip()
    flat = flat.replace("&", "&amp;").replace("<", "&lt;")
    return _MD_SPECIAL.sub(r"\\\1", flat)


@pytest.mark.parametrize("text", [NASTY, "a\\b & c < d > e #1 *x* _y_ ~z~ {} !x+y-z.",
                                  " \r\n lead\u2028trail \t", ""])
def test_markdown_escaping_matches_the_summary_renderer(text):
    assert escape_markdown(text) == _reference_escape(text)


def test_markdown_passed():
    result = ScanResult("./models", "fs", ("vuln",), Policy("CRITICAL"),
                        (vuln("CVE-1", "HIGH", "allowed"),))
    md = markdown(result)
    assert "✅ **Passed**: no finding fails the gate" in md
    assert "Findings that fail the gate" not in md


# --------------------------------------------------------------------------- SARIF


@pytest.fixture(scope="module")
def sarif_validator():
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def test_sarif_is_valid_and_has_one_result_per_finding(sarif_validator):
    result = every_kind()
    log = sarif(result, category="scan-image")
    sarif_validator.validate(log)
    json.dumps(log)  # serialisable as is
    assert log["version"] == "2.1.0"
    run = log["runs"][0]
    assert run["tool"]["driver"]["name"] == "mlgate (Trivy)"
    assert run["tool"]["driver"]["version"]
    assert run["tool"]["extensions"][0] == {"name": "Trivy", "version": "0.76.0",
                                            "informationUri": "https://github.com/aquasecurity/trivy"}
    assert run["automationDetails"]["id"] == "scan-image/"
    assert len(run["results"]) == len(result.findings)
    rules = run["tool"]["driver"]["rules"]
    assert len({r["id"] for r in rules}) == len(rules)
    for res in run["results"]:
        rule = rules[res["ruleIndex"]]
        assert rule["id"] == res["ruleId"]
        loc = res["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uri"]
        assert loc["region"]["startLine"] >= 1
        assert res["message"]["text"]


def test_sarif_rules_levels_and_security_severity():
    run = sarif(every_kind())["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    levels = {r["ruleId"]: r["level"] for r in run["results"]}
    assert levels["CVE-2024-0001"] == "error"
    assert levels["CVE-2024-0002"] == "warning"
    assert levels["CVE-2024-0003"] == "note"
    assert levels["DS002"] == "note"
    assert rules["CVE-2024-0001"]["properties"]["security-severity"] == "9.8"  # the CVSS
    assert rules["CVE-2024-0002"]["properties"]["security-severity"] == "5.5"  # MEDIUM
    assert rules["aws-access-key-id"]["properties"]["security-severity"] == "9.5"  # CRITICAL
    assert rules["GHSA-aaaa-bbbb-cccc"]["properties"]["security-severity"] == "8.0"  # HIGH
    assert rules["CVE-2024-0003"]["properties"]["security-severity"] == "3.1"
    assert "security-severity" not in rules["DS002"]["properties"]  # UNKNOWN, no CVSS
    for rule in rules.values():
        assert "security" in rule["properties"]["tags"]
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
        assert rule["help"]["text"] and rule["help"]["markdown"]
        assert rule.get("helpUri", "https://").startswith(("https://", "http://"))
    assert "helpUri" not in rules["CVE-2024-0003"]  # javascript: is not a help link
    assert rules["CVE-2024-0001"]["helpUri"] == "https://avd.aquasec.com/nvd/cve-2024-0001"
    assert "<img" not in rules["CVE-2024-0001"]["help"]["markdown"]
    assert "Fixed version: 3.0.2" in rules["CVE-2024-0001"]["help"]["text"]


def test_sarif_locations_and_suppressions():
    run = sarif(every_kind())["runs"][0]
    by_rule = {r["ruleId"]: r for r in run["results"]}
    secret = by_rule["aws-access-key-id"]["locations"][0]["physicalLocation"]
    assert secret == {"artifactLocation": {"uri": "app/.env"},
                      "region": {"startLine": 3, "endLine": 3}}
    misconfig = by_rule["KSV001"]["locations"][0]["physicalLocation"]
    assert misconfig["region"] == {"startLine": 20, "endLine": 31}
    os_pkg = by_rule["CVE-2024-0001"]["locations"][0]
    assert os_pkg["physicalLocation"]["artifactLocation"]["uri"] == \
        "registry.example.com/ml/churn%3A1.4.2"  # no scheme-looking colon, no OS suffix
    assert os_pkg["physicalLocation"]["region"] == {"startLine": 1}
    assert os_pkg["message"]["text"] == "openssl 3.0.1"
    for rid in ("CVE-2024-0004", "CVE-2024-0005"):
        (sup,) = by_rule[rid]["suppressions"]
        assert sup["kind"] == "external" and sup["justification"]
    assert "not reachable" in by_rule["CVE-2024-0005"]["suppressions"][0]["justification"]
    assert "suppressions" not in by_rule["CVE-2024-0001"]
    assert by_rule["CVE-2024-0001"]["partialFingerprints"]["mlgateFinding/v1"]


def test_sarif_default_category_is_stable_across_image_versions():
    def cat(target, kind="image"):
        return default_category(ScanResult(target, kind, (), Policy(), ()))

    assert cat("registry.example.com:5000/ml/churn:1.2") == \
        cat("registry.example.com:5000/ml/churn:1.3@sha256:" + "a" * 64) == \
        "mlgate-scan/image/registry.example.com-5000/ml/churn"
    assert cat("/tmp/build/churn.tar", "input") == "mlgate-scan/input/churn.tar"
    assert cat("./models dir", "fs") == "mlgate-scan/fs/models-dir"
    run = sarif(ScanResult(IMAGE, "image", (), Policy(), ()))["runs"][0]
    assert run["automationDetails"]["id"] == "mlgate-scan/image/registry.example.com/ml/churn/"
    assert run["results"] == [] and run["tool"]["driver"]["rules"] == []


def test_sarif_keeps_githubs_result_limit(monkeypatch, sarif_validator):
    monkeypatch.setattr(scan_sarif, "MAX_RESULTS", 4)
    log = sarif(every_kind())
    sarif_validator.validate(log)
    run = log["runs"][0]
    # Four of the five findings that fail the gate (critical, then high with the highest
    # CVSS, then the first high one), in their original order.
    assert [r["ruleId"] for r in run["results"]] == [
        "CVE-2024-0001", "GHSA-aaaa-bbbb-cccc", "CVE-2023-9999", "aws-access-key-id"]
    assert run["properties"]["omittedResults"] == len(every_kind().findings) - 4
    (note,) = run["invocations"][0]["toolExecutionNotifications"]
    assert "at most 4 results per run" in note["message"]["text"]
    assert len(run["tool"]["driver"]["rules"]) == 4


def multitool(tmp_path: Path, log: dict, *extra: str) -> list[dict]:
    """Runs the reference validator; returns its findings of level error."""
    if not MULTITOOL.exists():
        missing_tool("sarif-multitool",
                     "npm ci --prefix .ci/node installs @microsoft/sarif-multitool")
    (tmp_path / "report.sarif").write_text(json.dumps(log), encoding="utf-8")
    out = tmp_path / "validation.sarif"
    out.unlink(missing_ok=True)
    env = dict(os.environ, DOTNET_CLI_TELEMETRY_OPTOUT="1")
    proc = subprocess.run(
        [str(MULTITOOL), "validate", "report.sarif", "--output", "validation.sarif",
         "--log", "ForceOverwrite", *extra],
        cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=300, check=False)
    assert proc.returncode == 0 and out.exists(), proc.stdout + proc.stderr
    validation = json.loads(out.read_text(encoding="utf-8-sig"))
    return [r for run in validation["runs"] for r in run.get("results", [])
            if r.get("level", "warning") == "error"]


def test_sarif_passes_the_reference_validator_with_github_rules(tmp_path):
    log = sarif(every_kind(), category="scan-image")
    assert multitool(tmp_path, log) == []
    assert multitool(tmp_path, log, "--rule-kind", "Gh") == []
    # The validator is alive: a result without a message breaks the schema, and a driver
    # without rules breaks GitHub's ingestion rules.
    broken = json.loads(json.dumps(log))
    del broken["runs"][0]["results"][0]["message"]
    assert {e["ruleId"] for e in multitool(tmp_path, broken)} == {"JSON1002"}
    no_rules = json.loads(json.dumps(log))
    del no_rules["runs"][0]["tool"]["driver"]["rules"]
    for res in no_rules["runs"][0]["results"]:
        del res["ruleIndex"]
    assert "GH1018" in {e["ruleId"] for e in multitool(tmp_path, no_rules, "--rule-kind", "Gh")}


# --------------------------------------------------------------------------- GitLab


def gitlab_validator(schema: dict):
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def test_gitlab_report_is_valid_15x():
    report = gitlab_container_scanning(every_kind())
    gitlab_validator(GITLAB_CS_15).validate(report)
    json.dumps(report)
    assert report["version"] == "15.0.7"
    scan = report["scan"]
    assert scan["type"] == "container_scanning" and scan["status"] == "success"
    assert scan["start_time"] == "2026-11-23T10:00:00"
    assert scan["end_time"] == "2026-11-23T10:00:04"
    assert scan["scanner"]["version"] == "0.76.0"
    assert scan["analyzer"]["vendor"]["name"] and scan["scanner"]["vendor"]["name"]
    assert scan["messages"] == [{"level": "info", "value": "a note from the scan"}]


@pytest.mark.skipif(not os.environ.get("GITLAB_CS_SCHEMA"),
                    reason="GitLab's container-scanning-report-format.json is on no registry "
                           "reachable here; set GITLAB_CS_SCHEMA to a copy to check against it")
def test_gitlab_report_is_valid_against_gitlabs_own_schema():
    schema = json.loads(Path(os.environ["GITLAB_CS_SCHEMA"]).read_text(encoding="utf-8"))
    gitlab_validator(schema).validate(gitlab_container_scanning(every_kind()))
    gitlab_validator(schema).validate(gitlab_container_scanning(many(500)))


def test_gitlab_report_vulnerabilities():
    result = every_kind()
    report = gitlab_container_scanning(result)
    vulns = {v["identifiers"][0]["value"]: v for v in report["vulnerabilities"]}
    # Only vulnerabilities, and not the ignored ones.
    assert set(vulns) == {"CVE-2024-0001", "CVE-2024-0002", "CVE-2024-0003",
                          "GHSA-aaaa-bbbb-cccc", "CVE-2023-9999"}
    first = vulns["CVE-2024-0001"]
    assert first["severity"] == "Critical"
    assert first["solution"] == "Upgrade openssl to 3.0.2"
    assert "\n" not in first["name"] and first["name"].startswith("bad | pipe")
    assert first["identifiers"] == [{"type": "cve", "name": "CVE-2024-0001",
                                     "value": "CVE-2024-0001",
                                     "url": "https://nvd.nist.gov/vuln/detail/CVE-2024-0001"}]
    assert first["links"] == [{"url": "https://avd.aquasec.com/nvd/cve-2024-0001"}]
    assert first["location"] == {"dependency": {"package": {"name": "openssl"},
                                                "version": "3.0.1"},
                                 "operating_system": "debian 12.5", "image": IMAGE}
    assert vulns["CVE-2024-0002"]["solution"] == "No fix is available yet"
    assert vulns["CVE-2024-0003"]["links"] == []  # javascript: is not a link
    assert vulns["GHSA-aaaa-bbbb-cccc"]["identifiers"][0]["type"] == "ghsa"
    for v in vulns.values():
        assert uuid.UUID(v["id"]).version == 5


def test_gitlab_ids_are_deterministic_and_unique():
    result = every_kind()
    twice = dataclasses.replace(result, findings=result.findings + result.findings[:1])
    a = [v["id"] for v in gitlab_container_scanning(twice)["vulnerabilities"]]
    b = [v["id"] for v in gitlab_container_scanning(twice)["vulnerabilities"]]
    assert a == b and len(set(a)) == len(a)
    assert a[0] == gitlab_container_scanning(result)["vulnerabilities"][0]["id"]


def test_gitlab_times_without_a_start():
    result = dataclasses.replace(every_kind(), started_at=None)
    scan = gitlab_container_scanning(result)["scan"]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}", scan["start_time"])
    assert scan["start_time"] <= scan["end_time"]


# --------------------------------------------------------------------------- JUnit


def test_junit_parses_and_counts():
    result = every_kind()
    xml = junit(result)
    root = ET.fromstring(xml.encode("utf-8"))
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == list(dict.fromkeys(f.target
                                                                 for f in result.findings))
    cases = root.iter("testcase")
    assert sum(1 for _ in cases) == len(result.findings) == int(root.get("tests"))
    failures = root.findall("./testsuite/testcase/failure")
    skipped = root.findall("./testsuite/testcase/skipped")
    assert len(failures) == len(result.blocking) == int(root.get("failures")) == 5
    assert len(skipped) == int(root.get("skipped")) == 2
    for suite in suites:
        assert int(suite.get("tests")) == len(suite.findall("testcase"))
        assert int(suite.get("failures")) == len(suite.findall("testcase/failure"))
        assert int(suite.get("skipped")) == len(suite.findall("testcase/skipped"))
    text = "".join(root.itertext()) + "".join(
        v for el in root.iter() for v in el.attrib.values())
    assert "\x00" not in text and "\x1b" not in text  # control characters removed
    assert "Image user should not be root[31m" in text
    assert NASTY.splitlines()[0] in text  # markup escaped, not dropped
    first = root.find("./testsuite/testcase/failure")
    assert first.get("message") == "severity CRITICAL >= HIGH; CVSS 9.8 > 7.0"
    assert first.get("type") == "CRITICAL"


def test_junit_without_findings_is_one_passing_case():
    root = ET.fromstring(junit(ScanResult("./src", "fs", ("vuln",), Policy(), ())))
    assert root.get("tests") == "1" and root.get("failures") == "0"
    assert root.find("./testsuite").get("name") == "./src"


# --------------------------------------------------------------------------- size


def test_all_reports_for_ten_thousand_findings():
    """Builds every report for 10,000 findings (timed by bench/scan_reports.py, not here). The
    SARIF log is not schema-validated at this size: jsonschema checks the rules array's
    `uniqueItems` pairwise, which takes minutes for 9,000 rules."""
    result = many(10_000)
    md = markdown(result)
    log = sarif(result)
    report = gitlab_container_scanning(result)
    xml = junit(result)
    assert len(log["runs"][0]["results"]) == 10_000
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert len({r["id"] for r in rules}) == len(rules)
    assert all(res["locations"][0]["physicalLocation"]["region"]["startLine"] >= 1
               for res in log["runs"][0]["results"])
    gitlab_validator(GITLAB_CS_15).validate(report)
    assert len({v["id"] for v in report["vulnerabilities"]}) == len(report["vulnerabilities"])
    assert len(report["vulnerabilities"]) == sum(
        1 for f in result.findings if f.kind == "vulnerability" and f.status != "ignored")
    assert int(ET.fromstring(xml.encode()).get("tests")) == 10_000
    assert "… 900 more" in md
    assert len(md.encode()) < 1024 * 1024  # fits GitHub's step summary
