"""`mlgate rollback`: restore an environment's values from before its last promotion(s)."""

from __future__ import annotations

import click

from mlgate.commands.common import finish, json_option
from mlgate.commands.landing_options import landing_options
from mlgate.commands.promote import OUTPUTS as PROMOTE_OUTPUTS

OUTPUTS: dict[str, str] = {
    **PROMOTE_OUTPUTS,
    "previous": "The first image's reference (or value) before the rollback.",
    "new": "The first image's reference (or value) the rollback restored.",
}


@click.command("rollback", help="Undo the last promotion(s) of an app in one environment: find "
               "them by their commit trailers and land a new commit restoring only the values "
               "they changed; move the registry alias back.")
@landing_options
@click.option("--steps", type=int, default=1, show_default=True,
              help="How many promotions to undo (rolled-back ones are not counted again).")
@click.option("--to", "to", default=None, metavar="REF",
              help="Restore this image reference instead of the recorded previous one; it "
                   "must be a version the environment ran by mlgate's record.")
@click.option("--allow-unknown", is_flag=True,
              help="With --to: restore a version the environment never ran by mlgate's "
                   "record (refused otherwise: a rollback goes back to something known).")
@json_option
def command(**kw) -> int:
    from mlgate.commands.landing_context import build_common
    from mlgate.promote.config import RollbackConfig
    from mlgate.promote.rollback import rollback
    from mlgate.promote.settings import environment_path
    from mlgate.report.promote import present

    environ, target, options = build_common(kw, verb="rollback")
    cfg = RollbackConfig(
        target=target,
        options=options,
        app=kw["app"],
        environment=kw["environment"],
        env_path=environment_path(kw["layout"], kw["base_path"], kw["app"], kw["environment"]),
        steps=kw["steps"],
        to=kw["to"],
        allow_unknown=kw["allow_unknown"],
        # --path and --layout at their defaults: the folder the promotion recorded is used
        recorded_folder=kw["base_path"] == "." and kw["layout"] == "{path}/{environment}",
        tracking_uri=kw["tracking_uri"] or environ.get("MLFLOW_TRACKING_URI"),
        environ=environ,
    )
    result = rollback(cfg, say=click.echo)
    return finish(present(result, target, command="rollback"), kw["json_path"])
