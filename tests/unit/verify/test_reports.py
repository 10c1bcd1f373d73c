"""The reports of `mlgate verify`, built from hand-made VerifyResults: the presentation and its
JSON, the Markdown with its charts, JUnit, GitLab's metrics file, and the files writer.

Hostile text (from a user's SPEC or a Prometheus message) must not break out of any format: the
Markdown is parsed with markdown-it (what the terminal emitter uses), the JUnit with xml.etree,
the metrics with a strict reader of the exposition format, GitLab's line splitter and, when it
is installed, prometheus_client's own parser.
"""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from mlgate.ci.emit import write_json
from mlgate.errors import BadInput
from mlgate.report.markdown import render_summary
from mlgate.report.verify import OUTPUT_KEYS, present, result_data
from mlgate.report.verify_files import OPTIONS, write_reports
from mlgate.report.verify_junit import junit
from mlgate.report.verify_markdown import chart, markdown, sparkline
from mlgate.report.verify_metrics import metrics
from mlgate.verify.result import ActionTaken, CheckResult, Measurement, VerifyResult
from unit.benchmark.test_reports import gitlab_metrics, parse_openmetrics

NAN = float("nan")
# every way out of a table cell, a code block, a link, an XML attribute or a CDATA section
NASTY = "a|b ```x``` <script>&amp; \x00 ]]> [l](javascript:x) ![i](https://e/t.png)\nnext|line"
LABELS = {"app": "churn", "environment": "staging", "namespace": "ml", "model_version": "7"}
SHA = "3f2a9c1d0e5b"


# --------------------------------------------------------------------------- builders


def meas(values: list[float | None], low: float | None = None, high: float | None = None,
         messages: dict[int, str] | None = None, errors: tuple[int, ...] = ()
         ) -> tuple[Measurement, ...]:
    """Measurements every 30 s, judged as analysis.judge would: None or NaN is Inconclusive,
    an index in `errors` an Error (no value), else in or out of the range."""
    out = []
    for i, v in enumerate(values):
        if i in errors:
            phase = "Error"
        elif v is None or (isinstance(v, float) and math.isnan(v)):
            phase = "Inconclusive"
        elif (low is not None and v < low) or (high is not None and v > high):
            phase = "Failed"
        else:
            phase = "Successful"
        out.append(Measurement(at=30.0 * (i + 1), time=f"2025-03-01T10:0{i}:00Z",
                               value=None if i in errors else v, phase=phase,  # type: ignore[arg-type]
                               message=(messages or {}).get(i, "")))
    return tuple(out)


def check(name: str, ms: tuple[Measurement, ...], phase: str, *, low: float | None = None,
          high: float | None = None, unit: str = "", reason: str = "",
          baseline: float | None = None, query: str = "") -> CheckResult:
    return CheckResult(
        name=name, query=query or f'max(metric{{app="churn",check="{name}"}})', min=low,
        max=high, unit=unit, on_failure="rollback", phase=phase,  # type: ignore[arg-type]
        measurements=ms, failed=sum(m.phase == "Failed" for m in ms),
        inconclusive=sum(m.phase == "Inconclusive" for m in ms),
        errors=sum(m.phase == "Error" for m in ms), consecutive_errors=0, baseline=baseline,
        reason=reason)


def successful() -> VerifyResult:
    err = check("error-rate", meas([0.001, 0.002, 0.004, 0.003, 0.002], high=0.01),
                "Successful", high=0.01, unit="ratio")
    lat = check("p95-latency", meas([0.21, 0.25, 0.3, 0.28, 0.22], high=0.5), "Successful",
                high=0.5, unit="seconds")
    acc = check("accuracy", meas([0.91, 0.92, 0.90, 0.91, 0.92], low=0.88), "Successful",
                low=0.88, baseline=0.93)
    return VerifyResult("Successful", (err, lat, acc), 150.0, "all 3 checks passed",
                        evidence="evidence/benchmark.json", labels=dict(LABELS))


