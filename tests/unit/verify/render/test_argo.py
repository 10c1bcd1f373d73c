"""The AnalysisTemplate: every document as the CRD takes it, and conditions that give each
measurement the phase verify's judge() gives it, built from numbers and `result` alone."""

from __future__ import annotations

import math
import re
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import yaml
from support import gocheck

from mlgate.errors import BadInput
from mlgate.verify.analysis import judge
from mlgate.verify.check import parse_check
from mlgate.verify.render.argo import conditions
from mlgate.verify.render.config import RenderConfig, Server
from mlgate.verify.render.run import render

from .crd_schemas import validate

PROMETHEUS = "http://prometheus.monitoring:9090"
SERVER = "http://mlgate-analysis.mlgate:8080"
RANGES = [(None, 0.01), (0.9, None), (0.0, 1.0), (-2.5, 8e9), (None, 1e-7), (5.0, 5.0)]
VECTORS = [[], [0.0], [0.005], [0.01], [0.0100001], [0.5, 0.001], [0.001, 0.5],
           [math.nan], [0.001, math.nan], [math.nan, 50.0], [-3.0], [8e9], [8.1e9],
           [0.9, 0.95, 1.0], [5.0], [4.999999], [math.inf], [-math.inf]]
# the grammar of every condition: result, numbers, comparisons, len/all/any, && and ||
_NUMBER = r"-?[0-9]+(\.[0-9]+)?"
_CMP = rf"# (<=|>=|<|>) {_NUMBER}"
SUCCESS = re.compile(rf"len\(result\) > 0 && all\(result, \{{{_CMP}( && {_CMP})?\}}\)")
FAILURE = re.compile(rf"any\(result, \{{{_CMP}( \|\| {_CMP})?\}}\)")


def config(*specs: str, **changes) -> RenderConfig:
    base = dict(target="argo-rollouts", checks=tuple(parse_check(s) for s in specs),
                app="churn", name="churn", namespace="ml",
                labels={"environment": "production"}, prometheus=PROMETHEUS)
    base.update(changes)
    return RenderConfig(**base)


def evaluate(condition: str, values: list[float]) -> bool:
    """Python's reading of a condition of the grammar above (expr's meaning)."""
    head, _, rest = condition.partition("(result, {")
    body = rest[:-2]
    joiner = " && " if " && " in body else " || "
    tests = []
    for part in body.split(joiner):
        _, op, number = part.split(" ")
        limit = float(number)
        tests.append({"<=": lambda v, x=limit: v <= x, ">=": lambda v, x=limit: v >= x,
                      "<": lambda v, x=limit: v < x, ">": lambda v, x=limit: v > x}[op])
    each = (lambda v: all(t(v) for t in tests)) if joiner == " && " else (
        lambda v: any(t(v) for t in tests))
    if head.endswith("all"):
        return len(values) > 0 and all(each(v) for v in values)
    return any(each(v) for v in values)


def argo_phase(success: bool, failure: bool) -> str:
    """Argo Rollouts' EvaluateResult with both conditions set."""
    if failure:
        return "Failed"
    return "Successful" if success else "Inconclusive"


def verify_phase(values: list[float], low, high) -> str:
    phase = judge(values, low, high)[1]
    # verify calls a vector holding NaN inconclusive even beside a failing value; Argo
    # Rollouts fails it (the failing value is known): both refuse to pass it
    if phase == "Inconclusive" and any(not math.isnan(v) and ((low is not None and v < low) or
                                       (high is not None and v > high)) for v in values):
        return "Failed"
    return phase


@pytest.mark.parametrize("low,high", RANGES)
def test_conditions_judge_every_vector_as_verify_does(low, high) -> None:
    success, failure = conditions(low, high)
    assert SUCCESS.fullmatch(success) and FAILURE.fullmatch(failure)
    for values in VECTORS:
        got = argo_phase(evaluate(success, values), evaluate(failure, values))
        assert got == verify_phase(values, low, high), values


def test_real_expr_agrees() -> None:
    binary = gocheck.harness()
    if binary is None:
        pytest.fail("Go and Debian's golang-github-antonmedv-expr-dev are not installed: "
                    "./scripts/test installs them (apt-get install golang-go "
                    "golang-github-antonmedv-expr-dev)")
    cases = [(low, high, values) for low, high in RANGES for values in VECTORS]
    requests = []
    for low, high, values in cases:
        for condition in conditions(low, high):
            requests.append({"cond": condition, "result": [repr(v) for v in values]})
    answers = gocheck.run(binary, requests)
    for i, (low, high, values) in enumerate(cases):
        success, failure = (a["value"] == "true" for a in answers[2 * i:2 * i + 2])
        assert "error" not in answers[2 * i] and "error" not in answers[2 * i + 1]
        assert argo_phase(success, failure) == verify_phase(values, low, high), (low, high,
                                                                                 values)
    web = gocheck.run(binary, [{"cond": 'result == "Successful"', "text": "Successful"},
                               {"cond": 'result == "Failed"', "text": "Inconclusive"}])
    assert web == [{"value": "true"}, {"value": "false"}]


