"""What `mlgate verify` measures, how often, against what, and what it does on failure."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from mlgate.verify.analysis import Limits
from mlgate.verify.check import Check

if TYPE_CHECKING:
    from mlgate.promote.config import RollbackConfig
    from mlgate.verify.result import ActionTaken, CheckResult

OnFailure = Literal["check", "rollback", "retrain", "none"]


@dataclass(frozen=True)
class PrometheusAccess:
    """Where Prometheus answers and how to prove who we are: a bearer token, basic auth or
    extra headers (all from environment variables, never options: they would show in `ps`
    and in CI logs), and a CA bundle for a private TLS certificate."""

    url: str
    token: str | None = None
    username: str | None = None
    password: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    ca_bundle: str | None = None
    timeout: float = 10.0

    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.token, self.password, *self.headers.values()) if s)


@dataclass(frozen=True)
class Retrain:
    """The model repository's training workflow: a GitHub workflow (file name or id) run by
    workflow_dispatch, or a GitLab project's pipeline on a ref with variables."""

    provider: Literal["github", "gitlab"]
    repository: str           # owner/name, or the GitLab project path or id
    workflow: str | None      # GitHub: the workflow file (train.yml) or id
    ref: str                  # the branch to run on
    api_url: str | None = None
    token: str | None = None


@dataclass(frozen=True)
class Incident:
    """Where to open an incident issue when a rollback happened."""

    provider: Literal["github", "gitlab"]
    repository: str
    api_url: str | None = None
    token: str | None = None
    labels: tuple[str, ...] = ("mlgate", "incident")


@dataclass(frozen=True)
class VerifyConfig:
    prometheus: PrometheusAccess
    checks: tuple[Check, ...]
    limits: Limits = Limits()
    interval: float = 30.0
    initial_delay: float = 0.0
    window: float | None = None          # the rate() range, {window}; default: the interval
    labels: Mapping[str, str] = field(default_factory=dict)  # app, environment, namespace, model_version
    evidence: str | None = None          # the benchmark JSON that promoted the model
    baselines: Mapping[str, float] = field(default_factory=dict)  # metric -> candidate's score
    on_failure: OnFailure = "check"      # "check": each check's own choice
    rollback: RollbackConfig | None = None
    retrain: Retrain | None = None
    incident: Incident | None = None
    deployment: tuple[str, str] | None = None   # replicas-unavailable: namespace, name
    kubeconfig: str | None = None
    context: str | None = None
    environ: Mapping[str, str] = field(default_factory=dict, repr=False)
    # the rollback a failure makes, when not the plain one: a canary first sends its traffic
    # back to 0 % and undoes every step (given the failed check and the progress printer)
    undo: Callable[[CheckResult, Callable[[str], None]], ActionTaken] | None = None

    @property
    def duration(self) -> float:
        """How long a run takes that nothing ends early: initial delay + count × interval."""
        return self.initial_delay + self.limits.count * self.interval