def failed() -> VerifyResult:
    reason = "error-rate 0.034 > 0.01 (2 of 4 measurements)"
    err = check("error-rate", meas([0.004, 0.02, None, 0.034], high=0.01,
                                   messages={2: "no series"}),
                "Failed", high=0.01, unit="ratio", reason=reason)
    lat = check("p95-latency", meas([0.2, 0.3], high=0.5), "Running", high=0.5,
                unit="seconds")
    actions = (ActionTaken("rollback", True, f"reverted in {SHA[:7]}",
                           url=f"https://github.com/o/config/commit/{SHA}", commit=SHA),
               ActionTaken("incident", False, "GitHub answered 403: Resource not accessible"))
    return VerifyResult("Failed", (err, lat), 120.0, reason, actions, labels=dict(LABELS))


def inconclusive() -> VerifyResult:
    reason = "drift: NaN (2 of 3 measurements inconclusive)"
    drift = check("drift", meas([0.1, NAN, None], high=0.5, messages={1: "NaN", 2: "NaN"}),
                  "Inconclusive", high=0.5, reason=reason)
    return VerifyResult("Inconclusive", (drift,), 90.0, reason, labels={"app": "churn"})


def error() -> VerifyResult:
    reason = "error-rate: connection refused (3 errors in a row)"
    ms = meas([0.001, None, None, None], high=0.01, errors=(1, 2, 3),
              messages={1: "timeout", 2: "timeout", 3: "connection refused"})
    err = check("error-rate", ms, "Error", high=0.01, unit="ratio", reason=reason)
    return VerifyResult("Error", (err,), 120.0, reason)


def hostile() -> VerifyResult:
    # a line of only backticks would close a block fenced with fewer
    query = 'sum(x{a="```"}) + on() vector(1) ` `\n````\n</details>|'
    ms = meas([0.5, NASTY and 0.9, None, float("inf"), 0.7], high=0.6,
              messages={2: NASTY, 3: "\ud800 lone surrogate"})
    bad = check(NASTY, ms, "Failed", high=0.6, reason=NASTY, query=query)
    odd = check("nan-baseline", meas([1.0, 2.0]), "Running", low=0.0, baseline=NAN)
    actions = (ActionTaken("retrain", True, NASTY, url="javascript:alert(1)"),
               ActionTaken("incident", True, "opened",
                           url="https://gitlab.example/g/p/-/issues/7)![i](https://e/t.png"),
               ActionTaken("rollback", True, "reverted", commit="`rm -rf`|"))
    labels = {"app": NASTY, "environment": "prod\n## fake", "model_version": "1`2"}
    return VerifyResult("Failed", (bad, odd), NAN, NASTY, actions, evidence=NASTY,
                        labels=labels)


ALL = (successful, failed, inconclusive, error, hostile)


# --------------------------------------------------------------------------- presentation


def test_successful_presentation():
    p = present(successful(), {"report": "out/verify.md"})
    assert p.command == "verify" and p.exit_code == 0 and p.verdict == "passed"
    assert p.title == "mlgate verify: churn v7 in staging, 3 checks, 5 measurements in 2m30s"
    assert p.outputs == {"passed": "true", "phase": "Successful", "failed-checks": "",
                         "message": "all 3 checks passed", "rolled-back": "false",
                         "rollback-commit": "", "retrain-url": "", "incident-url": "",
                         "report": "out/verify.md", "junit": "", "metrics-file": ""}
    assert p.annotations == ()
    assert [row[:4] for row in p.table.rows] == [
        ("error-rate", "Successful", "≤ 0.01", "0.002"),
        ("p95-latency", "Successful", "≤ 500ms", "220ms"),
        ("accuracy", "Successful", "≥ 0.88", "0.92")]
    assert all(s.fold for s in p.sections[1:])  # passing checks folded


