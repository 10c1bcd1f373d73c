"""The benchmark as one self-contained HTML page: the Markdown report's tables plus plots.

CI artifacts are opened offline, from a zip, or behind an authenticating proxy, so the page
loads nothing: styles are inline, figures are base64 PNGs, and a Content-Security-Policy
forbids any other source, so even a slip in escaping could not fetch or run anything.
Every value that came from the user or a model is passed through `html.escape`.

Figures are drawn with matplotlib's object API on the Agg canvas (no pyplot state, no
display) with the PNG metadata that would change between runs left out, so the same result
gives the same bytes.
"""

from __future__ import annotations

import base64
import html as _html
import io
import math
from typing import TYPE_CHECKING, Any

from mlgate.benchmark.result import BenchmarkResult, Curve, Curves
from mlgate.report.benchmark_markdown import (
    TABLE_HEADERS,
    chart_deltas,
    check_verdicts,
    fmt,
    fmt_delta,
    fmt_interval,
    human_size,
    latency_check_line,
    model_label,
    report_notes,
    slice_judged,
    table_rows,
    verdict_word,
)
from mlgate.report.html_page import BASE_STYLE

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MAX_CURVE_POINTS = 4000   # per curve: more adds bytes, not detail, at this size
MAX_SCATTER_POINTS = 5000
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
_STYLE = BASE_STYLE + """
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f6f8fa}
.passed{color:#1a7f37;font-weight:600}.failed{color:#cf222e;font-weight:600}
.facts{color:#59636e}.note{background:#fff8c5;padding:.5em 1em;border-radius:6px}
figure{margin:1em 0}img{max-width:100%;height:auto}
"""
_NUMERIC = {1, 2, 3}  # champion, candidate, delta columns of TABLE_HEADERS


