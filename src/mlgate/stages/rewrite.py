"""`mlgate rewrite`: point image references and model versions in manifests at new values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import click

from mlgate.stages.params import OutputFile
from mlgate.stages.stage import Progress

if TYPE_CHECKING:
    from mlgate.manifests.config import RewriteConfig
    from mlgate.manifests.result import RewriteResult
    from mlgate.report.presentation import Presentation


class Rewrite:
    name = "rewrite"
    help = (
        "Rewrite image tags/digests and other values in Kubernetes, Kustomize, Helm, Argo "
        "CD, Flux and KServe YAML, changing only the bytes of the values it sets."
    )
    params: tuple[click.Parameter, ...] = (
        click.Argument(["paths"], nargs=-1, required=True, metavar="PATH..."),
        click.Option(
            ["--image", "images"],
            multiple=True,
            metavar="REF",
            help="New image reference (repo:tag, repo@sha256:..., or repo:tag@sha256:...). Every "
            "reference to that repository under PATH is pointed at it. Repeatable.",
        ),
        click.Option(
            ["--set", "sets"],
            multiple=True,
            metavar="FILE:KEY.PATH=VALUE",
            help="Set one scalar, e.g. 'apps/churn.yaml:spec.source.helm.parameters[name=model.version]"
            ".value=7'. Repeatable.",
        ),
        click.Option(
            ["--flux-policy", "flux_policies"],
            multiple=True,
            metavar="NAMESPACE:NAME=REF",
            help='Update fields marked with a Flux setter comment \'# {"$imagepolicy": '
            '"NAMESPACE:NAME[:tag|:name|:digest]"}\' from REF. Repeatable.',
        ),
        click.Option(
            ["--expect-current", "expect_current"],
            multiple=True,
            metavar="REF",
            help="Refuse (exit 1) unless every reference to REF's repository currently is REF. "
            "Guards against a stale job overwriting an environment. Repeatable, one per image.",
        ),
        click.Option(["--dry-run"], is_flag=True, help="Print the unified diff and write nothing."),
        click.Option(
            ["--diff", "diff_path"],
            type=OutputFile(),
            default=None,
            help="Write the unified diff of the change to this file.",
        ),
        click.Option(
            ["--allow-missing"],
            is_flag=True,
            help="Do not fail (exit 1) when an --image or --flux-policy matches nothing.",
        ),
        click.Option(
            ["--root"],
            type=click.Path(file_okay=False),
            default=".",
            show_default=True,
            help="Directory every PATH and --set FILE must stay inside (symlinks included).",
        ),
    )
    paths = frozenset({"paths"})

    def config_from(self, values: Mapping[str, Any], environ: Mapping[str, str]) -> RewriteConfig:
        from mlgate.manifests.config import RewriteConfig

        return RewriteConfig.from_cli(
            root=values["root"],
            paths=values["paths"],
            images=values["images"],
            sets=values["sets"],
            flux_policies=values["flux_policies"],
            expect_current=values["expect_current"],
            dry_run=values["dry_run"],
            diff_path=values["diff_path"],
            allow_missing=values["allow_missing"],
        )

    def run(self, config: RewriteConfig, progress: Progress) -> RewriteResult:
        from mlgate.manifests.engine import rewrite

        return rewrite(config)

    def present(self, result: RewriteResult) -> Presentation:
        from mlgate.report.rewrite import present

        return present(result)


STAGE = Rewrite()
