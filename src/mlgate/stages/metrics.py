"""`mlgate metrics`: DORA's four keys and model metrics, from the config repo's history alone."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from mlgate.stages.audit_inputs import READ_PARAMS, read_target, repo_label, write_markdown
from mlgate.stages.params import OutputFile
from mlgate.stages.stage import Progress

if TYPE_CHECKING:
    from mlgate.audit.metrics_result import MetricsResult
    from mlgate.promote.config import Target
    from mlgate.report.presentation import Presentation


@dataclass(frozen=True)
class MetricsConfig:
    target: Target
    app: str | None
    since: str | None
    until: str | None
    production: str
    failure_window: int
    markdown_path: str | None
    html_path: str | None


@dataclass(frozen=True)
class MetricsOutcome:
    result: MetricsResult
    target: Target


class Metrics:
    name = "metrics"
    help = (
        "Delivery and model metrics from the config repo's commits alone: deployment "
        "frequency per environment and week, lead time for changes, change failure rate, "
        "time to restore, the age of each production model, and how much of the environments' "
        "history mlgate wrote. Terminal table, JSON, Markdown and an offline HTML report."
    )
    params: tuple[click.Parameter, ...] = (
        *READ_PARAMS,
        click.Option(["--app"], default=None, help="Only this application (default: all)."),
        click.Option(["--since"], default=None, metavar="DATE",
                     help="Only deployments made at or after this ISO date or time "
                     "(e.g. 2026-05-01, UTC unless it says otherwise; default: all history)."),
        click.Option(["--until"], default=None, metavar="DATE",
                     help="Only commits made at or before this ISO date or time (a date alone "
                     "is the end of that day); the metrics are as of then (default: now)."),
        click.Option(["--production"], default="production", show_default=True,
                     metavar="ENV",
                     help="The environment lead time, change failure rate, time to restore "
                     "and model freshness are measured in."),
        click.Option(["--failure-window"], default="7d", show_default=True, metavar="WINDOW",
                     help="A production deployment rolled back (or its canary aborted) within "
                     "this long counts as a failed change: 7d, 2w, 12h, 90m."),
        click.Option(["--html-report", "html_path"], default=None, type=OutputFile(),
                     help="Also write an HTML report with plots (deployments per week, "
                     "lead-time distribution), readable offline."),
    )
    paths = frozenset({"repo"})

    def config_from(self, values: Mapping[str, Any], environ: Mapping[str, str]
                    ) -> MetricsConfig:
        from mlgate.audit.metrics import parse_until, parse_window
        from mlgate.audit.trail import parse_since
        from mlgate.errors import BadInput
        from mlgate.promote.settings import check_name

        if values["app"] is not None:
            check_name(values["app"], "--app")
        check_name(values["production"], "--production")
        start = parse_since(values["since"]) if values["since"] is not None else None
        end = parse_until(values["until"]) if values["until"] is not None else None
        if start is not None and end is not None and start > end:
            raise BadInput(f"--since {values['since']!r} is after --until {values['until']!r}")
        return MetricsConfig(read_target(values, environ), values["app"], values["since"],
                             values["until"], values["production"],
                             parse_window(values["failure_window"]), values["markdown_path"],
                             values["html_path"])

    def run(self, config: MetricsConfig, progress: Progress) -> MetricsOutcome:
        from mlgate.audit.log import config_log
        from mlgate.audit.metrics import metrics

        with config_log(config.target, trees=True) as log:
            result = metrics(log, repo=repo_label(config.target), base=config.target.base,
                             app=config.app, production=config.production,
                             since=config.since, until=config.until,
                             failure_window=config.failure_window)
        outcome = MetricsOutcome(result, config.target)
        write_markdown(config.markdown_path, self.present, outcome)
        if config.html_path:
            from mlgate.atomic import write_atomic
            from mlgate.report.metrics_html import html

            write_atomic(config.html_path, html(result).encode())
        return outcome

    def present(self, outcome: MetricsOutcome) -> Presentation:
        from mlgate.report.metrics import present_metrics

        return present_metrics(outcome.result, outcome.target)


STAGE = Metrics()
