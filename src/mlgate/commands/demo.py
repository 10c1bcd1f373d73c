"""`mlgate demo`: run the pipeline end to end on the bundled example."""

from __future__ import annotations

import click

from mlgate.commands.common import current_environ

OUTPUTS: dict[str, str] = {}


@click.command("demo", help="Run mlgate end to end on the bundled example config repo, in a "
                            "temporary directory, and show each step.")
@click.option("--workdir", type=click.Path(file_okay=False), default=None,
              help="Where to work (default: a new temporary directory).")
def command(workdir: str | None) -> int:
    from mlgate.cli import main
    from mlgate.demo import run_demo

    environ = current_environ()
    # the demo's inner commands report to the terminal, not to a CI it may be run inside
    for name in ("GITHUB_ACTIONS", "GITLAB_CI"):
        environ.pop(name, None)
    result = run_demo(workdir, click.echo, lambda args: main(args, environ=environ))
    click.echo("Config repo history:")
    click.echo(result.log)
    click.echo(f"Config repo: {result.config_repo}")
    click.echo(f"Markdown report: {result.report}")
    return 0
