"""The scan as Markdown, for a job summary or a merge request: the verdict, the counts by
severity, the findings that decide the gate in a table, the rest folded in <details>, and what
the ignore rules did (an expired entry says that it expired and no longer ignores).

Every value that came from Trivy or from the user (IDs, titles, package names, paths, ignore
statements, links) is escaped: it cannot close a table cell, start a link or an image, or
emit HTML. The only HTML is the fixed <details>/<summary> scaffolding written here.
"""

from __future__ import annotations

import urllib.parse

from mlgate.escape import escape_markdown
from mlgate.scan.result import SEVERITIES, Finding, IgnoreNote, ScanResult, severity_rank

MAX_ROWS = 100  # per table (blocking, allowed) and per list (ignored findings, ignore rules)
_CELL_CHARS = 200
_TITLE_CHARS = 300
_COLUMNS = ("ID", "Severity", "Package", "Installed", "Fixed", "CVSS", "Title", "Link")
_HEADER = "| " + " | ".join(_COLUMNS) + " |\n| " + " | ".join(
    "---:" if c == "CVSS" else "---" for c in _COLUMNS) + " |"
_ICON = {True: "✅", False: "❌"}
_URL_SAFE = "/:?#@!$&*+,;=%-._~"  # percent-encode everything else: ( ) [ ] < > ' " spaces


def markdown(result: ScanResult) -> str:
    """The whole report as GitHub/GitLab-flavoured Markdown."""
    blocking, allowed, ignored = [], [], []
    for f in result.findings:
        if f.status == "blocking":
            blocking.append(f)
        elif f.status == "allowed":
            allowed.append(f)
        else:
            ignored.append(f)
    parts = [_header(result, len(blocking)), _counts(result, len(ignored))]
    if blocking:
        parts.append(f"### Findings that fail the gate ({len(blocking)})\n\n"
                     + _table(_ordered(blocking)))
    if allowed:
        parts.append(f"<details><summary>Findings the policy allows ({len(allowed)})</summary>"
                     f"\n\n{_table(_ordered(allowed))}\n\n</details>")
    if ignored:
        parts.append(f"### Ignored findings ({len(ignored)})\n\n" + _ignored(ignored))
    if result.ignores:
        parts.append(f"### Ignore rules ({len(result.ignores)})\n\n"
                     + _ignore_rules(result.ignores, result.findings))
    if result.notes:
        parts.append("### Notes\n\n" + "\n".join(f"- {_text(n, 1000)}" for n in result.notes))
    return "\n\n".join(parts) + "\n"


# --------------------------------------------------------------------------- pieces


def _header(result: ScanResult, n_blocking: int) -> str:
    target = _text(result.target, _TITLE_CHARS) or "(no target)"
    if n_blocking:
        what = "finding fails" if n_blocking == 1 else "findings fail"
        verdict = f"{_ICON[False]} **Failed**: {n_blocking} {what} the gate"
    else:
        verdict = f"{_ICON[True]} **Passed**: no finding fails the gate"
    return (f"## mlgate scan: {target}\n\n{verdict} ({_policy(result)})\n\n"
            f"{_facts(result)}")


def _policy(result: ScanResult) -> str:
    p = result.policy
    rules = []
    if p.fail_on_severity:
        rules.append(f"fail on severity {_text(p.fail_on_severity.upper(), 20)} or above")
    if p.max_cvss is not None:
        rules.append(f"fail on CVSS above {p.max_cvss:.1f}")
    if not rules:
        rules.append("no failing threshold")
    if p.ignore_unfixed:
        rules.append("vulnerabilities without a fix ignored")
    return "policy: " + ", ".join(rules)


def _facts(result: ScanResult) -> str:
    facts = [f"{result.target_kind} scan"]
    if result.scanners:
        facts.append("scanners " + _text(", ".join(result.scanners), 100))
    if result.os:
        facts.append("OS " + _text(result.os, 100))
    if result.trivy_version:
        facts.append("Trivy " + _text(result.trivy_version, 50))
    if result.db_updated_at:
        facts.append("vulnerability DB of " + _text(result.db_updated_at, 50))
    if result.duration_s:
        facts.append(f"{result.duration_s:.1f} s")
    return " · ".join(facts)


