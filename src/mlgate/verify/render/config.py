"""What `mlgate render-analysis` writes: for which controller, from which checks, judged by
whom (the controller reading Prometheus, or mlgate serve-analysis), and how traffic moves."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from mlgate.verify.analysis import Limits
from mlgate.verify.check import Check

Target = Literal["flagger", "argo-rollouts"]
# prometheus: the controller queries Prometheus itself (a MetricTemplate, the prometheus
# provider) and applies the range; web: mlgate serve-analysis measures and judges
Provider = Literal["prometheus", "web"]
# Flagger's webhook types that ask serve-analysis for a verdict (its `event` hook only
# reports what happened)
HOOKS = ("confirm-rollout", "pre-rollout", "rollout", "confirm-traffic-increase",
         "confirm-promotion", "post-rollout", "rollback")
DEFAULT_HOOKS = ("rollout", "confirm-promotion")
DEFAULT_STEPS = (1, 5, 25)
# what Flagger's webhooks send as metadata.token: a placeholder filled from a Secret when the
# manifests are applied (Flux's postBuild.substituteFrom spells variables this way)
TOKEN_PLACEHOLDER = "${MLGATE_ANALYSIS_TOKEN}"


@dataclass(frozen=True)
class Steps:
    """Flagger's traffic steps: a list (`stepWeights`, the last one also its `maxWeight`)
    or one step repeated up to a maximum (`stepWeight`, `maxWeight`)."""

    weights: tuple[int, ...] = DEFAULT_STEPS
    step: int | None = None
    max_weight: int | None = None


@dataclass(frozen=True)
class Server:
    """mlgate serve-analysis as the cluster reaches it, and what a request tells it."""

    url: str                                  # base URL, no trailing slash
    token_secret: tuple[str, str] = ("mlgate-analysis", "token")   # Secret name, key
    evidence: str | None = None               # a file name below the server's --evidence-dir
    hooks: tuple[str, ...] = DEFAULT_HOOKS
    webhook_token: str = TOKEN_PLACEHOLDER    # Flagger's metadata.token, a placeholder


@dataclass(frozen=True)
class RenderConfig:
    target: Target
    checks: tuple[Check, ...]
    app: str
    name: str                      # the Canary or AnalysisTemplate (MetricTemplates: name-check)
    namespace: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)   # environment, model_version
    provider: Provider = "prometheus"
    prometheus: str | None = None  # the address the controller queries
    server: Server | None = None
    baselines: Mapping[str, float] = field(default_factory=dict)   # evidence: metric -> score
    evidence: str | None = None    # the --evidence file the baselines came from
    limits: Limits = Limits()
    interval: float = 30.0
    initial_delay: float = 0.0
    window: float | None = None    # the rate() range; default: the interval
    threshold: int | None = None   # Flagger: failed checks before rollback
    steps: Steps = Steps()
    port: int | None = None        # Flagger: the Canary's service port
    output: str | None = None      # None: standard output
    source: str = "--check"        # where the checks came from, for the header and the report

    @property
    def query_window(self) -> float:
        return self.window if self.window is not None else self.interval