def test_failed_presentation_with_rollback():
    result = failed()
    p = present(result, {"junit": "j.xml", "metrics-file": "m.txt"})
    assert p.exit_code == result.exit_code == 1
    assert p.verdict == "failed: error-rate 0.034 > 0.01 (2 of 4 measurements)"
    assert tuple(p.outputs) == OUTPUT_KEYS
    assert p.outputs["failed-checks"] == "error-rate"  # the unfinished check did not fail
    assert p.outputs["rolled-back"] == "true" and p.outputs["rollback-commit"] == SHA
    assert p.outputs["incident-url"] == ""      # the incident failed: no URL to hand on
    assert p.outputs["junit"] == "j.xml" and p.outputs["metrics-file"] == "m.txt"
    levels = [(a.level, a.message) for a in p.annotations]
    assert levels[0] == ("error", result.message)
    assert ("notice", f"rollback: reverted in {SHA[:7]}") in levels
    assert ("error", "incident: GitHub answered 403: Resource not accessible") in levels
    row = p.table.rows[0]
    assert row[0] == "error-rate" and row[3] == "0.034" and row[5:] == ("2", "1", "0", "4")
    assert p.table.rows[1][1] == "Not finished"
    assert [s.fold for s in p.sections] == [False, False, False, False]
    assert p.sections[-1].title == "Actions taken"


@pytest.mark.parametrize("build,word,code,level", [(inconclusive, "inconclusive", 1, "warning"),
                                                   (error, "error", 3, "error")])
def test_inconclusive_and_error_presentations(build, word, code, level):
    result = build()
    p = present(result, {})
    assert p.exit_code == code
    assert p.verdict == f"{word}: {result.message}"
    assert p.outputs["passed"] == "false" and p.outputs["phase"] == result.phase
    assert [a.level for a in p.annotations] == [level]


@pytest.mark.parametrize("build", ALL)
def test_result_is_json_and_keeps_every_measurement(build, tmp_path: Path):
    result = build()
    p = present(result, {})
    text = json.dumps(p.result, allow_nan=False)
    back = json.loads(text)
    assert back == p.result
    assert back["phase"] == result.phase and back["passed"] is result.passed
    assert back["exit_code"] == result.exit_code
    for got, c in zip(back["checks"], result.checks):
        assert got["name"] == c.name.encode("utf-8", "replace").decode("utf-8")
        assert got["query"] == c.query and got["phase"] == c.phase
        assert got["limits"] == {"min": c.min, "max": c.max}
        assert len(got["measurements"]) == len(c.measurements)
        for g, m in zip(got["measurements"], c.measurements):
            assert set(g) == {"at", "time", "value", "phase", "message"}
            assert g["phase"] == m.phase and g["time"] == m.time and g["at"] == m.at
            expected = m.value if m.value is not None and math.isfinite(m.value) else None
            assert g["value"] == expected
    assert [a["kind"] for a in back["actions"]] == [a.kind for a in result.actions]
    # the emitter's own --json writer takes it (UTF-8, no NaN)
    write_json(p, str(tmp_path / "verify.json"))
    assert json.loads((tmp_path / "verify.json").read_text("utf-8"))["result"] == back


def test_nan_and_infinite_values_become_null():
    data = present(hostile(), {}).result
    assert data == result_data(hostile()) | {"checks": data["checks"], "message": data["message"],
                                             "labels": data["labels"],
                                             "actions": data["actions"],
                                             "evidence": data["evidence"]}
    values = [m["value"] for m in data["checks"][0]["measurements"]]
    assert values == [0.5, 0.9, None, None, 0.7]
    assert data["checks"][1]["baseline"] is None and data["seconds"] is None
    assert data["checks"][0]["measurements"][3]["message"] == "? lone surrogate"


def test_the_failed_action_is_in_the_summary():
    md = render_summary(present(failed(), {}))
    assert "❌ **incident**: GitHub answered 403" in md
    assert f"commit `{SHA}`" in md


# --------------------------------------------------------------------------- Markdown


def _mermaid_blocks(md: str) -> list[str]:
    tokens = MarkdownIt("commonmark").parse(md)
    return [t.content for t in tokens if t.type == "fence" and t.info == "mermaid"]


