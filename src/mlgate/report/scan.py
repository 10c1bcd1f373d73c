"""How a scan result reads in summaries, terminals and outputs."""

from __future__ import annotations

import dataclasses

from mlgate.report.presentation import Annotation, Presentation, Section, Table
from mlgate.scan.result import ScanResult

MAX_ROWS = 40


def outputs(result: ScanResult, paths: dict[str, str]) -> dict[str, str]:
    counts = result.counts()
    return {
        "passed": "true" if result.passed else "false",
        "critical": str(counts["CRITICAL"]),
        "high": str(counts["HIGH"]),
        "medium": str(counts["MEDIUM"]),
        "low": str(counts["LOW"]),
        "unknown": str(counts["UNKNOWN"]),
        "max-cvss": "" if result.max_cvss is None else f"{result.max_cvss:.1f}",
        "sarif": paths.get("sarif", ""),
        "gitlab-report": paths.get("gitlab-report", ""),
        "junit": paths.get("junit", ""),
    }


def _without_title(md: str) -> str:
    """The standalone report starts with its own `##` title; in a summary the emitter's title
    is already there, so the section starts at the verdict."""
    first, _, rest = md.partition("\n")
    return rest.lstrip("\n") if first.startswith("## ") else md


def present(result: ScanResult, paths: dict[str, str]) -> Presentation:
    from mlgate.report.scan_markdown import markdown

    blocking = result.blocking
    rows = tuple((f.id, f.severity, f"{f.cvss:.1f}" if f.cvss is not None else "", f.package,
                  f.installed, f.fixed or "(no fix)", "; ".join(f.reasons))
                 for f in blocking[:MAX_ROWS])
    if len(blocking) > MAX_ROWS:
        rows += ((f"… {len(blocking) - MAX_ROWS} more", "", "", "", "", "", "see the reports"),)
    annotations = tuple(
        Annotation("error", f"{f.id} ({f.severity}) in {f.package or f.target}: {f.title}"[:500],
                   file=f.location or None, line=f.start_line, title="mlgate scan")
        for f in blocking
        if f.kind in ("secret", "misconfiguration") and f.location
        and result.target_kind in ("fs", "config")  # inside an image, no repo file to point at
    )
    counts = result.counts()
    title = (f"mlgate scan {result.target}: " + ", ".join(f"{v} {k.lower()}"
                                                          for k, v in counts.items() if v)
             if any(counts.values()) else f"mlgate scan {result.target}: no findings")
    data = dataclasses.asdict(result)
    data["passed"] = result.passed
    data["counts"] = counts
    return Presentation(
        command="scan",
        title=title,
        verdict="passed" if result.passed else f"failed: {len(blocking)} blocking finding(s)",
        exit_code=0 if result.passed else 1,
        outputs=outputs(result, paths),
        sections=(Section("Findings", _without_title(markdown(result))),),
        table=Table(("id", "severity", "cvss", "package", "installed", "fixed", "why"), rows),
        annotations=annotations,
        result=data,
    )