def html(result: BenchmarkResult, curves: Curves) -> str:
    """The whole report as one HTML document."""
    e = _esc
    verdict = ("<p class=\"passed\">✅ Passed: the candidate meets every requirement</p>"
               if result.passed else
               f"<p class=\"failed\">❌ Failed: {e(result.reasons[0]) if result.reasons else ''}"
               "</p>")
    title = (f"mlgate benchmark: {model_label(result.candidate)} vs "
             f"{model_label(result.champion)}")
    body = [f"<h1>{e(title)}</h1>", verdict, f"<p class=\"facts\">{e(_facts(result))}</p>"]
    notes = report_notes(result)
    if notes:
        body.append("<div class=\"note\"><ul>" + "".join(f"<li>{e(n)}</li>" for n in notes)
                    + "</ul></div>")
    body.append("<h2>Metrics</h2>" + _metrics_table(result))
    checks = _checks(result)
    if checks:
        body.append("<h2>Checks</h2>" + checks)
    body.append("<h2>Figures</h2>" + _figures(result, curves))
    body.extend(_slices(result))
    if result.latency or result.latency_checks:
        body.append("<h2>Latency and size</h2>" + _latency(result))
    body.append("<h2>Models</h2>" + _models(result))
    if result.reasons:
        body.append("<h2>Why it failed</h2><ul>"
                    + "".join(f"<li>{e(r)}</li>" for r in result.reasons) + "</ul>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{_CSP}\">"
            "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            f"<title>{e(title)}</title><style>{_STYLE}</style></head>\n<body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def _esc(value: object) -> str:
    return _html.escape(str(value) if value is not None else "", quote=True)


def _facts(result: BenchmarkResult) -> str:
    facts = [result.task, f"{result.rows:,} rows of {result.data}", f"target {result.target}",
             f"{result.confidence * 100:g}% confidence from {result.resamples:,} paired "
             f"bootstrap resamples (seed {result.seed})", f"{result.engine} engine"]
    if result.seconds:
        facts.append(f"{result.seconds:.1f} s")
    if result.mlflow_run_id:
        facts.append(f"logged to MLflow run {result.mlflow_run_id}")
    return " · ".join(facts)


def _table(headers: list[str] | tuple[str, ...], rows: list[tuple[str, ...]],
           numeric: frozenset[int] | set[int] = frozenset()) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in headers)
    out = [f"<table><thead><tr>{head}</tr></thead><tbody>"]
    for row in rows:
        cells = "".join(f"<td class=\"n\">{_esc(c)}</td>" if i in numeric
                        else f"<td>{_esc(c)}</td>" for i, c in enumerate(row))
        out.append(f"<tr>{cells}</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _metrics_table(result: BenchmarkResult) -> str:
    headers = list(TABLE_HEADERS)
    headers[4] = f"{result.confidence * 100:g}% CI"
    return _table(headers, table_rows(result), _NUMERIC)


def _checks(result: BenchmarkResult) -> str:
    items = []
    for m in result.metrics:
        if not m.checks:
            continue
        sub = "".join(
            f"<li>{'✅' if c.passed else '❌'} {_esc(c.text)}: "
            f"{_esc(check_verdicts(c, result.confidence))}</li>" for c in m.checks)
        items.append(f"<li><b>{_esc(m.name)}</b>: {_esc(verdict_word(m))}<ul>{sub}</ul></li>")
    return "<ul>" + "".join(items) + "</ul>" if items else ""


def _slices(result: BenchmarkResult) -> list[str]:
    groups: dict[str, list[Any]] = {}
    for s in result.slices:
        groups.setdefault(s.column, []).append(s)
    out = []
    pct = f"{result.confidence * 100:g}%"
    for column, slices in groups.items():
        names: list[str] = []
        for s in slices:
            names += [m.name for m in s.metrics if m.name not in names]
        headers = ["value", "rows"]
        for n in names:
            headers += [f"{n} delta", f"{n} {pct} CI"]
        headers += ["judged", "passed"]
        rows = []
        for s in slices:
            by_name = {m.name: m for m in s.metrics}
            row = [s.value, f"{s.rows:,}"]
            for n in names:
                m = by_name.get(n)
                if m is None:
                    row += ["—", "—"]
                elif m.error:
                    row += ["—", f"undefined: {m.error}"]
                else:
                    row += [fmt_delta(m.delta), fmt_interval(m.low, m.high)]
            row += [slice_judged(result, s), "yes" if s.passed else "no"]
            rows.append(tuple(row))
        out.append(f"<h2>Slices by {_esc(column)}</h2>"
                   + _table(headers, rows, {1} | {2 + 2 * i for i in range(len(names))}))
    return out


def _latency(result: BenchmarkResult) -> str:
    models = {"candidate": result.candidate, "champion": result.champion}
    parts = []
    if result.latency:
        rows = []
        for lat in result.latency:
            info = models.get(lat.role)
            rows.append((lat.role, fmt(lat.p50_ms), fmt(lat.p95_ms), f"{lat.samples:,}",
                         human_size(info.size_bytes) if info is not None else "—"))
        parts.append(_table(("model", "p50 ms", "p95 ms", "samples", "size on disk"), rows,
                            {1, 2, 3, 4}))
    if result.latency_checks:
        parts.append("<ul>" + "".join(f"<li>{_esc(latency_check_line(c))}</li>"
                                      for c in result.latency_checks) + "</ul>")
    return "".join(parts)


def _models(result: BenchmarkResult) -> str:
    rows = []
    for info in (result.candidate, result.champion):
        if info is None:
            rows.append(("champion", "(none)", "", "", "", ""))
            continue
        version = " ".join(v for v in (info.name or "", info.version or "") if v)
        rows.append((info.role, info.uri, info.format, version, info.run_id or "",
                     human_size(info.size_bytes)))
    return _table(("role", "uri", "format", "version", "run id", "size on disk"), rows, {5})


# --------------------------------------------------------------------------- figures


def _figures(result: BenchmarkResult, curves: Curves) -> str:
    import matplotlib

    matplotlib.use("Agg")
    rc = {"svg.hashsalt": "mlgate", "path.simplify": True, "font.size": 9,
          "axes.grid": True, "grid.alpha": 0.3}
    parts: list[str] = []
    with matplotlib.rc_context(rc):
        if result.task == "classification":
            if curves.roc:
                parts.append(_img("ROC curves", _curve_plot(
                    curves.roc, "ROC", "false positive rate", "true positive rate", "AUC",
                    diagonal=True)))
            if curves.pr:
                parts.append(_img("Precision-recall curves", _curve_plot(
                    curves.pr, "Precision-recall", "recall", "precision", "AP",
                    diagonal=False)))
            if not (curves.roc or curves.pr):
                parts.append("<p class=\"note\">No ROC or precision-recall curves: no model "
                             "gave class probabilities to draw them from.</p>")
        else:
            if curves.residuals:
                parts.append(_img("Residuals by prediction", _residual_plot(curves.residuals)))
            else:
                parts.append("<p class=\"note\">No residual plot: no predictions were kept "
                             "to draw it from.</p>")
        shown = chart_deltas(result)
        if shown:
            parts.append(_img("Change by metric with its confidence interval (green: the "
                              "candidate is better, red: worse)",
                              _delta_plot(shown, result.confidence)))
        elif result.champion is None:
            parts.append("<p class=\"note\">No change to plot: there is no champion.</p>")
    return "\n".join(parts)


def _img(caption: str, data: str) -> str:
    return (f"<figure><img alt=\"{_esc(caption)}\" src=\"data:image/png;base64,{data}\">"
            f"<figcaption>{_esc(caption)}</figcaption></figure>")


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _new_figure(width: float = 6.0, height: float = 4.5) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def mpl_text(text: object) -> str:
    """A label matplotlib prints as is: '$' would start mathtext (and can raise on a bad
    expression) and a leading '_' hides the entry from the legend."""
    s = " ".join(str(text).split()).replace("$", r"\$")
    if len(s) > 60:
        s = s[:59] + "…"
    return " " + s if s.startswith("_") else s


def _finite_xy(curve: Curve, limit: int) -> tuple[list[float], list[float]]:
    pairs = [(x, y) for x, y in zip(curve.x, curve.y)
             if x is not None and y is not None and math.isfinite(x) and math.isfinite(y)]
    if len(pairs) > limit:
        step = len(pairs) / limit
        keep = sorted({int(i * step) for i in range(limit)} | {len(pairs) - 1})
        pairs = [pairs[i] for i in keep]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def _curve_plot(curves: dict[str, Curve], title: str, xlabel: str, ylabel: str, score: str,
                *, diagonal: bool) -> str:
    fig = _new_figure()
    ax = fig.subplots()
    for key in sorted(curves):
        curve = curves[key]
        xs, ys = _finite_xy(curve, MAX_CURVE_POINTS)
        label = key if curve.score is None or not math.isfinite(curve.score) \
            else f"{key} ({score} {curve.score:.4g})"
        style = "--" if key.startswith("champion") else "-"
        ax.plot(xs, ys, style, linewidth=1.4, label=mpl_text(label))
    if diagonal:
        ax.plot([0, 1], [0, 1], ":", color="grey", linewidth=0.8)
    ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel=xlabel, ylabel=ylabel, title=title)
    ax.legend(loc="lower right" if diagonal else "lower left", fontsize=8)
    return _png(fig)


