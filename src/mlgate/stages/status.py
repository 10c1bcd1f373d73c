"""`mlgate status`: what each app runs in each environment, from git alone."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from mlgate.stages.audit_inputs import READ_PARAMS, read_target, repo_label, write_markdown
from mlgate.stages.stage import Progress

if TYPE_CHECKING:
    from mlgate.audit.result import StatusResult
    from mlgate.promote.config import Target
    from mlgate.report.presentation import Presentation


@dataclass(frozen=True)
class StatusConfig:
    target: Target
    app: str | None
    markdown_path: str | None
    all_history: bool = False


@dataclass(frozen=True)
class StatusOutcome:
    result: StatusResult
    target: Target


class Status:
    name = "status"
    help = (
        "One row per app and environment from the config repo's commits alone: the image "
        "and model version it runs, since when, promoted by whom, the gates' verdicts, an "
        "open canary, and whether the last promotion was rolled back."
    )
    params: tuple[click.Parameter, ...] = (
        *READ_PARAMS,
        click.Option(["--app"], default=None, help="Only this application (default: all)."),
        click.Option(["--all-history"], is_flag=True, default=False,
                     help="Read the whole history, not only back to where every app and "
                     "environment the evidence in the repo names has its row: lists pairs "
                     "last promoted before promotions kept evidence in the config repo."),
    )
    paths = frozenset({"repo"})

    def config_from(self, values: Mapping[str, Any], environ: Mapping[str, str]
                    ) -> StatusConfig:
        from mlgate.promote.settings import check_name

        if values["app"] is not None:
            check_name(values["app"], "--app")
        return StatusConfig(read_target(values, environ), values["app"], values["markdown_path"],
                            values["all_history"])

    def run(self, config: StatusConfig, progress: Progress) -> StatusOutcome:
        from mlgate.audit.log import config_log
        from mlgate.audit.trail import status

        with config_log(config.target) as log:
            result = status(log, repo=repo_label(config.target), base=config.target.base,
                            app=config.app, all_history=config.all_history)
        outcome = StatusOutcome(result, config.target)
        write_markdown(config.markdown_path, self.present, outcome)
        return outcome

    def present(self, outcome: StatusOutcome) -> Presentation:
        from mlgate.report.audit import present_status

        return present_status(outcome.result, outcome.target)


STAGE = Status()
