"""Writing the report files a scan was asked for, atomically, before the gate's exit code."""

from __future__ import annotations

import json

from mlgate.atomic import write_atomic
from mlgate.errors import BadInput
from mlgate.scan.result import ScanResult


def _write(path: str, text: str, what: str) -> None:
    try:
        write_atomic(path, text.encode("utf-8"))
    except OSError as exc:
        raise BadInput(f"{what} {path!r}: cannot write: {exc.strerror}") from None


def write_reports(result: ScanResult, *, sarif: str | None, gitlab: str | None,
                  junit: str | None) -> dict[str, str]:
    written: dict[str, str] = {}
    if sarif:
        from mlgate.report.scan_sarif import sarif as build

        _write(sarif, json.dumps(build(result), separators=(",", ":")), "--sarif")
        written["sarif"] = sarif
    if gitlab:
        from mlgate.report.scan_gitlab import gitlab_container_scanning

        _write(gitlab, json.dumps(gitlab_container_scanning(result), separators=(",", ":")), "--gitlab-report")
        written["gitlab-report"] = gitlab
    if junit:
        from mlgate.report.scan_junit import junit as build_junit

        _write(junit, build_junit(result), "--junit")
        written["junit"] = junit
    return written
