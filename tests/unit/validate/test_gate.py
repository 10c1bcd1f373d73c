"""`mlgate validate` end to end in-process, with real Great Expectations on data the tests
generate: the gate at each severity, the reports, bad data and bad suites as exit 2."""

from __future__ import annotations

import copy
import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from support.validatedata import SUITE, customers, write_suite

from mlgate.cli import main

pytest.importorskip("great_expectations", reason="the validate extra is not installed")


def run(tmp_path: Path, *args: str, capsys=None) -> tuple[int, dict | None]:
    out = tmp_path / "result.json"
    if out.exists():
        out.unlink()
    code = main(["validate", *args, "--json", str(out)],
                environ={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)})
    return code, json.loads(out.read_text()) if out.exists() else None


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    return write_suite(tmp_path / "churn.yaml")


@pytest.fixture
def good(tmp_path: Path) -> Path:
    path = tmp_path / "customers.csv"
    customers().to_csv(path, index=False)
    return path


def broken(tmp_path: Path, name: str = "broken.csv", **changes) -> Path:
    frame = customers()
    for column, fn in changes.items():
        frame[column] = fn(frame[column])
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def test_passing_data_passes(tmp_path, suite, good):
    code, data = run(tmp_path, "--data", str(good), "--suite", str(suite))
    assert code == 0
    assert data["outputs"] == {"passed": "true", "evaluated": "4", "failed": "0",
                               "success-percent": "100.00", "drifted": "", "junit": "",
                               "data-docs": ""}
    result = data["result"]
    assert result["rows"] == 400 and result["engine"] == "pandas"
    assert [o["severity"] for o in result["outcomes"]] == ["critical", "critical", "warning",
                                                            "info"]
    assert result["gx_version"].startswith("1.")


@pytest.mark.parametrize(("column", "change", "severity"), [
    ("age", lambda s: s.where(s < 80, 150), "critical"),
    ("income", lambda s: s * 2, "warning"),
    ("plan", lambda s: s.replace("pro", "enterprise"), "info"),
])
def test_a_failure_fails_the_gate_at_or_above_fail_on(tmp_path, suite, column, change, severity):
    data_path = broken(tmp_path, **{column: change})
    outcomes = {}
    for fail_on in ("critical", "warning", "info"):
        code, data = run(tmp_path, "--data", str(data_path), "--suite", str(suite),
                         "--fail-on", fail_on)
        ranks = ["info", "warning", "critical"]
        should_fail = ranks.index(severity) >= ranks.index(fail_on)
        outcomes[fail_on] = code
        assert code == (1 if should_fail else 0), (fail_on, data["verdict"])
        assert data["outputs"]["failed"] == "1"
        assert data["outputs"]["passed"] == ("false" if should_fail else "true")
        failed = [o for o in data["result"]["outcomes"] if not o["success"]]
        assert [(o["column"], o["severity"], o["blocking"]) for o in failed] == [
            (column, severity, should_fail)]
    assert outcomes["info"] == 1  # the lowest level fails on everything


def test_failed_expectation_reports_a_few_values_never_rows(tmp_path, suite):
    secret_names = [f"person-{i}@example.com" for i in range(400)]
    frame = customers()
    frame["plan"] = secret_names  # every value unexpected: personal data in every row
    data_path = tmp_path / "pii.csv"
    frame.to_csv(data_path, index=False)
    junit = tmp_path / "reports" / "validate.junit.xml"
    code, data = run(tmp_path, "--data", str(data_path), "--suite", str(suite),
                     "--fail-on", "info", "--junit", str(junit))
    assert code == 1
    plan = next(o for o in data["result"]["outcomes"] if o["column"] == "plan")
    assert plan["unexpected_count"] == 400 and plan["unexpected_percent"] == 100.0
    assert len(plan["unexpected_values"]) == 5
    everything = json.dumps(data) + junit.read_text()
    shown = [n for n in secret_names if n in everything]
    assert 0 < len(shown) <= 5
    # no row leaks: the other columns of a bad row are not reported beside its value
    assert "customer_id" not in json.dumps(plan["unexpected_values"])


