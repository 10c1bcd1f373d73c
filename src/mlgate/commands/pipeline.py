"""`mlgate pipeline`: an mlgate.yaml's gates for one environment, then its promotion."""

from __future__ import annotations

import click

from mlgate.commands.common import current_environ, finish
from mlgate.interface import GATES
from mlgate.stages.params import OutputDir, json_param


@click.command("pipeline", help="Run an mlgate.yaml: the environment's gates (validate, "
               "benchmark, scan; independently, every verdict reported), then the promotion "
               "with the gates' results as evidence, then (where configured) wait-sync and "
               "verify, rolling back when verification fails; an environment with canary: "
               "promotes in steps of traffic instead, waiting and verifying at each.")
@click.option("--config", "config_path", default="mlgate.yaml", show_default=True,
              type=click.Path(dir_okay=False), help="The promotion policy file. Relative "
              "paths inside it are relative to its directory.")
@click.option("--environment", default=None,
              help="Environment to promote to (default: the first in the file).")
@click.option("--only", type=click.Choice([*GATES, "promote", "canary", "wait-sync",
                                           "verify"]),
              default=None, help="Run one gate, only the promotion (reading the gates' "
                                 "results from --reports-dir, as a later CI job does; for an "
                                 "environment with canary: the canary, which `canary` runs "
                                 "while skipping other environments), or only wait-sync or "
                                 "verify after it (reading promote.json; skipped with "
                                 "canary:, which ran them at each step).")
@click.option("--no-promote", is_flag=True, help="Run the gates only (e.g. on a pull "
                                                 "request).")
@click.option("--reports-dir", default="mlgate-reports", show_default=True,
              type=OutputDir(),
              help="Where each step writes its JSON result and reports.")
def command(config_path: str, environment: str | None, only: str | None, no_promote: bool,
            reports_dir: str, json_path: str | None) -> int:
    from pathlib import Path

    from mlgate.ci.emit import progress_printer
    from mlgate.pipeline.config import load
    from mlgate.pipeline.run import run_pipeline
    from mlgate.report.pipeline import present

    environ = current_environ()
    cfg = load(config_path, environ)
    env = cfg.environment(environment)
    reports = Path(reports_dir).resolve()
    result = run_pipeline(cfg, env, reports=reports, only=only, promote=not no_promote,
                          environ=environ, progress=progress_printer(environ))
    return finish(present(result, str(reports)), json_path)


command.params.append(json_param())
