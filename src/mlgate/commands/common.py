"""What every command shares: the environment it was given, the check of every output
destination before it does anything, and the click command a stage is run through."""

from __future__ import annotations

import os

import click

from mlgate.stages.stage import Stage


def current_environ() -> dict[str, str]:
    """The environment main() was given (tests pass their own), else the process's."""
    ctx = click.get_current_context(silent=True)
    environ = (ctx.find_root().obj or {}).get("environ") if ctx is not None else None
    return dict(os.environ if environ is None else environ)


def preflight(ctx: click.Context) -> None:
    """Check every output destination of the command about to run (exit 2 if one is bad).

    cli.py calls this for every command before its body, so nothing is cloned, rewritten or
    pushed when a report could not be written afterwards.
    """
    from mlgate.ci.emit import check_outputs
    from mlgate.stages.params import report_destinations

    assert ctx.command.name is not None
    check_outputs(ctx.command.name, report_destinations(ctx.command.params, ctx.params),
                  current_environ())


def finish(presentation, json_path: str | None) -> int:
    """Emit a presentation where the command runs and return its exit code.

    A report that fails here comes after the work: ReportFailed (exit 4) says what was done.
    """
    from mlgate.ci.emit import emit

    emit(presentation, json_path=json_path, environ=current_environ())
    return presentation.exit_code


def stage_command(stage: Stage) -> click.Command:
    """The CLI face of a stage: its parameters plus --json; the body runs the stage once."""
    from mlgate.stages.params import json_param

    def body(json_path: str | None, **values) -> int:
        from mlgate.ci.emit import progress_printer

        environ = current_environ()
        config = stage.config_from(values, environ)
        result = stage.run(config, progress_printer(environ))
        return finish(stage.present(result), json_path)

    return click.Command(stage.name, params=[*stage.params, json_param()], callback=body,
                         help=stage.help)
