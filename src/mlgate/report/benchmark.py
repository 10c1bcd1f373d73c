"""How a benchmark result reads in summaries, terminals and outputs."""

from __future__ import annotations

import json
import math
from typing import Any

from mlgate.benchmark.result import BenchmarkResult, MetricResult
from mlgate.report.presentation import Annotation, Presentation, Section, Table

OUTPUT_KEYS = ("passed", "champion-missing", "metric", "champion", "candidate", "delta",
               "ci-low", "ci-high", "p-value", "metrics", "report", "html-report",
               "metrics-file")


def _number(value: float | None) -> float | None:
    """A figure rounded to 6 significant digits, None when missing or not finite: outputs
    are read by later steps and compared as text, where float noise only gets in the way."""
    if value is None or not math.isfinite(value):
        return None
    return float(f"{value:.6g}")


def _text(value: float | None) -> str:
    n = _number(value)
    return "" if n is None else repr(n)


def headline_metric(result: BenchmarkResult) -> MetricResult | None:
    """The metric the single-value outputs describe: the first that gates, else the first."""
    for m in result.metrics:
        if m.gated:
            return m
    return result.metrics[0] if result.metrics else None


def outputs(result: BenchmarkResult, paths: dict[str, str]) -> dict[str, str]:
    head = headline_metric(result)
    every = {m.name: {"champion": _number(m.champion), "candidate": _number(m.candidate),
                      "delta": _number(m.delta), "low": _number(m.low),
                      "high": _number(m.high), "p_value": _number(m.p_value),
                      "passed": m.passed} for m in result.metrics}
    return {
        "passed": "true" if result.passed else "false",
        "champion-missing": "true" if result.champion is None else "false",
        "metric": head.name if head else "",
        "champion": _text(head.champion) if head else "",
        "candidate": _text(head.candidate) if head else "",
        "delta": _text(head.delta) if head else "",
        "ci-low": _text(head.low) if head else "",
        "ci-high": _text(head.high) if head else "",
        "p-value": _text(head.p_value) if head else "",
        "metrics": json.dumps(every, separators=(",", ":"), allow_nan=False),
        "report": paths.get("report", ""),
        "html-report": paths.get("html-report", ""),
        "metrics-file": paths.get("metrics-file", ""),
    }


def _without_title(md: str) -> str:
    """The standalone report starts with its own `##` title; in a summary the emitter's title
    is already there, so the section starts at the verdict."""
    first, _, rest = md.partition("\n")
    return rest.lstrip("\n") if first.startswith("## ") else md


def _finite(value: Any) -> Any:
    """The result as JSON can hold it: a metric undefined on a slice is NaN in the result,
    and the --json writer refuses NaN (it is not JSON)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def present(result: BenchmarkResult, paths: dict[str, str]) -> Presentation:
    from mlgate.report.benchmark_markdown import TABLE_HEADERS, markdown, model_label, table_rows

    champion = model_label(result.champion) if result.champion else None
    title = (f"mlgate benchmark: {model_label(result.candidate)} vs {champion} on "
             f"{result.rows:,} rows" if champion else
             f"mlgate benchmark: {model_label(result.candidate)} (no champion) on "
             f"{result.rows:,} rows")
    if result.passed:
        verdict = "passed"
    else:
        verdict = f"failed: {result.reasons[0]}" if result.reasons else "failed"
    annotations = tuple(Annotation("error", reason[:500], title="mlgate benchmark")
                        for reason in result.reasons) if not result.passed else ()
    headers = list(TABLE_HEADERS)
    headers[5] = "p"
    data = _finite(result.to_dict())
    data["passed"] = result.passed
    return Presentation(
        command="benchmark",
        title=title,
        verdict=verdict,
        exit_code=0 if result.passed else 1,
        outputs=outputs(result, paths),
        sections=(Section("Benchmark", _without_title(markdown(result))),),
        table=Table(tuple(headers), tuple(table_rows(result))),
        annotations=annotations,
        result=data,
    )
