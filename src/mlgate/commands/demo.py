"""`mlgate demo`: run the pipeline end to end on the bundled example."""

from __future__ import annotations

import click

from mlgate.commands.common import current_environ


@click.command("demo", help="Run mlgate end to end on the bundled example, offline, in a "
                            "temporary directory: train a champion and a better candidate, "
                            "register them in a local MLflow registry, gate the candidate "
                            "(validate, benchmark, scan), promote it into a local config repo "
                            "(staging, then production from staging) and roll production back.")
@click.option("--workdir", type=click.Path(file_okay=False), default=None,
              help="Where to work (default: a new temporary directory). Replaced if it holds "
                   "an earlier demo.")
@click.option("--verbose", "-v", is_flag=True,
              help="Show the inner commands' own output (by default it goes to "
                   "<workdir>/reports/logs/).")
def command(workdir: str | None, verbose: bool) -> int:
    from mlgate.ci.emit import progress_printer
    from mlgate.demo import run_demo

    environ = current_environ()
    # the demo's inner commands report to the terminal, not to a CI it may be run inside
    for name in ("GITHUB_ACTIONS", "GITLAB_CI"):
        environ.pop(name, None)
    say = progress_printer(environ)   # its lines go through the emitter, secrets hidden
    result = run_demo(workdir, say, environ, verbose=verbose)
    say("")
    say(f"Config repo history ({result.config_repo}):")
    for line in result.log.rstrip().splitlines():
        say(line)
    say("")
    say(f"Done in {result.seconds:.0f} s. Work directory: {result.workdir}")
    say(f"Markdown report: {result.report}")
    return 0
