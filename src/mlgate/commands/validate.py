"""`mlgate validate`: a dataset against a Great Expectations suite kept in git, as a gate."""

from __future__ import annotations

import click

from mlgate.commands.common import OutputDir, OutputFile, finish, json_option

OUTPUTS: dict[str, str] = {
    "passed": "true when no failed expectation or drift finding is at or above --fail-on.",
    "evaluated": "Number of expectations evaluated.",
    "failed": "Number of expectations that failed, whatever their severity.",
    "success-percent": "Share of expectations met, in percent (e.g. 95.00).",
    "drifted": "Number of columns whose distribution drifted, when --reference was given.",
    "junit": "Path of the JUnit report, when --junit was given.",
    "data-docs": "Path of the Data Docs index.html, when --data-docs was given.",
}

SEVERITY = click.Choice(["critical", "warning", "info"], case_sensitive=False)


@click.command("validate", help="Validate a dataset (CSV, Parquet, JSON lines, or a glob of "
               "them) against a Great Expectations suite kept in git, and gate on the failed "
               "expectations' severity; optionally check drift against a reference dataset.")
@click.option("--data", required=True, metavar="FILE_OR_GLOB",
              help="Data to validate: a CSV, Parquet or JSON-lines file, or a glob of files "
                   "validated as one batch (quote it).")
@click.option("--suite", required=True, type=click.Path(dir_okay=False),
              help="Expectation suite: GX JSON (ExpectationSuite.to_json_dict()) or the YAML "
                   "form (expectation, kwargs, severity).")
@click.option("--engine", default="pandas", show_default=True,
              type=click.Choice(["pandas", "spark"], case_sensitive=False),
              help="Run the suite with pandas, or with Spark for data that outgrows one "
                   "machine.")
@click.option("--spark-master", default=None, metavar="URL",
              help="Spark master for --engine spark (default local[*]), e.g. "
                   "spark://host:7077.")
@click.option("--reference", default=None, metavar="FILE_OR_GLOB",
              help="Reference dataset: report schema drift and per-column distribution "
                   "drift against it.")
@click.option("--drift-method", default="psi", show_default=True,
              type=click.Choice(["psi", "ks"], case_sensitive=False),
              help="Drift statistic for numeric columns: population stability index or "
                   "Kolmogorov-Smirnov; categorical columns always use PSI.")
@click.option("--psi-threshold", default=0.2, show_default=True, type=click.FloatRange(0),
              help="A column drifted when its PSI is above this.")
@click.option("--ks-threshold", default=0.1, show_default=True,
              type=click.FloatRange(0, 1),
              help="A numeric column drifted when its KS statistic is above this.")
@click.option("--drift-severity", default="warning", show_default=True, type=SEVERITY,
              help="Severity of a drifted column or a schema change (new, missing, retyped "
                   "column), weighed against --fail-on like an expectation's.")
@click.option("--fail-on", default="critical", show_default=True, type=SEVERITY,
              help="Fail when a failed expectation (or drift finding) has this severity or "
                   "a higher one.")
@click.option("--result-format", default="SUMMARY", show_default=True,
              type=click.Choice(["BOOLEAN_ONLY", "BASIC", "SUMMARY", "COMPLETE"],
                                case_sensitive=False),
              help="GX result format: how much GX computes per expectation; reports show at "
                   "most 5 unexpected values whatever the format.")
@click.option("--junit", "junit_path", default=None, type=OutputFile(),
              help="Write a JUnit XML report (one test case per expectation).")
@click.option("--data-docs", default=None, type=OutputDir(),
              help="Build GX Data Docs (HTML) into this directory.")
@json_option
def command(**kw) -> int:
    from mlgate.report.validate import present
    from mlgate.report.validate_files import write_reports
    from mlgate.validate.config import DriftPolicy, ValidateConfig
    from mlgate.validate.run import validate

    fail_on = kw["fail_on"].lower()
    cfg = ValidateConfig(
        data=kw["data"],
        suite=kw["suite"],
        engine=kw["engine"].lower(),
        spark_master=kw["spark_master"],
        reference=kw["reference"],
        fail_on=fail_on,
        result_format=kw["result_format"].upper(),
        data_docs=kw["data_docs"],
        drift=DriftPolicy(kw["drift_method"].lower(), kw["psi_threshold"], kw["ks_threshold"],
                          kw["drift_severity"].lower(), fail_on),
    )
    result = validate(cfg)
    paths = write_reports(result, junit=kw["junit_path"])
    return finish(present(result, paths), kw["json_path"])
