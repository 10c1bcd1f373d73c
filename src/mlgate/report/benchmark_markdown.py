"""The benchmark as Markdown, for a job summary, a merge request or a report artifact.

A reviewer deciding whether to promote needs, in this order: the verdict and why, what the
verdict stands on (no champion means absolute thresholds alone), the figures with their
intervals, each requirement judged on the confidence bound *and* on the point estimate (the
case where they disagree is the one to look at), then slices, latency and where the models came
from. Only aggregates are shown: no data row ever reaches a report.

Every value that came from the user or a model (URIs, names, slice values, metric names,
class labels) goes through `escape_markdown`; the Mermaid chart keeps to the characters its
grammar reads literally. The only markup is the fixed scaffolding written here.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from decimal import Decimal

from mlgate.benchmark.result import (
    BenchmarkResult,
    Check,
    FairnessResult,
    LatencyCheck,
    MetricResult,
    ModelInfo,
    SliceResult,
)
from mlgate.escape import escape_markdown

NO_CHAMPION_NOTE = "No champion: judged on absolute thresholds alone"
TABLE_HEADERS = ("metric", "champion", "candidate", "delta", "CI", "p-value", "verdict")
_ICON = {True: "✅", False: "❌"}
_MARK = {True: "✓", False: "✗"}
_DASH = "—"
_NAME_CHARS = 200
_CELL_CHARS = 300
_MERMAID_LABEL = 40
# xychart's quoted strings end at the next '"' and have no escapes; outside this set a character
# could end the string, start a comment (%%) or a statement (;) or be rendered as HTML.
_MERMAID_UNSAFE = re.compile(r"[^A-Za-z0-9 _.:+\-/=()]")


def markdown(result: BenchmarkResult) -> str:
    """The whole report as GitHub/GitLab-flavoured Markdown."""
    parts = [_header(result)]
    notes = report_notes(result)
    if notes:
        parts.append("### Notes\n\n" + "\n".join(f"- {_text(n, 1000)}" for n in notes))
    parts.append("### Metrics\n\n" + _metrics_table(result))
    checks = _checks(result)
    if checks:
        parts.append("### Checks\n\n" + checks)
    chart = mermaid_chart(result)
    if chart:
        parts.append("### Change by metric\n\n" + chart)
    for column, slices in _slices_by_column(result):
        parts.append(f"### Slices by {_text(column, _NAME_CHARS)}\n\n"
                     + _slice_table(result, column, slices))
    for fair in result.fairness:
        parts.append(f"### Fairness by {_text(fair.column, _NAME_CHARS)}\n\n"
                     + fairness_section(fair))
    if result.latency or result.latency_checks:
        parts.append("### Latency and size\n\n" + _latency(result))
    parts.append("### Models\n\n" + _models(result))
    if result.reasons:
        parts.append("### Why it failed\n\n"
                     + "\n".join(f"- {_text(r, 1000)}" for r in result.reasons))
    return "\n\n".join(parts) + "\n"


# --------------------------------------------------------------------------- shared with HTML


def fmt(value: float | None) -> str:
    """A figure to 4 significant digits; a dash when there is none (or it is not a number)."""
    if value is None or not math.isfinite(value):
        return _DASH
    return f"{value:.4g}"


def fmt_delta(value: float | None) -> str:
    """A change with its sign, so a reader never has to guess which way it went."""
    if value is None or not math.isfinite(value):
        return _DASH
    return f"{value:+.4g}"


def fmt_interval(low: float | None, high: float | None) -> str:
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return _DASH
    return f"[{low:.4g}, {high:.4g}]"


def fmt_p(m: MetricResult) -> str:
    if m.p_value is None or not math.isfinite(m.p_value):
        return _DASH
    return f"{m.p_value:.4g} ({m.test})" if m.test else f"{m.p_value:.4g}"


def verdict_word(m: MetricResult) -> str:
    if not m.gated:
        return "report only"
    return "passed" if m.passed else "failed"


def human_size(size: int) -> str:
    """Bytes as B, KiB, MiB… so a model that grew tenfold is obvious at a glance."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.4g} {unit}"
        value /= 1024
    return f"{value:.4g} TiB"  # pragma: no cover - the loop returns at GiB


