"""The scan as JUnit XML: one <testsuite> per Trivy target (the OS packages, a lock file, a
scanned file), one <testcase> per finding. A finding that fails the gate is a <failure>, an
ignored one <skipped>, an allowed one passes. A scan with no finding is one passing testcase,
so CI shows that the scan ran.

Built with xml.etree, which escapes markup; characters XML 1.0 cannot carry (NUL and the other
control characters, lone surrogates) are removed first, so any Trivy text yields valid XML.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from mlgate.scan.result import Finding, ScanResult

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_TEXT_CHARS = 4000


def junit(result: ScanResult) -> str:
    """The JUnit report as an XML document (a str with its XML declaration)."""
    groups: dict[str, list[Finding]] = {}
    for f in result.findings:
        groups.setdefault(f.target, []).append(f)
    root = ET.Element("testsuites", {"name": _x(f"mlgate scan {result.target}")})
    totals = [0, 0, 0]  # tests, failures, skipped
    if not groups:
        suite = _suite(root, result.target or "scan", result.duration_s)
        ET.SubElement(suite, "testcase", {"classname": "mlgate.scan", "name": "no findings",
                                          "time": "0"})
        _counts(suite, 1, 0, 0)
        totals[0] = 1
    for target, findings in groups.items():
        suite = _suite(root, target or result.target or "scan", 0.0)
        failures = skipped = 0
        for f in findings:
            case = ET.SubElement(suite, "testcase", {"classname": _x(f"mlgate.scan.{f.kind}"),
                                                     "name": _x(_name(f)), "time": "0"})
            if f.status == "blocking":
                failures += 1
                why = "; ".join(f.reasons) or "fails the gate"
                node = ET.SubElement(case, "failure", {"message": _x(why, 1000),
                                                       "type": _x(f.severity, 20)})
                node.text = _x(_details(f))
            elif f.status in ("ignored", "unfixed-ignored"):
                skipped += 1
                why = "; ".join(f.reasons) or f.status
                ET.SubElement(case, "skipped", {"message": _x(why, 1000)})
            else:
                out = ET.SubElement(case, "system-out")
                out.text = _x(_details(f))
        _counts(suite, len(findings), failures, skipped)
        totals[0] += len(findings)
        totals[1] += failures
        totals[2] += skipped
    root.set("tests", str(totals[0]))
    root.set("failures", str(totals[1]))
    root.set("errors", "0")
    root.set("skipped", str(totals[2]))
    root.set("time", f"{max(result.duration_s, 0.0):.3f}")
    ET.indent(root, space=" ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") \
        + "\n"


def _suite(root: ET.Element, name: str, seconds: float) -> ET.Element:
    return ET.SubElement(root, "testsuite", {"name": _x(name, 1000),
                                             "time": f"{max(seconds, 0.0):.3f}"})


def _counts(suite: ET.Element, tests: int, failures: int, skipped: int) -> None:
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suite.set("skipped", str(skipped))


def _name(f: Finding) -> str:
    if f.kind == "vulnerability":
        return f"{f.id} {f.package} {f.installed}".strip()
    where = f.location or f.package
    if f.start_line:
        where = f"{where}:{f.start_line}"
    return f"{f.id} {where}".strip()


def _details(f: Finding) -> str:
    lines = [f"{f.kind} {f.id}", f"severity: {f.severity}"]
    if f.cvss is not None:
        lines.append(f"CVSS: {f.cvss:.1f}")
    if f.package:
        lines.append(f"package: {f.package} {f.installed}".rstrip())
    if f.kind == "vulnerability":
        lines.append(f"fixed version: {f.fixed or 'none'}")
    if f.location:
        lines.append(f"location: {f.location}"
                     + (f":{f.start_line}" if f.start_line else ""))
    if f.title:
        lines.append(f"title: {f.title}")
    if f.url:
        lines.append(f"link: {f.url}")
    if f.reasons:
        lines.append("gate: " + "; ".join(f.reasons))
    return "\n".join(lines)


def _x(text: str, limit: int = _TEXT_CHARS) -> str:
    text = _NOT_XML.sub("", text or "")
    return text if len(text) <= limit else text[: limit - 1] + "…"
