"""The promote package's inputs: where the config repo is and how to land on it (`Target`,
`Options`), and one Config per command (`PromoteConfig`, `RollbackConfig`, `SyncConfig`).

Built by the commands from their options (and by the pipeline from mlgate.yaml); the cores only
read them. The results are in `result.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mlgate.promote.git import Credentials
from mlgate.promote.message import Evidence
from mlgate.promote.tagging import TagSpec


@dataclass(frozen=True)
class Identity:
    name: str
    email: str


@dataclass(frozen=True)
class Target:
    url: str
    provider: str  # git | github | gitlab
    mode: str  # push | pull-request
    base: str
    credentials: Credentials | None
    api_url: str | None = None


@dataclass(frozen=True)
class Options:
    author: Identity
    committer: Identity
    signing_key: str | None = None
    signing_format: str = "ssh"
    max_attempts: int = 10
    labels: tuple[str, ...] = ()
    reviewers: tuple[str, ...] = ()
    auto_merge: bool = False
    verb: str = "promote"
    # --attestation-key, loaded (promote.attest.AttestationKey): the statement is DSSE-signed
    attestation_key: Any = None


@dataclass(frozen=True)
class RegistrySpec:
    model: str
    version: str | None  # None: the version the promoted values name is not known; required
    alias: str
    tracking_uri: str | None = None
    # landed: the alias moves with the commit (push mode); verified: once verify judged the
    # live model (promote/verified_alias.confirm_alias), so it never names an unverified one
    when: str = "landed"


@dataclass(frozen=True)
class LateSet:
    """A value only the checkout can name (a canary's traffic field, found in the
    environment's InferenceService), set like --set FILE:KEY.PATH=VALUE relative to the
    environment folder and written as its own YAML type."""

    spec: str
    absent: str | None = None   # what a missing key means (KServe: no canaryTrafficPercent = 100)
    # what a rollback of this promotion sets here instead of the previous value, while it is
    # the newest (Mlgate-Set-Undo): an unfinished KServe canary goes back to 0 %, since the
    # previous 100 % would give all traffic to the newest *ready* revision, the aborted one
    undo: str | None = None


@dataclass(frozen=True)
class PromoteConfig:
    target: Target
    options: Options
    app: str
    environment: str
    env_path: str
    images: tuple[str, ...] = ()
    sets: tuple[str, ...] = ()
    expect_current: tuple[str, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    from_environment: str | None = None
    from_path: str | None = None
    registry: RegistrySpec | None = None
    environ: Mapping[str, str] = field(default_factory=dict)
    rollback_of: str | None = None
    from_commit: str | None = None  # the source's promotion copied (set by from_last_promotion)
    from_evidence: tuple[str, ...] = ()  # its evidence hashes, carried along
    # values only the checkout can name: called with (checkout, environment folder)
    late_sets: Callable[[str, str], tuple[LateSet, ...]] | None = None
    extra: Mapping[str, str] = field(default_factory=dict)  # more trailers (a canary's state)
    note: str | None = None  # after the summary line
    tag: TagSpec | None = None  # --tag NAME (and --release): tag the commit that lands


@dataclass(frozen=True)
class RollbackConfig:
    target: Target
    options: Options
    app: str
    environment: str
    env_path: str
    steps: int = 1
    to: str | None = None
    tracking_uri: str | None = None
    environ: Mapping[str, str] = field(default_factory=dict)
    # --path and --layout left at their defaults: use the folder the promotion recorded
    # (Mlgate-Folder), as the promotion found it from its own --path/--layout
    recorded_folder: bool = False
    allow_unknown: bool = False  # --to a version never recorded in this environment
    reason: str | None = None  # Mlgate-Rollback-Reason: why (verify writes the failed check)
    of: str | None = None  # the promotion commit to undo: refused unless it is the live one


@dataclass(frozen=True)
class SyncConfig:
    target: Target
    app: str | None = None
    environment: str | None = None
    tracking_uri: str | None = None
