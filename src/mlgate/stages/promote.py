"""`mlgate promote`: land a rewrite of one environment on the config repo, with evidence."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from mlgate.stages import landing
from mlgate.stages.stage import Progress

if TYPE_CHECKING:
    from mlgate.promote.config import PromoteConfig
    from mlgate.promote.result import PromoteResult
    from mlgate.report.presentation import Presentation


@dataclass(frozen=True)
class PromoteOutcome:
    result: PromoteResult
    config: PromoteConfig


class Promote:
    name = "promote"
    help = (
        "Promote an app in one environment: rewrite its image tags and values in the "
        "config repo and land the change as a commit or a pull/merge request, with the "
        "gates' evidence and audit trailers."
    )
    params: tuple[click.Parameter, ...] = (
        *landing.PARAMS,
        click.Option(
            ["--image", "images"],
            multiple=True,
            metavar="REF",
            help="New image reference (repo:tag[@sha256:…]); with --from-environment just "
            "the repository. Repeatable.",
        ),
        click.Option(
            ["--set", "sets"],
            multiple=True,
            metavar="FILE:KEY.PATH=VALUE",
            help="Set a value in FILE (relative to the environment folder); with "
            "--from-environment, FILE:KEY.PATH copies the source's value. Repeatable.",
        ),
        click.Option(
            ["--expect-current", "expect_current"],
            multiple=True,
            metavar="REF",
            help="Refuse (exit 1) unless the environment currently runs REF. Repeatable.",
        ),
        click.Option(
            ["--evidence", "evidence"],
            multiple=True,
            type=click.Path(dir_okay=False),
            help="A gate's JSON result (--json of validate, benchmark, scan) to summarise "
            "in the commit and request. Repeatable.",
        ),
        click.Option(
            ["--from-environment"],
            default=None,
            help="Promote exactly the image versions (and --set values) that this "
            "environment holds at the current head, e.g. staging.",
        ),
        click.Option(
            ["--registry-model"],
            default=None,
            help="MLflow registered model whose alias moves once the commit lands.",
        ),
        click.Option(
            ["--registry-version"], default=None, help="The model version the alias moves to."
        ),
        click.Option(["--registry-alias"], default=None, help="The alias to move, e.g. champion."),
        click.Option(
            ["--alias-when"],
            type=click.Choice(["landed", "verified"]),
            default="landed",
            show_default=True,
            help="When the registry alias moves: landed, once the commit lands (push mode); "
            "verified, only once mlgate verify passed on the live model (the commit records "
            "the move as waiting, Mlgate-Alias-When: verified).",
        ),
        click.Option(
            ["--tag"],
            default=None,
            metavar="NAME",
            help="Tag the promotion commit with an annotated tag: a name like Q2-2026-fraud-model "
            "or a template of {app}, {environment}, {version} (the model version, else the image "
            "tag), {tag} (the image tag) and {date} (UTC YYYY-MM-DD). Over git it is pushed "
            "atomically with the commit; a name the config repo already has is refused. Push "
            "mode only.",
        ),
        click.Option(
            ["--release"],
            is_flag=True,
            help="With --tag and --provider github/gitlab: also make a release on the tag, its "
            "notes the promotion's Markdown summary.",
        ),
    )
    paths = landing.PATHS
    name_or_path = landing.NAME_OR_PATH

    def config_from(self, values: Mapping[str, Any], environ: Mapping[str, str]) -> PromoteConfig:
        from mlgate.errors import BadInput
        from mlgate.promote.config import PromoteConfig, RegistrySpec
        from mlgate.promote.message import load_evidence
        from mlgate.promote.settings import check_name
        from mlgate.promote.tagging import spec

        target, options = landing.target_and_options(values, environ, verb="promote")
        registry = None
        reg = (values["registry_model"], values["registry_version"], values["registry_alias"])
        if any(reg):
            if not all(reg):
                raise BadInput(
                    "--registry-model, --registry-version and --registry-alias go together"
                )
            registry = RegistrySpec(
                reg[0],
                reg[1],
                reg[2],
                values["tracking_uri"] or environ.get("MLFLOW_TRACKING_URI"),
                when=values["alias_when"],
            )
        from_env = values["from_environment"]
        if from_env is not None:
            check_name(from_env, "--from-environment")
        return PromoteConfig(
            target=target,
            options=options,
            app=values["app"],
            environment=values["environment"],
            env_path=landing.environment_path(values, values["environment"]),
            images=values["images"],
            sets=values["sets"],
            expect_current=values["expect_current"],
            evidence=load_evidence(values["evidence"]),
            from_environment=from_env,
            from_path=landing.environment_path(values, from_env) if from_env else None,
            registry=registry,
            environ=dict(environ),
            tag=spec(values.get("tag"), bool(values.get("release")), target.mode,
                     target.provider),
        )

    def run(self, config: PromoteConfig, progress: Progress) -> PromoteOutcome:
        from mlgate.promote.promote import promote

        return PromoteOutcome(promote(config, say=progress), config)

    def present(self, outcome: PromoteOutcome) -> Presentation:
        from mlgate.report.promote import present

        return present(outcome.result, outcome.config.target)


STAGE = Promote()
