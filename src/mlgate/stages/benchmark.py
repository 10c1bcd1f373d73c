"""`mlgate benchmark`: champion against candidate on held-out data, decided with statistics."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from mlgate.stages.params import OutputFile
from mlgate.stages.stage import Progress

if TYPE_CHECKING:
    from mlgate.benchmark.config import BenchmarkConfig
    from mlgate.benchmark.result import BenchmarkResult
    from mlgate.report.presentation import Presentation


def _fraction(ctx, param, value):
    """'10%' or '0.1' -> 0.1."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    try:
        return float(text[:-1]) / 100.0 if text.endswith("%") else float(text)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a fraction or a percentage") from None


@dataclass(frozen=True)
class BenchmarkStageConfig:
    core: BenchmarkConfig
    report: str | None
    html: str | None
    metrics_file: str | None
    log_to_mlflow: bool


@dataclass(frozen=True)
class BenchmarkOutcome:
    result: BenchmarkResult
    paths: dict[str, str]


class Benchmark:
    name = "benchmark"
    help = (
        "Compare a candidate model with the champion on the same held-out data: paired "
        "bootstrap intervals, McNemar / Wilcoxon tests, metric rules judged on the "
        "confidence bound, slices and latency."
    )
    params: tuple[click.Parameter, ...] = (
        click.Option(
            ["--candidate"],
            required=True,
            metavar="URI",
            help="The new model: models:/name/3, models:/name@alias, runs:/ID/model, an "
            "MLflow model directory, or a .skops / .joblib / .pkl file.",
        ),
        click.Option(
            ["--champion"],
            default=None,
            metavar="URI",
            help="The model in production (same forms). A registry alias that does not exist "
            "yet means no champion: only absolute thresholds are judged.",
        ),
        click.Option(
            ["--data"],
            required=True,
            type=click.Path(dir_okay=False),
            metavar="FILE",
            help="Held-out data: CSV, Parquet or JSON lines, features plus the target.",
        ),
        click.Option(["--target"], required=True, metavar="COLUMN", help="The target column."),
        click.Option(
            ["--task"],
            type=click.Choice(["classification", "regression"]),
            default=None,
            help="classification or regression; by default taken from the candidate "
            "(classifier or regressor) or else from the target column.",
        ),
        click.Option(
            ["--metric", "metrics"],
            multiple=True,
            metavar="SPEC",
            help="NAME[:key=value,...] with keys threshold, min_absolute_change, "
            "min_relative_change, margin (absolute or N%), greater_is_better. Repeatable. "
            "Default: accuracy (classification) or rmse (regression) with margin=0.01.",
        ),
        click.Option(
            ["--confidence"],
            type=float,
            default=0.95,
            show_default=True,
            help="Confidence level of the bootstrap intervals.",
        ),
        click.Option(
            ["--bootstrap", "resamples"],
            type=int,
            default=1000,
            show_default=True,
            help="Number of paired bootstrap resamples.",
        ),
        click.Option(
            ["--seed"],
            type=int,
            default=0,
            show_default=True,
            help="Seed of the bootstrap (same seed and data, same intervals).",
        ),
        click.Option(
            ["--slice", "slice_column"],
            default=None,
            metavar="COLUMN",
            help="Judge every metric on each value of this column too; a slice regressing "
            "beyond its margin fails the gate.",
        ),
        click.Option(
            ["--min-rows"],
            type=int,
            default=30,
            show_default=True,
            help="Fewer rows in --data fail the gate: too little data to judge (the "
            "intervals would mean nothing).",
        ),
        click.Option(
            ["--min-slice-rows"],
            type=int,
            default=30,
            show_default=True,
            help="Slices with fewer rows are reported, not judged.",
        ),
        click.Option(
            ["--sensitive", "sensitive"],
            multiple=True,
            metavar="COLUMN",
            help="A sensitive attribute (e.g. age_band, region): every metric per group for "
            "both models, and demographic parity and equalized odds differences for binary "
            "classifiers (fairlearn), into the result for mlgate comply --fairness to judge. "
            "Never fed to the models; a missing value is its own group. Repeatable.",
        ),
        click.Option(
            ["--ignore-column", "ignore_columns"],
            multiple=True,
            metavar="COLUMN",
            help="A data column that is neither a feature nor the target (an id). Repeatable.",
        ),
        click.Option(
            ["--latency"],
            is_flag=True,
            help="Measure p50 / p95 single-row prediction latency of both models.",
        ),
        click.Option(
            ["--latency-samples"],
            type=int,
            default=200,
            show_default=True,
            help="Single-row predictions timed per model.",
        ),
        click.Option(
            ["--max-latency-p95-ms"],
            type=float,
            default=None,
            help="Fail when the candidate's p95 latency is above this (implies --latency).",
        ),
        click.Option(
            ["--max-latency-regression"],
            callback=_fraction,
            default=None,
            metavar="FRACTION",
            help="Fail when the candidate's p95 latency exceeds the champion's by more than "
            "this, e.g. 10% (implies --latency).",
        ),
        click.Option(
            ["--engine"],
            type=click.Choice(["pandas", "spark"]),
            default="pandas",
            show_default=True,
            help="spark: score with mlflow.pyfunc.spark_udf and compute "
            "the statistics from Spark aggregates.",
        ),
        click.Option(
            ["--spark-master"],
            default=None,
            metavar="URL",
            help="Spark master for --engine spark (default: local[*]).",
        ),
        click.Option(
            ["--trust-pickle"],
            is_flag=True,
            help="Allow loading pickle, joblib or cloudpickle models (this runs code from "
            "the model file). skops models load without it.",
        ),
        click.Option(
            ["--skops-trusted-type", "trusted_types"],
            multiple=True,
            metavar="TYPE",
            help="A type to trust when loading a skops model, beyond skops' defaults. "
            "Repeatable.",
        ),
        click.Option(
            ["--report", "report_path"],
            default=None,
            type=OutputFile(),
            help="Write the Markdown report (table and Mermaid chart) here.",
        ),
        click.Option(
            ["--html-report", "html_path"],
            default=None,
            type=OutputFile(),
            help="Write the HTML report (ROC / precision-recall curves or residuals) here.",
        ),
        click.Option(
            ["--metrics-file", "metrics_path"],
            default=None,
            type=OutputFile(),
            help="Write GitLab's metrics report (OpenMetrics text, e.g. metrics.txt) here.",
        ),
        click.Option(
            ["--log-to-mlflow"],
            is_flag=True,
            help="Log the figures and reports to the candidate's MLflow run.",
        ),
    )
    paths = frozenset({"candidate", "champion"})

    def config_from(
        self, values: Mapping[str, Any], environ: Mapping[str, str]
    ) -> BenchmarkStageConfig:
        from mlgate.benchmark.config import BenchmarkConfig, LatencyLimits

        v = values
        core = BenchmarkConfig(
            candidate=v["candidate"],
            champion=v["champion"] or None,
            data=v["data"],
            target=v["target"],
            task=v["task"],
            metrics=tuple(v["metrics"]),
            confidence=v["confidence"],
            resamples=v["resamples"],
            seed=v["seed"],
            slice_column=v["slice_column"] or None,
            min_slice_rows=v["min_slice_rows"],
            min_rows=v["min_rows"],
            ignore_columns=tuple(v["ignore_columns"]),
            sensitive=tuple(dict.fromkeys(v["sensitive"])),
            latency=v["latency"],
            latency_samples=v["latency_samples"],
            limits=LatencyLimits(v["max_latency_p95_ms"], v["max_latency_regression"]),
            engine=v["engine"],
            spark_master=v["spark_master"],
            trust_pickle=v["trust_pickle"],
            trusted_types=tuple(v["trusted_types"]),
            curves=bool(v["html_path"]),
            tracking_uri=environ.get("MLFLOW_TRACKING_URI") or None,
            registry_uri=environ.get("MLFLOW_REGISTRY_URI") or None,
        )
        return BenchmarkStageConfig(
            core, v["report_path"], v["html_path"], v["metrics_path"], v["log_to_mlflow"]
        )

    def run(self, config: BenchmarkStageConfig, progress: Progress) -> BenchmarkOutcome:
        from mlgate.benchmark.run import run
        from mlgate.report.benchmark_files import write_reports

        outcome = run(config.core)
        result = outcome.result
        paths = write_reports(
            result,
            outcome.curves() if config.html else None,
            markdown_path=config.report,
            html_path=config.html,
            metrics_path=config.metrics_file,
        )
        if config.log_to_mlflow:
            import dataclasses

            from mlgate.benchmark.mlflow_log import log_to_run

            run_id = log_to_run(result, paths)
            result = dataclasses.replace(result, mlflow_run_id=run_id)
        return BenchmarkOutcome(result, paths)

    def present(self, outcome: BenchmarkOutcome) -> Presentation:
        from mlgate.report.benchmark import present

        return present(outcome.result, outcome.paths)


STAGE = Benchmark()
