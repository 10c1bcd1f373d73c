"""Benchmark: build every scan report (Markdown, SARIF, GitLab container scanning, JUnit) for a
scan result with 10,000 findings, serialised as `mlgate scan` writes them.

Prints the seconds for each report and in total, measured in this one run (target: < 2 s in
total). The result is synthetic but shaped like a large image scan: nine in ten findings are
vulnerabilities over 700 packages and 7 targets, with and without fixes and CVSS scores, one in
ten a secret; a tenth of them fail the gate and some are ignored.
Not a timed test: run `python bench/scan_reports.py [--findings N] [--repeat R]`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))

from mlgate.report.scan_gitlab import gitlab_container_scanning
from mlgate.report.scan_junit import junit
from mlgate.report.scan_markdown import markdown
from mlgate.report.scan_sarif import sarif
from mlgate.scan.config import Policy
from mlgate.scan.result import Finding, ScanResult

TARGET_SECONDS = 2.0
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN")


def result_with(n: int) -> ScanResult:
    findings = []
    for i in range(n):
        status = "blocking" if i < n // 10 else ("ignored" if i % 17 == 0 else "allowed")
        reasons = ("severity HIGH >= HIGH",) if status == "blocking" else (
            ("ignored by .trivyignore.yaml: not reachable",) if status == "ignored" else ())
        if i % 10 == 9:
            findings.append(Finding(
                "secret", f"rule-{i % 40}", "Generic secret", "HIGH", f"app/src/file{i % 300}.py",
                location=f"app/src/file{i % 300}.py", start_line=i % 500 + 1,
                end_line=i % 500 + 1, status=status, reasons=reasons))
        else:
            cve = f"CVE-2024-{i:05d}"
            findings.append(Finding(
                "vulnerability", cve, f"pkg{i % 700}: a problem in a parser | `code` <b>",
                SEVERITIES[i % 5], f"registry.example.com/ml/churn:1.4.2 (debian 12.{i % 7})",
                package=f"pkg{i % 700}", installed=f"1.{i % 9}.0",
                fixed="" if i % 3 else f"1.{i % 9}.1", cvss=((i % 100) / 10) or None,
                url=f"https://avd.aquasec.com/nvd/{cve.lower()}",
                description="A long description of the vulnerability. " * 8,
                status=status, reasons=reasons))
    return ScanResult(
        target="registry.example.com/ml/churn:1.4.2", target_kind="image",
        scanners=("vuln", "secret"), policy=Policy("HIGH", 7.0), findings=tuple(findings),
        trivy_version="0.76.0", artifact_name="registry.example.com/ml/churn:1.4.2",
        os="debian 12.5", duration_s=42.0, started_at="2026-11-23T10:00:00Z")


REPORTS = (
    ("markdown", markdown),
    ("sarif", sarif),
    ("gitlab", gitlab_container_scanning),
    ("junit", junit),
)
# How src/mlgate/report/scan_files.py serialises the JSON reports today (indent=1, which makes
# json use its pure-Python encoder), and compact JSON (json's C encoder), for comparison.
SERIALISE = {
    "indent=1": lambda obj: json.dumps(obj, indent=1),
    "compact": lambda obj: json.dumps(obj, separators=(",", ":")),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--findings", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3, help="report the best of R runs")
    args = parser.parse_args()
    repeat = max(args.repeat, 1)
    result = result_with(args.findings)
    build: dict[str, float] = {}
    write: dict[tuple[str, str], float] = {}
    sizes: dict[tuple[str, str], int] = {}
    for _ in range(repeat):
        for name, builder in REPORTS:
            started = time.perf_counter()
            built = builder(result)
            build[name] = min(build.get(name, 1e9), time.perf_counter() - started)
            for how, dump in SERIALISE.items():
                started = time.perf_counter()
                text = dump(built) if isinstance(built, dict) else built
                write[name, how] = min(write.get((name, how), 1e9),
                                       time.perf_counter() - started)
                sizes[name, how] = len(text.encode("utf-8"))
    print(f"scan reports for {args.findings} findings, best of {repeat} (seconds, MB):")
    print(f"  {'report':<9} {'build':>7} {'+ json indent=1':>17} {'+ json compact':>16}")
    totals = dict.fromkeys(SERIALISE, 0.0)
    for name, _ in REPORTS:
        cells = []
        for how in SERIALISE:
            seconds = build[name] + write[name, how]
            totals[how] += seconds
            cells.append(f"{seconds:7.3f} {sizes[name, how] / 1e6:7.2f}")
        print(f"  {name:<9} {build[name]:7.3f}   {cells[0]}   {cells[1]}")
    for how, total in totals.items():
        verdict = "ok" if total < TARGET_SECONDS else "OVER TARGET"
        print(f"  total, JSON {how:<8}: {total:6.3f} s (target < {TARGET_SECONDS:.0f} s: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
