"""The verify run as GitLab's metrics report (`artifacts: reports: metrics:`): per check its
latest value, its measurement counts and whether it passed, and the run's verdict, so a
merge request shows how the live model moved against the last verification.

Written like the benchmark's file (report/benchmark_openmetrics.py explains how GitLab reads
it): fixed metric names, `mlgate_verify_*`, with the check's name as the `check` label rather
than inside the metric name. A name sanitised into a metric name could collide (`error-rate`
and `error_rate`) and would need its own rules; a label value is escaped by the exposition
format's rules, with `#` kept out of GitLab's way. A value that is missing or not finite is
left out rather than written as NaN.
"""

from __future__ import annotations

from collections.abc import Iterator

from mlgate.report.benchmark_openmetrics import format_labels, format_value
from mlgate.report.verify_markdown import last_value
from mlgate.verify.result import VerifyResult

PREFIX = "mlgate_verify_"

# name -> help text; the order is the order of the families in the file
FAMILIES: dict[str, str] = {
    "passed": "1 when every check passed (the run is Successful), else 0.",
    "check_passed": "1 when the check was Successful, else 0.",
    "last_value": "The latest value the check measured.",
    "measurements": "Measurements the check took.",
    "failed_measurements": "Measurements outside the check's range.",
    "inconclusive_measurements": "Measurements with nothing to judge (no series, NaN).",
    "error_measurements": "Measurements that could not be taken.",
}


def metrics(result: VerifyResult) -> str:
    """The report text: HELP and TYPE before each family's samples, `# EOF` at the end
    (GitLab skips comment lines; OpenMetrics parsers require them)."""
    families: dict[str, list[str]] = {}
    for name, labels, value in _samples(result):
        text = format_value(value)
        if text is not None:
            families.setdefault(name, []).append(f"{PREFIX}{name}{format_labels(labels)} {text}")
    lines = []
    for name, help_text in FAMILIES.items():
        if name in families:
            lines += [f"# HELP {PREFIX}{name} {help_text}", f"# TYPE {PREFIX}{name} gauge",
                      *families[name]]
    return "\n".join([*lines, "# EOF"]) + "\n"


def _samples(result: VerifyResult) -> Iterator[tuple[str, dict[str, str], float | int | None]]:
    yield "passed", {}, int(result.passed)
    for c in result.checks:
        check = {"check": c.name}
        yield "check_passed", check, int(c.phase == "Successful")
        yield "last_value", check, last_value(c)
        yield "measurements", check, len(c.measurements)
        yield "failed_measurements", check, c.failed
        yield "inconclusive_measurements", check, c.inconclusive
        yield "error_measurements", check, c.errors
