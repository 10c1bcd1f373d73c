"""A check's query as each controller takes it, filled by verify's own rules (promql.fill:
label values PromQL-escaped and allowed only inside a double-quoted string).

Flagger renders a MetricTemplate's query as a Go template with the canary's facts as
functions: `{{ namespace }}` (the Canary's namespace), `{{ target }}` (its targetRef, the
workload whose pods serve the canary) and `{{ interval }}` (the metric's interval, the query
window). mlgate's `{namespace}`, `{app}` and `{window}` become those, so one MetricTemplate
serves the Canary wherever it runs; `{environment}` and `{model_version}` have no Flagger
counterpart and are filled with the values given, escaped. Any other `{{` in the text is
written as the template's own escape, so Flagger prints it instead of running it.

Argo Rollouts substitutes `{{args.NAME}}` and fails the run on any `{{` it cannot resolve,
with no way to escape one, so every placeholder is filled here and a query still holding `{{`
is refused.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping

from mlgate.errors import BadInput
from mlgate.verify.promql import fill

# mlgate's placeholder -> the Go template action Flagger fills it with
FLAGGER_ACTIONS = {"namespace": "{{ namespace }}", "app": "{{ target }}",
                   "window": "{{ interval }}"}
_GO_LEFT = '{{"{"}}'      # a literal "{" that would otherwise start "{{"


def flagger_query(template: str, labels: Mapping[str, str], what: str) -> str:
    """The MetricTemplate query: Flagger's actions for `{namespace}`, `{app}` and `{window}`,
    the given values (escaped) for the other labels."""
    token = _token(template)
    marks = {key: f"{token}{i}z" for i, key in enumerate(FLAGGER_ACTIONS)}
    prepared = template.replace("{window}", marks["window"])
    given = {k: v for k, v in labels.items() if k not in FLAGGER_ACTIONS}
    filled = fill(prepared, {**given, "namespace": marks["namespace"], "app": marks["app"]},
                  1.0, what)
    pieces = re.split(f"{token}([0-9])z", filled)
    keys = list(FLAGGER_ACTIONS)
    out = []
    for i, piece in enumerate(pieces):
        if i % 2:
            out.append(FLAGGER_ACTIONS[keys[int(piece)]])
        else:
            out.append(_go_literal(piece, action_follows=i + 1 < len(pieces)))
    return "".join(out)


def argo_query(template: str, labels: Mapping[str, str], window: float, what: str) -> str:
    """The prometheus provider's query, every placeholder filled."""
    filled = fill(template, dict(labels), window, what)
    if "{{" in filled:
        raise BadInput(f"{what}: the query holds '{{{{', which Argo Rollouts reads as an "
                       "argument ({{args.NAME}}) and cannot escape; write the query without it")
    return filled


def _token(template: str) -> str:
    """A marker found nowhere in the template, of characters escape() leaves alone."""
    while True:
        token = "mlgate" + secrets.token_hex(8)
        if token not in template:
            return token


def _go_literal(text: str, action_follows: bool) -> str:
    """`text` as Go template text: each "{" that would make a "{{" with the next character
    (or with the action after it) written as an action printing "{"."""
    out = []
    for i, ch in enumerate(text):
        nxt = text[i + 1] if i + 1 < len(text) else ("{" if action_follows else "")
        out.append(_GO_LEFT if ch == "{" and nxt == "{" else ch)
    return "".join(out)
