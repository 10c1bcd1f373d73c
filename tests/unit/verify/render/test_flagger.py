"""The Flagger Canary and its MetricTemplates: every document as the CRDs take it, the ranges
as thresholdRange, the traffic steps, and webhooks that tell serve-analysis what to judge."""

from __future__ import annotations

import pytest
import yaml

from mlgate.errors import BadInput
from mlgate.verify.analysis import Limits
from mlgate.verify.check import parse_check
from mlgate.verify.render.config import RenderConfig, Server, Steps
from mlgate.verify.render.run import render

from .crd_schemas import validate

PROMETHEUS = "http://prometheus.monitoring:9090"
SERVER = Server("http://mlgate-analysis.mlgate:8080", evidence="churn/bench.json")


def config(*specs: str, **changes) -> RenderConfig:
    base = dict(target="flagger", checks=tuple(parse_check(s) for s in specs), app="churn",
                name="churn", namespace="ml", labels={"environment": "production"},
                prometheus=PROMETHEUS)
    base.update(changes)
    return RenderConfig(**base)


def by_kind(docs) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for doc in docs:
        out.setdefault(doc["kind"], []).append(doc)
    return out


def test_metric_templates_and_a_canary_analysis_with_webhooks() -> None:
    result = render(config("error-rate:max=1%", "p95-latency:min=1ms,max=500ms",
                           "accuracy:max-drop=5%", server=SERVER, interval=60.0,
                           limits=Limits(failure_limit=2), port=8080))
    docs = list(yaml.safe_load_all(result.text))
    assert docs == list(result.documents)
    for doc in docs:
        validate(doc)
    kinds = by_kind(docs)
    assert [t["metadata"]["name"] for t in kinds["MetricTemplate"]] == [
        "churn-error-rate", "churn-p95-latency"]
    template = kinds["MetricTemplate"][0]
    assert template["metadata"]["namespace"] == "ml"
    assert template["spec"]["provider"] == {"type": "prometheus", "address": PROMETHEUS}
    assert 'app="{{ target }}"' in template["spec"]["query"]
    (canary,) = kinds["Canary"]
    assert docs[-1]["kind"] == "Canary"       # after the templates it names
    assert canary["metadata"]["name"] == "churn"
    assert canary["spec"]["targetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                           "name": "churn"}
    assert canary["spec"]["service"] == {"port": 8080}
    analysis = canary["spec"]["analysis"]
    assert (analysis["interval"], analysis["threshold"]) == ("1m", 3)
    assert (analysis["stepWeights"], analysis["maxWeight"]) == ([1, 5, 25], 25)
    assert analysis["metrics"] == [
        {"name": "error-rate", "templateRef": {"name": "churn-error-rate", "namespace": "ml"},
         "thresholdRange": {"max": 0.01}, "interval": "1m"},
        {"name": "p95-latency", "templateRef": {"name": "churn-p95-latency", "namespace": "ml"},
         "thresholdRange": {"min": 0.001, "max": 0.5}, "interval": "1m"}]
    hooks = analysis["webhooks"]
    assert [(h["name"], h["type"], h["url"], h["timeout"]) for h in hooks] == [
        ("mlgate-rollout", "rollout", f"{SERVER.url}/flagger/rollout", "10s"),
        ("mlgate-confirm-promotion", "confirm-promotion",
         f"{SERVER.url}/flagger/confirm-promotion", "10s")]
    # what serve-analysis reads; the namespace is the payload's own, the token a placeholder
    assert hooks[0]["metadata"] == {
        "app": "churn", "environment": "production", "window": "1m",
        "evidence": "churn/bench.json", "token": "${MLGATE_ANALYSIS_TOKEN}",
        "checks": "error-rate:max=0.01\np95-latency:min=0.001,max=0.5\naccuracy:max-drop=5%"}
    # accuracy has no range without evidence: serve-analysis judges it (through the hooks)
    assert result.measured == ("error-rate", "p95-latency")
    assert result.served == ("error-rate", "p95-latency", "accuracy")


def test_with_the_evidence_the_controller_applies_max_drop_itself() -> None:
    result = render(config("accuracy:max-drop=5%", baselines={"accuracy": 0.9},
                           evidence="b.json"))
    canary = result.documents[-1]
    assert canary["spec"]["analysis"]["metrics"][0]["thresholdRange"] == {
        "min": pytest.approx(0.855)}
    assert "webhooks" not in canary["spec"]["analysis"] and "service" not in canary["spec"]
    for doc in result.documents:
        validate(doc)


def test_a_fixed_step_and_a_web_provider_only_hooks() -> None:
    result = render(config("error-rate:max=1%", "drift", provider="web", prometheus=None,
                           server=Server(SERVER.url, hooks=("pre-rollout", "rollout",
                                                            "rollback")),
                           steps=Steps(weights=(), step=10, max_weight=50), threshold=5,
                           interval=6.0))
    (canary,) = result.documents
    validate(canary)
    analysis = canary["spec"]["analysis"]
    assert (analysis["stepWeight"], analysis["maxWeight"], analysis["threshold"]) == (10, 50, 5)
    assert "stepWeights" not in analysis and "metrics" not in analysis
    assert [h["type"] for h in analysis["webhooks"]] == ["pre-rollout", "rollout", "rollback"]
    assert {h["timeout"] for h in analysis["webhooks"]} == {"3s"}   # inside the 6 s interval
    assert result.measured == () and result.served == ("error-rate", "drift")


@pytest.mark.parametrize("changes,message", [
    ({"provider": "web", "prometheus": None}, r"--provider web: give --analysis-url"),
    ({"prometheus": None}, r"--prometheus: Flagger's MetricTemplates need"),
    ({"window": 90.5}, r"--window: 90.5 s; the controllers take whole seconds"),
    ({"name": "x" * 250}, r"--name: 'x+\.\.\.' is not a Kubernetes object name"),
])
def test_bad_input_names_the_option(changes, message) -> None:
    with pytest.raises(BadInput, match=message):
        render(config("error-rate:max=1%", **changes))


def test_a_max_drop_nobody_can_judge_is_refused() -> None:
    with pytest.raises(BadInput, match=r"--check accuracy: max-drop has no range for "
                                       r"Flagger's thresholdRange without the benchmark "
                                       r"evidence's score"):
        render(config("error-rate:max=1%", "accuracy:max-drop=5%"))
