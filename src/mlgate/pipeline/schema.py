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

from mlgate.interface import GATES, input_name, section_key

SCHEMA_FILE = Path(__file__).with_name("mlgate.schema.json")
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"

# Options the pipeline sets itself: a section may not set them.
CONTROLLED: dict[str, frozenset[str]] = {
    "validate": frozenset({"json"}),
    "benchmark": frozenset({"json"}),
    "scan": frozenset({"json"}),
    # where and what it judges: the promotion's (its section names only the policies,
    # documents and limits)
    "comply": frozenset({"json", "repo", "app", "environment", "path", "layout", "provider",
                         "base", "image", "set", "evidence", "model-version"}),
    "promote": frozenset({"json", "app", "environment", "from-environment", "image", "set",
                          "evidence", "registry-model", "registry-version", "registry-alias"}),
    # the promotion's commit and config repo
    "wait-sync": frozenset({"json", "revision", "repo"}),
}
# verify's rollback goes where the promotion went: promote's landing settings, not verify's own
CONTROLLED["verify"] = frozenset({"json", "revision", "evidence", "app", "environment"}
                                 | set(CONTROLLED["promote"]) | frozenset(
    {"repo", "path", "layout", "provider", "mode", "base", "api-url", "author-name",
     "author-email", "committer-name", "committer-email", "signing-key", "signing-format",
     "attestation-key", "max-attempts", "label", "reviewer", "auto-merge", "tracking-uri"}))
# the sections an environment may hold besides promote's overrides: the steps after it
AFTER_PROMOTE = ("wait-sync", "verify")
# the sections of an environment, each an `mlgate <command>`'s options
ENV_SECTIONS = ("promote", *AFTER_PROMOTE, "canary", "comply")


def controlled(command: str) -> frozenset[str]:
    """The options a section may not set. A canary promotes where the promote section says
    (every promotion option is that section's, so the two cannot disagree), and the pipeline
    never starts a canary only to abort it (`mlgate canary --abort` does that)."""
    if command != "canary":
        return CONTROLLED.get(command, frozenset())
    from mlgate.stages.registry import stage

    return frozenset({"json", "abort", "reason"}
                     | {input_name(p) for p in stage("promote").params})


# What click's INT and FLOAT accept in a string (a `${VAR}` expands to one): the schema
# states it for editors; option_problem() below then asks click itself.
INT_TEXT = r"^\s*[+-]?[0-9]+\s*$"
FLOAT_TEXT = r"^\s*[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?\s*$"


def _bounds(kind: click.ParamType) -> dict[str, Any]:
    """An IntRange / FloatRange's limits as JSON Schema keywords."""
    out: dict[str, Any] = {}
    low, high = getattr(kind, "min", None), getattr(kind, "max", None)
    if low is not None:
        out["exclusiveMinimum" if getattr(kind, "min_open", False) else "minimum"] = low
    if high is not None:
        out["exclusiveMaximum" if getattr(kind, "max_open", False) else "maximum"] = high
    return {} if getattr(kind, "clamp", False) else out


def _any_case(choice: str) -> str:
    """A case-insensitive match of one choice, in regex syntax editors share (no (?i))."""
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else
                   (c if c.isalnum() or c in "-_ " else "\\" + c) for c in choice)


def _value_schema(kind: click.ParamType) -> dict[str, Any]:
    """One value of a click type: what the YAML may hold for it."""
    if isinstance(kind, click.Choice):
        choices = [str(c) for c in kind.choices]
        if getattr(kind, "case_sensitive", True):
            return {"type": "string", "enum": choices}
        return {"type": "string",
                "pattern": "^(" + "|".join(_any_case(c) for c in choices) + ")$"}
    if isinstance(kind, click.types.IntParamType):
        return {"anyOf": [{"type": "integer", **_bounds(kind)},
                          {"type": "string", "pattern": INT_TEXT}]}
    if isinstance(kind, click.types.FloatParamType):
        return {"anyOf": [{"type": "number", **_bounds(kind)},
                          {"type": "string", "pattern": FLOAT_TEXT}]}
    if isinstance(kind, click.types.BoolParamType):
        return {"type": ["boolean", "string"]}
    if isinstance(kind, click.Path):
        return {"type": "string", "minLength": 1}
    return {"type": ["string", "number"]}


def _param_schema(param: click.Parameter) -> dict[str, Any]:
    help_text = " ".join((getattr(param, "help", None) or "").split())
    if isinstance(param, click.Option) and param.is_flag:
        out: dict[str, Any] = {"type": "boolean"}
    else:
        item = _value_schema(param.type)
        multiple = getattr(param, "multiple", False)
        out = {"anyOf": [item, {"type": "array", "items": item}]} if multiple else dict(item)
    if help_text:
        out["description"] = help_text
    return out


