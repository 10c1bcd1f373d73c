"""The verify run as JUnit XML, for GitLab's test report and GitHub's JUnit reporters: one
testsuite "mlgate verify", one testcase per check.

Each check's phase maps to what the reporters show, so that the test report always agrees
with the job's exit code:

- Successful: a passing testcase.
- Failed: <failure type="Failed">, the reason as its message.
- Inconclusive: also <failure>, type "Inconclusive". Not <skipped>: GitLab shows skipped
  tests grey and outside the failed count, and GitHub's reporters (dorny/test-reporter,
  mikepenz/action-junit-report) count them as neither failed nor passed, so the report
  would look clean beside a job that exited 1 and whose release waits for a human.
- Error: <error type="Error"> (exit code 3): GitLab lists it apart from failures, which is
  what it is, a measurement that could not be taken, not a model found wanting.
- Not finished (the run stopped early at another check's verdict): <skipped>; that check
  was never judged.

GitLab shows the text of <failure>, <error> and <skipped> as the test's details and ignores
<system-out> (it only reads attachments there), while other readers show <system-out>: the
measurements go in both.

Built with xml.etree, which escapes markup (`<`, `&`, `]]>` included); characters XML 1.0
cannot carry are removed first (the same cleaning as the scan's report).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from mlgate.report.scan_junit import _x
from mlgate.report.verify_markdown import (
    NOT_FINISHED,
    duration,
    finite,
    measurement_verdict,
    range_text,
    value_text,
)
from mlgate.verify.result import CheckResult, VerifyResult

SUITE = "mlgate verify"
_ELEMENT = {"Failed": "failure", "Inconclusive": "failure", "Error": "error",
            "Running": "skipped"}
_PROPERTIES = ("app", "environment", "namespace", "model_version")
_DETAIL_CHARS = 20_000


def junit(result: VerifyResult) -> str:
    """The JUnit report as an XML document (a str with its XML declaration)."""
    seconds = f"{max(finite(result.seconds) or 0.0, 0.0):.3f}"
    root = ET.Element("testsuites", {"name": SUITE, "time": seconds})
    suite = ET.SubElement(root, "testsuite", {"name": SUITE, "time": seconds})
    properties = ET.SubElement(suite, "properties")
    for key in _PROPERTIES:
        if result.labels.get(key):
            ET.SubElement(properties, "property", {"name": key,
                                                   "value": _x(result.labels[key], 500)})
    ET.SubElement(properties, "property", {"name": "phase", "value": result.phase})
    if result.evidence:
        ET.SubElement(properties, "property", {"name": "evidence",
                                               "value": _x(result.evidence, 1000)})
    counts = {"failure": 0, "error": 0, "skipped": 0}
    for check in result.checks:
        kind = _case(suite, check)
        if kind:
            counts[kind] += 1
    if not result.checks:
        ET.SubElement(suite, "testcase", {"classname": "mlgate.verify", "name": "no checks",
                                          "time": "0"})
    for node in (root, suite):
        node.set("tests", str(max(len(result.checks), 1)))
        node.set("failures", str(counts["failure"]))
        node.set("errors", str(counts["error"]))
        node.set("skipped", str(counts["skipped"]))
    ET.indent(root, space=" ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") \
        + "\n"


def _case(suite: ET.Element, c: CheckResult) -> str | None:
    """The check's testcase; the result element it got (failure, error, skipped) or None."""
    last = finite(c.measurements[-1].at) if c.measurements else None
    case = ET.SubElement(suite, "testcase", {"classname": "mlgate.verify", "name": _x(c.name, 500),
                                             "time": f"{max(last or 0.0, 0.0):.3f}"})
    details = _x(_details(c), _DETAIL_CHARS)
    kind = _ELEMENT.get(c.phase)
    if kind:
        message = c.reason or (NOT_FINISHED if c.phase == "Running" else f"{c.name}: {c.phase}")
        node = ET.SubElement(case, kind, {"message": _x(message, 1000)})
        if kind != "skipped":
            node.set("type", c.phase)
        node.text = details
    ET.SubElement(case, "system-out").text = details
    return kind


def _details(c: CheckResult) -> str:
    lines = [f"check {c.name}: {c.phase}", f"range: {range_text(c)}"
             + (f" ({c.unit})" if c.unit else "")]
    if finite(c.baseline) is not None:
        lines.append(f"baseline: {value_text(c.baseline, c.unit)}")
    lines.append(f"on failure: {c.on_failure}")
    lines.append(f"measurements: {len(c.measurements)}, failed {c.failed}, inconclusive "
                 f"{c.inconclusive}, errors {c.errors} (at most {c.consecutive_errors} in a row)")
    lines.append(f"query: {c.query}")
    for i, m in enumerate(c.measurements, 1):
        lines.append(f"#{i} {_line(m.time) or '-'} +{duration(m.at)} "
                     f"{value_text(m.value, c.unit)} {_line(measurement_verdict(m))}")
    return "\n".join(lines)


def _line(text: str) -> str:
    """A server's text on the one line of its measurement."""
    return " ".join(text.split())
