"""`mlgate history`: every promotion, rollback and canary step of an app, from git alone."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from mlgate.stages.audit_inputs import READ_PARAMS, read_target, repo_label, write_markdown
from mlgate.stages.stage import Progress

if TYPE_CHECKING:
    from mlgate.audit.result import HistoryResult
    from mlgate.promote.config import Target
    from mlgate.report.presentation import Presentation


@dataclass(frozen=True)
class HistoryConfig:
    target: Target
    app: str
    environment: str | None
    since: str | None
    markdown_path: str | None


@dataclass(frozen=True)
class HistoryOutcome:
    result: HistoryResult
    target: Target


class History:
    name = "history"
    help = (
        "List every promotion, rollback (with its reason) and canary step of an app, newest "
        "first, from the config repo's commits alone: who, when, what changed, the model "
        "commit, the CI run and the evidence. No API token is needed for a local clone."
    )
    params: tuple[click.Parameter, ...] = (
        click.Argument(["app"], metavar="APP"),
        *READ_PARAMS,
        click.Option(["--environment"], default=None,
                     help="Only this environment (default: all)."),
        click.Option(["--since"], default=None, metavar="DATE",
                     help="Only commits made at or after this ISO date or time "
                     "(e.g. 2026-05-01, UTC unless it says otherwise)."),
    )
    paths = frozenset({"repo"})

    def config_from(self, values: Mapping[str, Any], environ: Mapping[str, str]
                    ) -> HistoryConfig:
        from mlgate.audit.trail import parse_since
        from mlgate.promote.settings import check_name

        check_name(values["app"], "APP")
        if values["environment"] is not None:
            check_name(values["environment"], "--environment")
        if values["since"] is not None:
            parse_since(values["since"])
        return HistoryConfig(read_target(values, environ), values["app"],
                             values["environment"], values["since"], values["markdown_path"])

    def run(self, config: HistoryConfig, progress: Progress) -> HistoryOutcome:
        from mlgate.audit.log import config_log
        from mlgate.audit.trail import history

        with config_log(config.target) as log:
            result = history(log, repo=repo_label(config.target), base=config.target.base,
                             app=config.app, environment=config.environment,
                             since=config.since)
        outcome = HistoryOutcome(result, config.target)
        write_markdown(config.markdown_path, self.present, outcome)
        return outcome

    def present(self, outcome: HistoryOutcome) -> Presentation:
        from mlgate.report.audit import present_history

        return present_history(outcome.result, outcome.target)


STAGE = History()
