"""`mlgate benchmark`: champion against candidate on held-out data, decided with statistics."""

from __future__ import annotations

import click

from mlgate.commands.common import OutputFile, current_environ, finish, json_option

OUTPUTS: dict[str, str] = {
    "passed": "true when every metric, slice and latency rule holds, else false.",
    "champion-missing": "true when there was no champion to compare against (judged on "
                        "absolute thresholds alone).",
    "metric": "Name of the first gated metric (the one the next outputs describe).",
    "champion": "That metric's value for the champion (empty without a champion).",
    "candidate": "That metric's value for the candidate.",
    "delta": "candidate - champion for that metric.",
    "ci-low": "Lower end of the bootstrap confidence interval of the delta.",
    "ci-high": "Upper end of the bootstrap confidence interval of the delta.",
    "p-value": "p-value of McNemar's exact test (classifiers) or Wilcoxon's signed-rank test "
               "(losses) for that metric.",
    "metrics": "Every metric as compact JSON: {name: {champion, candidate, delta, low, high, "
               "p_value, passed}}.",
    "report": "Path of the Markdown report, when --report was given.",
    "html-report": "Path of the HTML report, when --html-report was given.",
    "metrics-file": "Path of the OpenMetrics file for GitLab, when --metrics-file was given.",
}


def _fraction(ctx, param, value):
    """'10%' or '0.1' -> 0.1."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    try:
        return float(text[:-1]) / 100.0 if text.endswith("%") else float(text)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a fraction or a percentage") from None


@click.command("benchmark", help="Compare a candidate model with the champion on the same "
               "held-out data: paired bootstrap intervals, McNemar / Wilcoxon tests, metric "
               "rules judged on the confidence bound, slices and latency.")
@click.option("--candidate", required=True, metavar="URI",
              help="The new model: models:/name/3, models:/name@alias, runs:/ID/model, an "
                   "MLflow model directory, or a .skops / .joblib / .pkl file.")
@click.option("--champion", default=None, metavar="URI",
              help="The model in production (same forms). A registry alias that does not exist "
                   "yet means no champion: only absolute thresholds are judged.")
@click.option("--data", required=True, type=click.Path(dir_okay=False), metavar="FILE",
              help="Held-out data: CSV, Parquet or JSON lines, features plus the target.")
@click.option("--target", required=True, metavar="COLUMN", help="The target column.")
@click.option("--task", type=click.Choice(["classification", "regression"]), default=None,
              help="classification or regression; by default taken from the candidate "
                   "(classifier or regressor) or else from the target column.")
@click.option("--metric", "metrics", multiple=True, metavar="SPEC",
              help="NAME[:key=value,...] with keys threshold, min_absolute_change, "
                   "min_relative_change, margin (absolute or N%), greater_is_better. Repeatable. "
                   "Default: accuracy (classification) or rmse (regression) with margin=0.01.")
@click.option("--confidence", type=float, default=0.95, show_default=True,
              help="Confidence level of the bootstrap intervals.")
@click.option("--bootstrap", "resamples", type=int, default=1000, show_default=True,
              help="Number of paired bootstrap resamples.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the bootstrap (same seed and data, same intervals).")
@click.option("--slice", "slice_column", default=None, metavar="COLUMN",
              help="Judge every metric on each value of this column too; a slice regressing "
                   "beyond its margin fails the gate.")
@click.option("--min-rows", type=int, default=30, show_default=True,
              help="Fewer rows in --data fail the gate: too little data to judge (the "
                   "intervals would mean nothing).")
@click.option("--min-slice-rows", type=int, default=30, show_default=True,
              help="Slices with fewer rows are reported, not judged.")
@click.option("--ignore-column", "ignore_columns", multiple=True, metavar="COLUMN",
              help="A data column that is neither a feature nor the target (an id). Repeatable.")
@click.option("--latency", is_flag=True,
              help="Measure p50 / p95 single-row prediction latency of both models.")
@click.option("--latency-samples", type=int, default=200, show_default=True,
              help="Single-row predictions timed per model.")
@click.option("--max-latency-p95-ms", type=float, default=None,
              help="Fail when the candidate's p95 latency is above this (implies --latency).")
@click.option("--max-latency-regression", callback=_fraction, default=None, metavar="FRACTION",
              help="Fail when the candidate's p95 latency exceeds the champion's by more than "
                   "this, e.g. 10% (implies --latency).")
@click.option("--engine", type=click.Choice(["pandas", "spark"]), default="pandas",
              show_default=True, help="spark: score with mlflow.pyfunc.spark_udf and compute "
                                      "the statistics from Spark aggregates.")
@click.option("--spark-master", default=None, metavar="URL",
              help="Spark master for --engine spark (default: local[*]).")
@click.option("--trust-pickle", is_flag=True,
              help="Allow loading pickle, joblib or cloudpickle models (this runs code from "
                   "the model file). skops models load without it.")
@click.option("--skops-trusted-type", "trusted_types", multiple=True, metavar="TYPE",
              help="A type to trust when loading a skops model, beyond skops' defaults. "
                   "Repeatable.")
@click.option("--report", "report_path", default=None, type=OutputFile(),
              help="Write the Markdown report (table and Mermaid chart) here.")
@click.option("--html-report", "html_path", default=None, type=OutputFile(),
              help="Write the HTML report (ROC / precision-recall curves or residuals) here.")
@click.option("--metrics-file", "metrics_path", default=None, type=OutputFile(),
              help="Write GitLab's metrics report (OpenMetrics text, e.g. metrics.txt) here.")
@click.option("--log-to-mlflow", is_flag=True,
              help="Log the figures and reports to the candidate's MLflow run.")
@json_option
def command(**kw) -> int:
    from mlgate.benchmark.reports import write_reports
    from mlgate.benchmark.run import BenchmarkConfig, LatencyLimits, run
    from mlgate.report.benchmark import present

    environ = current_environ()
    cfg = BenchmarkConfig(
        candidate=kw["candidate"], champion=kw["champion"] or None, data=kw["data"],
        target=kw["target"], task=kw["task"], metrics=tuple(kw["metrics"]),
        confidence=kw["confidence"], resamples=kw["resamples"], seed=kw["seed"],
        slice_column=kw["slice_column"] or None, min_slice_rows=kw["min_slice_rows"],
        min_rows=kw["min_rows"],
        ignore_columns=tuple(kw["ignore_columns"]), latency=kw["latency"],
        latency_samples=kw["latency_samples"],
        limits=LatencyLimits(kw["max_latency_p95_ms"], kw["max_latency_regression"]),
        engine=kw["engine"], spark_master=kw["spark_master"], trust_pickle=kw["trust_pickle"],
        trusted_types=tuple(kw["trusted_types"]), curves=bool(kw["html_path"]),
        tracking_uri=environ.get("MLFLOW_TRACKING_URI") or None,
        registry_uri=environ.get("MLFLOW_REGISTRY_URI") or None)
    outcome = run(cfg)
    result = outcome.result
    paths = write_reports(result, outcome.curves() if kw["html_path"] else None,
                          markdown_path=kw["report_path"], html_path=kw["html_path"],
                          metrics_path=kw["metrics_path"])
    if kw["log_to_mlflow"]:
        import dataclasses

        from mlgate.benchmark.mlflow_log import log_to_run

        run_id = log_to_run(result, paths)
        result = dataclasses.replace(result, mlflow_run_id=run_id)
    return finish(present(result, paths), kw["json_path"])
