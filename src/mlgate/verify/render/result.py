"""What `mlgate render-analysis` wrote: the manifests, their text, where they went, and which
checks the controller judges from Prometheus and which it asks serve-analysis about."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Manifest:
    kind: str
    name: str
    namespace: str | None


@dataclass(frozen=True)
class RenderResult:
    target: str                       # flagger | argo-rollouts
    provider: str                     # prometheus | web
    manifests: tuple[Manifest, ...]
    documents: tuple[dict[str, Any], ...]
    text: str                         # the YAML written
    output: str | None                # the file written, or None: standard output
    measured: tuple[str, ...]         # checks the controller measures from Prometheus
    served: tuple[str, ...]           # checks serve-analysis judges (webhooks, web provider)
    source: str                       # where the checks came from
