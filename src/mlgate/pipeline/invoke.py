"""Running a stage or a whole mlgate.yaml in process, reported where it runs, with the CLI's
exit codes: for callers that compose mlgate (the demo) without going back up through argv.

An error ends the call with its exit code after being reported the way the CLI reports it:
one line on stderr and, when a JSON file was asked for, a result saying error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mlgate.errors import EXIT_REPORT, MlgateError
from mlgate.report.presentation import Presentation


def _reported(name: str, work: Callable[[], Presentation], environ: Mapping[str, str],
              json_path: str | None) -> int:
    from mlgate.ci.emit import emit, emit_error

    try:
        presentation = work()
        emit(presentation, json_path=json_path, environ=environ)
        return presentation.exit_code
    except MlgateError as exc:
        emit_error(name, str(exc), exc.exit_code, environ)
        if json_path and exc.exit_code != EXIT_REPORT:
            from mlgate.ci.emit import write_json
            from mlgate.report.error import error_presentation

            try:
                write_json(error_presentation(name, str(exc), exc.exit_code), json_path)
            except MlgateError:
                pass   # the error itself has been reported
        return exc.exit_code


def run_stage(name: str, inputs: Mapping[str, Any], environ: Mapping[str, str], *,
              json_path: str | None = None) -> int:
    """Run the stage `name` on `inputs` (keyed by input name, as in mlgate.yaml)."""
    from mlgate.ci.emit import progress_printer
    from mlgate.stages.params import values_from
    from mlgate.stages.registry import stage

    found = stage(name)

    def work() -> Presentation:
        values = values_from(found.params, inputs, where=f"mlgate {name}")
        config = found.config_from(values, environ)
        return found.present(found.run(config, progress_printer(environ)))

    return _reported(name, work, environ, json_path)


def run_pipeline_file(config: str | Path, environment: str | None, reports_dir: str | Path,
                      environ: Mapping[str, str], *, json_path: str | None = None) -> int:
    """Run one environment of an mlgate.yaml, as `mlgate pipeline` does."""
    from mlgate.ci.emit import progress_printer
    from mlgate.pipeline.config import load
    from mlgate.pipeline.run import run_pipeline
    from mlgate.report.pipeline import present

    def work() -> Presentation:
        cfg = load(str(config), environ)
        reports = Path(reports_dir).resolve()
        result = run_pipeline(cfg, cfg.environment(environment), reports=reports,
                              environ=environ, progress=progress_printer(environ))
        return present(result, str(reports))

    return _reported("pipeline", work, environ, json_path)
