"""The benchmark as an OpenMetrics text file, for GitLab's metrics report.

GitLab (``artifacts: reports: metrics: metrics.txt``) shows each metric in the merge request
beside the target branch's value of the same name and labels, so names and label sets here are
fixed: a renamed metric would show as "removed" plus "new" instead of a change.

How GitLab reads the file (Gitlab::Ci::Parsers::Metrics::Generic): each line has everything
from the first ``#`` cut off, is split like a shell command line (``shellsplit``), and the first
word becomes the key and the second the value, both as strings. So:

- comment lines (``# TYPE``, ``# HELP``, ``# EOF``) are ignored by GitLab and kept for real
  OpenMetrics parsers, which require ``# EOF``;
- no space may appear outside quotes in the name-and-labels part, or the key splits;
- a ``#`` inside a label value would cut the line and leave an unbalanced quote, and a line
  that fails to split fails the whole report; the exposition format has no escape for it, so
  it is written as ``%23``;
- values are compared as text, so they are written with a fixed precision (6 significant
  digits) to keep float noise from showing as a change.

Label values are otherwise escaped as the exposition format says (backslash, double quote,
newline), which GitLab's shell-style split undoes. NaN, infinite and missing figures are left
out rather than written, since "NaN" compared against a number means nothing in the widget.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from mlgate.benchmark.result import BenchmarkResult

PREFIX = "mlgate_benchmark_"
_LABEL_CHARS = 200

# name -> help text; the order is the order of the families in the file.
FAMILIES: dict[str, str] = {
    "passed": "1 when the candidate passed the benchmark gate, else 0.",
    "champion_missing": "1 when there was no champion to compare with.",
    "rows": "Rows of held-out data both models were scored on.",
    "metric": "A metric's value on one model.",
    "delta": "Candidate minus champion.",
    "delta_low": "Lower end of the bootstrap confidence interval of the delta.",
    "delta_high": "Upper end of the bootstrap confidence interval of the delta.",
    "p_value": "p-value of the paired test of the difference.",
    "metric_passed": "1 when every requirement on the metric held, else 0.",
    "latency_p50_ms": "Median single-row prediction latency in milliseconds.",
    "latency_p95_ms": "95th percentile single-row prediction latency in milliseconds.",
    "model_size_bytes": "Size of the model on disk in bytes.",
    "slice_rows": "Rows in one slice of the data.",
    "slice_delta": "Candidate minus champion on one slice.",
    "slice_delta_low": "Lower end of the confidence interval of a slice's delta.",
    "slice_delta_high": "Upper end of the confidence interval of a slice's delta.",
    "slice_passed": "1 when the slice passed (or was too small to judge), else 0.",
}

Sample = tuple[str, dict[str, str], "float | int | bool | None"]


def openmetrics(result: BenchmarkResult) -> str:
    """The report text, ending with the ``# EOF`` OpenMetrics requires."""
    samples: dict[str, list[str]] = {name: [] for name in FAMILIES}
    for name, labels, value in _samples(result):
        text = format_value(value)
        if text is not None:
            samples[name].append(f"{PREFIX}{name}{format_labels(labels)} {text}")
    lines: list[str] = []
    for name, help_text in FAMILIES.items():
        if not samples[name]:
            continue
        lines.append(f"# HELP {PREFIX}{name} {help_text}")
        lines.append(f"# TYPE {PREFIX}{name} gauge")
        lines.extend(samples[name])
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def _samples(result: BenchmarkResult) -> Iterable[Sample]:
    yield "passed", {}, result.passed
    yield "champion_missing", {}, result.champion is None
    yield "rows", {}, result.rows
    for m in result.metrics:
        yield "metric", {"metric": m.name, "model": "candidate"}, m.candidate
        yield "metric", {"metric": m.name, "model": "champion"}, m.champion
    for family, attr in (("delta", "delta"), ("delta_low", "low"), ("delta_high", "high"),
                         ("p_value", "p_value")):
        for m in result.metrics:
            yield family, {"metric": m.name}, getattr(m, attr)
    for m in result.metrics:
        if m.gated:
            yield "metric_passed", {"metric": m.name}, m.passed
    for lat in result.latency:
        yield "latency_p50_ms", {"model": lat.role}, lat.p50_ms
        yield "latency_p95_ms", {"model": lat.role}, lat.p95_ms
    for info in (result.candidate, result.champion):
        if info is not None:
            yield "model_size_bytes", {"model": info.role}, info.size_bytes
    for s in result.slices:
        where = {"slice": s.column, "value": s.value}
        yield "slice_rows", where, s.rows
        yield "slice_passed", where, s.passed
        for m in s.metrics:
            if m.error:
                continue
            labels = {"metric": m.name, **where}
            yield "slice_delta", labels, m.delta
            yield "slice_delta_low", labels, m.low
            yield "slice_delta_high", labels, m.high


def format_value(value: float | int | bool | None) -> str | None:
    """The sample value as text, or None when it must be left out."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    value = float(value)
    if not math.isfinite(value):
        return None
    text = f"{value:.6g}"
    return "0" if text == "-0" else text


def escape_label(value: object) -> str:
    """A label value as the exposition format escapes it, with '#' made safe for GitLab."""
    s = str(value)
    if len(s) > _LABEL_CHARS:
        s = s[: _LABEL_CHARS - 1] + "…"
    return (s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
            .replace("#", "%23"))


def format_labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{escape_label(v)}"' for k, v in labels.items()) + "}"
