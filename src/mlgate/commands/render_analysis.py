"""`mlgate render-analysis`: the stage's command, plus `--config`: the checks of an
mlgate.yaml environment's `verify:` section, read by the pipeline's own loader (`${VAR}`
expansion, the schema), so the cluster gets exactly what `mlgate pipeline` would verify.

Options given on the command line win over the section; a `--check` given replaces its
checks. Without `--output` the manifests alone go to standard output, ready for a pipe.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from mlgate.commands.common import current_environ, finish, preflight
from mlgate.errors import BadInput
from mlgate.stages.params import json_param
from mlgate.stages.render_analysis import STAGE


def _body(config_path: str | None, json_path: str | None, **values: Any) -> int:
    ctx = click.get_current_context()
    preflight(ctx)                   # --output and --json checked before anything is read
    environ = current_environ()
    if config_path:
        values = from_config(config_path, values, _given(ctx, values), environ)
    config = STAGE.config_from(values, environ)
    result = STAGE.run(config, lambda _line: None)
    presentation = STAGE.present(result)
    if result.output is not None:
        return finish(presentation, json_path)
    from mlgate.ci.emit import write_document, write_json

    write_document(result.text)
    if json_path:
        write_json(presentation, json_path)
    return presentation.exit_code


def _given(ctx: click.Context, values: Mapping[str, Any]) -> set[str]:
    """The options given on the command line (or its environment), not left at their
    default: those win over mlgate.yaml."""
    default = (click.core.ParameterSource.DEFAULT, click.core.ParameterSource.DEFAULT_MAP,
               None)
    return {name for name in values if ctx.get_parameter_source(name) not in default}


def from_config(path: str, values: Mapping[str, Any], given: set[str],
                environ: Mapping[str, str]) -> dict[str, Any]:
    """The values of the environment's verify section (the options render-analysis shares
    with verify), the app and environment from the file, the command line's on top."""
    from mlgate.pipeline.config import load
    from mlgate.stages.params import by_input, values_from

    cfg = load(path, environ)
    env = cfg.environment(values.get("environment"))
    if env.verify is None:
        raise BadInput(f"{path}: environment {env.name} has no verify: section (the checks to "
                       "render); add one or give --check")
    known = by_input(STAGE.params)
    section: dict[str, Any] = {k: v for k, v in env.verify.items() if k in known}
    section.update({"for": values["target"], "app": cfg.app, "environment": env.name})
    if cfg.model_version and "model-version" not in section:
        section["model-version"] = cfg.model_version
    where = f"{cfg.path.name}: environments {env.name}.verify"
    read = values_from(STAGE.params, section, where=where, base=cfg.base_dir,
                       paths=STAGE.paths)
    merged = {**read, **{k: v for k, v in values.items() if k in given}}
    merged["_source"] = f"{cfg.path.name}, environment {env.name}"
    return merged


command = click.Command(
    "render-analysis",
    params=[
        click.Option(["--config", "config_path"], default=None, type=click.Path(dir_okay=False),
                     help="An mlgate.yaml: render the checks of --environment's verify section "
                     "(its app, Prometheus, interval and limits too)."),
        *STAGE.params,
        json_param(),
    ],
    callback=_body,
    help=("Write mlgate's checks as a Flagger Canary analysis (MetricTemplates, webhooks to "
          "serve-analysis) or an Argo Rollouts AnalysisTemplate, from --check SPECs or an "
          "mlgate.yaml environment's verify section (--config). Local: commit the output to "
          "the config repository."),
)
