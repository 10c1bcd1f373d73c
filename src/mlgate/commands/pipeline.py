"""`mlgate pipeline`: an mlgate.yaml's gates for one environment, then its promotion."""

from __future__ import annotations

import click

from mlgate.commands.common import OutputDir, current_environ, finish, json_option


def _outputs() -> dict[str, str]:
    """The pipeline's own outputs plus every gate's and the promotion's, prefixed by step."""
    from mlgate.cli import command_module

    out = {
        "passed": "true when every gate passed and the promotion (if run) landed, else false.",
        "environment": "The environment this run was for.",
        "promoted": "true when the promotion ran and landed (or changed nothing), else false.",
        "model-version": "The model version promoted (empty when unknown).",
        "reports-dir": "Directory holding each step's JSON result (<step>.json).",
    }
    # most important first: a GitLab dotenv report keeps 20 variables
    first = ["validate-passed", "benchmark-passed", "scan-passed", "promote-changed",
             "promote-commit", "promote-new", "promote-previous", "promote-pr-url"]
    rest = {}
    for step in ("validate", "benchmark", "scan", "promote"):
        for name, text in command_module(step).OUTPUTS.items():
            rest[f"{step}-{name}"] = f"{step}: {text}"
    out.update({k: rest[k] for k in first})
    out.update({k: v for k, v in rest.items() if k not in first})
    return out


OUTPUTS: dict[str, str] = _outputs()


@click.command("pipeline", help="Run an mlgate.yaml: the environment's gates (validate, "
               "benchmark, scan; independently, every verdict reported), then the promotion "
               "with the gates' results as evidence.")
@click.option("--config", "config_path", default="mlgate.yaml", show_default=True,
              type=click.Path(dir_okay=False), help="The promotion policy file. Relative "
              "paths inside it are relative to its directory.")
@click.option("--environment", default=None,
              help="Environment to promote to (default: the first in the file).")
@click.option("--only", type=click.Choice(["validate", "benchmark", "scan", "promote"]),
              default=None, help="Run one gate, or only the promotion (reading the gates' "
                                 "results from --reports-dir, as a later CI job does).")
@click.option("--no-promote", is_flag=True, help="Run the gates only (e.g. on a pull "
                                                 "request).")
@click.option("--reports-dir", default="mlgate-reports", show_default=True,
              type=OutputDir(),
              help="Where each step writes its JSON result and reports.")
@json_option
def command(config_path: str, environment: str | None, only: str | None, no_promote: bool,
            reports_dir: str, json_path: str | None) -> int:
    from pathlib import Path

    from mlgate.cli import main
    from mlgate.pipeline.config import load
    from mlgate.pipeline.run import run_pipeline
    from mlgate.report.pipeline import present

    environ = current_environ()
    cfg = load(config_path, environ)
    env = cfg.environment(environment)
    reports = Path(reports_dir).resolve()
    result = run_pipeline(cfg, env, reports=reports, only=only, promote=not no_promote,
                          environ=environ, cli=lambda args, e: main(args, environ=e))
    return finish(present(result, str(reports)), json_path)
