"""The verify run as Markdown, for a job summary, a merge request or a report artifact.

Someone asking "why was this rolled back?" needs, in this order: the verdict, every check with
its range and where its values went, then per check its values against the limit over time and
each measurement, and last what mlgate did about it (the rollback commit, the training run, the
incident).

Two charts, one per kind of reader. A Mermaid `xychart-beta` block renders in GitHub's step
summary and in GitLab's Markdown (MRs, artifacts). A Unicode sparkline in the checks table is
for plain text: the GitLab job log and a terminal print the Markdown source. xychart cannot
leave a gap in a line, so a measurement without a value (inconclusive, error) is left off the
x-axis, never drawn as 0 or as the previous value; the x labels keep the measurement numbers,
so the gap shows as a skipped number.

Check names, queries, Prometheus' messages and action details are untrusted (a SPEC may come
from a pull request, a message from any server): text goes through `escape_markdown`, a query
into a fenced block whose fence is longer than any run of backticks in it, chart labels
through `mermaid_label`, links through `http_url` inside `<...>` so no character ends them.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any

from mlgate.escape import escape_markdown
from mlgate.report.benchmark_markdown import _plain as plain_number
from mlgate.report.benchmark_markdown import _text as _clip
from mlgate.report.benchmark_markdown import mermaid_label
from mlgate.report.presentation import Section
from mlgate.report.scan_sarif import http_url
from mlgate.verify.analysis import show
from mlgate.verify.result import ActionTaken, CheckResult, Measurement, VerifyResult

ICON = {"Successful": "✅", "Failed": "❌", "Inconclusive": "⚠️", "Error": "⛔",
        "Running": "⏸️"}
NOT_FINISHED = "the run stopped at another check's verdict before this one's last measurement"
_DASH = "—"
_BLOCKS = "▁▂▃▄▅▆▇█"
_GAP = "·"
_SPARK_POINTS = 60
_CHART_POINTS = 100
_TABLE_ROWS = 200
_NAME_CHARS = 100
_TEXT_CHARS = 500
_QUERY_CHARS = 4000
_CHECK_HEAD = ("| Check | Phase | Range | Last value | Trend | Failed | Inconclusive | Errors "
               "| Measurements |\n| --- | --- | --- | ---: | --- | ---: | ---: | ---: | ---: |")
_COMMIT = re.compile(r"[0-9a-fA-F]{7,64}")
_NOT_IN_CODE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u2028\u2029]")
_LINK_WORDS = {"rollback": "the commit", "retrain": "the training run",
               "incident": "the incident"}


def markdown(result: VerifyResult) -> str:
    """The whole report, as the --markdown file holds it."""
    parts = [f"## {escape_markdown(title(result))}", verdict_line(result)]
    parts += [f"### {escape_markdown(s.title)}\n\n{s.markdown}" for s in sections(result)]
    return "\n\n".join(parts) + "\n"


def sections(result: VerifyResult) -> tuple[Section, ...]:
    """The report's parts after its title and verdict: a summary presentation's sections.
    A check that passed is folded; one that did not is what the reader came for."""
    out = [Section("Checks", _facts(result) + "\n\n" + _checks_table(result))]
    for c in result.checks:
        # a title is plain text: the emitter escapes it for where it is shown
        out.append(Section(f"{ICON.get(c.phase, '')} {_plain_text(c.name)}: "
                           f"{phase_word(c.phase)}", _check(c, result),
                           fold=c.phase == "Successful"))
    if result.actions:
        out.append(Section("Actions taken", actions_markdown(result.actions)))
    return tuple(out)


# --------------------------------------------------------------------------- shared


def title(result: VerifyResult) -> str:
    """`mlgate verify: churn v7 in staging, 3 checks, 5 measurements in 2m30s`."""
    labels = result.labels
    who = _plain_text(labels.get("app") or "the model")
    if labels.get("model_version"):
        version = _plain_text(labels["model_version"])
        who += f" {version}" if version.startswith("v") else f" v{version}"
    where = _plain_text(labels.get("environment") or labels.get("namespace") or "")
    count = max((len(c.measurements) for c in result.checks), default=0)
    return (f"mlgate verify: {who}" + (f" in {where}" if where else "")
            + f", {len(result.checks)} check{'s' * (len(result.checks) != 1)}, "
            f"{count} measurement{'s' * (count != 1)} in {duration(result.seconds)}")


def verdict(result: VerifyResult) -> str:
    """`passed`, or the phase in a word and the first reason: `failed: error-rate 0.03 > ...`."""
    if result.passed:
        return "passed"
    return f"{result.phase.lower()}: {result.message}" if result.message \
        else result.phase.lower()


def verdict_line(result: VerifyResult) -> str:
    word = "Verified" if result.passed else phase_word(result.phase)
    line = f"{ICON.get(result.phase, '')} **{word}**"
    return line + (f": {_clip(result.message, _TEXT_CHARS)}" if result.message else "")


def phase_word(phase: str) -> str:
    return "Not finished" if phase == "Running" else phase


def utf8_safe(value: Any) -> Any:
    """`value` (the result, or any part of it) with every string encodable as UTF-8: a
    server's JSON may carry a lone surrogate (`"\\ud800"`), which would stop the writer of
    every report and output at its first byte."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(value, **{f.name: utf8_safe(getattr(value, f.name))
                                             for f in dataclasses.fields(value)})
    if isinstance(value, tuple):
        return tuple(utf8_safe(v) for v in value)
    if isinstance(value, dict):
        return {utf8_safe(k): utf8_safe(v) for k, v in value.items()}
    return value


def finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def value_text(value: float | None, unit: str) -> str:
    number = finite(value)
    return _DASH if number is None else show(number, unit)


def range_text(check: CheckResult) -> str:
    low, high = finite(check.min), finite(check.max)
    if low is not None and high is not None:
        return f"{show(low, check.unit)} to {show(high, check.unit)}"
    if high is not None:
        return f"≤ {show(high, check.unit)}"
    return f"≥ {show(low, check.unit)}" if low is not None else "any"


def last_value(check: CheckResult) -> float | None:
    """The latest value measured (a later error or empty answer does not erase it; the
    counts beside it say that it came)."""
    return next((v for m in reversed(check.measurements)
                 if (v := finite(m.value)) is not None), None)


def sparkline(check: CheckResult) -> str:
    """One block per measurement, its height the value between the check's lowest and
    highest; `·` where there was no value. The last 60 measurements at most."""
    values = [finite(m.value) for m in check.measurements[-_SPARK_POINTS:]]
    known = [v for v in values if v is not None]
    lo, hi = (min(known), max(known)) if known else (0.0, 0.0)
    span = hi / 2 - lo / 2  # halves: hi - lo overflows for values near the float limits
    top = len(_BLOCKS) - 1
    marks = [_GAP if v is None else _BLOCKS[top // 2] if span <= 0 else
             _BLOCKS[min(top, int((v / 2 - lo / 2) / span * len(_BLOCKS)))] for v in values]
    more = "…" if len(check.measurements) > _SPARK_POINTS else ""
    return more + "".join(marks)


def measurement_verdict(m: Measurement) -> str:
    return f"{m.phase}: {m.message}" if m.message else m.phase


def duration(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    if seconds < 120:
        return f"{seconds:.0f}s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s"


def actions_markdown(actions: tuple[ActionTaken, ...]) -> str:
    lines = []
    for a in actions:
        line = (f"- {'✅' if a.ok else '❌'} **{_clip(a.kind, 20)}**: "
                f"{_clip(a.detail, _TEXT_CHARS)}")
        if a.commit:
            commit = f"`{a.commit}`" if _COMMIT.fullmatch(a.commit) else _clip(a.commit, 80)
            line += f" · commit {commit}"
        url = http_url(a.url or "")
        if url:
            line += f" · [{_LINK_WORDS.get(a.kind, 'link')}](<{url}>)"
        elif a.url:
            line += f" · {_clip(a.url, _TEXT_CHARS)}"
        lines.append(line)
    return "\n".join(lines)


# --------------------------------------------------------------------------- pieces


def _facts(result: VerifyResult) -> str:
    named = {"app": "app", "environment": "environment", "namespace": "namespace",
             "model_version": "model version"}
    facts = [f"{word} {_clip(result.labels[key], _NAME_CHARS)}"
             for key, word in named.items() if result.labels.get(key)]
    facts.append(f"{len(result.checks)} check{'s' * (len(result.checks) != 1)} in "
                 f"{duration(result.seconds)}")
    if result.evidence:
        facts.append(f"baselines from {_clip(result.evidence, _TEXT_CHARS)}")
    return " · ".join(facts)


def _checks_table(result: VerifyResult) -> str:
    rows = [_CHECK_HEAD]
    for c in result.checks:
        cells = (_clip(c.name, _NAME_CHARS), f"{ICON.get(c.phase, '')} {phase_word(c.phase)}",
                 range_text(c), value_text(last_value(c), c.unit), sparkline(c) or _DASH,
                 str(c.failed), str(c.inconclusive), str(c.errors), str(len(c.measurements)))
        rows.append("| " + " | ".join(cells) + " |")
    if not result.checks:
        rows.append("| (no check) | | | | | | | | |")
    return "\n".join(rows)


def _check(c: CheckResult, result: VerifyResult) -> str:
    head = f"{ICON.get(c.phase, '')} **{phase_word(c.phase)}**"
    if c.reason:
        head += f": {_clip(c.reason, _TEXT_CHARS)}"
    elif c.phase == "Running":
        head += f": {NOT_FINISHED}"
    facts = [f"range {range_text(c)}" + (f" ({_clip(c.unit, 20)})" if c.unit else ""),
             f"on failure: {_clip(c.on_failure, 20)}"]
    if finite(c.baseline) is not None:
        facts.append(f"baseline {value_text(c.baseline, c.unit)}"
                     + (" from the evidence" if result.evidence else ""))
    parts = [head, " · ".join(facts), chart(c), _measurements(c),
             "Query:\n\n" + _fenced(c.query, "promql")]
    return "\n\n".join(p for p in parts if p)


def chart(c: CheckResult) -> str:
    """A fenced xychart of the values (the first line) and each limit (flat lines), or a
    sentence saying why there is none. Numbers in plain decimal: xychart reads no exponent."""
    points = [(i, v) for i, m in enumerate(c.measurements, 1)
              if (v := finite(m.value)) is not None][-_CHART_POINTS:]
    if len(points) < 2:
        return ("*No chart: " + ("one measurement had a value" if points else
                                 "no measurement had a value") + ".*")
    limits = [v for v in (finite(c.max), finite(c.min)) if v is not None]
    shown = [v for _, v in points] + limits
    lo, hi = min(shown), max(shown)
    # at least 1% of the values' size: rounded to 4 digits, the ends stay apart and outside
    pad = max((hi / 2 - lo / 2) * 0.2, max(abs(lo), abs(hi)) * 0.01) or 1.0
    bottom = max(lo - pad, 0.0) if lo >= 0 else lo - pad  # no negative latency or rate
    axis = {"seconds": "seconds", "ratio": "ratio"}.get(c.unit, "value")
    lines = ["```mermaid", "xychart-beta",
             f'    title "{mermaid_label(c.name)}"',
             '    x-axis "measurement" [' + ", ".join(f'"{i}"' for i, _ in points) + "]",
             f'    y-axis "{axis}" {plain_number(bottom)} --> {plain_number(hi + pad)}',
             "    line [" + ", ".join(plain_number(v) for _, v in points) + "]"]
    lines += ["    line [" + ", ".join([plain_number(v)] * len(points)) + "]" for v in limits]
    lines.append("```")
    missing = len(c.measurements) - sum(1 for m in c.measurements if finite(m.value) is not None)
    note = "*The first line is the measured value; the flat line" + (
        "s are the limits" if len(limits) > 1 else " is the limit") + f" ({range_text(c)})."
    if missing:
        note += f" {missing} measurement{'s' * (missing != 1)} without a value left out."
    if len(points) < len(c.measurements) - missing:
        note += f" The last {len(points)} shown."
    return "\n".join(lines) + "\n\n" + note + "*"


def _measurements(c: CheckResult) -> str:
    if not c.measurements:
        return "*No measurement was taken.*"
    rows = ["| # | Time | After | Value | Verdict |", "| ---: | --- | ---: | ---: | --- |"]
    first = max(0, len(c.measurements) - _TABLE_ROWS)
    for i, m in enumerate(c.measurements[first:], first + 1):
        after = f"{m.at:.0f}s" if math.isfinite(m.at) else _DASH
        rows.append(f"| {i} | {_clip(m.time, 40) or _DASH} | {after} | "
                    f"{value_text(m.value, c.unit)} | {ICON.get(m.phase, '')} "
                    f"{_clip(measurement_verdict(m), _TEXT_CHARS)} |")
    if first:
        rows.insert(2, f"| … | {first} earlier, see the JSON report | | | |")
    return "\n".join(rows)


def _plain_text(text: str) -> str:
    """A name as plain text in a title: one line, shortened."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= _NAME_CHARS else flat[: _NAME_CHARS - 1] + "…"


def _fenced(text: str, info: str) -> str:
    """`text` verbatim in a code block no line of it can close: the fence is one backtick
    longer than its longest run of backticks."""
    body = _NOT_IN_CODE.sub("", "\n".join(text.splitlines()))
    if len(body) > _QUERY_CHARS:
        body = body[: _QUERY_CHARS - 1] + "…"
    longest = max((len(run) for run in re.findall("`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{body}\n{fence}"