def _chart_parts(block: str) -> dict:
    lines = block.rstrip("\n").split("\n")
    assert lines[0] == "xychart-beta"
    number = r"-?\d+(?:\.\d+)?"  # what xychart's lexer reads: no exponent, no NaN
    title = re.fullmatch(r'    title "([A-Za-z0-9 _.:+\-/=()]+)"', lines[1])
    xs = re.fullmatch(r'    x-axis "measurement" \[((?:"\d+", )*"\d+")\]', lines[2])
    y = re.fullmatch(rf'    y-axis "(value|ratio|seconds)" ({number}) --> ({number})', lines[3])
    series = [re.fullmatch(rf"    line \[((?:{number}, )*{number})\]", ln) for ln in lines[4:]]
    assert title and xs and y and series and all(series), block
    return {"title": title.group(1), "x": [int(v) for v in re.findall(r"\d+", xs.group(1))],
            "y": (float(y.group(2)), float(y.group(3))),
            "lines": [[float(v) for v in s.group(1).split(", ")] for s in series]}


def test_chart_draws_values_and_limit_and_skips_missing():
    md = markdown(failed())
    blocks = _mermaid_blocks(md)
    assert len(blocks) == 2
    chart_ = _chart_parts(blocks[0])
    assert chart_["title"] == "error-rate"
    assert chart_["x"] == [1, 2, 4]  # the inconclusive third measurement is left out
    values, limit = chart_["lines"]
    assert values == [0.004, 0.02, 0.034] and limit == [0.01] * 3
    low, high = chart_["y"]
    assert 0 <= low < 0.004 and high > 0.034  # a rate's axis does not go below zero
    latency = _chart_parts(blocks[1])
    assert 0 < latency["y"][0] < 0.2 and latency["lines"][1] == [0.5, 0.5]
    near_zero = check("z", meas([0.001, 0.002], high=0.5), "Successful", high=0.5)
    assert _chart_parts(_mermaid_blocks(chart(near_zero))[0])["y"][0] == 0  # not -0.05
    below = check("b", meas([-3.0, -1.0], high=0.0), "Successful", high=0.0)
    assert _chart_parts(_mermaid_blocks(chart(below))[0])["y"][0] < -3
    assert "1 measurement without a value left out" in md


def test_chart_draws_both_limits_and_plain_decimals():
    ms = meas([0.000012, 0.00002, 0.000015], low=0.00001, high=0.00003)
    c = check("tiny", ms, "Successful", low=0.00001, high=0.00003)
    parts = _chart_parts(_mermaid_blocks(chart(c))[0])
    assert parts["lines"][1:] == [[0.00003] * 3, [0.00001] * 3]
    low, high = parts["y"]
    assert low < 0.00001 and high > 0.00003
    assert "e-" not in _mermaid_blocks(chart(c))[0]


def test_no_chart_without_two_values():
    assert chart(check("x", meas([None, 0.2]), "Inconclusive", high=1.0)) == \
        "*No chart: one measurement had a value.*"
    assert chart(check("y", meas([None], errors=(0,)), "Error", high=1.0)) == \
        "*No chart: no measurement had a value.*"


def test_sparkline_heights_and_gaps():
    c = check("s", meas([0.0, 1.0, None, 0.5, NAN, 1.0]), "Inconclusive", high=2.0)
    assert sparkline(c) == "▁█·▅·█"
    flat = check("f", meas([3.0, 3.0, 3.0]), "Successful", high=5.0)
    assert len(set(sparkline(flat))) == 1
    huge = check("h", meas([-1.7e308, 1.7e308, 0.0]), "Successful")
    assert sparkline(huge) == "▁█▅"
    long = check("l", meas([float(i) for i in range(100)]), "Successful")
    assert sparkline(long).startswith("…") and len(sparkline(long)) == 61


def test_measurements_table_and_sparkline_in_the_checks_table():
    md = markdown(failed())
    assert "| error\\-rate | ❌ Failed | ≤ 0.01 | 0.034 | ▁▅·█ | 2 | 1 | 0 | 4 |" in md
    assert "| 3 | 2025\\-03\\-01T10:02:00Z | 90s | — | ⚠️ Inconclusive: no series |" in md
    assert "⏸️ **Not finished**: the run stopped at another check" in md
    assert md.startswith("## mlgate verify: churn v7 in staging, 2 checks, 4 measurements")


def _blocks_of(md: str):
    return MarkdownIt("commonmark").enable("table").parse(md)


