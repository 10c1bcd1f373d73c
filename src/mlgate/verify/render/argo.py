"""An Argo Rollouts AnalysisTemplate (argoproj.io/v1alpha1): one metric per check, with
verify's count and limits, measured by Argo Rollouts from Prometheus or asked of mlgate
serve-analysis through the `web` provider.

Conditions are built from numbers and `result` alone, never from input text, and they give
each measurement the phase verify's judge() gives it: a prometheus query answers a vector
(`result` is its values), Successful when it has values and every one is in range, Failed
when any is outside it, and neither (Argo Rollouts' Inconclusive) when it is empty or NaN
(NaN compares false both ways). serve-analysis answers with its own verdict, so the `web`
metric reads that verdict's phase.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from mlgate.errors import BadInput
from mlgate.verify.render.checks import Rendered, no_range, number_text
from mlgate.verify.render.config import RenderConfig, Server
from mlgate.verify.render.names import go_duration, resource_name
from mlgate.verify.render.queries import argo_query

API_VERSION = "argoproj.io/v1alpha1"
TOKEN_ARG = "mlgate-token"
# what serve-analysis's GET /analysis/{app}/{check} answers: {"phase": "Successful", ...}
WEB_JSON_PATH = "{$.phase}"
WEB_SUCCESS = 'result == "Successful"'
WEB_FAILURE = 'result == "Failed"'
WEB_TIMEOUT = 10


def conditions(low: float | None, high: float | None) -> tuple[str, str]:
    """(successCondition, failureCondition) for a range over a vector's values."""
    inside, outside = [], []
    if low is not None:
        inside.append(f"# >= {number_text(low)}")
        outside.append(f"# < {number_text(low)}")
    if high is not None:
        inside.append(f"# <= {number_text(high)}")
        outside.append(f"# > {number_text(high)}")
    if not inside:
        raise ValueError("a range needs a limit")
    return (f"len(result) > 0 && all(result, {{{' && '.join(inside)}}})",
            f"any(result, {{{' || '.join(outside)}}})")


def documents(config: RenderConfig, rendered: tuple[Rendered, ...]) -> list[dict[str, Any]]:
    server = config.server
    if config.provider == "web" and server is None:
        raise BadInput("--provider web: give --analysis-url (mlgate serve-analysis's address "
                       "as the cluster reaches it)")
    if config.provider == "prometheus" and not config.prometheus:
        raise BadInput("--prometheus: the prometheus provider needs Prometheus's address as "
                       "the cluster reaches it (or --provider web to let serve-analysis "
                       "measure)")
    interval = go_duration(config.interval, "--interval")
    metrics = []
    for r in rendered:
        metric: dict[str, Any] = {"name": r.check.name, "interval": interval}
        if config.initial_delay:
            metric["initialDelay"] = go_duration(config.initial_delay, "--initial-delay")
        metric.update({"count": config.limits.count,
                       "failureLimit": config.limits.failure_limit,
                       "inconclusiveLimit": config.limits.inconclusive_limit,
                       "consecutiveErrorLimit": config.limits.consecutive_error_limit})
        if config.provider == "web":
            assert server is not None
            metric.update(successCondition=WEB_SUCCESS, failureCondition=WEB_FAILURE,
                          provider={"web": _web(config, server, r)})
        else:
            if not r.has_range:
                raise no_range(r, "an AnalysisTemplate's prometheus provider")
            success, failure = conditions(r.low, r.high)
            query = argo_query(r.check.query, _labels(config), config.query_window,
                               f"--check {r.check.name}")
            metric.update(successCondition=success, failureCondition=failure,
                          provider={"prometheus": {"address": config.prometheus,
                                                   "query": query}})
        metrics.append(metric)
    metadata: dict[str, Any] = {"name": resource_name(config.name, "--name")}
    if config.namespace:
        metadata["namespace"] = config.namespace
    metadata["labels"] = {"app.kubernetes.io/managed-by": "mlgate"}
    spec: dict[str, Any] = {}
    if config.provider == "web":
        assert server is not None
        secret, key = server.token_secret
        spec["args"] = [{"name": TOKEN_ARG,
                         "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}]
    spec["metrics"] = metrics
    return [{"apiVersion": API_VERSION, "kind": "AnalysisTemplate", "metadata": metadata,
             "spec": spec}]


def _labels(config: RenderConfig) -> dict[str, str]:
    labels = {"app": config.app, **config.labels}
    if config.namespace:
        labels["namespace"] = config.namespace
    return labels


def _web(config: RenderConfig, server: Server, r: Rendered) -> dict[str, Any]:
    params = {"window": go_duration(config.query_window, "--window")}
    if config.namespace:
        params["namespace"] = config.namespace
    for key, label in (("environment", "environment"), ("model-version", "model_version")):
        if config.labels.get(label):
            params[key] = config.labels[label]
    if server.evidence:
        params["evidence"] = server.evidence
    url = (f"{server.url}/analysis/{quote(config.app, safe='')}/{quote(r.request, safe='')}"
           f"?{urlencode(sorted(params.items()))}")
    return {"url": url,
            "headers": [{"key": "Authorization", "value": f"Bearer {{{{args.{TOKEN_ARG}}}}}"}],
            "timeoutSeconds": max(1, min(WEB_TIMEOUT, int(config.interval) // 2)),
            "jsonPath": WEB_JSON_PATH}