def test_reports_junit_markdown_and_data_docs(tmp_path, suite):
    data_path = broken(tmp_path, age=lambda s: s.where(s < 80, 150))
    junit = tmp_path / "out" / "junit.xml"
    docs = tmp_path / "out" / "docs"
    code, data = run(tmp_path, "--data", str(data_path), "--suite", str(suite),
                     "--junit", str(junit), "--data-docs", str(docs))
    assert code == 1
    root = ET.parse(junit).getroot()
    cases = list(root.iter("testcase"))
    assert len(cases) == 4 and root.get("failures") == "1"
    failing = [c for c in cases if c.find("failure") is not None]
    assert [c.get("name") for c in failing] == ["2. expect_column_values_to_be_between (age)"]
    assert "unexpected:" in failing[0].find("failure").text
    assert data["outputs"]["junit"] == str(junit)
    assert data["outputs"]["data-docs"] == str(docs / "index.html")
    assert (docs / "index.html").is_file()
    pages = list((docs / "validations").rglob("*.html"))
    assert len(pages) == 1
    page = pages[0].read_text()
    assert "Validations / churn" in page and "customer_id" in page
    assert not [p for p in docs.parent.iterdir() if p.name.startswith(".")]  # no temp left
    # a second run replaces the site whole
    code, _ = run(tmp_path, "--data", str(data_path), "--suite", str(suite),
                  "--data-docs", str(docs))
    assert code == 1 and (docs / "index.html").is_file()


def test_markdown_summary_escapes_and_lists_expectations(tmp_path, suite):
    from mlgate.report.validate import present
    from mlgate.validate.config import ValidateConfig
    from mlgate.validate.run import validate

    data_path = broken(tmp_path, plan=lambda s: s.replace("pro", "<b>[x](javascript:1)</b>"))
    result = validate(ValidateConfig(data=str(data_path), suite=str(suite), fail_on="info"))
    md = present(result, {}).sections[0].markdown
    assert "<b>" not in md and "](javascript" not in md
    assert "| 4 | ❌ failed | info | plan | expect\\_column\\_values\\_to\\_be\\_in\\_set |" in md
    assert "Passed" not in md and "Failed" in md


def test_missing_column_is_a_failed_expectation_naming_it(tmp_path, suite):
    frame = customers().drop(columns=["age"])
    path = tmp_path / "no-age.parquet"
    frame.to_parquet(path)
    code, data = run(tmp_path, "--data", str(path), "--suite", str(suite))
    assert code == 1
    age = next(o for o in data["result"]["outcomes"] if o["column"] == "age")
    assert not age["success"] and age["blocking"]
    assert 'column "age"' in age["error"] and "does not exist" in age["error"]


def test_wrong_type_fails_a_type_expectation(tmp_path):
    suite = write_suite(tmp_path / "typed.yaml", {"name": "typed", "expectations": [
        {"expectation": "expect_column_values_to_be_in_type_list",
         "kwargs": {"column": "age", "type_list": ["int64", "int32"]}},
    ]})
    path = broken(tmp_path, age=lambda s: s.astype(str) + " years")
    code, data = run(tmp_path, "--data", str(path), "--suite", str(suite))
    assert code == 1
    outcome = data["result"]["outcomes"][0]
    assert not outcome["success"] and outcome["observed"] in ("object", "str", "string")


def test_glob_of_jsonl_files_is_one_batch(tmp_path, suite):
    frame = customers()
    for i, part in enumerate((frame.iloc[:150], frame.iloc[150:])):
        part.to_json(tmp_path / f"part-{i}.jsonl", orient="records", lines=True)
    code, data = run(tmp_path, "--data", str(tmp_path / "part-*.jsonl"), "--suite", str(suite))
    assert code == 0, data["verdict"]
    assert data["result"]["rows"] == 400 and len(data["result"]["data"]) == 2


def test_gx_json_suite_from_to_json_dict(tmp_path, good):
    import great_expectations as gx
    import great_expectations.expectations as gxe

    suite = gx.ExpectationSuite(name="from-gx", expectations=[
        gxe.ExpectColumnValuesToNotBeNull(column="customer_id"),
        gxe.ExpectColumnValuesToBeBetween(column="age", min_value=18, max_value=60,
                                          severity="warning"),
    ])
    path = tmp_path / "suite.json"
    path.write_text(json.dumps(suite.to_json_dict()))
    code, data = run(tmp_path, "--data", str(good), "--suite", str(path))
    assert code == 0  # the failing expectation is a warning
    assert data["outputs"]["failed"] == "1"
    assert data["result"]["suite_name"] == "from-gx"
    assert [o["severity"] for o in data["result"]["outcomes"]] == ["critical", "warning"]


