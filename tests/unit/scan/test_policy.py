"""The gate decided in Python: thresholds, unfixed, ignore files with expiry, VEX notes."""

from __future__ import annotations

import datetime as dt

import pytest

from mlgate.errors import BadInput
from mlgate.scan import ignores, parse
from mlgate.scan.config import Policy
from mlgate.scan.result import Finding
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


# --------------------------------------------------------------------------- what the report says


def rule(id_, source=".trivyignore.yaml", expires=None, statement="", kinds=ignores.ALL_KINDS):
    return ignores.Rule(id_, source, frozenset(kinds), expires=expires, statement=statement)


def test_fail_on_unknown_fails_on_every_finding_unrated_ones_included():
    found = [vuln("U", "UNKNOWN"), vuln("L", "LOW"), vuln("C", "CRITICAL")]
    got, _ = statuses(found, policy=Policy("UNKNOWN"))
    assert got == {"U": "blocking", "L": "blocking", "C": "blocking"}
    judged, _ = decide(found, [], [], Policy("UNKNOWN"), TODAY)
    assert judged[0].reasons == ("severity UNKNOWN >= UNKNOWN",)
    # an unrated finding is below any named threshold
    got, _ = statuses(found, policy=Policy("LOW"))
    assert got == {"U": "allowed", "L": "blocking", "C": "blocking"}


def test_no_severity_threshold_and_no_cvss_limit_block_nothing():
    judged, _ = decide([vuln("C", "CRITICAL", 9.8)], [], [], Policy(None), TODAY)
    assert (judged[0].status, judged[0].reasons) == ("allowed", ())


def test_blocking_reasons_name_the_severity_and_the_score():
    judged, _ = decide([vuln("A", "HIGH", 7.05), vuln("B", "LOW", 7.0)], [], [],
                       Policy("HIGH", 7.0), TODAY)
    assert [(f.status, f.reasons) for f in judged] == [
        ("blocking", ("severity HIGH >= HIGH", "CVSS 7.0 > 7.0")),   # 7.05 is above 7.0
        ("allowed", ()),
    ]


def test_max_cvss_zero_blocks_any_scored_finding():
    got, _ = statuses([vuln("A", "LOW", 0.1), vuln("B", "LOW", 0.0), vuln("C", "LOW")],
                      policy=Policy(None, 0.0))
    assert got == {"A": "blocking", "B": "allowed", "C": "allowed"}


def test_ignore_unfixed_only_skips_vulnerabilities_without_a_fix():
    secret = Finding("secret", "aws-access-key-id", "AWS", "CRITICAL", "app/.env")
    judged, _ = decide([vuln("U", "CRITICAL", fixed=""), secret, vuln("F", "CRITICAL")], [], [],
                       Policy("HIGH", None, True), TODAY)
    assert [(f.status, f.reasons) for f in judged] == [
        ("unfixed-ignored", ("no fix available (--ignore-unfixed)",)),
        ("blocking", ("severity CRITICAL >= HIGH",)),   # a secret has no fix to wait for
        ("blocking", ("severity CRITICAL >= HIGH",)),
    ]
    got, _ = statuses([vuln("U", "CRITICAL", fixed="")], policy=Policy("HIGH", None, False))
    assert got == {"U": "blocking"}


def test_expired_entry_followed_by_a_valid_one_still_ignores():
    """Two ignore files (or two entries) for one finding: the expired one does not stop the
    search, the valid one ignores it, and each note counts what it matched."""
    old = rule("CVE-1", ".trivyignore", expires=dt.date(2026, 1, 1))
    new = rule("CVE-1", ".trivyignore.yaml", expires=dt.date(2027, 1, 1),
               statement="not reachable")
    judged, notes = decide([vuln("CVE-1", "CRITICAL")], [], [old, new], Policy("HIGH"), TODAY)
    assert (judged[0].status, judged[0].reasons) == (
        "ignored", ("ignored by .trivyignore.yaml: not reachable",))
    assert [(n.id, n.source, n.expired, n.expired_at, n.statement, n.matched) for n in notes] == [
        ("CVE-1", ".trivyignore", True, "2026-01-01", "", 0),
        ("CVE-1", ".trivyignore.yaml", False, "2027-01-01", "not reachable", 1),
    ]


def test_an_expired_entry_alone_no_longer_ignores_and_says_why():
    old = rule("CVE-1", ".trivyignore", expires=dt.date(2026, 11, 22))
    today = rule("CVE-2", ".trivyignore", expires=TODAY)           # still valid on its last day
    judged, notes = decide([vuln("CVE-1", "CRITICAL"), vuln("CVE-2", "CRITICAL")], [],
                           [old, today], Policy("HIGH"), TODAY)
    assert [(f.status, f.reasons) for f in judged] == [
        ("blocking", ("ignore entry in .trivyignore expired on 2026-11-22",
                      "severity CRITICAL >= HIGH")),
        ("ignored", ("ignored by .trivyignore",)),
    ]
    assert [(n.expired, n.matched) for n in notes] == [(True, 0), (False, 1)]


def test_each_rule_counts_the_findings_it_ignored():
    everywhere = rule("CVE-1")
    unused = rule("CVE-404", statement="kept for the old base image")
    found = [vuln("CVE-1", "HIGH", package="openssl"), vuln("CVE-1", "HIGH", package="libssl3"),
             vuln("CVE-1", "HIGH", package="openssl-dev"), vuln("CVE-2", "HIGH")]
    judged, notes = decide(found, [], [everywhere, unused], Policy("HIGH"), TODAY)
    assert [f.status for f in judged] == ["ignored", "ignored", "ignored", "blocking"]
    assert [(n.id, n.source, n.expired, n.expired_at, n.statement, n.matched) for n in notes] == [
        ("CVE-1", ".trivyignore.yaml", False, None, "", 3),
        ("CVE-404", ".trivyignore.yaml", False, None, "kept for the old base image", 0),
    ]


def test_vex_suppressed_findings_keep_the_statement_and_count_once():
    f = vuln("CVE-9", "CRITICAL")
    judged, notes = decide([vuln("CVE-1", "LOW")], [(f, "openvex.json", "component_not_present")],
                           [], Policy("HIGH"), TODAY)
    assert [(j.id, j.status, j.reasons) for j in judged] == [
        ("CVE-1", "allowed", ()),
        ("CVE-9", "ignored", ("not affected per VEX openvex.json: component_not_present",)),
    ]
    assert [(n.id, n.source, n.expired, n.expired_at, n.statement, n.matched) for n in notes] == [
        ("CVE-9", "vex openvex.json", False, None, "component_not_present", 1)]
    _, notes = decide([], [(f, "", "component_not_present")], [], Policy("HIGH"), TODAY)
    assert notes[0].source == "vex"
