"""The validation as JUnit XML, for GitLab's test report and any CI test widget: one testcase
per expectation (a <failure> when it fails at or above --fail-on, <system-out> with the
figures otherwise, so a failed warning shows without failing the report), and with
--reference one testcase per drift check.

Built with xml.etree, which escapes markup; characters XML 1.0 cannot carry are removed first.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from mlgate.validate.result import ColumnDrift, Outcome, SchemaChange, ValidationResult

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def junit(result: ValidationResult) -> str:
    root = ET.Element("testsuites", {"name": _x(f"mlgate validate {result.suite_name}")})
    suite = ET.SubElement(root, "testsuite", {"name": _x(result.suite_name),
                                              "time": f"{max(result.duration_s, 0.0):.3f}"})
    tests = failures = 0
    for o in result.outcomes:
        tests += 1
        failures += _expectation_case(suite, o)
    _counts(suite, tests, failures)
    totals = [tests, failures]
    if result.drift is not None:
        drift = ET.SubElement(root, "testsuite", {"name": "drift", "time": "0"})
        n = f = 0
        for change in result.drift.schema:
            n += 1
            f += _schema_case(drift, change)
        for column in result.drift.columns:
            n += 1
            f += _drift_case(drift, column)
        if n == 0:
            ET.SubElement(drift, "testcase", {"classname": "mlgate.validate.drift",
                                              "name": "no shared column", "time": "0"})
            n = 1
        _counts(drift, n, f)
        totals[0] += n
        totals[1] += f
    root.set("tests", str(totals[0]))
    root.set("failures", str(totals[1]))
    root.set("errors", "0")
    root.set("time", f"{max(result.duration_s, 0.0):.3f}")
    ET.indent(root, space=" ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") \
        + "\n"


def _expectation_case(suite: ET.Element, o: Outcome) -> int:
    name = f"{o.index}. {o.type}" + (f" ({o.column})" if o.column else "")
    case = ET.SubElement(suite, "testcase", {"classname": f"mlgate.validate.{o.severity}",
                                             "name": _x(name, 500), "time": "0"})
    text = _details(o)
    if o.blocking:
        message = o.error or f"{o.type} failed ({o.severity})"
        node = ET.SubElement(case, "failure", {"message": _x(message, 1000),
                                               "type": o.severity})
        node.text = _x(text)
        return 1
    ET.SubElement(case, "system-out").text = _x(text)
    return 0


def _details(o: Outcome) -> str:
    lines = [f"expectation: {o.type}", f"severity: {o.severity}",
             f"result: {'passed' if o.success else 'failed'}"]
    if o.column:
        lines.append(f"column: {o.column}")
    if o.error:
        lines.append(f"error: {o.error}")
    if o.observed:
        lines.append(f"observed: {o.observed}")
    if o.unexpected_count is not None:
        of = f" of {o.element_count}" if o.element_count is not None else ""
        pct = f" ({o.unexpected_percent:.2f}%)" if o.unexpected_percent is not None else ""
        lines.append(f"unexpected: {o.unexpected_count}{of}{pct}")
    if o.unexpected_values:
        lines.append("some unexpected values: " + ", ".join(o.unexpected_values))
    return "\n".join(lines)


def _schema_case(suite: ET.Element, c: SchemaChange) -> int:
    case = ET.SubElement(suite, "testcase", {"classname": "mlgate.validate.drift.schema",
                                             "name": _x(f"schema {c.column}", 500),
                                             "time": "0"})
    text = f"column {c.column}: {c.change}"
    if c.change == "retyped":
        text += f" {c.reference_type} -> {c.current_type}"
    if c.blocking:
        ET.SubElement(case, "failure", {"message": _x(text, 1000), "type": "schema"})
        return 1
    ET.SubElement(case, "system-out").text = _x(text)
    return 0


def _drift_case(suite: ET.Element, c: ColumnDrift) -> int:
    case = ET.SubElement(suite, "testcase", {"classname": "mlgate.validate.drift",
                                             "name": _x(f"{c.method} {c.column}", 500),
                                             "time": "0"})
    stat = "n/a" if c.statistic is None else f"{c.statistic:.4f}"
    text = f"{c.method.upper()} {stat}, threshold {c.threshold:g}"
    if c.note:
        text += f" ({c.note})"
    if c.blocking:
        ET.SubElement(case, "failure", {"message": _x(text, 1000), "type": "drift"})
        return 1
    ET.SubElement(case, "system-out").text = _x(text + (": drifted" if c.drifted else ""))
    return 0


def _counts(suite: ET.Element, tests: int, failures: int) -> None:
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suite.set("skipped", "0")


def _x(text: str, limit: int = 4000) -> str:
    text = _NOT_XML.sub("", text or "")
    return text if len(text) <= limit else text[: limit - 1] + "…"
