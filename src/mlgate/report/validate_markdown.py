"""The validation as Markdown, for a job summary or a merge request: the verdict, then per
expectation its column, type, severity, observed value, unexpected count and percent and at
most a few unexpected values (never rows: they may hold personal data), then the drift checks
against the reference.

Every value that came from the data or the suite is escaped, so a cell cannot close the table,
start a link or emit HTML.
"""

from __future__ import annotations

from mlgate.escape import escape_markdown
from mlgate.validate.result import (
    ColumnDrift,
    Outcome,
    SchemaChange,
    ValidationResult,
    severity_rank,
)

MAX_ROWS = 200
_CELL = 120
_ICON = {True: "✅", False: "❌"}


def markdown(result: ValidationResult) -> str:
    parts = [_header(result), _expectations(result.outcomes)]
    if result.drift is not None:
        parts.append(_drift(result))
    if result.notes:
        parts.append("### Notes\n\n" + "\n".join(f"- {_t(n, 500)}" for n in result.notes))
    return "\n\n".join(p for p in parts if p) + "\n"


def _t(value: object, limit: int = _CELL) -> str:
    s = "" if value is None else str(value)
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    return escape_markdown(s)


def _header(r: ValidationResult) -> str:
    failed = len(r.failed)
    if r.passed:
        verdict = f"{_ICON[True]} **Passed**"
        if failed:
            verdict += f": {failed} expectation(s) failed below --fail-on {r.fail_on}"
    else:
        why = []
        if r.blocking:
            why.append(f"{len(r.blocking)} expectation(s) failed at or above {r.fail_on}")
        if r.drift_blocking:
            why.append(f"{r.drift_blocking} drift finding(s) at or above {r.fail_on}")
        verdict = f"{_ICON[False]} **Failed**: " + "; ".join(why)
    files = r.data[0] if len(r.data) == 1 else f"{r.data[0]} and {len(r.data) - 1} more"
    facts = [f"{r.evaluated} evaluated", f"{failed} failed",
             f"{r.success_percent:.1f}% successful", f"{r.rows} rows",
             f"{len(r.columns)} columns", f"engine {r.engine}"]
    if r.gx_version:
        facts.append(f"GX {r.gx_version}")
    facts.append(f"{r.duration_s:.1f} s")
    return (f"## mlgate validate: {_t(files, 300)} against {_t(r.suite_name, 200)}\n\n"
            f"{verdict}\n\n" + " · ".join(_t(f, 200) for f in facts)
            + f"\n\nsuite: {_t(r.suite, 300)}")


def _ordered(outcomes: tuple[Outcome, ...]) -> list[Outcome]:
    return sorted(outcomes, key=lambda o: (o.success, -severity_rank(o.severity), o.index))


def _expectations(outcomes: tuple[Outcome, ...]) -> str:
    if not outcomes:
        return "The suite has no expectations."
    head = ("| # | Result | Severity | Column | Expectation | Observed | Unexpected | % | "
            "Unexpected values |\n| ---: | --- | --- | --- | --- | --- | ---: | ---: | --- |")
    rows = [head]
    for o in _ordered(outcomes)[:MAX_ROWS]:
        rows.append(_row(o))
    out = "### Expectations\n\n" + "\n".join(rows)
    if len(outcomes) > MAX_ROWS:
        out += f"\n\n… {len(outcomes) - MAX_ROWS} more, see the JSON result"
    return out


def _result_word(o: Outcome) -> str:
    if o.success:
        return "✅ passed"
    if o.error:
        return "❌ error" if o.blocking else "⚠️ error"
    return "❌ failed" if o.blocking else "⚠️ failed"


def _row(o: Outcome) -> str:
    observed = o.error or o.observed
    count = "" if o.unexpected_count is None else str(o.unexpected_count)
    if o.unexpected_count is not None and o.element_count is not None:
        count = f"{o.unexpected_count} of {o.element_count}"
    percent = "" if o.unexpected_percent is None else f"{o.unexpected_percent:.2f}"
    values = ", ".join(_t(v, 60) for v in o.unexpected_values)
    cells = (str(o.index), _result_word(o), _t(o.severity, 20), _t(o.column),
             _t(o.type), _t(observed, 200), count, percent, values)
    return "| " + " | ".join(cells) + " |"


def _drift(r: ValidationResult) -> str:
    d = r.drift
    assert d is not None
    ref = d.reference[0] if len(d.reference) == 1 else f"{d.reference[0]} and " \
        f"{len(d.reference) - 1} more"
    method = ("population stability index" if d.method == "psi"
              else "Kolmogorov-Smirnov statistic (categorical columns: PSI)")
    head = (f"### Drift against {_t(ref, 300)}\n\n{d.reference_rows} reference rows · numeric "
            f"columns: {method} · thresholds PSI {d.psi_threshold:g}, KS {d.ks_threshold:g} · "
            f"drift is {d.severity}")
    parts = [head]
    if d.schema:
        parts.append("Schema: " + "; ".join(_schema(c) for c in d.schema[:MAX_ROWS]))
    else:
        parts.append("Schema: no new, missing or retyped column.")
    if d.columns:
        rows = ["| Column | Method | Statistic | Threshold | Drifted |",
                "| --- | --- | ---: | ---: | --- |"]
        ordered = sorted(d.columns, key=lambda c: (not c.drifted, c.column))
        rows += [_drift_row(c) for c in ordered[:MAX_ROWS]]
        parts.append("\n".join(rows))
    drifted = len(d.drifted)
    parts.append(f"{drifted} of {len(d.columns)} column(s) drifted." if d.columns
                 else "No shared column to compare.")
    return "\n\n".join(parts)


def _schema(c: SchemaChange) -> str:
    icon = "❌" if c.blocking else "⚠️"
    if c.change == "retyped":
        return f"{icon} {_t(c.column, 80)} retyped {c.reference_type} → {c.current_type}"
    if c.change == "missing":
        return f"{icon} {_t(c.column, 80)} missing (was {c.reference_type})"
    return f"{icon} {_t(c.column, 80)} new ({c.current_type})"


def _drift_row(c: ColumnDrift) -> str:
    stat = "" if c.statistic is None else f"{c.statistic:.4f}"
    if c.drifted:
        flag = "❌ yes" if c.blocking else "⚠️ yes"
    else:
        flag = "no" + (f" ({_t(c.note, 80)})" if c.note else "")
    return f"| {_t(c.column)} | {c.method.upper()} | {stat} | {c.threshold:g} | {flag} |"
