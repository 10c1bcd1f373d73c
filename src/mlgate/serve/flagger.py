"""Flagger's webhooks, as its controller calls them (pkg/controller/webhook.go and
scheduler_hooks.go): a POST of {name, namespace, phase, checksum, metadata} where metadata is
the webhook's own `metadata` map (strings only), with `Content-Type: application/json` and no
other header. Flagger counts a status up to 202 as success and anything else (or a timeout)
as failure; what a failure means depends on the hook's type, which the payload does not carry,
so each type has its own path: `POST /flagger/<type>`.

| type | Flagger on 2xx | Flagger on any other status |
|---|---|---|
| confirm-rollout | scales the canary up | waits (phase Waiting), asks again |
| pre-rollout | routes traffic to the canary | halts; counts toward `threshold` |
| rollout | runs the metric checks | halts; counts toward `threshold` |
| confirm-traffic-increase | raises the weight | waits, asks again |
| confirm-promotion | promotes | waits (WaitingPromotion), rollout hooks go on |
| post-rollout | logs success | logs the failure (nothing else) |
| rollback | rolls back at once | goes on ("not signaling a rollback") |

So for every type but rollback, 200 means the checks passed; for rollback, 200 means a check
Failed. Inconclusive (no series, NaN) never passes a gate, nor does Error (Prometheus could
not be read, 503), and neither rolls back on its own: the gates halt, and Flagger's threshold
rolls back if it lasts. post-rollout judges the promoted model only after a success; after a
failed canary there is nothing of it left to judge.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mlgate.errors import BadInput
from mlgate.serve.checks import Round
from mlgate.serve.reply import Reply

GATES = ("confirm-rollout", "pre-rollout", "rollout", "confirm-traffic-increase",
         "confirm-promotion", "post-rollout")
HOOKS = (*GATES, "rollback")
# the keys a webhook's metadata may hold; one check SPEC per line in `checks`
METADATA = ("checks", "app", "evidence", "environment", "model-version", "window", "token")
_PHASE = re.compile(r"[A-Z][A-Za-z]{0,39}", re.ASCII)   # Progressing, WaitingPromotion, ...
_CHECKSUM = re.compile(r"[A-Za-z0-9]{0,64}", re.ASCII)
VALUE_MAX = 8 * 1024

HALT = 412        # the condition the hook asks about does not hold
UNMEASURED = 503  # Prometheus could not be read


@dataclass(frozen=True)
class Webhook:
    hook: str
    name: str
    namespace: str
    phase: str
    checksum: str
    metadata: Mapping[str, str] = field(repr=False)

    @property
    def canary(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def judged(self) -> bool:
        """Whether this call is answered by measuring: all but a post-rollout after a canary
        that failed (it was rolled back; the primary runs the old model)."""
        return self.hook != "post-rollout" or self.phase == "Succeeded"


def token_of(doc: object) -> str | None:
    """The token in the payload's metadata: Flagger sends no header of a webhook's choosing,
    so the webhook's `metadata.token` is the only way its calls can carry one."""
    meta = doc.get("metadata") if isinstance(doc, dict) else None
    token = meta.get("token") if isinstance(meta, dict) else None
    return token if isinstance(token, str) else None


def parse_payload(hook: str, doc: object) -> Webhook:
    """The payload as Flagger builds it (CanaryWebhookPayload), checked."""
    from mlgate.cluster.names import check_name, check_namespace

    if not isinstance(doc, dict):
        raise BadInput("the body is not a JSON object (Flagger sends {name, namespace, phase, "
                       "checksum, metadata})")
    for key in ("name", "namespace", "phase"):
        if not isinstance(doc.get(key), str):
            raise BadInput(f"the payload's {key!r} is missing or not a string")
    name = check_name(doc["name"], "the payload's name")
    namespace = check_namespace(doc["namespace"], "the payload's namespace")
    if not _PHASE.fullmatch(doc["phase"]):
        raise BadInput(f"the payload's phase {doc['phase'][:40]!r} is not a Canary phase")
    checksum = doc.get("checksum", "")
    if not isinstance(checksum, str) or not _CHECKSUM.fullmatch(checksum):
        raise BadInput("the payload's checksum is not Flagger's (letters and digits)")
    meta = doc.get("metadata") or {}
    if not isinstance(meta, dict):
        raise BadInput("the payload's metadata is not an object of strings")
    for key, value in meta.items():
        if key not in METADATA:
            raise BadInput(f"metadata {key[:40]!r} is not one of {', '.join(METADATA)}")
        if not isinstance(value, str) or len(value) > VALUE_MAX:
            raise BadInput(f"metadata {key}: not a string of at most {VALUE_MAX} characters")
    return Webhook(hook, name, namespace, doc["phase"], checksum, meta)


def checks_of(webhook: Webhook) -> list[str]:
    """metadata.checks: one SPEC per line (a YAML block scalar, `checks: |`)."""
    return [line for line in webhook.metadata.get("checks", "").splitlines() if line.strip()]


def decide(webhook: Webhook, found: Round | None) -> Reply:
    """The status Flagger acts on, and why, for one call of one hook type."""
    base = {"hook": webhook.hook, "canary": webhook.canary}
    if found is None:
        return Reply(200, {"message": f"the canary ended {webhook.phase}: nothing to judge",
                           **base, "decision": "noted"}, "noted")
    body = {"message": found.message, **base, "phase": found.phase,
            "checks": [_check(a) for a in found.checks]}
    if webhook.hook == "rollback":
        if found.phase == "Failed":
            return Reply(200, {**body, "decision": "rollback"}, "rollback")
        status = UNMEASURED if found.phase == "Error" else HALT
        return Reply(status, {**body, "decision": "continue"}, "continue")
    if found.phase == "Successful":
        return Reply(200, {**body, "decision": "proceed"}, "proceed")
    status = UNMEASURED if found.phase == "Error" else HALT
    return Reply(status, {**body, "decision": "halt"}, "halt")


def _check(a) -> dict[str, Any]:
    return {"name": a.name, "phase": a.phase, "value": a.value, "min": a.min, "max": a.max,
            "baseline": a.baseline, "message": a.message}
