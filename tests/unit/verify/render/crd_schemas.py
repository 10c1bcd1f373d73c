"""The parts of the controllers' CRDs that render-analysis writes, as JSON Schemas, to check
every generated document structurally: required fields, types, patterns and enums as the CRDs
state them (fluxcd/flagger artifacts/flagger/crd.yaml: canaries and metrictemplates
v1beta1; argoproj/argo-rollouts manifests/crds/analysis-template-crd.yaml v1alpha1).

Unlike the CRDs (which keep unknown fields out only by pruning them), every object here is
closed (`additionalProperties: false`): a field name spelled otherwise than in the API
reference fails instead of silently vanishing in the cluster.
"""

from __future__ import annotations

STRING = {"type": "string"}
NUMBER = {"type": "number"}
INT_OR_STRING = {"anyOf": [{"type": "integer"}, {"type": "string"}]}
# Flagger's own pattern for interval and timeout (not anchored at the end, as in the CRD)
FLAGGER_DURATION = {"type": "string", "pattern": "^[0-9]+(m|s)"}
GO_DURATION = {"type": "string", "pattern": r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"}
DNS_SUBDOMAIN = {"type": "string", "maxLength": 253,
                 "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"}
DNS_LABEL = {"type": "string", "maxLength": 63, "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"}


def _closed(properties: dict, required: list[str] | None = None, **more) -> dict:
    out = {"type": "object", "additionalProperties": False, "properties": properties, **more}
    if required:
        out["required"] = required
    return out


METADATA = _closed({"name": DNS_SUBDOMAIN, "namespace": DNS_LABEL,
                    "labels": {"type": "object", "additionalProperties": STRING}}, ["name"])

FLAGGER_HOOK_TYPES = ["", "confirm-rollout", "pre-rollout", "rollout", "confirm-promotion",
                      "post-rollout", "event", "rollback", "confirm-traffic-increase"]

CANARY = _closed({
    "apiVersion": {"const": "flagger.app/v1beta1"},
    "kind": {"const": "Canary"},
    "metadata": METADATA,
    "spec": _closed({
        "targetRef": _closed({"apiVersion": STRING,
                              "kind": {"enum": ["DaemonSet", "Deployment", "Service"]},
                              "name": STRING}, ["apiVersion", "kind", "name"]),
        "service": {"type": "object", "required": ["port"], "properties": {"port": NUMBER}},
        "analysis": _closed({
            "interval": FLAGGER_DURATION,
            "iterations": NUMBER,
            "threshold": NUMBER,
            "maxWeight": NUMBER,
            "stepWeight": NUMBER,
            "stepWeights": {"type": "array", "items": NUMBER},
            "metrics": {"type": "array", "items": _closed({
                "name": STRING,
                "interval": FLAGGER_DURATION,
                "thresholdRange": _closed({"min": NUMBER, "max": NUMBER}),
                "templateRef": _closed({"name": STRING, "namespace": STRING}, ["name"]),
            }, ["name"])},
            "webhooks": {"type": "array", "items": _closed({
                "name": STRING,
                "type": {"type": "string", "enum": FLAGGER_HOOK_TYPES},
                "url": {"type": "string", "format": "uri"},
                "timeout": FLAGGER_DURATION,
                "metadata": {"type": "object", "additionalProperties": STRING},
            }, ["name", "url"])},
        }, oneOf=[{"required": ["interval", "threshold", "iterations"]},
                  {"required": ["interval", "threshold", "stepWeight"]},
                  {"required": ["interval", "threshold", "stepWeights"]}]),
    }, ["targetRef", "analysis"]),
}, ["apiVersion", "kind", "metadata", "spec"])

METRIC_TEMPLATE = _closed({
    "apiVersion": {"const": "flagger.app/v1beta1"},
    "kind": {"const": "MetricTemplate"},
    "metadata": METADATA,
    "spec": _closed({
        "provider": _closed({"type": {"enum": ["prometheus", "influxdb", "datadog",
                                               "externalmetrics", "stackdriver", "cloudwatch",
                                               "newrelic", "graphite", "dynatrace", "keptn",
                                               "splunk"]},
                             "address": STRING}, ["type"]),
        "query": STRING,
    }, ["provider", "query"]),
}, ["apiVersion", "kind", "metadata", "spec"])

HEADER = _closed({"key": STRING, "value": STRING}, ["key", "value"])

ANALYSIS_TEMPLATE = _closed({
    "apiVersion": {"const": "argoproj.io/v1alpha1"},
    "kind": {"const": "AnalysisTemplate"},
    "metadata": METADATA,
    "spec": _closed({
        "args": {"type": "array", "items": _closed({
            "name": STRING,
            "value": STRING,
            "valueFrom": _closed({"secretKeyRef": _closed({"name": STRING, "key": STRING},
                                                          ["key", "name"])}),
        }, ["name"])},
        "metrics": {"type": "array", "minItems": 1, "items": _closed({
            "name": STRING,
            "interval": GO_DURATION,
            "initialDelay": GO_DURATION,
            "count": INT_OR_STRING,
            "failureLimit": INT_OR_STRING,
            "inconclusiveLimit": INT_OR_STRING,
            "consecutiveErrorLimit": INT_OR_STRING,
            "successCondition": STRING,
            "failureCondition": STRING,
            "provider": _closed({
                "prometheus": _closed({"address": STRING, "query": STRING,
                                       "timeout": {"type": "integer"}}),
                "web": _closed({"url": STRING, "headers": {"type": "array", "items": HEADER},
                                "timeoutSeconds": {"type": "integer"}, "jsonPath": STRING},
                               ["url"]),
            }, minProperties=1, maxProperties=1),
        }, ["name", "provider"])},
    }),
}, ["apiVersion", "kind", "metadata", "spec"])

BY_KIND = {"Canary": CANARY, "MetricTemplate": METRIC_TEMPLATE,
           "AnalysisTemplate": ANALYSIS_TEMPLATE}


def validate(doc: dict) -> None:
    """Raise jsonschema's ValidationError when `doc` is not what its kind's CRD takes."""
    import jsonschema

    jsonschema.Draft202012Validator(
        BY_KIND[doc["kind"]], format_checker=jsonschema.FormatChecker()).validate(doc)