def model_label(info: ModelInfo | None) -> str:
    """How a model is named in titles: its registered name and version, else its URI."""
    if info is None:
        return "no champion"
    if info.name:
        return f"{info.name} v{info.version}" if info.version else info.name
    return info.uri


def table_rows(result: BenchmarkResult) -> list[tuple[str, ...]]:
    """The metrics table as plain text cells (TABLE_HEADERS), escaped by whoever renders it."""
    return [(m.name, fmt(m.champion), fmt(m.candidate), fmt_delta(m.delta),
             fmt_interval(m.low, m.high), fmt_p(m), verdict_word(m)) for m in result.metrics]


def report_notes(result: BenchmarkResult) -> list[str]:
    """The result's notes, led by the missing champion when there is none: a pass without a
    champion means far less than a pass against one, and the reader must not miss it."""
    notes = list(result.notes)
    if result.champion is None and not any(n.lower().startswith("no champion") for n in notes):
        notes.insert(0, NO_CHAMPION_NOTE)
    for m in result.metrics:
        if m.error:
            notes.append(f"{m.name}: {m.error}")
    return notes


def check_verdicts(check: Check, confidence: float) -> str:
    """Both verdicts of a change rule, or the one verdict of an absolute threshold."""
    if check.kind == "threshold":
        return f"{_MARK[check.passed]} on the candidate's value"
    text = (f"{_MARK[check.passed]} by the {confidence * 100:g}% bound, "
            f"{_MARK[check.passed_by_point]} by the point estimate")
    if check.passed != check.passed_by_point:
        text += " (they disagree: the point estimate alone would have decided otherwise)"
    return text


def latency_check_line(check: LatencyCheck) -> str:
    return f"{_MARK[check.passed]} {check.text}"


def chart_deltas(result: BenchmarkResult) -> list[MetricResult]:
    """The metrics that have a change to draw; none without a champion."""
    if result.champion is None:
        return []
    return [m for m in result.metrics if m.delta is not None and math.isfinite(m.delta)]


# --------------------------------------------------------------------------- pieces


def _header(result: BenchmarkResult) -> str:
    title = (f"mlgate benchmark: {_text(model_label(result.candidate), _NAME_CHARS)} vs "
             f"{_text(model_label(result.champion), _NAME_CHARS)}")
    if result.passed:
        verdict = f"{_ICON[True]} **Passed**: the candidate meets every requirement"
    elif result.reasons:
        more = len(result.reasons) - 1
        verdict = (f"{_ICON[False]} **Failed**: {_text(result.reasons[0], 500)}"
                   + (f" (and {more} more)" if more else ""))
    else:
        verdict = f"{_ICON[False]} **Failed**"
    facts = [result.task, f"{result.rows:,} rows of {_text(result.data, _NAME_CHARS)}",
             f"target {_text(result.target, _NAME_CHARS)}",
             f"{result.confidence * 100:g}% confidence from {result.resamples:,} paired "
             f"bootstrap resamples (seed {result.seed})",
             f"{_text(result.engine, 20)} engine"]
    if result.seconds:
        facts.append(f"{result.seconds:.1f} s")
    if result.mlflow_run_id:
        facts.append(f"logged to MLflow run {_text(result.mlflow_run_id, 100)}")
    return f"## {title}\n\n{verdict}\n\n" + " · ".join(facts)


def _metrics_table(result: BenchmarkResult) -> str:
    pct = f"{result.confidence * 100:g}%"
    head = ("| Metric | Champion | Candidate | Delta | " + pct + " CI | p-value | Verdict |\n"
            "| --- | ---: | ---: | ---: | --- | --- | --- |")
    icons = {"passed": "✅ ", "failed": "❌ ", "report only": ""}
    rows = [head]
    for m in result.metrics:
        word = verdict_word(m)
        p = fmt_p(m) if not m.test else fmt_p(replace(m, test=_text(m.test, 50)))
        cells = (_text(m.name, _NAME_CHARS), fmt(m.champion), fmt(m.candidate),
                 fmt_delta(m.delta), fmt_interval(m.low, m.high), p, icons[word] + word)
        rows.append("| " + " | ".join(cells) + " |")
    if not result.metrics:
        rows.append("| (no metric) | | | | | | |")
    return "\n".join(rows)


