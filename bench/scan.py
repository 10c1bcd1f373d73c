"""Benchmark: mlgate scan against Trivy alone, and building every report for 10,000 findings.

Prints, measured in this one run:
- mlgate's wall time for an offline image-tarball scan (vulnerabilities and secrets) as a ratio
  of Trivy's own run on the same target with the same flags (target <= 1.2x + 0.5 s);
- the time to build the Markdown, SARIF, GitLab and JUnit reports and the JSON result for a
  10,000-finding result (target < 2 s).
Both scans run the real Trivy binary against a vulnerability DB and an image built here.
Not a timed test: run `.venv/bin/python bench/scan.py`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from support.images import DEFAULT_PACKAGES, debian_image  # noqa: E402
from support.trivyfix import build_db, trivy_bin  # noqa: E402


def timed(cmd: list[str], env: dict[str, str], ok=(0,)) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode not in ok:
        sys.exit(f"{cmd[:3]} exited {proc.returncode}: {proc.stderr[-1500:]}")
    return elapsed


def bench_scan(tmp: Path) -> None:
    cache, image = tmp / "cache", tmp / "image.tar"
    build_db(cache)
    debian_image(image, DEFAULT_PACKAGES, secret=True)
    trivy = trivy_bin()
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp), "PYTHONPATH": str(ROOT / "src"),
           "TRIVY_NO_PROGRESS": "true", "TRIVY_DISABLE_VEX_NOTICE": "true"}
    flags = ["--cache-dir", str(cache), "--quiet", "--skip-db-update", "--skip-java-db-update",
             "--offline-scan", "--skip-check-update", "--skip-version-check",
             "--disable-telemetry", "--scanners", "vuln,secret", "--format", "json",
             "--output", str(tmp / "trivy.json")]
    # one warm-up each, so neither pays for a cold page cache
    timed([trivy, "image", *flags, "--input", str(image)], env)
    trivy_s = timed([trivy, "image", *flags, "--input", str(image)], env)
    mlgate = [sys.executable, "-m", "mlgate", "scan", "--input", str(image), "--cache-dir",
              str(cache), "--offline", "--trivy", trivy, "--scanners", "vuln,secret",
              "--json", str(tmp / "mlgate.json")]
    timed(mlgate, env, ok=(0, 1))
    mlgate_s = timed(mlgate, env, ok=(0, 1))
    budget = 1.2 * trivy_s + 0.5
    print(f"trivy image (alone):         {trivy_s:.2f} s")
    print(f"mlgate scan (same target):   {mlgate_s:.2f} s  = {mlgate_s / trivy_s:.2f}x trivy, "
          f"+{mlgate_s - trivy_s:.2f} s")
    print(f"target <= 1.2x + 0.5 s = {budget:.2f} s  {'OK' if mlgate_s <= budget else 'MISSED'}")


def bench_reports() -> None:
    from mlgate.report.scan_gitlab import gitlab_container_scanning
    from mlgate.report.scan_junit import junit
    from mlgate.report.scan_markdown import markdown
    from mlgate.report.scan_sarif import sarif
    from mlgate.scan.config import Policy
    from mlgate.scan.result import Finding, IgnoreNote, ScanResult

    severities = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN")
    statuses = ("blocking", "allowed", "ignored", "unfixed-ignored")
    findings = tuple(
        Finding("vulnerability", f"CVE-2099-{i:05d}", f"title {i} | with `markup`",
                severities[i % 5], "img.tar (debian 12.5)", f"pkg{i % 700}", "1.0",
                "" if i % 3 == 0 else "1.1", (i % 100) / 10, f"https://avd.example/{i}",
                "description " * 20, status=statuses[i % 4], reasons=("why",))
        for i in range(10_000)
    )
    result = ScanResult("img.tar", "input", ("vuln",), Policy("HIGH"), findings,
                        (IgnoreNote("CVE-2099-00002", ".trivyignore"),))
    start = time.perf_counter()
    markdown(result)
    json.dumps(sarif(result), separators=(",", ":"))  # as report/scan_files.py writes them
    json.dumps(gitlab_container_scanning(result), separators=(",", ":"))
    junit(result)
    json.dumps(dataclasses.asdict(result))
    elapsed = time.perf_counter() - start
    print(f"all reports, 10,000 findings: {elapsed:.2f} s (target < 2 s)  "
          f"{'OK' if elapsed < 2 else 'MISSED'}")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="mlgate-bench-scan-") as tmp:
        bench_scan(Path(tmp))
    bench_reports()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
