"""The JSON Schema of mlgate.yaml, built from the CLI so the two cannot drift.

Gate sections (`validate`, `benchmark`, `scan`) and `promote` take their commands' options
under the same names as the actions' inputs, so the schema of each section is generated from
the click parameters. The result is shipped as `mlgate.schema.json` beside this module (for
editors: `# yaml-language-server: $schema=...`); a test keeps the shipped file equal to what
`build()` returns.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

SCHEMA_FILE = Path(__file__).with_name("mlgate.schema.json")
GATES = ("validate", "benchmark", "scan")
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"

# Options the pipeline sets itself: a section may not set them.
CONTROLLED: dict[str, frozenset[str]] = {
    "validate": frozenset({"json"}),
    "benchmark": frozenset({"json"}),
    "scan": frozenset({"json"}),
    "promote": frozenset({"json", "app", "environment", "from-environment", "image", "set",
                          "evidence", "registry-model", "registry-version", "registry-alias"}),
}


def _param_schema(param: click.Parameter) -> dict[str, Any]:
    help_text = " ".join((getattr(param, "help", None) or "").split())
    if isinstance(param, click.Option) and param.is_flag:
        out: dict[str, Any] = {"type": "boolean"}
    else:
        kind = param.type
        if isinstance(kind, click.Choice):
            item: dict[str, Any] = {"type": "string"}
            if getattr(kind, "case_sensitive", True):
                item["enum"] = list(kind.choices)
        elif isinstance(kind, (click.types.IntParamType, click.IntRange)):
            item = {"type": ["integer", "string"]}
        elif isinstance(kind, (click.types.FloatParamType, click.FloatRange)):
            item = {"type": ["number", "string"]}
        else:
            item = {"type": ["string", "number"]}
        multiple = getattr(param, "multiple", False)
        out = {"anyOf": [item, {"type": "array", "items": item}]} if multiple else item
    if help_text:
        out["description"] = help_text
    return out


def section_schema(command: str, *, required: bool = True) -> dict[str, Any]:
    """The schema of one command's section: its options, minus those the pipeline sets."""
    from mlgate.cli import command_module, input_name

    cmd = command_module(command).command
    props: dict[str, Any] = {}
    needed: list[str] = []
    for param in cmd.params:
        if param.name is None or getattr(param, "hidden", False):
            continue
        name = input_name(param)
        if name in CONTROLLED.get(command, ()):
            continue
        props[name] = _param_schema(param)
        if required and param.required:
            needed.append(name)
    out: dict[str, Any] = {"type": "object", "additionalProperties": False,
                           "description": f"Options of `mlgate {command}` (without the "
                                          "leading --).", "properties": props}
    if needed:
        out["required"] = needed
    return out


def build() -> dict[str, Any]:
    strings = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
    environment = {
        "type": "object",
        "additionalProperties": False,
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "pattern": NAME_PATTERN,
                     "description": "Environment name: a folder under promote.path."},
            "gates": {"type": "array", "uniqueItems": True,
                      "items": {"type": "string", "enum": list(GATES)},
                      "description": "Gates that must pass before promoting here (default: "
                                     "every gate with a section; none with `from`)."},
            "from": {"type": "string", "pattern": NAME_PATTERN,
                     "description": "Take exactly the versions an earlier environment runs."},
            "alias": {"type": "string", "pattern": NAME_PATTERN,
                      "description": "MLflow registry alias moved to the model version once "
                                     "the commit lands."},
            "set": {**strings, "description": "FILE:KEY.PATH=VALUE edits (with `from`: "
                                              "FILE:KEY.PATH copies); {version} is the model "
                                              "version."},
            "image": {**strings, "description": "Overrides the top-level image for this "
                                                "environment."},
            "promote": {**section_schema("promote", required=False),
                        "description": "Overrides of the promote section for this "
                                       "environment."},
        },
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://mlgate.dev/schemas/mlgate.schema.json",
        "title": "mlgate.yaml",
        "description": "A model repository's promotion policy for `mlgate pipeline`.",
        "type": "object",
        "additionalProperties": False,
        "required": ["app", "promote", "environments"],
        "properties": {
            "version": {"const": 1, "description": "Format version of this file."},
            "app": {"type": "string", "pattern": NAME_PATTERN,
                    "description": "Application name in commits, trailers and branches."},
            "model": {
                "type": "object", "additionalProperties": False, "required": ["name"],
                "properties": {
                    "name": {"type": "string", "minLength": 1,
                             "description": "MLflow registered model name."},
                    "version": {"type": ["string", "integer"],
                                "description": "The candidate's registry version (default: "
                                               "from benchmark.candidate models:/NAME/N)."},
                },
            },
            **{gate: section_schema(gate) for gate in GATES},
            "image": {**strings, "description": "New image reference(s) repo:tag[@digest]."},
            "promote": section_schema("promote"),
            "environments": {"type": "array", "minItems": 1, "items": environment},
        },
    }


def shipped() -> dict[str, Any]:
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def render() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":  # python -m mlgate.pipeline.schema > src/mlgate/pipeline/mlgate.schema.json
    import sys

    sys.stdout.write(render())
