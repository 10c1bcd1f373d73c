"""Writing the report files a benchmark was asked for, atomically, before the gate's exit code.

Reports are written whether the gate passed or not: a failed benchmark is exactly when a
reviewer opens them.
"""

from __future__ import annotations

from mlgate.atomic import write_atomic
from mlgate.benchmark.result import BenchmarkResult, Curves
from mlgate.errors import BadInput


def _write(path: str, text: str, option: str) -> None:
    try:
        write_atomic(path, text.encode("utf-8"))
    except OSError as exc:
        raise BadInput(f"{option} {path!r}: cannot write: {exc.strerror or exc}") from None


def write_reports(result: BenchmarkResult, curves: Curves | None, *, markdown_path: str | None,
                  html_path: str | None, metrics_path: str | None) -> dict[str, str]:
    """Write each requested report; the paths written, keyed by output name.

    `curves` may be None when no HTML report was asked for (computing them costs a pass over
    the scores); an HTML report without them says it has no curves.
    """
    written: dict[str, str] = {}
    if markdown_path:
        from mlgate.report.benchmark_markdown import markdown

        _write(markdown_path, markdown(result), "--report")
        written["report"] = markdown_path
    if html_path:
        from mlgate.report.benchmark_html import html

        _write(html_path, html(result, curves or Curves()), "--html-report")
        written["html-report"] = html_path
    if metrics_path:
        from mlgate.report.benchmark_openmetrics import openmetrics

        _write(metrics_path, openmetrics(result), "--metrics-file")
        written["metrics-file"] = metrics_path
    return written
