"""`mlgate sync-aliases`: point MLflow aliases at what the config repo's environments run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from mlgate.stages.stage import Progress

if TYPE_CHECKING:
    from mlgate.promote.config import SyncConfig, Target
    from mlgate.promote.result import SyncResult
    from mlgate.report.presentation import Presentation


@dataclass(frozen=True)
class SyncOutcome:
    result: SyncResult
    target: Target


class SyncAliases:
    name = "sync-aliases"
    help = (
        "Move each MLflow registry alias that promotions recorded (Mlgate-Registry "
        "trailers) to the model version its environment runs at the config repo's head: "
        "for pull-request mode, run on pushes to the config repo. Idempotent: an alias "
        "already there is not touched."
    )
    params: tuple[click.Parameter, ...] = (
        click.Option(
            ["--repo"],
            required=True,
            metavar="URL_OR_PATH",
            help="The config repository: https/ssh URL or a local path. Credentials never go "
            "in the URL: the token comes from MLGATE_GIT_TOKEN (user "
            "MLGATE_GIT_USERNAME), or GITHUB_TOKEN / GITLAB_TOKEN with --provider "
            "github / gitlab.",
        ),
        click.Option(
            ["--app"], default=None, help="Only this application's aliases (default: all)."
        ),
        click.Option(
            ["--environment"], default=None, help="Only this environment's aliases (default: all)."
        ),
        click.Option(
            ["--base"],
            default="main",
            show_default=True,
            help="Branch Argo CD or Flux watch: its head is what the environments run.",
        ),
        click.Option(
            ["--provider"],
            type=click.Choice(["git", "github", "gitlab"]),
            default="git",
            show_default=True,
            help="Which token variable reaches the config repo (git: "
            "MLGATE_GIT_TOKEN; github/gitlab: also GITHUB_TOKEN / GITLAB_TOKEN); read over git.",
        ),
        click.Option(
            ["--tracking-uri"],
            default=None,
            help="MLflow tracking/registry URI (default: MLFLOW_TRACKING_URI).",
        ),
    )
    paths = frozenset({"repo"})

    def config_from(self, values: Mapping[str, Any], environ: Mapping[str, str]) -> SyncConfig:
        from mlgate.promote.config import SyncConfig
        from mlgate.promote.settings import build_target, check_name

        for key, what in (("app", "--app"), ("environment", "--environment")):
            if values[key] is not None:
                check_name(values[key], what)
        target = build_target(
            repo=values["repo"],
            provider=values["provider"],
            mode="push",
            base=values["base"],
            api_url=None,
            environ=environ,
        )
        return SyncConfig(
            target=target,
            app=values["app"],
            environment=values["environment"],
            tracking_uri=values["tracking_uri"] or environ.get("MLFLOW_TRACKING_URI"),
        )

    def run(self, config: SyncConfig, progress: Progress) -> SyncOutcome:
        from mlgate.promote.alias_sync import sync_aliases

        return SyncOutcome(sync_aliases(config, say=progress), config.target)

    def present(self, outcome: SyncOutcome) -> Presentation:
        from mlgate.report.promote import present_sync

        return present_sync(outcome.result, outcome.target)


STAGE = SyncAliases()
