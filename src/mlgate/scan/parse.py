"""Trivy's JSON (schema version 2) to Findings. Trivy output is untrusted input: every field
is type-checked, unknown shapes are skipped, and a secret's matched text is never copied."""

from __future__ import annotations

from typing import Any

from mlgate.errors import ServiceError
from mlgate.scan.result import SEVERITIES, Finding


def _s(value: Any, limit: int = 4000) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _i(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _severity(value: Any) -> str:
    s = _s(value).upper()
    return s if s in SEVERITIES else "UNKNOWN"


def highest_cvss(cvss: Any) -> float | None:
    """The highest CVSS v3 base score among NVD and vendor entries."""
    best = None
    if isinstance(cvss, dict):
        for entry in cvss.values():
            if isinstance(entry, dict):
                score = entry.get("V3Score")
                if isinstance(score, (int, float)) and not isinstance(score, bool) \
                        and 0 <= score <= 10:
                    best = score if best is None else max(best, float(score))
    return float(best) if best is not None else None


def findings(report: dict) -> tuple[list[Finding], list[tuple[Finding, str, str]]]:
    """Reported findings, and findings a VEX document suppressed (finding, source, statement)."""
    if report.get("SchemaVersion") not in (2, None):
        raise ServiceError(f"unsupported Trivy JSON schema {report.get('SchemaVersion')!r}")
    out: list[Finding] = []
    suppressed: list[tuple[Finding, str, str]] = []
    results = report.get("Results")
    for result in results if isinstance(results, list) else []:
        if not isinstance(result, dict):
            continue
        target = _s(result.get("Target"), 1000)
        for v in _list(result, "Vulnerabilities"):
            out.append(_vulnerability(v, target))
        for s in _list(result, "Secrets"):
            out.append(_secret(s, target))
        for m in _list(result, "Misconfigurations"):
            if _s(m.get("Status")) in ("FAIL", ""):
                out.append(_misconfiguration(m, target))
        for lic in _list(result, "Licenses"):
            out.append(_license(lic, target))
        for mod in _list(result, "ExperimentalModifiedFindings"):
            inner = mod.get("Finding")
            if isinstance(inner, dict) and _s(mod.get("Type")) == "vulnerability":
                suppressed.append((_vulnerability(inner, target), _s(mod.get("Source"), 200),
                                   _s(mod.get("Statement"), 500) or _s(mod.get("Status"))))
    return out, suppressed


def _list(obj: dict, key: str) -> list[dict]:
    value = obj.get(key)
    return [x for x in value if isinstance(x, dict)] if isinstance(value, list) else []


def _vulnerability(v: dict, target: str) -> Finding:
    return Finding(
        kind="vulnerability",
        id=_s(v.get("VulnerabilityID"), 200) or "UNKNOWN-ID",
        title=_s(v.get("Title"), 500),
        severity=_severity(v.get("Severity")),
        target=target,
        package=_s(v.get("PkgName"), 300),
        installed=_s(v.get("InstalledVersion"), 200),
        fixed=_s(v.get("FixedVersion"), 300),
        cvss=highest_cvss(v.get("CVSS")),
        url=_s(v.get("PrimaryURL"), 1000),
        description=_s(v.get("Description")),
    )


def _secret(s: dict, target: str) -> Finding:
    return Finding(
        kind="secret",
        id=_s(s.get("RuleID"), 200) or "secret",
        title=_s(s.get("Title"), 500) or _s(s.get("Category"), 200),
        severity=_severity(s.get("Severity")),
        target=target,
        location=target,
        start_line=_i(s.get("StartLine")),
        end_line=_i(s.get("EndLine")),
    )


def _misconfiguration(m: dict, target: str) -> Finding:
    cause = m.get("CauseMetadata") if isinstance(m.get("CauseMetadata"), dict) else {}
    return Finding(
        kind="misconfiguration",
        id=_s(m.get("ID"), 200) or _s(m.get("AVDID"), 200) or "misconfiguration",
        title=_s(m.get("Title"), 500),
        severity=_severity(m.get("Severity")),
        target=target,
        url=_s(m.get("PrimaryURL"), 1000),
        description=_s(m.get("Message")) or _s(m.get("Description")),
        location=target,
        start_line=_i(cause.get("StartLine")),
        end_line=_i(cause.get("EndLine")),
    )


def _license(lic: dict, target: str) -> Finding:
    return Finding(
        kind="license",
        id=_s(lic.get("Name"), 200) or "license",
        title=f"{_s(lic.get('Category'), 100)} license {_s(lic.get('Name'), 200)}".strip(),
        severity=_severity(lic.get("Severity")),
        target=target,
        package=_s(lic.get("PkgName"), 300),
        location=_s(lic.get("FilePath"), 1000) or target,
        url=_s(lic.get("Link"), 1000),
    )
