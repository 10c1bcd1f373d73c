"""`mlgate metrics` as one self-contained HTML page, its plots drawn as inline SVG.

The page is opened from a CI artifact, a zip or an e-mail, offline: it loads nothing (no
script, no font, no image file; a Content-Security-Policy forbids any source), and its plots
are SVG elements written here from the numbers, so no plotting library is imported and the
same result gives the same bytes. Every value from the repository is passed through
html.escape.
"""

from __future__ import annotations

import html as _html

from mlgate.audit.metrics_result import MetricsResult, Week
from mlgate.report.html_page import BASE_STYLE
from mlgate.report.metrics import figures, human

_CSP = "default-src 'none'; style-src 'unsafe-inline'"
_STYLE = BASE_STYLE + """th{background:#f6f8fa}.facts{color:#59636e}svg{max-width:100%;height:auto}
svg text{font-size:11px;fill:#59636e}
"""
_COLOURS = ("#0969da", "#1a7f37", "#bf3989", "#9a6700", "#8250df", "#cf222e", "#57606a")
WIDTH, HEIGHT, LEFT, BOTTOM, TOP, RIGHT = 900, 260, 48, 40, 16, 16


def html(result: MetricsResult) -> str:
    r = result
    title = f"mlgate metrics: {r.repo} ({r.base})" + (f", {r.app}" if r.app else "")
    window = f"{r.since} to {r.until}" if r.since else f"up to {r.until}"
    body = [f"<h1>{_esc(title)}</h1>",
            f"<p class=\"facts\">{_esc(window)} · production environment "
            f"{_esc(r.production)} · failure window {_esc(human(r.failure_window_seconds))}</p>",
            "<h2>Metrics</h2>" + _table(("metric", "value", "measured as"), figures(r))]
    body.append("<h2>Deployments per week</h2>" + trend_svg(r.weeks))
    body.append("<h2>Lead time for changes</h2>" + bars_svg(
        [(b.label, b.count) for b in r.lead_time.buckets],
        f"{r.lead_time.measured} {r.production} deployments with a recorded model commit "
        "time"))
    if r.freshness:
        body.append(f"<h2>Models in {_esc(r.production)}</h2>" + _table(
            ("app", "model", "age", "since", "commit"),
            [(f.app, f.version, human(f.age_seconds), f"{f.since} ({f.since_what})",
              f.commit[:12]) for f in r.freshness]))
    failed = [d for d in r.deployments if d.failed]
    if failed:
        body.append("<h2>Failed changes</h2>" + _table(
            ("app", "deployed", "commit", "restored by", "time to restore"),
            [(d.app, d.when, d.commit[:12], (d.restored_by or "")[:12],
              human(d.restore_seconds)) for d in failed]))
    a = r.automation
    body.append("<h2>Automation</h2>" + f"<p>{a.mlgate} commits by mlgate, {a.other} by hand "
                "or other tools, changed " + _esc(", ".join(a.folders) or "no folder")
                + "</p>")
    verified = r.lead_time_to_verified
    if verified is not None and verified.measured:
        body.append("<h2>Lead time to verified</h2>" + bars_svg(
            [(b.label, b.count) for b in verified.buckets],
            f"{verified.measured} {r.production} deployments with a recorded model commit "
            "time and a Successful mlgate verify recorded on their commit"))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{_CSP}\">"
            "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            f"<title>{_esc(title)}</title><style>{_STYLE}</style></head>\n<body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def trend_svg(weeks: tuple[Week, ...]) -> str:
    """One line per environment: its deployments in each week, with a legend."""
    if not weeks:
        return "<p>No deployments in the window.</p>"
    environments = [env for env, _ in weeks[0].counts]
    top = max([n for w in weeks for _, n in w.counts] + [1])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(weeks) - 1, 1)

    def x(i: int) -> float:
        return LEFT + i * step

    def y(n: int) -> float:
        return TOP + plot_h - n * plot_h / top

    parts = [_axes(top, plot_w, plot_h)]
    every = max(1, len(weeks) // 12)
    for i, w in enumerate(weeks):
        if i % every == 0:
            parts.append(f"<text x=\"{x(i):.1f}\" y=\"{HEIGHT - BOTTOM + 16}\" "
                         f"text-anchor=\"middle\">{_esc(w.week)}</text>")
    for k, env in enumerate(environments):
        colour = _COLOURS[k % len(_COLOURS)]
        points = " ".join(f"{x(i):.1f},{y(w.counts[k][1]):.1f}" for i, w in enumerate(weeks))
        parts.append(f"<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" "
                     f"points=\"{points}\"><title>{_esc(env)}</title></polyline>")
        parts.extend(f"<circle cx=\"{x(i):.1f}\" cy=\"{y(w.counts[k][1]):.1f}\" r=\"2.5\" "
                     f"fill=\"{colour}\"><title>{_esc(env)} {_esc(w.week)}: "
                     f"{w.counts[k][1]}</title></circle>" for i, w in enumerate(weeks))
        parts.append(f"<text x=\"{LEFT + 8 + 140 * k}\" y=\"{HEIGHT - 6}\" "
                     f"style=\"fill:{colour}\">■ {_esc(env)}</text>")
    return _svg("Deployments per ISO week and environment", parts)


def bars_svg(bars: list[tuple[str, int]], caption: str) -> str:
    """A bar per bucket with its count above it."""
    top = max([n for _, n in bars] + [1])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(bars), 1)
    parts = [_axes(top, plot_w, plot_h)]
    for i, (label, n) in enumerate(bars):
        h = n * plot_h / top
        left = LEFT + i * slot + slot * 0.15
        parts.append(f"<rect x=\"{left:.1f}\" y=\"{TOP + plot_h - h:.1f}\" "
                     f"width=\"{slot * 0.7:.1f}\" height=\"{h:.1f}\" fill=\"#0969da\">"
                     f"<title>{_esc(label)}: {n}</title></rect>")
        centre = LEFT + (i + 0.5) * slot
        parts.append(f"<text x=\"{centre:.1f}\" y=\"{TOP + plot_h - h - 4:.1f}\" "
                     f"text-anchor=\"middle\">{n}</text>")
        parts.append(f"<text x=\"{centre:.1f}\" y=\"{HEIGHT - BOTTOM + 16}\" "
                     f"text-anchor=\"middle\">{_esc(label)}</text>")
    return _svg(caption, parts) + f"<p class=\"facts\">{_esc(caption)}</p>"


def _axes(top: int, plot_w: float, plot_h: float) -> str:
    base = TOP + plot_h
    return (f"<line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{base}\" stroke=\"#8c959f\"/>"
            f"<line x1=\"{LEFT}\" y1=\"{base}\" x2=\"{LEFT + plot_w}\" y2=\"{base}\" "
            "stroke=\"#8c959f\"/>"
            f"<text x=\"{LEFT - 6}\" y=\"{TOP + 4}\" text-anchor=\"end\">{top}</text>"
            f"<text x=\"{LEFT - 6}\" y=\"{base}\" text-anchor=\"end\">0</text>")


def _svg(label: str, parts: list[str]) -> str:
    return (f"<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" "
            f"width=\"{WIDTH}\" height=\"{HEIGHT}\" role=\"img\" aria-label=\"{_esc(label)}\">"
            + "".join(parts) + "</svg>")


def _table(headers: tuple[str, ...], rows) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _esc(value: object) -> str:
    return _html.escape(str(value) if value is not None else "", quote=True)