def test_a_prometheus_template_holds_verify_schedule_limits_and_queries() -> None:
    result = render(config("error-rate:max=1%", "p95-latency:max=500ms",
                           "accuracy:max-drop=5%", 'name=gpu,query=max(g{app="{app}"}),min=1',
                           baselines={"accuracy": 0.9}, evidence="b.json",
                           interval=60.0, initial_delay=120.0, window=300.0))
    (doc,) = result.documents
    validate(doc)
    assert list(yaml.safe_load_all(result.text)) == [doc]
    assert doc["metadata"] == {"name": "churn", "namespace": "ml",
                               "labels": {"app.kubernetes.io/managed-by": "mlgate"}}
    metrics = {m["name"]: m for m in doc["spec"]["metrics"]}
    assert list(metrics) == ["error-rate", "p95-latency", "accuracy", "gpu"]
    error_rate = metrics["error-rate"]
    assert {k: error_rate[k] for k in ("interval", "initialDelay", "count", "failureLimit",
                                       "inconclusiveLimit", "consecutiveErrorLimit")} == {
        "interval": "1m", "initialDelay": "2m", "count": 5, "failureLimit": 0,
        "inconclusiveLimit": 0, "consecutiveErrorLimit": 4}
    assert error_rate["successCondition"] == "len(result) > 0 && all(result, {# <= 0.01})"
    prom = error_rate["provider"]["prometheus"]
    assert prom["address"] == PROMETHEUS and "[300s]" in prom["query"]
    assert 'namespace="ml",app="churn"' in prom["query"]
    assert metrics["accuracy"]["failureCondition"] == "any(result, {# < 0.855})"
    assert metrics["gpu"]["provider"]["prometheus"]["query"] == 'max(g{app="churn"})'
    assert result.measured == ("error-rate", "p95-latency", "accuracy", "gpu")
    assert result.served == () and "spec" in doc and "args" not in doc["spec"]


def test_a_web_template_asks_serve_analysis_with_the_token_from_a_secret() -> None:
    server = Server(SERVER, ("mlgate-analysis", "token"), evidence="churn/bench.json")
    result = render(config("error-rate:max=1%", "accuracy:max-drop=5%",
                           labels={"environment": "prod", "model_version": "7"},
                           provider="web", prometheus=None, server=server))
    (doc,) = result.documents
    validate(doc)
    assert doc["spec"]["args"] == [{"name": "mlgate-token", "valueFrom": {
        "secretKeyRef": {"name": "mlgate-analysis", "key": "token"}}}]
    for metric, spec in zip(doc["spec"]["metrics"], ["error-rate:max=0.01",
                                                      "accuracy:max-drop=5%"]):
        web = metric["provider"]["web"]
        url = urlsplit(web["url"])
        assert f"{url.scheme}://{url.netloc}" == SERVER
        app, check = url.path.split("/")[2:]
        assert (url.path.split("/")[1], app, unquote(check)) == ("analysis", "churn", spec)
        assert parse_qs(url.query) == {"environment": ["prod"], "model-version": ["7"],
                                       "namespace": ["ml"], "window": ["30s"],
                                       "evidence": ["churn/bench.json"]}
        assert "{{" not in web["url"]
        assert web["headers"] == [{"key": "Authorization",
                                   "value": "Bearer {{args.mlgate-token}}"}]
        assert web["jsonPath"] == "{$.phase}"
        assert (metric["successCondition"], metric["failureCondition"]) == (
            'result == "Successful"', 'result == "Failed"')
    assert result.served == ("error-rate", "accuracy") and result.measured == ()


def test_hostile_values_stay_values() -> None:
    evil = 'x"} or vector(1) #\n---\nkind: Secret'
    result = render(config('name=n,query=m{env="{environment}"},max=1',
                           labels={"environment": evil}))
    (doc,) = list(yaml.safe_load_all(result.text))
    query = doc["spec"]["metrics"][0]["provider"]["prometheus"]["query"]
    assert query == 'm{env="x\\"} or vector(1) #\\n---\\nkind: Secret"}'
    assert result.text.count("\n---\n") == 1 and "\nkind: Secret" not in result.text


@pytest.mark.parametrize("changes,message", [
    ({"provider": "web"}, r"--provider web: give --analysis-url"),
    ({"prometheus": None}, r"--prometheus: the prometheus provider needs"),
    ({"interval": 1.5}, r"--interval: 1.5 s; the controllers take whole seconds"),
    ({"initial_delay": 0.5}, r"--initial-delay: 0.5 s"),
    ({"name": "Churn_App"}, r"--name: 'Churn_App' is not a Kubernetes object name"),
])
def test_bad_input_names_the_option(changes, message) -> None:
    with pytest.raises(BadInput, match=message):
        render(config("error-rate:max=1%", **changes))


def test_a_max_drop_without_evidence_needs_serve_analysis() -> None:
    with pytest.raises(BadInput, match=r"--check accuracy: max-drop has no range for an "
                                       r"AnalysisTemplate's prometheus provider"):
        render(config("error-rate:max=1%", "accuracy:max-drop=5%"))
