"""`mlgate canary`: promote at 1 → 5 → 25 → 100 % of the traffic, one commit per step, with
wait-sync and verify between the steps and the way back in git."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import click

from mlgate.stages import landing
from mlgate.stages.params import optional
from mlgate.stages.promote import STAGE as PROMOTE
from mlgate.stages.stage import Progress
from mlgate.stages.verify import VERIFY_PARAMS
from mlgate.stages.wait_sync import STAGE as WAIT_SYNC

if TYPE_CHECKING:
    from mlgate.canary.config import CanaryConfig
    from mlgate.canary.result import CanaryResult
    from mlgate.report.presentation import Presentation


def _renamed(option: click.Option, flag: str, name: str, help: str) -> click.Option:
    """wait-sync's option under a canary's name, where verify's of the same name wins."""
    return click.Option([flag, name], default=option.default, show_default=True,
                        metavar=option.metavar, help=help)


_WAIT = {p.name: p for p in WAIT_SYNC.params}
# wait-sync's options, less the revision (each step's commit), the repo (the canary's) and
# --no-record (a canary records nothing in notes: its steps' commits say how each went);
# its timeout and interval renamed: verify's --interval is the measurements'
WAIT_PARAMS: tuple[click.Parameter, ...] = (
    *(p for p in WAIT_SYNC.params if p.name not in ("revision", "repo", "timeout", "interval",
                                                    "kubeconfig", "context", "no_record")),
    _renamed(_WAIT["timeout"], "--sync-timeout", "sync_timeout",  # type: ignore[arg-type]
             "Give up waiting for a step (the canary stays open) after this long."),
    _renamed(_WAIT["interval"], "--sync-interval", "sync_interval",  # type: ignore[arg-type]
             "Time between two reads of the controller and the workloads."),
)
# verify's options: --prometheus and --check only when the steps are judged; the benchmark
# evidence is the one among --evidence; each step's commit is the revision
CHECK_PARAMS: tuple[click.Parameter, ...] = tuple(
    optional(p) if p.name in ("prometheus", "checks") else p
    for p in VERIFY_PARAMS
    if p.name not in ("evidence", "revision", "markdown_path", "junit_path", "metrics_path"))


class Canary:
    name = "canary"
    help = (
        "Promote an app in steps of traffic (1, 5, 25, 100 %), one commit each on the config "
        "repo (KServe's canaryTrafficPercent, or the weights you name); after each, wait for "
        "the controller, pause and verify; a failed check sends the traffic back to 0 % and "
        "rolls back. State lives in the commits: --resume and --abort pick it up anywhere."
    )
    params: tuple[click.Parameter, ...] = (
        # promote's options, less --tag/--release: a tag names one promotion commit, and a
        # canary makes one per step (tag the completed canary's commit afterwards)
        *(p for p in PROMOTE.params if p.name not in ("tag", "release")),
        click.Option(["--steps"], default="1,5,25,100", show_default=True, metavar="P,P,...",
                     help="The traffic shares in percent, rising, the last 100."),
        click.Option(["--pause"], default="0s", show_default=True, metavar="DURATION",
                     help="Wait this long at each step, after the controller applied it and "
                     "before the checks (e.g. 5m)."),
        click.Option(["--traffic-field", "traffic_fields"], multiple=True,
                     metavar="FILE:KEY.PATH[=stable]",
                     help="The value that carries the share (default: KServe's "
                     "spec.predictor.canaryTrafficPercent on the environment's "
                     "InferenceService). =stable marks the other weight of a two-way split "
                     "(set to 100 minus the share). Repeatable."),
        click.Option(["--resume"], is_flag=True,
                     help="Continue the open canary from its last step commit (judged again "
                     "first)."),
        click.Option(["--abort"], is_flag=True,
                     help="Undo the open canary: traffic to 0 %, then roll back."),
        click.Option(["--max-steps"], type=click.IntRange(1, 20), default=None,
                     help="Commit at most this many steps in this run (e.g. 1 for one step "
                     "per scheduled job); the canary stays open for --resume."),
        click.Option(["--reason"], default=None,
                     help="With --abort: the reason recorded in the rollback "
                     "(Mlgate-Rollback-Reason)."),
        *WAIT_PARAMS,
        *CHECK_PARAMS,
    )
    paths = frozenset({"repo", "evidence", "prometheus_ca", "kubeconfig", "attestation_key"})
    name_or_path = landing.NAME_OR_PATH

    def config_from(self, values: Mapping[str, Any], environ: Mapping[str, str]
                    ) -> CanaryConfig:
        from mlgate.stages.canary_inputs import canary_config

        return canary_config(values, environ)

    def run(self, config: CanaryConfig, progress: Progress) -> CanaryResult:
        from mlgate.canary.run import canary

        return canary(config, progress)

    def present(self, result: CanaryResult) -> Presentation:
        from mlgate.report.canary import present

        return present(result)


STAGE = Canary()
