"""The one CLI: a subcommand per action, each loaded only when it is run.

Nothing heavy is imported here or in the command modules' top level, so `mlgate --help` and a
rewrite stay fast on a CI runner that has only the base install.
"""

from __future__ import annotations

import copy
import functools
import importlib
import os
import sys
from collections.abc import Mapping, Sequence

import click

from mlgate import __version__
from mlgate.errors import EXIT_BAD_INPUT, EXIT_REPORT, MlgateError
from mlgate.interface import (
    COMMANDS,
    FALSE_WORDS,
    LOCAL_ONLY,
    TRUE_WORDS,
    env_name,
    input_name,
)

# Commands that are not one stage: the composers, and the server (the stages themselves come
# from mlgate.stages.registry).
COMPOSED: dict[str, str] = {
    "pipeline": "mlgate.commands.pipeline",
    "demo": "mlgate.commands.demo",
    # a stage whose command also reads an mlgate.yaml environment (the pipeline's loader)
    "render-analysis": "mlgate.commands.render_analysis",
    "serve-analysis": "mlgate.commands.serve_analysis",
}


def command(name: str) -> click.Command:
    """The click command for `name`: a stage's, built from its parameters, or a composer's."""
    if name in COMPOSED:
        return importlib.import_module(COMPOSED[name]).command
    from mlgate.commands.common import stage_command
    from mlgate.stages.registry import stage

    return stage_command(stage(name))


class LazyGroup(click.Group):
    """Imports a subcommand's module only when that subcommand is asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        found = command(cmd_name)
        return found if cmd_name in LOCAL_ONLY else _checked(found)


def _checked(cmd: click.Command) -> click.Command:
    """`command` with its output destinations checked before its body runs.

    Done here, where every command passes, rather than in each command: a command cannot
    forget it, so no promotion lands (and no file is rewritten) only for its --json,
    $GITHUB_OUTPUT or dotenv report to fail afterwards.
    """
    from mlgate.commands.common import preflight

    body = cmd.callback
    assert body is not None

    @functools.wraps(body)
    def run(*args, **kwargs):
        preflight(click.get_current_context())
        return body(*args, **kwargs)

    checked = copy.copy(cmd)
    checked.callback = run
    return checked


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mlgate")
def cli() -> None:
    """Gate ML models and promote the winners through GitOps.

    Exit codes, the same for every command: 0 passed, 1 the gate said no, 2 bad input or
    config (nothing written), 3 an outside service failed after retries, 4 the work was done
    (promotion landed, files rewritten, gate ran) but a report could not be written.
    """


def args_from_env(command: click.Command, environ: Mapping[str, str]) -> list[str]:
    """Build an argument list from MLGATE_IN_* variables.

    Actions and templates pass inputs this way so that no value is ever spliced into shell
    text: the values reach click as list items, never through a shell. Multi-value inputs take
    one value per line; an empty value means "not given".
    """
    options: list[str] = []
    positionals: list[str] = []
    for param in command.params:
        if param.name is None or getattr(param, "hidden", False):
            continue
        name = input_name(param)
        raw = environ.get(env_name(name))
        if raw is None:
            continue
        if isinstance(param, click.Option) and param.is_flag:
            word = raw.strip().lower()
            if word in TRUE_WORDS:
                options.append(param.opts[0])
            elif word not in FALSE_WORDS:
                raise MlgateError(f"input {name!r}: expected true or false, got {raw.strip()!r}")
            continue
        multiple = param.multiple if isinstance(param, click.Option) else param.nargs != 1
        values = [v.strip() for v in raw.splitlines()] if multiple else [raw.strip()]
        values = [v for v in values if v]
        if isinstance(param, click.Argument):
            positionals.extend(values)
            continue
        for value in values:
            options.append(f"{param.opts[0]}={value}")
    return options + (["--", *positionals] if positionals else [])


def _expand_inputs_from_env(argv: list[str], environ: Mapping[str, str]) -> list[str]:
    if not argv or argv[0] != "--inputs-from-env":
        return argv
    if len(argv) < 2 or argv[1] not in COMMANDS:
        raise MlgateError("--inputs-from-env must be followed by a command name")
    name = argv[1]
    return [name, *args_from_env(command(name), environ), *argv[2:]]


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    env = os.environ if environ is None else environ
    try:
        args = _expand_inputs_from_env(args, env)
        rv = cli.main(args=args, prog_name="mlgate", standalone_mode=False, obj={"environ": env})
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("mlgate: aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return EXIT_BAD_INPUT
    except MlgateError as exc:
        from mlgate.ci.emit import emit_error

        command = args[0] if args and args[0] in COMMANDS else "mlgate"
        emit_error(command, str(exc), exc.exit_code, env)
        if exc.exit_code != EXIT_REPORT:   # those reports were tried already, and failed
            _error_report(command, str(exc), exc.exit_code, args, env)
        return exc.exit_code
    return rv if isinstance(rv, int) else 0


def _json_path(args: list[str]) -> str | None:
    for i, arg in enumerate(args):
        if arg == "--":
            return None
        if arg.startswith("--json="):
            return arg.split("=", 1)[1] or None
        if arg == "--json" and i + 1 < len(args):
            return args[i + 1]
    return None


def _error_report(command: str, message: str, code: int, args: list[str],
                  env: Mapping[str, str]) -> None:
    """Reports for a command that stopped on an error: the --json file, and on a CI the
    summary and (empty) dotenv outputs, so a job's artifacts exist whatever the exit code."""
    if command not in COMMANDS or command in LOCAL_ONLY:
        return
    from mlgate.ci.detect import detect_kind
    from mlgate.ci.emit import emit
    from mlgate.report.error import error_presentation

    presentation = error_presentation(command, message, code)
    json_path = _json_path(args)
    try:
        if detect_kind(env) == "local":
            if json_path:
                from mlgate.ci.emit import write_json

                write_json(presentation, json_path)
            return
        emit(presentation, json_path=json_path, environ=env)
    except (MlgateError, OSError):
        pass  # the error itself has been reported; a report that cannot be written adds nothing


if __name__ == "__main__":
    raise SystemExit(main())