def test_nothing_written_to_the_working_directory(tmp_path, suite, good, monkeypatch):
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    code, _ = run(tmp_path, "--data", str(good), "--suite", str(suite))
    assert code == 0
    assert list(work.iterdir()) == []


# --------------------------------------------------------------------------- bad input


def bad(tmp_path, capsys, *args: str) -> str:
    junit = tmp_path / "never.xml"
    code, data = run(tmp_path, *args, "--junit", str(junit))
    err = capsys.readouterr().err
    assert code == 2, err
    assert not junit.exists()  # nothing half-written
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert data["exit_code"] == 2  # the --json error report
    return lines[0]


def test_empty_file_is_bad_input(tmp_path, suite, capsys):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    line = bad(tmp_path, capsys, "--data", str(path), "--suite", str(suite))
    assert f"--data {path}: empty file" in line


def test_unreadable_file_is_bad_input(tmp_path, suite, capsys):
    path = tmp_path / "corrupt.parquet"
    path.write_bytes(b"PAR1 this is not parquet at all" * 10)
    line = bad(tmp_path, capsys, "--data", str(path), "--suite", str(suite))
    assert f"--data {path}: cannot read as parquet" in line


def test_missing_data_and_glob_matching_nothing(tmp_path, suite, capsys):
    line = bad(tmp_path, capsys, "--data", str(tmp_path / "nope.csv"), "--suite", str(suite))
    assert "nope.csv: no such file" in line
    line = bad(tmp_path, capsys, "--data", str(tmp_path / "*.parquet"), "--suite", str(suite))
    assert "no file matches" in line


def test_batch_files_with_different_columns_are_refused(tmp_path, suite, capsys):
    customers().to_csv(tmp_path / "a.csv", index=False)
    customers().drop(columns=["plan"]).to_csv(tmp_path / "b.csv", index=False)
    line = bad(tmp_path, capsys, "--data", str(tmp_path / "*.csv"), "--suite", str(suite))
    assert "b.csv: columns differ" in line


def test_malformed_suite_is_bad_input(tmp_path, good, capsys):
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\nexpectations:\n  - expectation: [unclosed\n")
    line = bad(tmp_path, capsys, "--data", str(good), "--suite", str(path))
    assert f"--suite {path}:4: invalid YAML" in line
    path.write_text('{"name": "x", "expectations": [')
    line = bad(tmp_path, capsys, "--data", str(good), "--suite", str(path))
    assert f"--suite {path}:1: invalid JSON" in line
    path.write_text("name: x\nexpectations: {column: a}\n")
    line = bad(tmp_path, capsys, "--data", str(good), "--suite", str(path))
    assert "`expectations` must be a list" in line


def test_unknown_expectation_names_the_suite_and_entry(tmp_path, good, capsys):
    suite = copy.deepcopy(SUITE)
    suite["expectations"][2]["expectation"] = "expect_column_values_to_be_delicious"
    path = write_suite(tmp_path / "unknown.yaml", suite)
    line = bad(tmp_path, capsys, "--data", str(good), "--suite", str(path))
    assert line.endswith(f"suite {path}: expectation 3 (expect_column_values_to_be_delicious): "
                         "unknown expectation")


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"column": "age", "min_value": "eighteen", "max_value": 99}, "min_value"),
    ({"column": "age", "min_value": 1, "max_value": 2, "colour": "red"}, "colour"),
    ({"min_value": 1, "max_value": 2}, "column"),
])
def test_bad_argument_names_the_suite_entry_and_argument(tmp_path, good, capsys, kwargs,
                                                         expected):
    suite = copy.deepcopy(SUITE)
    suite["expectations"][1]["kwargs"] = kwargs
    path = write_suite(tmp_path / "badarg.yaml", suite)
    line = bad(tmp_path, capsys, "--data", str(good), "--suite", str(path))
    assert f"suite {path}: expectation 2 (expect_column_values_to_be_between): bad argument: " \
           f"{expected}" in line


def test_bad_severity_is_bad_input(tmp_path, good, capsys):
    suite = copy.deepcopy(SUITE)
    suite["expectations"][0]["severity"] = "fatal"
    path = write_suite(tmp_path / "sev.yaml", suite)
    line = bad(tmp_path, capsys, "--data", str(good), "--suite", str(path))
    assert "expectation 1 (expect_column_values_to_not_be_null): severity 'fatal'" in line
