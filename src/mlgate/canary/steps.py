"""The canary's shares and its state as git records it (`Mlgate-Canary: STEP/TOTAL`).

State lives only in the config repo, so any job can pick a canary up: the newest mlgate record
of the app and environment says whether a canary is open, at which step, and whether its
traffic already went back to 0 % (an abort whose rollback has not landed yet).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mlgate.errors import BadInput
from mlgate.promote.history import Recorded

MAX_STEPS = 20
_STEP = re.compile(r"([0-9]{1,2})/([0-9]{1,2})")


def parse_steps(text: str) -> tuple[int, ...]:
    """`1,5,25,100`: rising shares in percent, the last one 100 (the model then takes all the
    traffic, which ends the canary)."""
    what = f"--steps {text[:60]!r}"
    parts = [p.strip() for p in text.split(",")]
    if not all(re.fullmatch(r"[0-9]{1,3}", p) for p in parts):   # [0-9]: ASCII digits only
        raise BadInput(f"{what}: whole percentages separated by commas, e.g. 1,5,25,100")
    steps = tuple(int(p) for p in parts)
    if len(steps) > MAX_STEPS:
        raise BadInput(f"{what}: at most {MAX_STEPS} steps")
    if steps[0] < 1 or any(b <= a for a, b in zip(steps, steps[1:])):
        raise BadInput(f"{what}: each share above the one before, the first at least 1")
    if steps[-1] != 100:
        raise BadInput(f"{what}: the last step is 100 (the new model takes all traffic)")
    return steps


@dataclass(frozen=True)
class OpenCanary:
    """A canary not yet at 100 % nor rolled back, read from git."""

    id: str
    step: int                 # the last step committed
    total: int
    weight: int               # its share (0 once aborted)
    aborted: bool             # its traffic went back to 0 %; the rollback has not landed
    records: tuple[Recorded, ...]   # its commits, newest first

    @property
    def commit(self) -> str:
        return self.records[0].sha

    @property
    def first(self) -> Recorded:
        return self.records[-1]


def step_of(record: Recorded) -> tuple[int, int] | None:
    """(STEP, TOTAL) of a step commit; None for anything else (a hand-made value too)."""
    found = _STEP.fullmatch(record.canary) if record.canary else None
    if found is None:
        return None
    step, total = int(found[1]), int(found[2])
    return (step, total) if 1 <= step <= total <= MAX_STEPS else None


def open_canary(history: list[Recorded]) -> OpenCanary | None:
    """The canary the newest record leaves open, if any. A plain promotion or a rollback after
    a canary's steps closes it: the environment no longer runs what the canary left."""
    if not history:
        return None
    newest = history[0]
    records = []
    for record in history:
        if not record.canary_id or record.canary_id != newest.canary_id or record.is_rollback:
            break
        records.append(record)
    steps = [s for s in map(step_of, records) if s is not None]
    if not steps:
        return None
    step, total = steps[0]
    aborted = newest.canary == "aborted"
    if not aborted and (step_of(newest) is None or step == total):
        return None
    weight = 0 if aborted else _weight(newest)
    return OpenCanary(newest.canary_id, step, total, weight, aborted, tuple(records))


def _weight(record: Recorded) -> int:
    text = record.canary_weight
    return int(text) if text and re.fullmatch(r"[0-9]{1,3}", text) else 0


def describe(canary: OpenCanary) -> str:
    state = ("aborted, its rollback not landed" if canary.aborted else
             f"at step {canary.step}/{canary.total} ({canary.weight} %)")
    return f"canary {canary.id} {state}, commit {canary.commit[:12]}"