def test_hostile_text_cannot_break_the_markdown():
    result = hostile()
    md = markdown(result)
    tokens = _blocks_of(md)
    kinds = {t.type for t in tokens}
    assert "html_block" not in kinds
    inline = [c for t in tokens if t.type == "inline" for c in t.children or ()]
    assert not [c for c in inline if c.type in ("html_inline", "image")]
    links = [c.attrs["href"] for c in inline if c.type == "link_open"]
    # the incident URL is one link, its `)![i](...)` percent-encoded inside it, not an image
    assert links == ["https://gitlab.example/g/p/-/issues/7)!%5Bi%5D(https://e/t.png"]
    # one heading per section: nothing in a label or name started another
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert len(headings) == 1 + 1 + len(result.checks) + 1
    # every table row has as many cells as its header
    rows: list[int] = []
    for t in tokens:
        if t.type == "tr_open":
            rows.append(0)
        elif t.type in ("th_open", "td_open"):
            rows[-1] += 1
    assert rows and set(rows) <= {5, 9}
    # the query is shown whole, in one code block that nothing in it closed
    fences = [t for t in tokens if t.type == "fence"]
    assert [t.info for t in fences] == ["mermaid", "promql", "mermaid", "promql"]
    assert fences[1].content == result.checks[0].query + "\n"
    for block in _mermaid_blocks(md):
        _chart_parts(block)
    assert "javascript:" not in " ".join(links)
    assert "`rm -rf`" not in md  # a commit that is not hex is not put in a code span


def test_summary_of_the_hostile_result_renders():
    md = render_summary(present(hostile(), {}), limit_bytes=6000)
    assert len(md.encode("utf-8")) <= 6000
    assert "<script>" not in md


# --------------------------------------------------------------------------- JUnit


def _cases(xml: str) -> dict[str, ET.Element]:
    root = ET.fromstring(xml.encode("utf-8"))
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["mlgate verify"]
    suite = suites[0]
    for node in (root, suite):
        assert int(node.get("tests")) == len(suite.findall("testcase"))
        assert int(node.get("failures")) == len(suite.findall("testcase/failure"))
        assert int(node.get("errors")) == len(suite.findall("testcase/error"))
        assert int(node.get("skipped")) == len(suite.findall("testcase/skipped"))
    return {c.get("name"): c for c in suite.findall("testcase")}


def test_junit_maps_each_phase():
    cases = _cases(junit(failed()))
    err, lat = cases["error-rate"], cases["p95-latency"]
    failure = err.find("failure")
    assert failure.get("type") == "Failed" and failure.get("message") == failed().message
    assert "#3 2025-03-01T10:02:00Z +90s — Inconclusive: no series" in failure.text
    assert err.find("system-out").text == failure.text
    assert lat.find("skipped") is not None and lat.find("failure") is None
    ok = _cases(junit(successful()))
    assert all(list(c) == [c.find("system-out")] for c in ok.values())
    assert ok["accuracy"].find("system-out").text.count("\n#") == 5
    assert "baseline: 0.93" in ok["accuracy"].find("system-out").text
    incon = _cases(junit(inconclusive()))["drift"].find("failure")
    assert incon.get("type") == "Inconclusive"
    boom = _cases(junit(error()))["error-rate"]
    assert boom.find("error").get("type") == "Error" and boom.find("failure") is None
    props = ET.fromstring(junit(successful())).findall("./testsuite/properties/property")
    assert {p.get("name"): p.get("value") for p in props}["model_version"] == "7"


def test_junit_survives_hostile_text():
    xml = junit(hostile())
    cases = _cases(xml)
    clean = NASTY.replace("\x00", "")
    assert list(cases) == [clean, "nan-baseline"]
    failure = cases[clean].find("failure")
    assert failure.get("message") == clean  # <, &, ]]> and newlines come back as written
    assert "\ud800" not in xml and "\x00" not in xml
    assert 'query: sum(x{a="```"})' in failure.text


def test_junit_without_checks_is_one_passing_case():
    cases = _cases(junit(VerifyResult("Successful", (), 0.0, "all 0 checks passed")))
    assert list(cases) == ["no checks"]


# --------------------------------------------------------------------------- metrics


