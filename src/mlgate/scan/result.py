"""The typed result of a scan: every finding Trivy reported, what the policy made of it, and
the verdict. Report writers (Markdown, SARIF, GitLab, JUnit) read only this."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from mlgate.scan.config import Policy

SEVERITIES = ("UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL")
Kind = Literal["vulnerability", "secret", "misconfiguration", "license"]
Status = Literal["blocking", "allowed", "ignored", "unfixed-ignored"]


def severity_rank(severity: str) -> int:
    try:
        return SEVERITIES.index(severity.upper())
    except ValueError:
        return 0


@dataclass(frozen=True)
class Finding:
    """One finding from Trivy's JSON, whatever the scanner."""

    kind: Kind
    id: str  # CVE-2024-1234, a secret rule id, a misconfiguration id (KSV001), a license name
    title: str
    severity: str  # one of SEVERITIES
    target: str  # Trivy's Result.Target: an image layer path, a file, a lock file
    package: str = ""  # package name (vulnerabilities, licenses)
    installed: str = ""
    fixed: str = ""  # fixed version, empty when no fix is available
    cvss: float | None = None  # highest CVSS v3 base score among NVD and vendors
    url: str = ""  # PrimaryURL / reference
    description: str = ""
    location: str = ""  # file path within the target (secrets, misconfigurations)
    start_line: int | None = None
    end_line: int | None = None
    status: Status = "allowed"
    reasons: tuple[str, ...] = ()  # why blocking / why ignored, human-readable


@dataclass(frozen=True)
class IgnoreNote:
    """An ignore rule and what it did: ignored findings, or expired and no longer ignoring."""

    id: str
    source: str  # .trivyignore, .trivyignore.yaml, vex
    expired: bool = False
    expired_at: str | None = None
    statement: str = ""
    matched: int = 0


@dataclass(frozen=True)
class ScanResult:
    target: str  # what was scanned, as given (image ref, tarball path, directory)
    target_kind: Literal["image", "input", "fs", "config"]
    scanners: tuple[str, ...]
    policy: Policy
    findings: tuple[Finding, ...]
    ignores: tuple[IgnoreNote, ...] = ()
    trivy_version: str = ""
    trivy_path: str = ""
    db_updated_at: str | None = None
    artifact_name: str = ""
    os: str = ""  # e.g. "debian 12.5"
    duration_s: float = 0.0
    started_at: str | None = None  # when Trivy started, ISO 8601 UTC (2026-01-31T12:00:00Z)
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def blocking(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.status == "blocking")

    @property
    def passed(self) -> bool:
        return not self.blocking

    def counts(self) -> dict[str, int]:
        """Findings per severity, ignored ones not counted."""
        out = {s: 0 for s in SEVERITIES}
        for f in self.findings:
            if f.status in ("blocking", "allowed"):
                out[f.severity if f.severity in out else "UNKNOWN"] += 1
        return out

    @property
    def max_cvss(self) -> float | None:
        scores = [f.cvss for f in self.findings
                  if f.cvss is not None and f.status in ("blocking", "allowed")]
        return max(scores) if scores else None