def _counts(result: ScanResult, n_ignored: int) -> str:
    counts = result.counts()
    order = SEVERITIES[::-1]  # CRITICAL first
    top = result.max_cvss
    head = "| " + " | ".join(s.capitalize() for s in order) + " | Ignored | Max CVSS |"
    rule = "|" + " ---: |" * (len(order) + 2)
    row = ("| " + " | ".join(str(counts[s]) for s in order)
           + f" | {n_ignored} | {f'{top:.1f}' if top is not None else '-'} |")
    return f"{head}\n{rule}\n{row}"


def _ordered(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (-severity_rank(f.severity),
                                           -(f.cvss if f.cvss is not None else -1.0),
                                           f.id, f.package, f.location or f.target))


def _table(findings: list[Finding]) -> str:
    rows = [_HEADER]
    rows.extend(_row(f) for f in findings[:MAX_ROWS])
    out = "\n".join(rows)
    if len(findings) > MAX_ROWS:
        out += f"\n\n… {len(findings) - MAX_ROWS} more, see the JSON or SARIF report"
    return out


def _row(f: Finding) -> str:
    if f.kind == "vulnerability":
        where = f.package
        fixed = f.fixed or "no fix"
    else:
        where = _place(f)
        fixed = ""
    cvss = f"{f.cvss:.1f}" if f.cvss is not None else ""
    cells = (f.id, f.severity, where, f.installed, fixed)
    return ("| " + " | ".join(_text(c, _CELL_CHARS) for c in cells)
            + f" | {cvss} | {_text(f.title, _CELL_CHARS)} | {_link(f.url)} |")


def _place(f: Finding) -> str:
    where = f.package or f.location or f.target
    if f.kind != "license" and f.start_line:
        end = f"-{f.end_line}" if f.end_line and f.end_line != f.start_line else ""
        where = f"{f.location or f.target}:{f.start_line}{end}"
    return where


def _ignored(findings: list[Finding]) -> str:
    items = []
    for f in _ordered(findings)[:MAX_ROWS]:
        what = f.package if f.kind == "vulnerability" else _place(f)
        version = f" {f.installed}" if f.installed else ""
        why = "; ".join(f.reasons) or f.status
        items.append(f"- {_text(f.id, _CELL_CHARS)} ({_text(f.severity, 20)}) in "
                     f"{_text(what + version, _CELL_CHARS)}: {_text(why, 500)}")
    if len(findings) > MAX_ROWS:
        items.append(f"- … {len(findings) - MAX_ROWS} more, see the JSON report")
    return "\n".join(items)


def _ignore_rules(notes: tuple[IgnoreNote, ...], findings: tuple[Finding, ...]) -> str:
    reported: dict[str, int] = {}
    for f in findings:
        if f.status in ("blocking", "allowed"):
            reported[f.id] = reported.get(f.id, 0) + 1
    ordered = sorted(notes, key=lambda n: (not n.expired, n.source, n.id))
    items = []
    for n in ordered[:MAX_ROWS]:
        head = f"- {_text(n.id, _CELL_CHARS)} ({_text(n.source, 200)})"
        if n.expired:
            when = f" on {_text(n.expired_at, 40)}" if n.expired_at else ""
            again = reported.get(n.id, 0)
            tail = (f": ⚠️ **expired**{when} and no longer ignores"
                    + (f"; {again} finding{'s' if again != 1 else ''} with this ID "
                       f"{'are' if again != 1 else 'is'} reported again" if again else ""))
        elif n.matched:
            tail = f": ignored {n.matched} finding{'s' if n.matched != 1 else ''}"
            if n.expired_at:
                tail += f", until {_text(n.expired_at, 40)}"
        else:
            tail = ": matched no finding"
        if n.statement:
            tail += f" (statement: {_text(n.statement, 500)})"
        items.append(head + tail)
    if len(ordered) > MAX_ROWS:
        items.append(f"- … {len(ordered) - MAX_ROWS} more")
    return "\n".join(items)


# --------------------------------------------------------------------------- escaping


def _text(value: object, limit: int) -> str:
    """Untrusted text, one line, shortened, safe inside a table cell or a list item."""
    s = str(value) if value is not None else ""
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    return escape_markdown(s)


def _link(url: str) -> str:
    """A Markdown link to an http(s) URL, percent-encoded so it cannot end the link early;
    anything else (javascript:, data:, relative paths) is not linked."""
    if not url or len(url) > 2000:
        return ""
    try:
        parts = urllib.parse.urlsplit(url.strip())
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return ""
    safe = urllib.parse.quote(url.strip(), safe=_URL_SAFE)
    return f"[link]({safe})"