def _prometheus_parse(text: str) -> dict[tuple[str, tuple], float] | None:
    """The samples as prometheus_client reads them, in the Prometheus text format and in
    OpenMetrics (both must agree); None when the client is not installed."""
    try:
        from prometheus_client.openmetrics.parser import text_string_to_metric_families as om
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        return None
    found = [{(s.name, tuple(sorted(s.labels.items()))): s.value
              for family in parse(text) for s in family.samples}
             for parse in (text_string_to_metric_families, om)]
    assert found[0] == found[1]
    return found[0]


def test_metrics_values():
    text = metrics(failed())
    samples = parse_openmetrics(text)
    p = "mlgate_verify_"
    assert samples[(p + "passed", ())] == 0
    assert samples[(p + "last_value", (("check", "error-rate"),))] == 0.034
    assert samples[(p + "failed_measurements", (("check", "error-rate"),))] == 2
    assert samples[(p + "inconclusive_measurements", (("check", "error-rate"),))] == 1
    assert samples[(p + "check_passed", (("check", "p95-latency"),))] == 0
    assert parse_openmetrics(metrics(successful()))[(p + "passed", ())] == 1
    keys = gitlab_metrics(text)
    assert keys["mlgate_verify_last_value{check=error-rate}"] == "0.034"
    assert keys["mlgate_verify_passed"] == "0"
    by_client = _prometheus_parse(text)
    if by_client is not None:
        assert by_client[(p + "last_value", (("check", "error-rate"),))] == 0.034


def test_metrics_leave_out_missing_values_and_escape_names():
    text = metrics(hostile())
    samples = parse_openmetrics(text)
    last = {dict(labels)["check"]: v for name, labels in samples
            if name == "mlgate_verify_last_value" for v in [samples[(name, labels)]]}
    assert last == {NASTY.replace("#", "%23"): 0.7, "nan-baseline": 2.0}
    assert not [ln for ln in text.splitlines() if not ln.startswith("#")
                and ln.lower().endswith(("nan", "inf"))]
    error_only = metrics(error())
    assert "mlgate_verify_last_value" in error_only  # the value before the errors
    assert not any(name == "mlgate_verify_last_value" for name, _ in parse_openmetrics(
        metrics(VerifyResult("Error", (check("e", meas([None], errors=(0,)), "Error"),), 1.0,
                             "e: down"))))
    assert len(gitlab_metrics(text)) == 1 + 6 * 2
    by_client = _prometheus_parse(text)
    if by_client is not None:
        assert by_client[("mlgate_verify_last_value",
                          (("check", NASTY.replace("#", "%23")),))] == 0.7


# --------------------------------------------------------------------------- files


def test_write_reports_writes_what_was_asked(tmp_path: Path):
    result = failed()
    paths = {"report": str(tmp_path / "r" / "verify.md"), "junit": str(tmp_path / "j.xml"),
             "metrics-file": str(tmp_path / "metrics.txt")}
    assert write_reports(result, paths) == paths
    assert (tmp_path / "r" / "verify.md").read_text("utf-8") == markdown(result)
    assert (tmp_path / "j.xml").read_text("utf-8") == junit(result)
    assert (tmp_path / "metrics.txt").read_text("utf-8") == metrics(result)
    assert write_reports(result, {"report": None, "junit": ""}) == {}
    with pytest.raises(ValueError):
        write_reports(result, {"html": str(tmp_path / "x.html")})


def test_write_reports_of_a_hostile_result(tmp_path: Path):
    paths = {name: str(tmp_path / name) for name in OPTIONS}
    write_reports(hostile(), paths)
    ET.parse(paths["junit"])
    parse_openmetrics((tmp_path / "metrics-file").read_text("utf-8"))
    assert "? lone surrogate" in (tmp_path / "report").read_text("utf-8")


@pytest.mark.parametrize("name", list(OPTIONS))
def test_write_error_names_the_option(tmp_path: Path, name: str):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(BadInput) as exc:
        write_reports(failed(), {name: str(blocker / "sub" / "out")})
    assert str(exc.value).startswith(f"{OPTIONS[name]} ") and "cannot write" in str(exc.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]
