"""What the rendered manifests send is what mlgate serve-analysis reads: Flagger's webhook
payload (with the rendered metadata) and the AnalysisTemplate's web URL go through the
server's own parsers. Skipped until serve-analysis (mlgate.serve) is part of the tree."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from mlgate.verify.check import parse_check
from mlgate.verify.render.config import RenderConfig, Server
from mlgate.verify.render.run import render

flagger = pytest.importorskip("mlgate.serve.flagger")
webmetric = pytest.importorskip("mlgate.serve.webmetric")
checks = pytest.importorskip("mlgate.serve.checks")

SPECS = ("error-rate:max=1%", "p95-latency:max=500ms", "accuracy:max-drop=5%", "drift")


def config(target: str, **changes) -> RenderConfig:
    base = dict(target=target, checks=tuple(parse_check(s) for s in SPECS), app="churn",
                name="churn", namespace="ml",
                labels={"environment": "production", "model_version": "7"},
                provider="web", server=Server("http://mlgate:8080", evidence="churn/b.json",
                                              hooks=("rollout", "confirm-promotion",
                                                     "rollback")))
    base.update(changes)
    return RenderConfig(**base)


def test_flagger_webhooks_are_what_the_server_parses() -> None:
    canary = render(config("flagger")).documents[-1]
    for hook in canary["spec"]["analysis"]["webhooks"]:
        path = urlsplit(hook["url"]).path
        assert path == f"/flagger/{hook['type']}" and hook["type"] in flagger.HOOKS
        payload = {"name": "churn", "namespace": "ml", "phase": "Progressing",
                   "checksum": "abc123", "metadata": hook["metadata"]}
        webhook = flagger.parse_payload(hook["type"], payload)
        assert flagger.token_of(payload) == "${MLGATE_ANALYSIS_TOKEN}"
        resolved = checks.resolve(flagger.checks_of(webhook), {}, {}, "metadata checks")
        assert [c.name for c in resolved] == ["error-rate", "p95-latency", "accuracy",
                                              "drift"]
        assert [(c.min, c.max, c.max_drop) for c in resolved] == [
            (c.min, c.max, c.max_drop) for c in map(parse_check, SPECS)]


def test_web_metrics_are_what_the_server_parses() -> None:
    template = render(config("argo-rollouts")).documents[0]
    for metric in template["spec"]["metrics"]:
        url = urlsplit(metric["provider"]["web"]["url"])
        _, route, app, check = url.path.split("/")
        assert route == "analysis"
        request = webmetric.parse_request(app, check, url.query)
        assert request.app == "churn" and request.parameters == {
            "namespace": "ml", "environment": "production", "model-version": "7",
            "window": "30s", "evidence": "churn/b.json"}
        (resolved,) = checks.resolve([request.check], {}, {}, "check")
        assert resolved.name == metric["name"]
