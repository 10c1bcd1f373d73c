"""The gate, decided in Python from the findings: severity at or above --fail-on-severity, or a
CVSS v3 base score above --max-cvss, after --ignore-unfixed and the ignore rules."""

from __future__ import annotations

import dataclasses
import datetime as dt

from mlgate.scan.ignores import Rule
from mlgate.scan.config import Policy
from mlgate.scan.result import Finding, IgnoreNote, severity_rank


def decide(
    found: list[Finding],
    vex_suppressed: list[tuple[Finding, str, str]],
    rules: list[Rule],
    policy: Policy,
    today: dt.date,
) -> tuple[list[Finding], list[IgnoreNote]]:
    matched = {id(r): 0 for r in rules}
    out: list[Finding] = []
    for f in found:
        out.append(_judge(f, rules, policy, today, matched))
    for f, source, statement in vex_suppressed:
        out.append(dataclasses.replace(f, status="ignored",
                                       reasons=(f"not affected per VEX {source}: {statement}",)))
    notes = [
        IgnoreNote(r.id, r.source, r.expired(today),
                   r.expires.isoformat() if r.expires else None, r.statement, matched[id(r)])
        for r in rules
    ]
    for f, source, statement in vex_suppressed:
        notes.append(IgnoreNote(f.id, f"vex {source}".strip(), statement=statement, matched=1))
    return out, notes


def _judge(f: Finding, rules, policy: Policy, today: dt.date, matched: dict) -> Finding:
    expired_reasons = []
    for rule in rules:
        if rule.matches(f):
            if rule.expired(today):
                expired_reasons.append(f"ignore entry in {rule.source} expired on "
                                       f"{rule.expires.isoformat()}")
                continue
            matched[id(rule)] += 1
            why = f"ignored by {rule.source}" + (f": {rule.statement}" if rule.statement else "")
            return dataclasses.replace(f, status="ignored", reasons=(why,))
    if policy.ignore_unfixed and f.kind == "vulnerability" and not f.fixed:
        return dataclasses.replace(f, status="unfixed-ignored",
                                   reasons=("no fix available (--ignore-unfixed)",))
    blocking: list[str] = []
    # at or above: --fail-on-severity UNKNOWN fails on every finding, unrated ones included
    if policy.fail_on_severity and severity_rank(f.severity) >= severity_rank(
            policy.fail_on_severity):
        blocking.append(f"severity {f.severity} >= {policy.fail_on_severity}")
    if policy.max_cvss is not None and f.cvss is not None and f.cvss > policy.max_cvss:
        blocking.append(f"CVSS {f.cvss:.1f} > {policy.max_cvss:.1f}")
    return dataclasses.replace(f, status="blocking" if blocking else "allowed",
                               reasons=(*expired_reasons, *blocking))
