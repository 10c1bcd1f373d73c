"""The gate decided in Python: thresholds, unfixed, ignore files with expiry, VEX notes."""

from __future__ import annotations

import datetime as dt

import pytest

from mlgate.errors import BadInput
from mlgate.scan import ignores, parse
from mlgate.scan.model import Finding, Policy
from mlgate.scan.policy import decide

TODAY = dt.date(2026, 11, 23)


def vuln(id_, severity, cvss=None, fixed="1.1", package="openssl"):
    return Finding("vulnerability", id_, f"{id_} title", severity, "img (debian 12)", package,
                   "1.0", fixed, cvss)


def statuses(found, rules=(), policy=Policy("HIGH"), vex=()):
    judged, notes = decide(list(found), list(vex), list(rules), policy, TODAY)
    return {f.id: f.status for f in judged}, notes


@pytest.mark.parametrize("threshold, blocking", [
    ("CRITICAL", {"C"}), ("HIGH", {"C", "H"}), ("MEDIUM", {"C", "H", "M"}),
    ("LOW", {"C", "H", "M", "L"}),
])
def test_fail_on_severity(threshold, blocking):
    found = [vuln("C", "CRITICAL"), vuln("H", "HIGH"), vuln("M", "MEDIUM"), vuln("L", "LOW")]
    got, _ = statuses(found, policy=Policy(threshold))
    assert {k for k, v in got.items() if v == "blocking"} == blocking


def test_max_cvss_is_strictly_above():
    found = [vuln("A", "LOW", 7.0), vuln("B", "LOW", 7.1), vuln("C", "MEDIUM", None)]
    got, _ = statuses(found, policy=Policy(None, 7.0))
    assert got == {"A": "allowed", "B": "blocking", "C": "allowed"}


def test_ignore_unfixed():
    got, _ = statuses([vuln("U", "CRITICAL", fixed=""), vuln("F", "CRITICAL")],
                      policy=Policy("HIGH", None, True))
    assert got == {"U": "unfixed-ignored", "F": "blocking"}


def test_plain_trivyignore_with_expiry(tmp_path):
    path = tmp_path / ".trivyignore"
    path.write_text("# accepted risk\nCVE-1 exp:2027-01-01\nCVE-2 exp:2026-01-01  # old\nCVE-3\n")
    rules = ignores.load(str(path))
    got, notes = statuses([vuln("CVE-1", "CRITICAL"), vuln("CVE-2", "CRITICAL"),
                           vuln("CVE-3", "HIGH")], rules)
    assert got == {"CVE-1": "ignored", "CVE-2": "blocking", "CVE-3": "ignored"}
    expired = [n for n in notes if n.expired]
    assert [(n.id, n.expired_at) for n in expired] == [("CVE-2", "2026-01-01")]


def test_yaml_ignore_file_paths_statement_and_kinds(tmp_path):
    path = tmp_path / ".trivyignore.yaml"
    path.write_text(
        "vulnerabilities:\n"
        "  - id: CVE-1\n    statement: not reachable from the model server\n"
        "    expired_at: 2027-06-01\n"
        "  - id: CVE-2\n    expired_at: 2025-06-01\n"
        "secrets:\n  - id: aws-access-key-id\n    paths: [\"app/test/*\"]\n"
        "misconfigurations:\n  - id: KSV-0017\n")
    rules = ignores.load(str(path))
    secret_in_tests = Finding("secret", "aws-access-key-id", "AWS", "CRITICAL", "app/test/x.env",
                              location="app/test/x.env")
    secret_elsewhere = Finding("secret", "aws-access-key-id", "AWS", "CRITICAL", "app/prod.env",
                               location="app/prod.env")
    judged, notes = decide([vuln("CVE-1", "HIGH"), vuln("CVE-2", "HIGH"), secret_in_tests,
                            secret_elsewhere], [], rules, Policy("HIGH"), TODAY)
    assert [f.status for f in judged] == ["ignored", "blocking", "ignored", "blocking"]
    assert "not reachable" in judged[0].reasons[0]
    assert "expired on 2025-06-01" in judged[1].reasons[0]
    assert {n.id: n.matched for n in notes}["KSV-0017"] == 0


@pytest.mark.parametrize("text, needle", [
    ("vulnerabilities: {id: x}\n", "must be a list"),
    ("vulnerabilities:\n  - statement: no id\n", "needs an id"),
    ("vulnerabilities:\n  - id: X\n    expired_at: soon\n", "invalid date"),
    ("vulnerabilities: [\n", r":2: invalid YAML"),
])
def test_bad_ignore_yaml_is_exit_2(tmp_path, text, needle):
    path = tmp_path / ".trivyignore.yaml"
    path.write_text(text)
    with pytest.raises(BadInput, match=needle):
        ignores.load(str(path))


def test_vex_suppressed_findings_are_reported_as_ignored():
    f = vuln("CVE-9", "CRITICAL")
    judged, notes = decide([], [(f, "openvex.json", "vulnerable_code_not_in_execute_path")], [],
                           Policy("HIGH"), TODAY)
    assert judged[0].status == "ignored" and "VEX" in judged[0].reasons[0]
    assert notes[0].source.startswith("vex")


def test_parse_takes_highest_cvss_and_never_copies_secret_match():
    report = {"SchemaVersion": 2, "Results": [{
        "Target": "img (debian 12.5)",
        "Vulnerabilities": [{"VulnerabilityID": "CVE-1", "PkgName": "openssl",
                             "InstalledVersion": "3.0.1", "FixedVersion": "3.0.2",
                             "Severity": "HIGH", "Title": "t",
                             "CVSS": {"nvd": {"V3Score": 7.5}, "redhat": {"V3Score": 8.1},
                                      "ghsa": {"V2Score": 9.9}}}],
        "Secrets": [{"RuleID": "aws-access-key-id", "Severity": "CRITICAL", "Title": "AWS",
                     "StartLine": 3, "EndLine": 3, "Match": "AKIA****************"}],
        "Misconfigurations": [{"ID": "KSV-0001", "Status": "PASS", "Severity": "MEDIUM"},
                              {"ID": "KSV-0017", "Status": "FAIL", "Severity": "HIGH",
                               "CauseMetadata": {"StartLine": 7, "EndLine": 9}}],
    }, {"Target": "bad", "Vulnerabilities": "not a list"}, "junk"]}
    found, suppressed = parse.findings(report)
    assert [(f.kind, f.id) for f in found] == [("vulnerability", "CVE-1"),
                                               ("secret", "aws-access-key-id"),
                                               ("misconfiguration", "KSV-0017")]
    assert found[0].cvss == 8.1
    assert "AKIA" not in repr(found[1])
    assert found[2].start_line == 7 and suppressed == []