def option_problem(data: Any) -> tuple[tuple, str] | None:
    """The first option value in mlgate.yaml its command would refuse: (key path, why).

    The schema states the types; this asks click itself, with the same conversion the gate
    will use (bounds, case-insensitive choices, callbacks like '10%'), so a bad value is
    refused with the file and key before any gate runs instead of as a usage error later.
    """
    if not isinstance(data, dict):
        return None
    sections: list[tuple[tuple, str, Any]] = [
        ((section_key(name),), name, data.get(section_key(name)))
        for name in (*GATES, "promote")]
    envs = data.get("environments")
    for i, env in enumerate(envs if isinstance(envs, list) else ()):
        if isinstance(env, dict):
            for name in ENV_SECTIONS:
                key = section_key(name)
                sections.append((("environments", i, key), name, env.get(key)))
    for where, command, section in sections:
        if isinstance(section, dict):
            found = _section_problem(command, section)
            if found:
                return (*where, found[0]), found[1]
    return None


def _section_problem(command: str, section: dict) -> tuple[str, str] | None:
    from mlgate.stages.params import by_input
    from mlgate.stages.registry import stage

    params = by_input(stage(command).params)
    ctx = click.Context(click.Command(command))
    for key, value in section.items():
        param = params.get(key)
        if param is None or key in controlled(command):
            continue   # the schema names unknown and pipeline-set keys
        why = _value_problem(ctx, param, value)
        if why:
            return key, why
    return None


def _value_problem(ctx: click.Context, param: click.Parameter, value: Any) -> str | None:
    """Why click would refuse `value` for `param` as the pipeline passes it, else None."""
    if isinstance(param, click.Option) and param.is_flag:
        return None if isinstance(value, bool) else f"{value!r} is not true or false"
    values = value if isinstance(value, list) else [value]
    if not getattr(param, "multiple", False) and len(values) != 1:
        return "takes one value, not a list"
    for v in values:
        if isinstance(v, (dict, list)) or v is None:
            return f"{v!r} is not a single value"
        if isinstance(v, bool) and not isinstance(param.type, click.types.BoolParamType):
            return f"{v!r} is not {_expected(param.type)}"
    texts = [str(v) for v in values]   # the pipeline converts each value's text
    try:
        param.process_value(ctx, tuple(texts) if getattr(param, "multiple", False) else texts[0])
    except click.BadParameter as exc:
        return _click_message(param, values, texts, exc)
    except click.ClickException as exc:
        return exc.format_message()
    return None


def _expected(kind: click.ParamType) -> str:
    if isinstance(kind, click.types.IntParamType):
        return "an integer"
    if isinstance(kind, click.types.FloatParamType):
        return "a number"
    if isinstance(kind, click.Choice):
        return "one of " + ", ".join(repr(str(c)) for c in kind.choices)
    return "a valid value"


def _click_message(param: click.Parameter, values: list, texts: list[str],
                   exc: click.BadParameter) -> str:
    """click's reason, with the plain wording for the common types."""
    kind = param.type
    if isinstance(kind, (click.types.IntParamType, click.types.FloatParamType)):
        for value, text in zip(values, texts):
            try:
                float(text) if isinstance(kind, click.types.FloatParamType) else int(text)
            except ValueError:
                return f"{value!r} is not {_expected(kind)}"
    return exc.message.rstrip(".")


def section_schema(command: str, *, required: bool = True) -> dict[str, Any]:
    """The schema of one command's section: its options, minus those the pipeline sets."""
    from mlgate.interface import input_name
    from mlgate.stages.registry import stage

    props: dict[str, Any] = {}
    needed: list[str] = []
    for param in stage(command).params:
        if param.name is None or getattr(param, "hidden", False):
            continue
        name = input_name(param)
        if name in controlled(command):
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
            "compliance": {**section_schema("comply", required=False),
                           "description": "The compliance gate's policies, documents and "
                                          "limits for this environment (options of `mlgate "
                                          "comply`; added to the top-level compliance: "
                                          "section, keys given here win)."},
            "promote": {**section_schema("promote", required=False),
                        "description": "Overrides of the promote section for this "
                                       "environment."},
            "wait-sync": {**section_schema("wait-sync"),
                          "description": "After the promotion: wait until Argo CD or Flux "
                                         "applied its commit (options of `mlgate wait-sync`; "
                                         "the revision is the promotion's)."},
            "verify": {**section_schema("verify"),
                       "description": "Then measure the live model (options of `mlgate "
                                      "verify`); a failure rolls back where the promotion "
                                      "went, and the registry alias moves only once "
                                      "verified."},
            "canary": {**section_schema("canary"),
                       "description": "Promote in steps of traffic instead (options of "
                                      "`mlgate canary`): one commit per step where promote "
                                      "lands, each waited for with this environment's "
                                      "wait-sync: options and judged by its verify: checks "
                                      "(keys given here win; check and query add to "
                                      "verify's); the steps after the promotion then do not "
                                      "run again."},
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
            **{section_key(gate): section_schema(gate) for gate in GATES},
            "image": {**strings, "description": "New image reference(s) repo:tag[@digest]."},
            "promote": section_schema("promote"),
            "environments": {"type": "array", "minItems": 1, "items": environment},
        },
    }


def shipped() -> dict[str, Any]:
    # mlgate's own shipped file, not user input: the one reader outside safe_load
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def render() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":  # python -m mlgate.pipeline.schema > src/mlgate/pipeline/mlgate.schema.json
    import sys

    sys.stdout.write(render())
