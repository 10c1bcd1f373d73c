"""`mlgate validate`: a dataset against a Great Expectations suite kept in git, as a gate."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from mlgate.stages.params import OutputDir, OutputFile
from mlgate.stages.stage import Progress

if TYPE_CHECKING:
    from mlgate.report.presentation import Presentation
    from mlgate.validate.config import ValidateConfig
    from mlgate.validate.result import ValidationResult

SEVERITY = click.Choice(["critical", "warning", "info"], case_sensitive=False)


@dataclass(frozen=True)
class ValidateStageConfig:
    core: ValidateConfig
    junit: str | None


@dataclass(frozen=True)
class ValidateOutcome:
    result: ValidationResult
    paths: dict[str, str]


class Validate:
    name = "validate"
    help = (
        "Validate a dataset (CSV, Parquet, JSON lines, or a glob of them) against a Great "
        "Expectations suite kept in git, and gate on the failed expectations' severity; "
        "optionally check drift against a reference dataset."
    )
    params: tuple[click.Parameter, ...] = (
        click.Option(
            ["--data"],
            required=True,
            metavar="FILE_OR_GLOB",
            help="Data to validate: a CSV, Parquet or JSON-lines file, or a glob of files "
            "validated as one batch (quote it).",
        ),
        click.Option(
            ["--suite"],
            required=True,
            type=click.Path(dir_okay=False),
            help="Expectation suite: GX JSON (ExpectationSuite.to_json_dict()) or the YAML "
            "form (expectation, kwargs, severity).",
        ),
        click.Option(
            ["--engine"],
            default="pandas",
            show_default=True,
            type=click.Choice(["pandas", "spark"], case_sensitive=False),
            help="Run the suite with pandas, or with Spark for data that outgrows one machine.",
        ),
        click.Option(
            ["--spark-master"],
            default=None,
            metavar="URL",
            help="Spark master for --engine spark (default local[*]), e.g. spark://host:7077.",
        ),
        click.Option(
            ["--reference"],
            default=None,
            metavar="FILE_OR_GLOB",
            help="Reference dataset: report schema drift and per-column distribution "
            "drift against it.",
        ),
        click.Option(
            ["--drift-method"],
            default="psi",
            show_default=True,
            type=click.Choice(["psi", "ks"], case_sensitive=False),
            help="Drift statistic for numeric columns: population stability index or "
            "Kolmogorov-Smirnov; categorical columns always use PSI.",
        ),
        click.Option(
            ["--psi-threshold"],
            default=0.2,
            show_default=True,
            type=click.FloatRange(0),
            help="A column drifted when its PSI is above this.",
        ),
        click.Option(
            ["--ks-threshold"],
            default=0.1,
            show_default=True,
            type=click.FloatRange(0, 1),
            help="A numeric column drifted when its KS statistic is above this.",
        ),
        click.Option(
            ["--drift-severity"],
            default="warning",
            show_default=True,
            type=SEVERITY,
            help="Severity of a drifted column or a schema change (new, missing, retyped "
            "column), weighed against --fail-on like an expectation's.",
        ),
        click.Option(
            ["--fail-on"],
            default="critical",
            show_default=True,
            type=SEVERITY,
            help="Fail when a failed expectation (or drift finding) has this severity or "
            "a higher one.",
        ),
        click.Option(
            ["--result-format"],
            default="SUMMARY",
            show_default=True,
            type=click.Choice(
                ["BOOLEAN_ONLY", "BASIC", "SUMMARY", "COMPLETE"], case_sensitive=False
            ),
            help="GX result format: how much GX computes per expectation; reports show at "
            "most 5 unexpected values whatever the format.",
        ),
        click.Option(
            ["--junit", "junit_path"],
            default=None,
            type=OutputFile(),
            help="Write a JUnit XML report (one test case per expectation).",
        ),
        click.Option(
            ["--data-docs"],
            default=None,
            type=OutputDir(),
            help="Build GX Data Docs (HTML) into this directory.",
        ),
    )
    paths = frozenset({"data", "reference"})

    def config_from(
        self, values: Mapping[str, Any], environ: Mapping[str, str]
    ) -> ValidateStageConfig:
        from mlgate.validate.config import DriftPolicy, ValidateConfig

        fail_on = values["fail_on"].lower()
        core = ValidateConfig(
            data=values["data"],
            suite=values["suite"],
            engine=values["engine"].lower(),
            spark_master=values["spark_master"],
            reference=values["reference"],
            fail_on=fail_on,
            result_format=values["result_format"].upper(),
            data_docs=values["data_docs"],
            drift=DriftPolicy(
                values["drift_method"].lower(),
                values["psi_threshold"],
                values["ks_threshold"],
                values["drift_severity"].lower(),
                fail_on,
            ),
        )
        return ValidateStageConfig(core, values["junit_path"])

    def run(self, config: ValidateStageConfig, progress: Progress) -> ValidateOutcome:
        from mlgate.report.validate_files import write_reports
        from mlgate.validate.run import validate

        result = validate(config.core)
        return ValidateOutcome(result, write_reports(result, junit=config.junit))

    def present(self, outcome: ValidateOutcome) -> Presentation:
        from mlgate.report.validate import present

        return present(outcome.result, outcome.paths)


STAGE = Validate()
