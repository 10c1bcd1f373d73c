"""What `mlgate metrics` returns: typed, JSON-ready, no rendering.

Every duration is in whole seconds, every time ISO 8601 UTC; a figure that cannot be measured
is None (not 0), so a report never shows "no data" as a perfect score.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Deployment:
    """One promotion landed in an environment: a plain promotion's commit, or a canary's steps
    (one Mlgate-Canary-Id) counted once, at its first step."""

    app: str
    environment: str
    commit: str  # the first commit (a canary's first step)
    when: str
    timestamp: int
    commits: tuple[str, ...]  # every commit of it, oldest first (a canary's steps)
    source: str | None  # Mlgate-Source: model repo@commit
    source_time: str | None  # Mlgate-Source-Time
    lead_seconds: int | None  # source_time -> commit; None when not recorded
    canary_id: str | None
    # rolled back (or its canary aborted), or verify recorded Failed / Error, within the
    # failure window
    failed: bool
    restored_by: str | None  # the commit that restored service: the rollback, or an abort
    restore_seconds: int | None  # the failed commit -> restored_by
    # what `mlgate verify` recorded on its commits (refs/notes/mlgate, mlgate.audit.outcome)
    verify: str | None = None  # the latest verify outcome recorded: Successful, Failed, ...
    verified: str | None = None  # when verify first recorded Successful, ISO 8601 UTC
    verified_lead_seconds: int | None = None  # source_time -> verified
    verify_failed: bool = False  # verify recorded Failed or Error within the failure window


@dataclass(frozen=True)
class EnvironmentFrequency:
    environment: str
    deployments: int
    per_week: float  # deployments / weeks in the window


@dataclass(frozen=True)
class Week:
    """One ISO week of the window and the deployments each environment had in it."""

    week: str  # 2026-W05
    start: str  # its Monday, YYYY-MM-DD
    counts: tuple[tuple[str, int], ...]  # (environment, deployments), every environment


@dataclass(frozen=True)
class Bucket:
    label: str  # "< 1 hour", "1 hour - 1 day", ...
    upper_seconds: int | None  # exclusive; None for the last
    count: int


@dataclass(frozen=True)
class LeadTime:
    """Lead time for changes in production: model repo commit -> production commit (or, for
    lead time to verified, -> verify's recorded Successful)."""

    measured: int  # deployments whose model commit time (and verified time) is recorded
    unmeasured: int  # production deployments without (older commits, a clock skew, unverified)
    median_seconds: int | None
    p90_seconds: int | None  # nearest rank
    buckets: tuple[Bucket, ...]


@dataclass(frozen=True)
class ChangeFailure:
    deployments: int  # production deployments in the window
    failed: int  # rolled back, canary aborted, or verify recorded Failed / Error
    rate: float | None  # failed / deployments; None without deployments


@dataclass(frozen=True)
class Restore:
    restored: int  # failed deployments with a restoring commit
    median_seconds: int | None


@dataclass(frozen=True)
class Freshness:
    """The model an app runs in production now and how old it is."""

    app: str
    environment: str
    commit: str  # the live promotion's commit
    version: str  # its model version, else its image(s)
    since: str  # when the age is counted from
    since_what: str  # "model commit" (Mlgate-Source-Time) or "first promotion"
    age_seconds: int


@dataclass(frozen=True)
class Automation:
    """Commits that changed the environment folders mlgate records name: made by mlgate (an
    mlgate record) versus by hand or by another tool."""

    folders: tuple[str, ...]
    mlgate: int
    other: int
    rate: float | None  # mlgate / (mlgate + other); None when no commit changed them
    other_commits: tuple[str, ...]  # the others, newest first (at most 20)
    # what its path-limited git log cost the command: starting it, and waiting for it after
    # the records' log (it runs beside that one)
    seconds: float


@dataclass(frozen=True)
class MetricsResult:
    repo: str
    base: str
    app: str | None
    production: str
    since: str | None  # the window, ISO 8601 UTC
    until: str
    failure_window_seconds: int
    frequency: tuple[EnvironmentFrequency, ...]
    weeks: tuple[Week, ...]
    lead_time: LeadTime
    change_failure: ChangeFailure
    restore: Restore
    freshness: tuple[Freshness, ...]
    freshness_average_seconds: int | None
    automation: Automation
    # the production deployments the figures above are computed from, oldest first (the
    # other environments are counted in `frequency` and `weeks`; `mlgate history` lists them)
    deployments: tuple[Deployment, ...]
    # model commit -> the time `mlgate verify` recorded Successful for the production
    # promotion (its git note); deployments without both are unmeasured
    lead_time_to_verified: LeadTime | None = None
