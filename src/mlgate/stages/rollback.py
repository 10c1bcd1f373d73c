"""`mlgate rollback`: restore an environment's values from before its last promotion(s)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from mlgate.stages import landing
from mlgate.stages.stage import Progress

if TYPE_CHECKING:
    from mlgate.promote.config import RollbackConfig
    from mlgate.promote.result import PromoteResult
    from mlgate.report.presentation import Presentation


@dataclass(frozen=True)
class RollbackOutcome:
    result: PromoteResult
    config: RollbackConfig


class Rollback:
    name = "rollback"
    help = (
        "Undo the last promotion(s) of an app in one environment: find them by their "
        "commit trailers and land a new commit restoring only the values they changed; "
        "move the registry alias back."
    )
    params: tuple[click.Parameter, ...] = (
        *landing.PARAMS,
        click.Option(
            ["--steps"],
            type=int,
            default=1,
            show_default=True,
            help="How many promotions to undo (rolled-back ones are not counted again).",
        ),
        click.Option(
            ["--to", "to"],
            default=None,
            metavar="REF",
            help="Restore this image reference instead of the recorded previous one; it "
            "must be a version the environment ran by mlgate's record.",
        ),
        click.Option(
            ["--allow-unknown"],
            is_flag=True,
            help="With --to: restore a version the environment never ran by mlgate's "
            "record (refused otherwise: a rollback goes back to something known).",
        ),
        click.Option(
            ["--reason"],
            default=None,
            metavar="TEXT",
            help="Why: recorded as the Mlgate-Rollback-Reason trailer (one line, at most 300 "
            "characters); mlgate verify writes the failed check here.",
        ),
        click.Option(
            ["--of", "of"],
            default=None,
            metavar="COMMIT",
            help="The promotion commit to undo (full sha): refused, and nothing changed, "
            "unless it is still the environment's latest live promotion.",
        ),
    )
    paths = landing.PATHS
    name_or_path = landing.NAME_OR_PATH

    def config_from(self, values: Mapping[str, Any], environ: Mapping[str, str]) -> RollbackConfig:
        from mlgate.cluster.revision import check_sha
        from mlgate.promote.config import RollbackConfig

        target, options = landing.target_and_options(values, environ, verb="rollback")
        return RollbackConfig(
            target=target,
            options=options,
            app=values["app"],
            environment=values["environment"],
            env_path=landing.environment_path(values, values["environment"]),
            steps=values["steps"],
            to=values["to"],
            allow_unknown=values["allow_unknown"],
            # --path and --layout at their defaults: the folder the promotion recorded is used
            recorded_folder=values["base_path"] == "."
            and values["layout"] == "{path}/{environment}",
            tracking_uri=values["tracking_uri"] or environ.get("MLFLOW_TRACKING_URI"),
            environ=dict(environ),
            reason=check_reason(values["reason"]),
            of=check_sha(values["of"], "--of") if values["of"] else None,
        )

    def run(self, config: RollbackConfig, progress: Progress) -> RollbackOutcome:
        from mlgate.promote.rollback import rollback

        return RollbackOutcome(rollback(config, say=progress), config)

    def present(self, outcome: RollbackOutcome) -> Presentation:
        from mlgate.report.promote import present

        return present(outcome.result, outcome.config.target, command="rollback")


def check_reason(text: str | None) -> str | None:
    """The reason as a trailer can hold it: one line of printable text, bounded."""
    from mlgate.errors import BadInput

    if text is None:
        return None
    value = text.strip()
    if not value or len(value) > 300 or not value.isprintable():
        raise BadInput("--reason: one line of printable text, 1 to 300 characters")
    return value


STAGE = Rollback()
