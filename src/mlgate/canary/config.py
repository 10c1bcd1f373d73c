"""What `mlgate canary` walks: the promotion each step repeats, the shares, where the traffic
field is, and how each step is waited for and judged.

The wait and the verification are factories, not fixed configs: each step's commit (and, for
the checks, the revision the controller reports) is known only once the step has landed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from mlgate.cluster.config import WaitSyncConfig
    from mlgate.promote.config import PromoteConfig, RollbackConfig
    from mlgate.verify.config import VerifyConfig

Mode = Literal["start", "resume", "abort"]
DEFAULT_STEPS = (1, 5, 25, 100)
# KServe's canary: the share of the newest ready revision; without it (or at 100) that
# revision takes all traffic, so a missing field means 100 %
KSERVE_FIELD = "spec.predictor.canaryTrafficPercent"
KSERVE_ABSENT = "100"


@dataclass(frozen=True)
class TrafficField:
    """A value that carries the share: the new model's weight, or (`stable`) the other side
    of a two-way split, set to 100 minus the share so both weights sum to 100."""

    file: str           # relative to the environment folder
    path: str           # KEY.PATH, as --set names it
    stable: bool = False

    def value(self, share: int) -> int:
        return 100 - share if self.stable else share


@dataclass(frozen=True)
class CanaryConfig:
    promote: PromoteConfig                 # target, app, environment, images, values, evidence
    rollback: RollbackConfig               # where a failure or --abort rolls back
    steps: tuple[int, ...] = DEFAULT_STEPS
    pause: float = 0.0
    traffic: tuple[TrafficField, ...] = ()  # empty: KServe's field on the InferenceService
    # a step's commit -> the wait for it (None: no controller named, nothing to wait for)
    wait: Callable[[str], WaitSyncConfig] | None = None
    # a step's commit and the placeholders only a canary knows -> the checks (None: no checks)
    verify: Callable[[str, Mapping[str, str]], VerifyConfig] | None = None
    mode: Mode = "start"
    max_steps: int | None = None           # commit at most this many steps in this run
    reason: str | None = None              # --abort's recorded reason
