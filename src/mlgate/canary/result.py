"""What a canary run did: each step's commit, wait and verdict, and how the canary stands."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# completed: at 100 % and judged; open: left at a step (--max-steps, a wait that did not end
# healthy, an inconclusive or unfinished verification) for --resume or --abort; rolled-back:
# a failed check or --abort sent the traffic back to 0 % and restored the previous model
Outcome = Literal["completed", "open", "rolled-back"]


@dataclass(frozen=True)
class StepOutcome:
    step: int
    total: int
    weight: int
    commit: str | None
    resumed: bool = False            # a step an earlier run committed, judged again
    wait: str | None = None          # "ready", "failed", "timeout"; None: no controller named
    wait_message: str = ""
    verify: str | None = None        # the analysis phase; None: no checks
    verify_message: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class CanaryResult:
    id: str
    app: str
    environment: str
    outcome: Outcome
    steps: tuple[StepOutcome, ...]
    total: int
    message: str
    exit_code: int
    abort_commit: str | None = None
    rollback_commit: str | None = None
    rollback_reason: str | None = None
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.exit_code == 0

    @property
    def last(self) -> StepOutcome | None:
        return self.steps[-1] if self.steps else None
