"""`mlgate promote`: land a rewrite of one environment on the config repo, with evidence."""

from __future__ import annotations

import click

from mlgate.commands.common import finish, json_option
from mlgate.commands.landing_options import landing_options

OUTPUTS: dict[str, str] = {
    "changed": "true when a commit or request was made, false when the environment already "
               "had these values.",
    "commit": "The commit sha on the config repo (the request branch's head in pull-request "
              "mode); empty when unchanged.",
    "pr-url": "URL of the pull/merge request (pull-request mode), else empty.",
    "previous": "The first image's reference (or first --set value) before the promotion.",
    "new": "The first image's reference (or first --set value) after the promotion.",
    "attempts": "How many tries it took (more than 1 when another promotion landed first).",
}


@click.command("promote", help="Promote an app in one environment: rewrite its image tags and "
               "values in the config repo and land the change as a commit or a pull/merge "
               "request, with the gates' evidence and audit trailers.")
@landing_options
@click.option("--image", "images", multiple=True, metavar="REF",
              help="New image reference (repo:tag[@sha256:…]); with --from-environment just "
                   "the repository. Repeatable.")
@click.option("--set", "sets", multiple=True, metavar="FILE:KEY.PATH=VALUE",
              help="Set a value in FILE (relative to the environment folder); with "
                   "--from-environment, FILE:KEY.PATH copies the source's value. Repeatable.")
@click.option("--expect-current", "expect_current", multiple=True, metavar="REF",
              help="Refuse (exit 1) unless the environment currently runs REF. Repeatable.")
@click.option("--evidence", "evidence", multiple=True, type=click.Path(dir_okay=False),
              help="A gate's JSON result (--json of validate, benchmark, scan) to summarise "
                   "in the commit and request. Repeatable.")
@click.option("--from-environment", default=None,
              help="Promote exactly the image versions (and --set values) that this "
                   "environment holds at the current head, e.g. staging.")
@click.option("--registry-model", default=None, help="MLflow registered model whose alias "
              "moves once the commit lands.")
@click.option("--registry-version", default=None, help="The model version the alias moves to.")
@click.option("--registry-alias", default=None, help="The alias to move, e.g. champion.")
@json_option
def command(**kw) -> int:
    from mlgate.commands.landing_context import build_common
    from mlgate.errors import BadInput
    from mlgate.promote.config import PromoteConfig, RegistrySpec
    from mlgate.promote.message import load_evidence
    from mlgate.promote.promote import promote
    from mlgate.promote.settings import check_name, environment_path
    from mlgate.report.promote import present

    environ, target, options = build_common(kw, verb="promote")
    registry = None
    reg = (kw["registry_model"], kw["registry_version"], kw["registry_alias"])
    if any(reg):
        if not all(reg):
            raise BadInput("--registry-model, --registry-version and --registry-alias go together")
        registry = RegistrySpec(reg[0], reg[1], reg[2],
                                kw["tracking_uri"] or environ.get("MLFLOW_TRACKING_URI"))
    from_env = kw["from_environment"]
    if from_env is not None:
        check_name(from_env, "--from-environment")
    cfg = PromoteConfig(
        target=target,
        options=options,
        app=kw["app"],
        environment=kw["environment"],
        env_path=environment_path(kw["layout"], kw["base_path"], kw["app"], kw["environment"]),
        images=kw["images"],
        sets=kw["sets"],
        expect_current=kw["expect_current"],
        evidence=load_evidence(kw["evidence"]),
        from_environment=from_env,
        from_path=environment_path(kw["layout"], kw["base_path"], kw["app"], from_env)
        if from_env else None,
        registry=registry,
        environ=environ,
    )
    result = promote(cfg, say=click.echo)
    return finish(present(result, target), kw["json_path"])
