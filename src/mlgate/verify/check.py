"""A check: one PromQL query and the range its value must stay in, parsed from a SPEC.

    error-rate:max=1%            p95-latency:max=500ms        accuracy:max-drop=5%
    drift                        (the built-in's default: max 0.5)
    name=gpu-mem,query=max(gpu_memory_bytes{app="{app}"}),max=8e9,on-failure=none

Ranges, never an evaluated expression (Flagger's thresholdRange, not Argo Rollouts'
successCondition): a SPEC is data a pipeline may take from a pull request, and a range cannot
run anything. Built-in queries follow mlgate's documented metric names and can be replaced
with `query=` (or mlgate.yaml's `verify.queries`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from mlgate.errors import BadInput

Action = Literal["rollback", "retrain", "none"]

_SEL = 'namespace="{namespace}",app="{app}"'
BUILTIN_QUERIES: dict[str, str] = {
    "error-rate": (f'sum(rate(http_requests_total{{{_SEL},code=~"5.."}}[{{window}}])) / '
                   f'sum(rate(http_requests_total{{{_SEL}}}[{{window}}]))'),
    "p95-latency": (f'histogram_quantile(0.95, sum by (le) '
                    f'(rate(http_request_duration_seconds_bucket{{{_SEL}}}[{{window}}])))'),
    "accuracy": f'max(mlgate_model_accuracy{{{_SEL}}})',
    "drift": f'max(mlgate_model_drift_score{{{_SEL}}})',
    # read from the Kubernetes API, not Prometheus: the Deployment's unavailable replicas
    "replicas-unavailable": "kube: deployment {namespace}/{app}",
}
UNITS = {"p95-latency": "seconds", "error-rate": "ratio"}
DEFAULT_ACTION: dict[str, Action] = {"drift": "retrain"}
DEFAULT_RANGE: dict[str, tuple[float | None, float | None]] = {"drift": (None, 0.5)}

_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", re.ASCII)
_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?", re.ASCII)
_KEYS = {"name", "query", "min", "max", "max-drop", "on-failure"}


@dataclass(frozen=True)
class Check:
    name: str
    query: str                # the template, placeholders not yet substituted
    min: float | None = None
    max: float | None = None
    max_drop: float | None = None       # accuracy: how far below the evidence's score
    drop_relative: bool = True          # max-drop given in % (relative) or as a number
    unit: str = ""
    on_failure: Action = "rollback"
    builtin: bool = False

    @property
    def kube(self) -> bool:
        return self.name == "replicas-unavailable" and self.builtin


def number(text: str, what: str, unit: str = "") -> float:
    """A limit: a plain number, `N%` (a ratio: 1% is 0.01), or for seconds `500ms`/`2s`."""
    value = text.strip()
    scale = 1.0
    if value.endswith("%"):
        value, scale = value[:-1], 0.01
    elif unit == "seconds" and value.endswith("ms"):
        value, scale = value[:-2], 0.001
    elif unit == "seconds" and value.endswith("s"):
        value = value[:-1]
    if not _NUMBER.fullmatch(value):
        raise BadInput(f"{what} {text[:40]!r}: not a number (e.g. 0.01, 1%, 500ms)")
    result = float(value) * scale
    if not math.isfinite(result):
        raise BadInput(f"{what} {text[:40]!r}: not a finite number")
    return result


def parse_check(spec: str, queries: dict[str, str] | None = None) -> Check:
    """A Check from `NAME[:key=value,...]` (a built-in) or `name=N,query=Q,...` (any)."""
    what = f"--check {spec[:80]!r}"
    text = spec.strip()
    if not text:
        raise BadInput("--check '': empty")
    if text.startswith("name="):
        name, rest = "", text
    else:
        name, _, rest = text.partition(":")
        name = name.strip()
        if name not in BUILTIN_QUERIES:
            raise BadInput(f"{what}: unknown check {name[:40]!r} (built-in: "
                           f"{', '.join(BUILTIN_QUERIES)}; or name=N,query=PROMQL,min=,max=)")
    fields = _fields(rest, what)
    if name and "name" in fields:
        raise BadInput(f"{what}: a built-in check takes no name=")
    name = name or fields["name"]       # a custom SPEC starts with name=
    if not _NAME.fullmatch(name):
        raise BadInput(f"{what}: name {name[:40]!r} must be lowercase letters, digits and '-'")
    builtin = name in BUILTIN_QUERIES and "name" not in fields
    if not builtin and name in BUILTIN_QUERIES:
        raise BadInput(f"{what}: {name!r} is a built-in check; write {name}:max=... instead")
    unit = UNITS.get(name, "")          # a custom check never has a built-in's name
    query = fields.get("query") or ((queries or {}).get(name) if builtin else None)
    if query is None:
        if not builtin:
            raise BadInput(f"{what}: a custom check needs query=PROMQL")
        query = BUILTIN_QUERIES[name]
    if builtin and name == "replicas-unavailable" and ("query" in fields or
                                                    name in (queries or {})):
        raise BadInput(f"{what}: replicas-unavailable is read from the Kubernetes API; it "
                       "takes no query")
    low = number(fields["min"], f"{what} min", unit) if "min" in fields else None
    high = number(fields["max"], f"{what} max", unit) if "max" in fields else None
    drop, relative = None, True
    if "max-drop" in fields:
        if name != "accuracy" or not builtin:
            raise BadInput(f"{what}: max-drop goes with the accuracy check (it is relative to "
                           "the benchmark evidence's score)")
        relative = fields["max-drop"].endswith("%")
        drop = number(fields["max-drop"], f"{what} max-drop")
        if drop < 0 or (relative and drop >= 1):
            raise BadInput(f"{what}: max-drop must be at least 0 and below 100%")
    if low is None and high is None and drop is None:
        low, high = DEFAULT_RANGE.get(name, (None, None))
        if low is None and high is None:
            raise BadInput(f"{what}: give min=, max=" + (" or max-drop=" if name == "accuracy"
                                                         else ""))
    if low is not None and high is not None and low > high:
        raise BadInput(f"{what}: min {low:g} is above max {high:g}")
    action = fields.get("on-failure") or DEFAULT_ACTION.get(name, "rollback")
    if action not in ("rollback", "retrain", "none"):
        raise BadInput(f"{what}: on-failure {action[:20]!r}: rollback, retrain or none")
    return Check(name=name, query=query, min=low, max=high, max_drop=drop,
                 drop_relative=relative, unit=unit, on_failure=action,  # type: ignore[arg-type]
                 builtin=builtin)


def parse_queries(given: Iterable[str]) -> dict[str, str]:
    """`--query CHECK=PROMQL` values: a built-in check's query replaced (not the Kubernetes
    one's: it has none)."""
    out: dict[str, str] = {}
    for text in given:
        name, eq, query = text.partition("=")
        name = name.strip()
        if not eq or name not in BUILTIN_QUERIES or name == "replicas-unavailable":
            raise BadInput(f"--query {text[:60]!r}: CHECK=PROMQL for a built-in check "
                           f"({', '.join(q for q in BUILTIN_QUERIES if q != 'replicas-unavailable')})")
        if not query.strip():
            raise BadInput(f"--query {name}: empty query")
        out[name] = query.strip()
    return out


