"""What `mlgate verify` found: every measurement of every check, each check's phase, the run's
phase, and what was done about a failure. Reports and the pipeline read only this."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# one measurement, as an Argo Rollouts Measurement: the value met the range, broke it, could
# not be judged (no series, NaN), or could not be taken (a query error, Prometheus down)
MeasurementPhase = Literal["Successful", "Failed", "Inconclusive", "Error"]
# a check (an AnalysisRun metric) and the whole run; Running only while measuring
Phase = Literal["Running", "Successful", "Failed", "Inconclusive", "Error"]
Action = Literal["rollback", "retrain", "none"]


@dataclass(frozen=True)
class Measurement:
    at: float                 # seconds since the run started (initial delay included)
    time: str                 # RFC 3339 UTC, when the query was answered
    value: float | None       # the judged value (None: no value: empty, NaN or an error)
    phase: MeasurementPhase
    message: str = ""         # why inconclusive or error, in the server's words


@dataclass(frozen=True)
class CheckResult:
    name: str                 # "error-rate", "p95-latency", or a custom check's name
    query: str                # the PromQL sent, placeholders substituted
    min: float | None
    max: float | None
    unit: str                 # "ratio", "seconds" or "" (how values and limits are shown)
    on_failure: Action
    phase: Phase
    measurements: tuple[Measurement, ...]
    failed: int
    inconclusive: int
    errors: int               # error measurements in all
    consecutive_errors: int   # the longest run of errors in a row
    baseline: float | None = None   # for max-drop: the candidate's score in the evidence
    reason: str = ""          # one line when not Successful: "error-rate 0.034 > 0.01 (3 of 5 measurements)"


@dataclass(frozen=True)
class ActionTaken:
    """What was done after the run: about a Failed one a rollback commit, a training run, an
    incident; after a Successful one the registry alias the promotion left waiting."""

    kind: Literal["rollback", "retrain", "incident", "alias"]
    ok: bool
    detail: str               # one line: the commit, the run's URL, the URL, or the error
    url: str | None = None
    commit: str | None = None


@dataclass(frozen=True)
class VerifyResult:
    phase: Phase              # Successful, Failed, Inconclusive or Error
    checks: tuple[CheckResult, ...]
    seconds: float
    message: str              # the first failing check's reason, or "all N checks passed"
    actions: tuple[ActionTaken, ...] = ()
    evidence: str | None = None     # the --evidence file the baselines came from
    labels: dict[str, str] = field(default_factory=dict)  # app, environment, namespace, model_version

    @property
    def passed(self) -> bool:
        return self.phase == "Successful"

    @property
    def exit_code(self) -> int:
        """0 verified; 3 when Prometheus could not be read (Error: nothing was learnt about
        the model); 1 otherwise (Failed, Inconclusive)."""
        if self.phase == "Successful":
            return 0
        return 3 if self.phase == "Error" else 1