def _checks(result: BenchmarkResult) -> str:
    items = []
    for m in result.metrics:
        if not m.checks:
            continue
        items.append(f"- **{_text(m.name, _NAME_CHARS)}**: {verdict_word(m)}")
        for c in m.checks:
            items.append(f"  - {_ICON[c.passed]} {_text(c.text, 500)}: "
                         f"{check_verdicts(c, result.confidence)}")
    return "\n".join(items)


def mermaid_chart(result: BenchmarkResult) -> str:
    """A fenced Mermaid bar chart of the changes, or "" when there is nothing to draw.

    Numbers are written in plain decimal: xychart reads no exponent. The y range always
    includes zero so a bar's direction reads true.
    """
    shown = chart_deltas(result)
    if not shown:
        return ""
    names = _unique([mermaid_label(m.name) for m in shown])
    values = [_plain(m.delta) for m in shown]  # type: ignore[arg-type]
    lo = min(0.0, *(float(v) for v in values))
    hi = max(0.0, *(float(v) for v in values))
    pad = (hi - lo) * 0.1 or 0.01
    lines = [
        "```mermaid",
        "xychart-beta",
        '    title "Change by metric (candidate - champion)"',
        "    x-axis [" + ", ".join(f'"{n}"' for n in names) + "]",
        f'    y-axis "candidate - champion" {_plain(lo - pad if lo < 0 else 0.0)} --> '
        f"{_plain(hi + pad if hi > 0 else 0.0)}",
        "    bar [" + ", ".join(values) + "]",
        "```",
    ]
    return "\n".join(lines)


def mermaid_label(name: str) -> str:
    """A metric name as a quoted xychart label can hold it."""
    flat = " ".join(str(name).split())
    safe = _MERMAID_UNSAFE.sub("_", flat)[:_MERMAID_LABEL]
    return safe or "_"


def _unique(names: list[str]) -> list[str]:
    """Two names that sanitise to the same label would share one bar position."""
    seen: dict[str, int] = {}
    out = []
    for n in names:
        if n in seen:
            seen[n] += 1
            n = f"{n} ({seen[n]})"
        else:
            seen[n] = 1
        out.append(n)
    return out


def _plain(value: float) -> str:
    """4 significant digits without an exponent: 1.2e-05 as 0.000012."""
    text = format(Decimal(f"{value:.4g}"), "f")
    return "0" if text in ("-0", "0") else text


def fairness_section(fair: FairnessResult) -> str:
    """Each group's figures for both models, the spread over groups, and one bar chart per
    metric (groups on the x axis, candidate and champion side by side)."""
    names = [sp.metric for sp in fair.spreads]
    has_champion = any(g.champion is not None for g in fair.groups)
    head = ["group", "rows"] + [f"{_text(n, _NAME_CHARS)} (candidate"
                                f"{' / champion' if has_champion else ''})" for n in names]
    rows = ["| " + " | ".join(head) + " |",
            "| " + " | ".join("---" for _ in head) + " |"]
    for g in fair.groups:
        cells = [_text(g.value, _NAME_CHARS), str(g.rows)]
        for n in names:
            cand = fmt(g.candidate.get(n))
            champ = fmt(g.champion.get(n)) if g.champion is not None else None
            cells.append(cand if champ is None else f"{cand} / {champ}")
        rows.append("| " + " | ".join(cells) + " |")
    lines = ["\n".join(rows), ""]
    for sp in fair.spreads:
        gap = fmt(sp.candidate_difference)
        was = f" (champion {fmt(sp.champion_difference)})" if sp.champion_difference is not \
            None else ""
        lines.append(f"- {_text(sp.metric, _NAME_CHARS)}: largest gap between groups {gap}"
                     f"{was}, ratio {fmt(sp.candidate_ratio)}")
    for label, figures in (("demographic parity difference", fair.demographic_parity_difference),
                           ("equalized odds difference", fair.equalized_odds_difference)):
        if figures:
            lines.append(f"- {label}: candidate {fmt(figures.get('candidate'))}"
                         + (f", champion {fmt(figures.get('champion'))}"
                            if "champion" in figures else ""))
    for note in fair.notes:
        lines.append(f"- {_text(note, 500)}")
    for sp in fair.spreads:
        chart = _group_chart(fair, sp.metric)
        if chart:
            lines += ["", chart]
    return "\n".join(lines)


