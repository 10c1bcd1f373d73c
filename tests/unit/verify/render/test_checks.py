"""Each check's final range and how a serve-analysis request names it."""

from __future__ import annotations

import pytest

from mlgate.errors import BadInput
from mlgate.verify.check import parse_check
from mlgate.verify.render.checks import number_text, prepare, request_spec

SPECS = ["error-rate:max=1%", "p95-latency:max=500ms", "p95-latency:min=1ms,max=2s",
         "accuracy:min=0.9", "accuracy:max-drop=5%", "accuracy:max-drop=0.02",
         "accuracy:min=0.8,max-drop=12.5%", "drift", "drift:max=0.3",
         "error-rate:min=0,max=0.000001", "error-rate:max=1e-7"]


@pytest.mark.parametrize("spec", SPECS)
def test_a_builtin_request_reads_back_to_the_same_range(spec: str) -> None:
    check = parse_check(spec)
    again = parse_check(request_spec(check))
    assert (again.name, again.min, again.max, again.drop_relative) == (
        check.name, check.min, check.max, check.drop_relative)
    if check.max_drop is None:
        assert again.max_drop is None
    else:
        assert again.max_drop == pytest.approx(check.max_drop)
    assert "query" not in request_spec(check)


def test_a_custom_check_is_asked_for_by_name_never_with_its_promql() -> None:
    check = parse_check('name=gpu-mem,query=max(gpu_memory_bytes{app="{app}"}),max=8e9')
    assert request_spec(check) == "gpu-mem"
    # a built-in whose query was replaced is still asked for by SPEC: the server holds the
    # replacement (its own --query), the request carries none
    replaced = parse_check("error-rate:max=1%", {"error-rate": "sum(x)"})
    assert request_spec(replaced) == "error-rate:max=0.01"


@pytest.mark.parametrize("value,text", [
    (0.01, "0.01"), (1e-05, "0.00001"), (1e-7, "0.0000001"), (8e9, "8000000000"),
    (500.0, "500"), (0.5, "0.5"), (-0.0, "0"), (-2.5, "-2.5"), (1e21, "1000000000000000000000"),
    (0.1 + 0.2, "0.30000000000000004")])
def test_numbers_are_plain_decimals_that_read_back_exactly(value: float, text: str) -> None:
    assert number_text(value) == text
    assert float(text) == value
    assert "e" not in text.lower()


def test_max_drop_becomes_a_floor_from_the_evidence() -> None:
    checks = (parse_check("accuracy:max-drop=5%"), parse_check("accuracy:min=0.95,max-drop=5%"))
    (relative,) = prepare(checks[:1], {"accuracy": 0.9}, "b.json")
    assert relative.low == pytest.approx(0.855) and relative.high is None
    assert relative.baseline == 0.9 and relative.has_range
    (both,) = prepare(checks[1:], {"accuracy": 0.9}, "b.json")
    assert both.low == 0.95           # the stricter of min and the floor
    (absolute,) = prepare((parse_check("accuracy:max-drop=0.02"),), {"accuracy": 0.9}, "b.json")
    assert absolute.low == pytest.approx(0.88)


def test_max_drop_without_evidence_has_no_range_and_a_missing_score_is_refused() -> None:
    (open_check,) = prepare((parse_check("accuracy:max-drop=5%"),), {}, None)
    assert not open_check.has_range and open_check.request == "accuracy:max-drop=5%"
    with pytest.raises(BadInput, match=r"--check accuracy: --evidence b.json holds no "
                                       r"accuracy score"):
        prepare((parse_check("accuracy:max-drop=5%"),), {"f1": 0.8}, "b.json")


def test_the_kubernetes_check_is_refused_naming_it() -> None:
    with pytest.raises(BadInput, match=r"--check replicas-unavailable: read from the Kubernetes "
                                       r"API"):
        prepare((parse_check("error-rate:max=1%"), parse_check("replicas-unavailable:max=0")),
                {}, None)
