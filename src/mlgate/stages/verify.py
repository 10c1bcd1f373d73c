"""`mlgate verify`: measure the live model through Prometheus after a promotion, judge it the
way an Argo Rollouts AnalysisRun does, and roll back in git (or start a retraining) when it
fails, so a promotion ends live and verified, or undone with the reason recorded."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from mlgate.stages import landing
from mlgate.stages.params import OutputFile, optional
from mlgate.stages.stage import Progress
from mlgate.stages.wait_sync import NO_RECORD_HELP

if TYPE_CHECKING:
    from mlgate.audit.outcome import Recording
    from mlgate.report.presentation import Presentation
    from mlgate.verify.config import VerifyConfig
    from mlgate.verify.result import VerifyResult


@dataclass(frozen=True)
class VerifyStageConfig:
    core: VerifyConfig
    markdown: str | None
    junit: str | None
    metrics: str | None
    # when verify began (time.monotonic): the measuring schedule counts from here, so that
    # reading the inputs and the imports are part of the initial delay, not added to the run
    started: float | None = None
    # where the run's phase is recorded as a git note on the revision (mlgate.audit.outcome):
    # (repo, provider, revision), or None (--no-record, or no --repo and --revision)
    record: tuple[str, str, str] | None = None


@dataclass(frozen=True)
class VerifyOutcome:
    result: VerifyResult
    paths: dict[str, str]
    recording: Recording | None = None  # the note written on --revision


# the landing options, only needed when a failure rolls back
_LANDING = tuple(optional(p) for p in landing.PARAMS)

VERIFY_PARAMS: tuple[click.Parameter, ...] = (
    click.Option(["--prometheus"], required=True, metavar="URL",
                 help="Prometheus's base URL (http or https, a path prefix kept). Auth from "
                 "MLGATE_PROMETHEUS_TOKEN (bearer), MLGATE_PROMETHEUS_USERNAME and "
                 "MLGATE_PROMETHEUS_PASSWORD (basic), MLGATE_PROMETHEUS_HEADERS (lines "
                 "'Name: value')."),
    click.Option(["--prometheus-ca"], default=None, type=click.Path(dir_okay=False),
                 help="CA bundle (PEM) for Prometheus's TLS certificate."),
    click.Option(["--check", "checks"], multiple=True, required=True, metavar="SPEC",
                 help="A check: error-rate:max=1%, p95-latency:max=500ms, "
                 "accuracy:max-drop=5%, drift (max 0.5), replicas-unavailable:max=0, or "
                 "name=N,query=PROMQL,min=V,max=V; end with on-failure=rollback, retrain or "
                 "none to choose what its failure does. Repeatable."),
    click.Option(["--query", "queries"], multiple=True, metavar="CHECK=PROMQL",
                 help="Replace a built-in check's query (placeholders {app}, {environment}, "
                 "{namespace}, {model_version} inside quotes, {window} anywhere; in mlgate "
                 "canary also {canary}, the new image's tag, and {revision}, KServe's new "
                 "revision). Repeatable."),
    click.Option(["--evidence"], default=None, type=click.Path(dir_okay=False),
                 help="The JSON of mlgate benchmark that promoted the model: the baseline of "
                 "max-drop, and the model version."),
    click.Option(["--interval"], default="30s", show_default=True, metavar="DURATION",
                 help="Time between measurements (each covers the interval before it)."),
    click.Option(["--count"], type=click.IntRange(1, 1000), default=5, show_default=True,
                 help="Measurements per check."),
    click.Option(["--initial-delay"], default="0s", show_default=True, metavar="DURATION",
                 help="Wait this long before the analysis starts (traffic warming up)."),
    click.Option(["--window"], default=None, metavar="DURATION",
                 help="The range of rates in queries, {window} (default: the interval)."),
    click.Option(["--failure-limit"], type=click.IntRange(0, 1000), default=0,
                 show_default=True,
                 help="A check fails when more measurements than this fail."),
    click.Option(["--inconclusive-limit"], type=click.IntRange(0, 1000), default=0,
                 show_default=True,
                 help="A check is inconclusive when more measurements than this have no "
                 "value (no series, NaN)."),
    click.Option(["--consecutive-error-limit"], type=click.IntRange(0, 1000), default=4,
                 show_default=True,
                 help="A check errs when more measurements than this in a row could not be "
                 "taken (query error, Prometheus unreachable): exit 3."),
    click.Option(["--namespace"], default=None, metavar="NS",
                 help="The serving's Kubernetes namespace, {namespace} in queries."),
    click.Option(["--model-version"], default=None, metavar="VERSION",
                 help="{model_version} in queries (default: the candidate's version in "
                 "--evidence)."),
    click.Option(["--deployment"], default=None, metavar="NS/NAME",
                 help="The Deployment replicas-unavailable reads (default: --namespace/--app)."),
    click.Option(["--on-failure"], type=click.Choice(["check", "rollback", "retrain", "none"]),
                 default="check", show_default=True,
                 help="What a failed run does: each check's own choice (rollback; retrain "
                 "for drift), or one for all; none only reports."),
    click.Option(["--revision"], default=None, metavar="SHA",
                 help="The promotion commit being verified (promote's commit output): the "
                 "rollback undoes it, and only while it is still the latest."),
    click.Option(["--retrain-workflow"], default=None, metavar="FILE_OR_ID",
                 help="The training workflow to start on drift: a GitHub workflow file "
                 "(train.yml) run by workflow_dispatch; on GitLab any value runs the "
                 "project's pipeline with the drift figures as variables."),
    click.Option(["--retrain-ref"], default=None, metavar="BRANCH",
                 help="Branch the training runs on (default: GitLab's CI_DEFAULT_BRANCH, "
                 "else main)."),
    click.Option(["--retrain-repo"], default=None, metavar="OWNER/NAME",
                 help="Model repository of the training workflow (default: this CI "
                 "job's repository)."),
    click.Option(["--no-incident"], is_flag=True,
                 help="Open no incident issue (by default one is opened after a rollback or "
                 "a retraining when a GitHub or GitLab token is at hand)."),
    click.Option(["--kubeconfig"], default=None, type=click.Path(dir_okay=False),
                 help="Kubeconfig for replicas-unavailable."),
    click.Option(["--context"], default=None, help="Kubeconfig context to use."),
    click.Option(["--report", "markdown_path"], default=None, type=OutputFile(),
                 help="Write the Markdown report (charts of every check) to this file."),
    click.Option(["--junit", "junit_path"], default=None, type=OutputFile(),
                 help="Write a JUnit XML report (one test case per check)."),
    click.Option(["--metrics-file", "metrics_path"], default=None, type=OutputFile(),
                 help="Write GitLab's metrics report (Prometheus text format)."),
)


class Verify:
    name = "verify"
    help = (
        "Measure the live model through Prometheus every interval (AnalysisRun semantics: "
        "failure, inconclusive and consecutive-error limits) against ranges and the "
        "benchmark evidence; on failure roll back in git, or start a retraining."
    )
    params: tuple[click.Parameter, ...] = (
        *VERIFY_PARAMS,
        *(p for p in _LANDING if p.name not in ("repo",)),
        click.Option(["--repo"], default=None, metavar="URL_OR_PATH",
                     help="The config repository a failure rolls back in (with --app and "
                     "--environment; rollback's options apply), and where the run's phase is "
                     "recorded on --revision."),
        click.Option(["--no-record"], is_flag=True, help=NO_RECORD_HELP),
    )
    paths = frozenset({"repo", "evidence", "prometheus_ca", "kubeconfig",
                       "attestation_key"})
    name_or_path = landing.NAME_OR_PATH

    def config_from(self, values: Mapping[str, Any], environ: Mapping[str, str]
                    ) -> VerifyStageConfig:
        started = time.monotonic()
        from mlgate.stages.verify_inputs import verify_config

        record = None
        if values["repo"] and values["revision"] and not values.get("no_record", True):
            record = (values["repo"], values["provider"], values["revision"])
        return VerifyStageConfig(verify_config(values, environ), values["markdown_path"],
                                 values["junit_path"], values["metrics_path"], started, record)

    def run(self, config: VerifyStageConfig, progress: Progress) -> VerifyOutcome:
        from mlgate.ci.emit import preload
        from mlgate.report.verify import present  # noqa: F401
        from mlgate.report.verify_files import write_reports
        from mlgate.verify.run import verify

        # the schedule counts from config_from, so these imports pass inside the wait for the
        # first measurement: after the last one they would only make the run end later
        preload(config.core.environ)
        result = verify(config.core, progress, started=config.started)
        paths = write_reports(result, {
            "report": config.markdown, "junit": config.junit, "metrics-file": config.metrics})
        recording = None
        if config.record is not None:
            from mlgate.audit.outcome import record_outcome

            repo, provider, revision = config.record
            recording = record_outcome(repo, revision, "verify", result.phase,
                                       config.core.environ, provider)
            progress(f"recorded {recording.line}" if recording.recorded
                     else recording.warning or "not recorded")
        return VerifyOutcome(result, paths, recording)

    def present(self, outcome: VerifyOutcome) -> Presentation:
        from mlgate.report.outcome import with_recording
        from mlgate.report.verify import present

        return with_recording(present(outcome.result, outcome.paths), outcome.recording)


STAGE = Verify()