def _group_chart(fair: FairnessResult, metric: str) -> str:
    groups = [g for g in fair.groups if g.candidate.get(metric) is not None]
    if not groups:
        return ""
    labels = _unique([mermaid_label(g.value) for g in groups])
    series = [[g.candidate[metric] for g in groups]]
    if all(g.champion is not None and g.champion.get(metric) is not None for g in groups):
        series.append([g.champion[metric] for g in groups])  # type: ignore[index]
    top = max(float(v) for s in series for v in s)   # type: ignore[arg-type]
    lines = ["```mermaid", "xychart-beta",
             f'    title "{mermaid_label(metric)} by {mermaid_label(fair.column)}'
             + (' (candidate, champion)"' if len(series) > 1 else ' (candidate)"'),
             "    x-axis [" + ", ".join(f'"{n}"' for n in labels) + "]",
             f'    y-axis "{mermaid_label(metric)}" 0 --> {_plain(max(top * 1.1, 0.01))}']
    lines += ["    bar [" + ", ".join(_plain(float(v)) for v in s) + "]" for s in series]
    lines.append("```")
    return "\n".join(lines)


def _slices_by_column(result: BenchmarkResult) -> list[tuple[str, list[SliceResult]]]:
    groups: dict[str, list[SliceResult]] = {}
    for s in result.slices:
        groups.setdefault(s.column, []).append(s)
    return list(groups.items())


def _slice_table(result: BenchmarkResult, column: str, slices: list[SliceResult]) -> str:
    names: list[str] = []
    for s in slices:
        for m in s.metrics:
            if m.name not in names:
                names.append(m.name)
    pct = f"{result.confidence * 100:g}%"
    head = ["Value", "Rows"]
    for n in names:
        head += [f"{_text(n, _NAME_CHARS)} delta", f"{_text(n, _NAME_CHARS)} {pct} CI"]
    head += ["Judged", "Passed"]
    rows = ["| " + " | ".join(head) + " |",
            "| --- | ---: |" + " ---: | --- |" * len(names) + " --- | --- |"]
    for s in slices:
        by_name = {m.name: m for m in s.metrics}
        cells = [_text(s.value, _NAME_CHARS) or "(empty)", f"{s.rows:,}"]
        for n in names:
            m = by_name.get(n)
            if m is None:
                cells += [_DASH, _DASH]
            elif m.error:
                cells += [_DASH, "undefined: " + _text(m.error, _CELL_CHARS)]
            else:
                cells += [fmt_delta(m.delta), fmt_interval(m.low, m.high)]
        cells += [slice_judged(result, s), "✅ yes" if s.passed else "❌ no"]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def slice_judged(result: BenchmarkResult, s: SliceResult) -> str:
    if s.judged:
        return "yes"
    return "no champion" if result.champion is None else "too few rows"


def _latency(result: BenchmarkResult) -> str:
    models = {"candidate": result.candidate, "champion": result.champion}
    parts = []
    if result.latency:
        rows = ["| Model | p50 ms | p95 ms | Samples | Size on disk |",
                "| --- | ---: | ---: | ---: | ---: |"]
        for lat in result.latency:
            info = models.get(lat.role)
            size = human_size(info.size_bytes) if info is not None else _DASH
            rows.append(f"| {_text(lat.role, 20)} | {fmt(lat.p50_ms)} | {fmt(lat.p95_ms)} | "
                        f"{lat.samples:,} | {size} |")
        parts.append("\n".join(rows))
    if result.latency_checks:
        parts.append("\n".join(f"- {_text(latency_check_line(c), 500)}"
                               for c in result.latency_checks))
    return "\n\n".join(parts)


def _models(result: BenchmarkResult) -> str:
    rows = ["| Role | URI | Format | Version | Run ID | Size on disk |",
            "| --- | --- | --- | --- | --- | ---: |"]
    for info in (result.candidate, result.champion):
        if info is None:
            rows.append("| champion | (none) | | | | |")
            continue
        version = info.version or ""
        if info.name:
            version = f"{info.name} {version}".strip()
        rows.append("| " + " | ".join(_text(v, _CELL_CHARS) for v in (
            info.role, info.uri, info.format, version, info.run_id or ""))
            + f" | {human_size(info.size_bytes)} |")
    return "\n".join(rows)


def _text(value: object, limit: int) -> str:
    """Untrusted text, one line, shortened, safe inside a table cell or a list item."""
    s = str(value) if value is not None else ""
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    return escape_markdown(s)
