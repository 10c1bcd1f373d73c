"""What `mlgate wait-sync` waits for: one controller's view of the config repo (an Argo CD
Application, a Flux Kustomization or HelmRelease) at one revision, then the workloads it rolls
out, within a time limit."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from mlgate.errors import BadInput

Controller = Literal["argocd", "argocd-kube", "kustomization", "helmrelease"]

_NUMBER = r"([0-9]{1,6}(?:\.[0-9]{1,6})?)"
_DURATION = re.compile(rf"(?:{_NUMBER}h)?(?:{_NUMBER}m(?!s))?(?:{_NUMBER}s)?(?:{_NUMBER}ms)?",
                       re.ASCII)


def parse_duration(text: str, what: str, *, minimum: float = 0.0) -> float:
    """Seconds from Go's (and kubectl's) duration spelling: `90s`, `10m`, `1h30m`, `1.5s`,
    `500ms`; a bare number is seconds. Refused (exit 2) naming the option otherwise."""
    value = text.strip()
    if re.fullmatch(r"[0-9]{1,9}(\.[0-9]{1,6})?", value, re.ASCII):
        seconds = float(value)
    else:
        m = _DURATION.fullmatch(value)
        if not value or m is None or not any(m.groups()):
            raise BadInput(f"{what} {text[:40]!r}: not a duration (e.g. 30s, 10m, 1h30m, 500ms)")
        h, mi, s, ms = (float(g) if g else 0.0 for g in m.groups())
        seconds = h * 3600 + mi * 60 + s + ms / 1000
    if seconds < minimum:
        raise BadInput(f"{what} {text[:40]!r}: at least {minimum:g} s")
    return seconds


@dataclass(frozen=True)
class Workload:
    kind: str         # deployment, inferenceservice, rollout, canary
    namespace: str
    name: str

    @property
    def label(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


@dataclass(frozen=True)
class WaitSyncConfig:
    revision: str                      # the full commit sha the promotion made
    controller: Controller
    namespace: str                     # the Application's (argocd: its appNamespace, or "")
    name: str
    workloads: tuple[Workload, ...] = ()
    repo: str | None = None            # config repo URL or path: "descendant of" is checked there
    timeout: float = 600.0
    interval: float = 5.0
    degraded_grace: float = 60.0
    reconcile: bool = False
    argocd_server: str | None = None
    argocd_project: str | None = None
    kubeconfig: str | None = None
    context: str | None = None
    environ: Mapping[str, str] = field(default_factory=dict, repr=False)
    # the command (not this core) records how the wait ended on the revision, as a git note
    # in `repo` (mlgate.audit.outcome); the canary's steps and direct callers leave it off
    record: bool = False

    @property
    def label(self) -> str:
        kind = {"argocd": "Argo CD application", "argocd-kube": "application",
                "kustomization": "kustomization", "helmrelease": "helmrelease"}[self.controller]
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{kind} {where}"