def _fields(text: str, what: str) -> dict[str, str]:
    """`k=v,k=v`; the query is the last key when it holds commas (PromQL often does):
    everything after `query=` up to a `,min=`/`,max=`/`,on-failure=`/`,name=` belongs to it."""
    out: dict[str, str] = {}
    rest = text
    while rest:
        key, eq, tail = rest.partition("=")
        key = key.strip()
        if key not in _KEYS:
            raise BadInput(f"{what}: {key[:30]!r} is not one of {', '.join(sorted(_KEYS))}")
        if not eq:
            raise BadInput(f"{what}: {key} needs a value ({key}=...)")
        if key in out:
            raise BadInput(f"{what}: {key} given twice")
        if key == "query":
            cut = _next_key(tail)
            value, rest = tail[:cut], tail[cut + 1:]
        else:
            value, _, rest = tail.partition(",")
        if not value.strip():
            raise BadInput(f"{what}: {key}= is empty")
        out[key] = value.strip()
    return out


def _next_key(tail: str) -> int:
    """Where the query ends: at the first `,key=` for another key outside brackets, braces
    and quotes; else at the end."""
    depth, quote, i = 0, "", 0
    while i < len(tail):
        ch = tail[i]
        if quote:
            if ch == "\\" and quote != "`":     # a raw string (`...`) has no escapes
                i += 2
                continue
            if ch == quote:
                quote = ""
        elif ch in "\"'`":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth <= 0:
            key, eq, _ = tail[i + 1:].partition("=")
            if eq and key.strip() in _KEYS:
                return i
        i += 1
    return len(tail)
