"""A Flagger Canary (flagger.app/v1beta1) whose analysis holds mlgate's checks: one
MetricTemplate per check Flagger measures itself (provider prometheus, the range as the
metric's `thresholdRange`), and webhooks that ask mlgate serve-analysis for a verdict.

Flagger sends a webhook no header of its choosing, so serve-analysis takes its token from the
webhook's `metadata.token`; what is written there is a placeholder (`--webhook-token`,
`${MLGATE_ANALYSIS_TOKEN}` by default) for the deployment to fill from a Secret (e.g. Flux's
`postBuild.substituteFrom`), never the token itself: these files are committed to git.

The Canary carries only what mlgate knows: its name, the Deployment it targets (the app) and
the analysis. A Canary needs a service too (`--port`, or add it by hand, or apply this file as
a patch over the team's own Canary); `mlgate rewrite` edits these files like any other.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from mlgate.errors import BadInput
from mlgate.verify.render.checks import Rendered, no_range
from mlgate.verify.render.config import RenderConfig, Server
from mlgate.verify.render.names import go_duration, resource_name
from mlgate.verify.render.queries import flagger_query

API_VERSION = "flagger.app/v1beta1"
# Flagger's default webhook timeout; a rollout hook's timeout must stay inside the interval
HOOK_TIMEOUT = 10


def documents(config: RenderConfig, rendered: tuple[Rendered, ...]) -> list[dict[str, Any]]:
    templates: list[dict[str, Any]] = []
    metrics: list[dict[str, Any]] = []
    interval = go_duration(config.interval, "--interval")
    window = go_duration(config.query_window, "--window" if config.window else "--interval")
    for r in rendered:
        if config.provider == "web":
            continue                  # serve-analysis judges every check, through the hooks
        if not r.has_range:
            if config.server is None:
                raise no_range(r, "Flagger's thresholdRange")
            continue                  # judged by serve-analysis (the webhooks) alone
        name = resource_name(f"{config.name}-{r.check.name}", "--name")
        templates.append(_metric_template(config, r, name))
        ref: dict[str, Any] = {"name": name}
        if config.namespace:
            ref["namespace"] = config.namespace
        metrics.append({"name": r.check.name, "templateRef": ref,
                        "thresholdRange": _range(r), "interval": window})
    analysis: dict[str, Any] = {
        "interval": interval,
        "threshold": (config.threshold if config.threshold is not None
                      else config.limits.failure_limit + 1),
        **_steps(config),
    }
    if metrics:
        analysis["metrics"] = metrics
    if config.server is not None:
        analysis["webhooks"] = _webhooks(config, config.server, rendered)
    elif config.provider == "web":
        raise BadInput("--provider web: give --analysis-url (mlgate serve-analysis's address "
                       "as the cluster reaches it)")
    spec: dict[str, Any] = {
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": config.app},
    }
    if config.port is not None:
        spec["service"] = {"port": config.port}
    spec["analysis"] = analysis
    canary = {"apiVersion": API_VERSION, "kind": "Canary",
              "metadata": _metadata(resource_name(config.name, "--name"), config.namespace),
              "spec": spec}
    return [*templates, canary]


def _metadata(name: str, namespace: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name}
    if namespace:
        out["namespace"] = namespace
    out["labels"] = {"app.kubernetes.io/managed-by": "mlgate"}
    return out


def _metric_template(config: RenderConfig, r: Rendered, name: str) -> dict[str, Any]:
    if not config.prometheus:
        raise BadInput("--prometheus: Flagger's MetricTemplates need Prometheus's address as "
                       "the cluster reaches it (or --provider web to let serve-analysis "
                       "measure)")
    query = flagger_query(r.check.query, config.labels, f"--check {r.check.name}")
    return {"apiVersion": API_VERSION, "kind": "MetricTemplate",
            "metadata": _metadata(name, config.namespace),
            "spec": {"provider": {"type": "prometheus", "address": config.prometheus},
                     "query": query}}


def _range(r: Rendered) -> dict[str, float]:
    out: dict[str, float] = {}
    if r.low is not None:
        out["min"] = r.low
    if r.high is not None:
        out["max"] = r.high
    return out


def _steps(config: RenderConfig) -> dict[str, Any]:
    steps = config.steps
    if steps.step is not None:
        out: dict[str, Any] = {"stepWeight": steps.step}
        if steps.max_weight is not None:
            out["maxWeight"] = steps.max_weight
        return out
    # Flagger takes the last step weight as the maximum; written out so it reads the same
    return {"stepWeights": list(steps.weights), "maxWeight": steps.weights[-1]}


def _webhooks(config: RenderConfig, server: Server, rendered: tuple[Rendered, ...]
              ) -> list[dict[str, Any]]:
    # the keys serve-analysis reads (the namespace is the payload's own: the Canary's)
    metadata = {"app": config.app,
                "checks": "\n".join(r.request for r in rendered),
                "window": go_duration(config.query_window, "--window"),
                "token": server.webhook_token}
    for key, label in (("environment", "environment"), ("model-version", "model_version")):
        if config.labels.get(label):
            metadata[key] = config.labels[label]
    if server.evidence:
        metadata["evidence"] = server.evidence
    timeout = max(1, min(HOOK_TIMEOUT, int(config.interval) // 2))
    return [{"name": f"mlgate-{hook}", "type": hook,
             "url": f"{server.url}/flagger/{quote(hook, safe='')}",
             "timeout": f"{timeout}s", "metadata": dict(metadata)}
            for hook in server.hooks]