def _residual_plot(curves: dict[str, Curve]) -> str:
    keys = sorted(curves)
    fig = _new_figure(min(4.5 * len(keys), 12.0), 4.0)
    axes = fig.subplots(1, len(keys), sharey=True, squeeze=False)[0]
    for ax, key in zip(axes, keys):
        xs, ys = _finite_xy(curves[key], MAX_SCATTER_POINTS)
        ax.scatter(xs, ys, s=10, alpha=0.5, linewidths=0)
        ax.axhline(0.0, color="grey", linewidth=0.8)
        title = key
        if curves[key].score is not None and math.isfinite(curves[key].score or 0.0):
            title = f"{key} ({curves[key].score:.4g})"
        ax.set(title=mpl_text(title), xlabel="prediction")
    axes[0].set_ylabel("residual")
    return _png(fig)


def _delta_plot(metrics: list[Any], confidence: float) -> str:
    fig = _new_figure(max(5.0, min(1.2 * len(metrics) + 2, 12.0)), 4.0)
    ax = fig.subplots()
    deltas = [m.delta for m in metrics]
    lower = [max(m.delta - m.low, 0.0) if _ok(m.low) else 0.0 for m in metrics]
    upper = [max(m.high - m.delta, 0.0) if _ok(m.high) else 0.0 for m in metrics]
    colours = ["#1a7f37" if (m.delta >= 0) == m.greater_is_better else "#cf222e"
               for m in metrics]
    positions = list(range(len(metrics)))
    ax.bar(positions, deltas, color=colours, alpha=0.8,
           yerr=[lower, upper], capsize=4, ecolor="#1f2328")
    ax.axhline(0.0, color="grey", linewidth=0.8)
    ax.set_xticks(positions, [mpl_text(m.name) for m in metrics],
                  rotation=30 if len(metrics) > 4 else 0, ha="right" if len(metrics) > 4
                  else "center")
    ax.set(ylabel="candidate - champion",
           title=f"Change by metric, {confidence * 100:g}% interval")
    return _png(fig)


def _ok(value: float | None) -> bool:
    return value is not None and math.isfinite(value)
