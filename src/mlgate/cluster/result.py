"""What `mlgate wait-sync` found: per resource its last state, and how the wait ended."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Outcome = Literal["ready", "failed", "timeout"]


@dataclass(frozen=True)
class ResourceState:
    resource: str            # "Argo CD application churn-staging", "deployment ml/churn"
    state: str               # ready, progressing, failed, degraded, paused
    revision: str | None     # the revision the controller reports (None for workloads)
    message: str             # the controller's own last message
    seconds: float           # from the start until it was ready (or the wait ended)


@dataclass(frozen=True)
class WaitSyncResult:
    revision: str            # the revision waited for
    outcome: Outcome
    synced: bool             # the controller applied this revision (or a descendant)
    healthy: bool            # ... and it and every workload are healthy
    applied: str | None      # the revision the controller reported last
    seconds: float
    message: str             # why it ended, naming the resource and the controller's words
    resources: tuple[ResourceState, ...] = ()
    requests: int = 0        # API requests made, all resources together

    @property
    def passed(self) -> bool:
        return self.outcome == "ready"
