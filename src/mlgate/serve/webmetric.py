"""Argo Rollouts' `web` metric provider (metricproviders/webmetric): `GET
/analysis/<app>/<check>?namespace=NS[&evidence=FILE&environment=ENV&model-version=V&window=D]`.

The provider takes a 2xx answer's JSON, picks `result` with the metric's `jsonPath` (the
whole body by default) and evaluates `successCondition` / `failureCondition` on it; any other
status is an Error measurement, counted toward `consecutiveErrorLimit`. So a measurement that
could be judged is 200 whatever its verdict, its phase in the body
(`successCondition: result == "Successful"` with `jsonPath: "{$.phase}"`, and
`failureCondition: result == "Failed"`: an Inconclusive one is then neither, as Argo's own
Inconclusive); one that could not be taken (Prometheus unreachable) is 503, and a request
that names no known check, or a bad namespace, is 400: an Error, not a verdict.

`{check}` is a built-in SPEC (`error-rate:max=1%25`, the `%` escaped in a URL) or the name of a
check the server defines; its limits are mlgate's, the same as `mlgate verify --check`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote

from mlgate.errors import BadInput
from mlgate.serve.checks import Round
from mlgate.serve.reply import Reply

PARAMETERS = ("namespace", "evidence", "environment", "model-version", "window")
# a Kubernetes label value: what an `app` label holds
_APP = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?", re.ASCII)


def check_app(text: str, what: str) -> str:
    """An app as its pods' `app` label holds it."""
    if not _APP.fullmatch(text):
        raise BadInput(f"{what} {text[:60]!r}: not a Kubernetes label value (letters, "
                       "digits, '-', '_' and '.', at most 63)")
    return text


@dataclass(frozen=True)
class Request:
    app: str
    check: str
    parameters: dict[str, str]


def parse_request(app: str, check: str, query: str) -> Request:
    """The path's two segments (percent-decoded) and the query's parameters, each once."""
    from mlgate.cluster.names import check_namespace

    try:
        app, check = unquote(app, errors="strict"), unquote(check, errors="strict")
    except UnicodeDecodeError:
        raise BadInput("the path is not URL-encoded UTF-8") from None
    check_app(app, "app")
    if not check.strip() or "\n" in check:
        raise BadInput("the check is empty or has a line break")
    try:
        given = parse_qs(query, keep_blank_values=True, strict_parsing=bool(query),
                         errors="strict", max_num_fields=len(PARAMETERS) * 2)
    except ValueError:
        raise BadInput("the query string is not key=value&... (URL-encoded UTF-8)") from None
    parameters: dict[str, str] = {}
    for key, values in given.items():
        if key not in PARAMETERS:
            raise BadInput(f"query parameter {key[:40]!r} is not one of {', '.join(PARAMETERS)}")
        if len(values) != 1:
            raise BadInput(f"query parameter {key} given {len(values)} times")
        parameters[key] = values[0]
    if "namespace" in parameters:
        check_namespace(parameters["namespace"], "query parameter namespace")
    return Request(app, check, parameters)


def answer(request: Request, found: Round) -> Reply:
    """The measurement as the provider reads it."""
    a = found.checks[0]
    body = {"check": a.name, "app": request.app, "phase": a.phase, "value": a.value,
            "min": a.min, "max": a.max, "baseline": a.baseline, "unit": a.unit,
            "message": a.message, "time": a.time, "query": a.query}
    if a.phase == "Error":
        return Reply(503, {"error": a.message, **body}, "error")
    return Reply(200, body, "measured")
