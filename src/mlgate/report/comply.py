"""How the compliance gate reads in summaries, terminals, annotations and JUnit.

Every message a policy returns is the policy author's text (and a manifest's values inside it):
it is escaped for Markdown tables and XML here, never trusted as markup.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from mlgate.comply.rego import Finding
from mlgate.escape import escape_markdown
from mlgate.comply.result import ComplyResult
from mlgate.report.presentation import Annotation, Presentation, Section, Table
# the XML text and suite counts the other JUnit writers use (verify's imports them the same way)
from mlgate.report.scan_junit import _counts, _x

MAX_ROWS = 60


def outputs(result: ComplyResult, paths: dict[str, str]) -> dict[str, str]:
    return {
        "passed": "true" if result.passed else "false",
        "deny": str(len(result.failures)),
        "warn": str(len(result.warnings)),
        "documents-failed": str(len(result.failed_documents)),
        "policies-sha256": result.policies_sha256,
        "junit": paths.get("junit", ""),
    }


def where(f: Finding) -> str:
    if f.file is None:
        return "release"
    return f"{f.file}:{f.line}" if f.line else f.file


def verdict(result: ComplyResult) -> str:
    if result.passed:
        return "passed"
    parts = []
    if result.failures:
        parts.append(f"{len(result.failures)} policy violation(s)")
    if result.failed_documents:
        parts.append(f"{len(result.failed_documents)} document rule(s) not met")
    if result.failed_fairness:
        parts.append(f"{len(result.failed_fairness)} fairness limit(s) exceeded")
    return "failed: " + ", ".join(parts)


def present(result: ComplyResult, paths: dict[str, str]) -> Presentation:
    rows: list[tuple[str, ...]] = []
    for f in (*result.failures, *result.warnings)[:MAX_ROWS]:
        rows.append(("deny" if f.fails else "warn", f"{f.package}.{f.rule}", where(f),
                     f.resource, _one_line(f.message, 200)))
    shown = len(rows)
    total = len(result.findings)
    if total > shown:
        rows.append((f"… {total - shown} more", "", "", "", "see --json / --junit"))
    for d in result.documents:
        rows.append(("ok" if d.passed else "deny", f"document {d.rule}", d.path, "",
                     _one_line(d.message, 200)))
    for f in result.fairness:
        rows.append(("ok" if f.passed else "deny", f"fairness {f.limit}", f.column, "",
                     _one_line(f.message, 200)))
    annotations = tuple(
        Annotation("error" if f.fails else "warning", _one_line(f.message, 500), file=f.file,
                   line=f.line, title=f"mlgate comply: {f.package}.{f.rule}")
        for f in result.findings if f.file is not None
    ) + tuple(
        Annotation("error", _one_line(d.message, 500), file=d.path, line=1,
                   title=f"mlgate comply: document {d.rule}")
        for d in result.failed_documents
    )
    data = result.to_dict()
    return Presentation(
        command="comply",
        title=f"mlgate comply {result.app} in {result.environment}",
        verdict=verdict(result),
        exit_code=0 if result.passed else 1,
        outputs=outputs(result, paths),
        sections=tuple(s for s in (
            Section("Policies", markdown_policies(result)),
            Section("Documents", markdown_documents(result)) if result.documents else None,
            Section("Fairness", markdown_fairness(result)) if result.fairness else None,
            Section("Policy files", markdown_files(result), fold=True)
            if result.policies else None,
        ) if s is not None),
        table=Table(("verdict", "rule", "where", "resource", "message"), tuple(rows)),
        annotations=annotations,
        result=data,
    )


def markdown_policies(result: ComplyResult) -> str:
    head = (f"{result.manifests} manifest document(s) in {result.files} file(s) under "
            f"`{_code(result.folder)}` (after the rewrite; config commit "
            f"`{result.config_commit[:12]}`), {len(result.policies)} policy file(s)")
    if not result.policies:
        return "No policies given."
    if not result.findings:
        return head + ": no finding."
    lines = [head + ":", "", "| verdict | rule | where | resource | message |",
             "| --- | --- | --- | --- | --- |"]
    for f in (*result.failures, *result.warnings)[:MAX_ROWS]:
        lines.append(f"| {'❌ deny' if f.fails else '⚠️ warn'} | `{_code(f.package)}.{_code(f.rule)}` "
                     f"| {_cell(where(f))} | {_cell(f.resource)} | {_cell(f.message)} |")
    if len(result.findings) > MAX_ROWS:
        lines.append(f"\n… and {len(result.findings) - MAX_ROWS} more (see the JSON report).")
    return "\n".join(lines)


def markdown_documents(result: ComplyResult) -> str:
    lines = ["| document | rule | verdict | detail |", "| --- | --- | --- | --- |"]
    for d in result.documents:
        lines.append(f"| {_cell(d.path)} | {_cell(d.rule)} | {'✅' if d.passed else '❌'} "
                     f"| {_cell(d.message)} |")
    return "\n".join(lines)


def markdown_fairness(result: ComplyResult) -> str:
    lines = ["| column | limit | verdict | figure | detail | not judged (too few rows) |",
             "| --- | --- | --- | --- | --- | --- |"]
    for f in result.fairness:
        figure = "" if f.figure is None else f"{f.figure:.4g}"
        lines.append(f"| {_cell(f.column)} | `{_code(f.limit)}` | {'✅' if f.passed else '❌'} "
                     f"| {figure} | {_cell(f.message)} | {_cell(', '.join(f.too_small))} |")
    return "\n".join(lines)


def markdown_files(result: ComplyResult) -> str:
    lines = [f"All policies: sha256 `{result.policies_sha256}`", "",
             "| file | package | rules | sha256 |", "| --- | --- | --- | --- |"]
    for p in result.policies:
        lines.append(f"| {_cell(p.path)} | `{_code(p.package)}` | {_cell(', '.join(p.rules))} "
                     f"| `{p.sha256[:16]}` |")
    return "\n".join(lines)


def write_junit(result: ComplyResult, path: str | None) -> dict[str, str]:
    """The --junit file, written atomically; the paths written, for the outputs."""
    if not path:
        return {}
    from mlgate.atomic import write_atomic
    from mlgate.errors import BadInput

    try:
        write_atomic(path, junit(result).encode("utf-8"))
    except OSError as exc:
        raise BadInput(f"--junit {path!r}: cannot write: {exc.strerror}") from None
    return {"junit": path}


def junit(result: ComplyResult) -> str:
    """One suite for the policies (a testcase per finding, or one passing case saying what
    was evaluated) and one for the documents (a testcase per rule)."""
    root = ET.Element("testsuites", {"name": _x(f"mlgate comply {result.app} "
                                                 f"{result.environment}")})
    suite = ET.SubElement(root, "testsuite", {"name": "policies",
                                              "time": f"{max(result.duration_s, 0.0):.3f}"})
    failures = 0
    for f in result.findings:
        case = ET.SubElement(suite, "testcase", {
            "classname": _x(f"mlgate.comply.{f.package}"),
            "name": _x(f"{f.rule} {where(f)} {f.resource}".strip()), "time": "0"})
        if f.fails:
            failures += 1
            node = ET.SubElement(case, "failure", {"message": _x(f.message, 1000),
                                                   "type": f.kind})
            node.text = _x(_details(f))
        else:
            out = ET.SubElement(case, "system-out")
            out.text = _x(f"warn: {f.message}")
    if not result.findings:
        ET.SubElement(suite, "testcase", {
            "classname": "mlgate.comply", "time": "0",
            "name": f"{result.manifests} manifests, {len(result.policies)} policy files: "
                    "no finding"})
    _counts(suite, max(len(result.findings), 1), failures, 0)
    total, total_failed = max(len(result.findings), 1), failures
    for name, checks in (
            ("documents", [(f"{d.path} {d.rule}", d.passed, d.message, "document")
                           for d in result.documents]),
            ("fairness", [(f"{f.column} {f.limit}", f.passed, f.message, "fairness")
                          for f in result.fairness])):
        if checks:
            failed = _checks_suite(root, name, checks)
            total += len(checks)
            total_failed += failed
    root.set("tests", str(total))
    root.set("failures", str(total_failed))
    root.set("errors", "0")
    ET.indent(root, space=" ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") \
        + "\n"


def _details(f: Finding) -> str:
    lines = [f"rule: {f.package}.{f.rule}", f"where: {where(f)}"]
    if f.resource:
        lines.append(f"resource: {f.resource}")
    lines.append(f"message: {f.message}")
    if f.details:
        import json

        lines.append("details: " + json.dumps(f.details, sort_keys=True, default=str)[:2000])
    return "\n".join(lines)


def _checks_suite(root: ET.Element, name: str, checks: list[tuple[str, bool, str, str]]
                  ) -> int:
    """A suite of one testcase per (name, passed, message, failure type); its failures."""
    suite = ET.SubElement(root, "testsuite", {"name": name, "time": "0"})
    failed = 0
    for case_name, passed, message, kind in checks:
        case = ET.SubElement(suite, "testcase", {"classname": f"mlgate.comply.{name}",
                                                 "name": _x(case_name), "time": "0"})
        if not passed:
            failed += 1
            ET.SubElement(case, "failure", {"message": _x(message, 1000), "type": kind})
    _counts(suite, len(checks), failed, 0)
    return failed


def _one_line(text: str, limit: int) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _cell(text: str) -> str:
    return escape_markdown(_one_line(str(text), 500))


def _code(text: str) -> str:
    return str(text).replace("`", "'")
