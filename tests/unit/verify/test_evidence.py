"""The baseline of `max-drop`: the candidate's scores in the benchmark JSON that promoted it."""

from __future__ import annotations

import json

import pytest

from mlgate.errors import BadInput
from mlgate.verify.evidence import MAX_BYTES, drop_floor, read_baselines


def write(tmp_path, doc) -> str:
    path = tmp_path / "benchmark.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return str(path)


def test_scores_and_the_candidate_version_are_read(tmp_path):
    """Entries that are not a named number are skipped, wherever they stand in the list."""
    doc = {"command": "benchmark", "result": {
        "candidate": {"name": "churn", "version": "7"},
        "metrics": ["junk", {"name": 3, "candidate": 0.5}, {"candidate": 0.5},
                    {"name": "accuracy", "candidate": 0.95}, {"name": "nan", "candidate": None},
                    {"name": "flag", "candidate": True}, {"name": "text", "candidate": "0.9"},
                    {"name": "auc", "candidate": 1}]}}
    got = read_baselines(write(tmp_path, doc))
    assert got.scores == {"accuracy": 0.95, "auc": 1.0}
    assert isinstance(got.scores["auc"], float)
    assert (got.model_version, got.model_name) == ("7", "churn")


def test_a_candidate_without_registry_facts_has_no_version(tmp_path):
    doc = {"command": "benchmark", "result": {"candidate": {"version": 7, "name": ["churn"]},
                                              "metrics": []}}
    got = read_baselines(write(tmp_path, doc))
    assert (got.scores, got.model_version, got.model_name) == ({}, None, None)
    doc["result"]["candidate"] = "models/candidate.skops"
    assert read_baselines(write(tmp_path, doc)).model_version is None


@pytest.mark.parametrize("doc, needle", [
    ({"command": "scan", "result": {"metrics": []}},
     r"not the JSON of mlgate benchmark \(its 'command' is not 'benchmark'\)$"),
    ([1, 2], "not the JSON of mlgate benchmark"),
    ({"command": "benchmark"}, "no 'result.metrics' list"),
    ({"command": "benchmark", "result": {"metrics": {}}}, "no 'result.metrics' list"),
    ({"command": "benchmark", "result": []}, "no 'result.metrics' list"),
    ('{"command": "benchmark", "result": {"metrics": [NaN]}}', "--evidence"),
    ("not json", "--evidence"),
])
def test_anything_else_is_bad_input_naming_the_file(tmp_path, doc, needle):
    with pytest.raises(BadInput, match=needle) as exc:
        read_baselines(write(tmp_path, doc))
    assert str(exc.value).startswith("--evidence ")


def test_an_evidence_file_over_5_mib_is_refused_unread(tmp_path):
    """A benchmark JSON is small; a bigger file is not read whole (safe_load's limit is 10 MiB)."""
    doc = '{"command": "benchmark", "result": {"metrics": []}, "pad": "%s"}'
    at_limit = doc % ("x" * (MAX_BYTES - len(doc % "")))
    assert read_baselines(write(tmp_path, at_limit)).scores == {}
    with pytest.raises(BadInput, match=r"^--evidence .*: over the 5 MiB size limit$"):
        read_baselines(write(tmp_path, doc % ("x" * (MAX_BYTES + 1 - len(doc % "")))))


def test_a_missing_file_is_bad_input(tmp_path):
    with pytest.raises(BadInput, match="--evidence"):
        read_baselines(str(tmp_path / "nope.json"))


def test_the_drop_floor_relative_and_absolute():
    assert drop_floor(0.9, 0.05, True) == pytest.approx(0.855)
    assert drop_floor(0.9, 0.05, False) == pytest.approx(0.85)
    assert drop_floor(0.9, 0.0, True) == 0.9
