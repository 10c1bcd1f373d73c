"""The CLI is the one source of truth for every command's inputs and outputs.

Every composite action (`actions/*/action.yml`) and GitLab template (`gitlab-templates/*.yml`)
must declare exactly the inputs and outputs of the command it runs, pass every input as its
MLGATE_IN_* variable, and never splice an input into shell text. A command added to
`mlgate.interface.COMMANDS` is checked here without touching this file: it needs one action and one
template, found by the `--inputs-from-env <command>` they run.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from mlgate.interface import OUTPUTS as OUTPUTS_BY_COMMAND  # noqa: E402
from mlgate import cli, interface
from mlgate.ci.gitlab import variable_name

REPO = Path(__file__).resolve().parents[3]

# Files that may run no single command (the whole pipeline); they still get the injection checks.
NO_COMMAND = frozenset({"action.yml", "gitlab-templates/pipeline.yml"})

# The pipeline template: one job per gate plus a promotion job, all running `mlgate pipeline`,
# each with its own `only`; checked by the test_pipeline_template_* tests below instead of the
# one-job checks.
PIPELINE_TEMPLATE = "gitlab-templates/pipeline.yml"
PIPELINE_GATES = ("validate", "benchmark", "scan", "comply")
# the gates that judge first, in parallel; comply needs their results
PARALLEL_GATES = ("validate", "benchmark", "scan")
# Inputs of `mlgate pipeline` each pipeline job sets itself, not template inputs.
PIPELINE_TEMPLATE_SET_BY_JOB = {"only", "no-promote", "json"}
PIPELINE_TEMPLATE_ONLY_INPUTS = frozenset(
    {"job-name-prefix", "gates-stage", "promote-stage", "promote-when", "verify-stage",
     "job-image", "install"}
)
# After the promotion job: wait-sync, then verify, each needing the one before.
PIPELINE_AFTER = ("wait-sync", "verify")

# Commands with no action and no template (e.g. `demo`), declared beside COMMANDS.
CI_COMMANDS = sorted(set(interface.COMMANDS) - set(interface.LOCAL_ONLY))

# Inputs a platform file may declare beyond the CLI's, per platform. Keep these small.
ACTION_ONLY_INPUTS: frozenset[str] = frozenset()
TEMPLATE_ONLY_INPUTS = frozenset({"job-name", "stage", "job-image", "install"})

# Defaults a template may set where the CLI has none ({command} is filled in).
TEMPLATE_DEFAULTS = {"json": "mlgate-{command}.json", "report": "mlgate-{command}.md",
                     "html-report": "mlgate-{command}.html",
                     "metrics-file": "mlgate-{command}.metrics.txt",
                     "junit": "mlgate-{command}.junit.xml"}

# The templates' default install: mlgate, or mlgate[extra,...], from git at $MLGATE_REF.
PINNED_INSTALL = re.compile(
    re.escape('pip install --quiet "mlgate')
    + r"(\[[a-z0-9]+(,[a-z0-9]+)*\])?"
    + re.escape(' @ git+${MLGATE_REPOSITORY_URL}@${MLGATE_REF}"')
)
RUNS_COMMAND = re.compile(r"--inputs-from-env\s+([a-z][a-z0-9-]*)")
ACTION_INPUT = re.compile(r"^\$\{\{ inputs\.([A-Za-z0-9_-]+) \}\}$")
TEMPLATE_INPUT = re.compile(r"^\$\[\[ inputs\.([A-Za-z0-9_-]+) \]\]$")
SCRIPT_KEYS = ("script", "before_script", "after_script")


@dataclass(frozen=True)
class CliInput:
    name: str
    env: str
    flag: bool
    multiple: bool
    required: bool
    default: str | None
    help: str | None


def cli_inputs(command: str) -> dict[str, CliInput]:
    found: dict[str, CliInput] = {}
    for param in cli.command(command).params:
        if param.name is None or getattr(param, "hidden", False):
            continue
        name = interface.input_name(param)
        flag = isinstance(param, click.Option) and param.is_flag
        if isinstance(param, click.Option):
            multiple = param.multiple
        else:
            multiple = param.nargs != 1
        default = param.default
        plain_default = isinstance(default, (str, int, float)) and not isinstance(default, bool)
        found[name] = CliInput(
            name=name,
            env=interface.env_name(name),
            flag=flag,
            multiple=multiple,
            required=param.required,
            default=str(default) if plain_default and not multiple else None,
            help=getattr(param, "help", None),
        )
    return found


def cli_outputs(command: str) -> dict[str, str]:
    return dict(OUTPUTS_BY_COMMAND[command])


def rel(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def words(text: str) -> str:
    return " ".join(text.split())


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# --- discovery -----------------------------------------------------------------------------


def action_files() -> list[Path]:
    found = sorted((REPO / "actions").glob("*/action.yml"))
    if (REPO / "action.yml").exists():
        found.append(REPO / "action.yml")
    return found


def template_files() -> list[Path]:
    return sorted((REPO / "gitlab-templates").glob("*.yml"))


def action_steps(action: dict[str, Any]) -> list[dict[str, Any]]:
    return list((action.get("runs") or {}).get("steps") or [])


def template_docs(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    assert len(docs) == 2, f"{rel(path)}: expected a `spec:` header, `---` and the jobs"
    header, body = docs
    assert isinstance(header, dict) and set(header) == {"spec"}, f"{rel(path)}: bad header"
    assert isinstance(body, dict), f"{rel(path)}: no jobs after `---`"
    return header, body


def header_inputs(path: Path) -> dict[str, Any]:
    header, _ = template_docs(path)
    return dict(header["spec"].get("inputs") or {})


def template_jobs(body: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for key, value in body.items():
        if isinstance(value, dict) and (key == "default" or any(k in value for k in SCRIPT_KEYS)):
            yield key, value


def flat(lines: Any) -> list[str]:
    """A script's lines; GitLab allows a string or nested lists."""
    if isinstance(lines, list):
        return [line for item in lines for line in flat(item)]
    return [] if lines is None else [str(lines)]


def action_commands(path: Path) -> set[str]:
    return {
        m.group(1)
        for step in action_steps(load(path))
        for m in RUNS_COMMAND.finditer(str(step.get("run", "")))
    }


def template_commands(path: Path) -> set[str]:
    _, body = template_docs(path)
    return {
        m.group(1)
        for _, job in template_jobs(body)
        for key in SCRIPT_KEYS
        for line in flat(job.get(key))
        for m in RUNS_COMMAND.finditer(line)
    }


def files_of(kind: str) -> tuple[list[Path], Callable[[Path], set[str]]]:
    if kind == "action":
        return action_files(), action_commands
    return template_files(), template_commands


def command_files(kind: str) -> list[tuple[Path, str]]:
    """(file, command) for every file that runs exactly one command.

    A file in NO_COMMAND (the whole pipeline) is checked against a command too if it runs
    exactly one, e.g. a root action.yml that runs `mlgate --inputs-from-env pipeline`.
    """
    files, find = files_of(kind)
    mapped = []
    for path in files:
        commands = find(path)
        if len(commands) == 1:
            mapped.append((path, commands.pop()))
    return mapped


def mapped(kind: str) -> list[Any]:
    """The files the one-command checks apply to (the pipeline template has its own)."""
    return [pytest.param(p, c, id=rel(p)) for p, c in command_files(kind)
            if rel(p) != PIPELINE_TEMPLATE]


# --- every command has its files ---------------------------------------------------------


@pytest.mark.parametrize("command", CI_COMMANDS)
@pytest.mark.parametrize("kind", ["action", "template"])
def test_every_command_has_one_action_and_one_template(kind: str, command: str) -> None:
    files = [rel(p) for p, c in command_files(kind) if c == command]
    assert len(files) == 1, f"{command}: expected exactly one {kind} running it, found {files}"


@pytest.mark.parametrize("kind", ["action", "template"])
def test_every_file_runs_one_known_command(kind: str) -> None:
    files, find = files_of(kind)
    for path in files:
        commands = find(path)
        if rel(path) in NO_COMMAND and len(commands) != 1:
            continue
        assert len(commands) == 1, (
            f"{rel(path)}: must run exactly one `mlgate --inputs-from-env <command>`, runs "
            f"{sorted(commands)} (or list it in NO_COMMAND)"
        )
        assert commands <= set(CI_COMMANDS), f"{rel(path)}: unknown command {commands}"


def test_platform_only_inputs_do_not_shadow_cli_inputs() -> None:
    for command in CI_COMMANDS:
        clash = (ACTION_ONLY_INPUTS | TEMPLATE_ONLY_INPUTS) & set(cli_inputs(command))
        assert not clash, f"{command}: platform-only inputs {sorted(clash)} are CLI inputs too"


# --- actions -------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "command"), mapped("action"))
def test_action_inputs_match_cli(path: Path, command: str) -> None:
    action = load(path)
    expected = cli_inputs(command)
    declared = action.get("inputs") or {}
    assert set(declared) == set(expected) | ACTION_ONLY_INPUTS, rel(path)
    for name, spec in expected.items():
        got = declared[name]
        description = got.get("description") or ""
        assert len(description.strip().splitlines()) > 1, (
            f"{rel(path)}: input {name!r} needs a multi-line description"
        )
        if spec.help:
            assert words(spec.help) in words(description), (
                f"{rel(path)}: input {name!r}: description must carry the CLI help text"
            )
        assert bool(got.get("required", False)) == spec.required, f"{rel(path)}: {name} required"
        default = got.get("default")
        if spec.flag:
            assert default == "false", f"{rel(path)}: flag {name!r} must default to 'false'"
        elif not spec.required:
            assert default in ("", spec.default), (
                f"{rel(path)}: input {name!r} default {default!r}: use '' or the CLI's "
                f"{spec.default!r}"
            )


@pytest.mark.parametrize(("path", "command"), mapped("action"))
def test_action_passes_every_input_as_its_env_var(path: Path, command: str) -> None:
    steps = [s for s in action_steps(load(path)) if RUNS_COMMAND.search(str(s.get("run", "")))]
    assert len(steps) == 1, f"{rel(path)}: one step must run mlgate --inputs-from-env"
    env = steps[0].get("env") or {}
    expected = cli_inputs(command)
    for name, spec in expected.items():
        assert env.get(spec.env) == f"${{{{ inputs.{name} }}}}", (
            f"{rel(path)}: input {name!r} must reach mlgate as {spec.env}: ${{{{ inputs.{name} }}}}"
        )
    extra = {k for k in env if k.startswith(interface.ENV_PREFIX)} - {s.env for s in expected.values()}
    assert not extra, f"{rel(path)}: unknown {interface.ENV_PREFIX}* variables {sorted(extra)}"


@pytest.mark.parametrize(("path", "command"), mapped("action"))
def test_action_outputs_match_cli(path: Path, command: str) -> None:
    action = load(path)
    step = next(s for s in action_steps(action) if RUNS_COMMAND.search(str(s.get("run", ""))))
    step_id = step.get("id")
    assert step_id, f"{rel(path)}: the step running mlgate needs an id"
    outputs = action.get("outputs") or {}
    assert set(outputs) == set(cli_outputs(command)), rel(path)
    for name, spec in outputs.items():
        assert spec.get("value") == f"${{{{ steps.{step_id}.outputs.{name} }}}}", (
            f"{rel(path)}: output {name!r} must be the value of step {step_id!r}'s output"
        )
        assert (spec.get("description") or "").strip(), f"{rel(path)}: output {name!r}"


@pytest.mark.parametrize(("path", "command"), mapped("action"))
def test_action_installs_with_the_shared_script(path: Path, command: str) -> None:
    runs = [str(s.get("run", "")) for s in action_steps(load(path))]
    # The root action.yml sits beside actions/, the others in actions/<name>/.
    script = "actions/_shared" if rel(path) == "action.yml" else "../_shared"
    assert any(f'"$GITHUB_ACTION_PATH/{script}/install.sh"' in r for r in runs), rel(path)


@pytest.mark.parametrize("path", action_files(), ids=rel)
def test_action_is_composite_without_remote_uses(path: Path) -> None:
    action = load(path)
    assert action["runs"]["using"] == "composite", rel(path)
    for step in action_steps(action):
        uses = step.get("uses")
        assert uses is None or uses.startswith("./"), (
            f"{rel(path)}: remote `uses: {uses}` cannot run under act offline"
        )
        if "run" in step:
            assert step.get("shell"), f"{rel(path)}: a composite run step needs `shell:`"


@pytest.mark.parametrize(
    "path",
    action_files() + sorted((REPO / ".github" / "workflows").glob("*.y*ml")),
    ids=rel,
)
def test_no_expression_inside_run(path: Path) -> None:
    document = load(path)
    steps = list(action_steps(document))
    for job in (document.get("jobs") or {}).values():
        steps.extend(job.get("steps") or [])
    for step in steps:
        assert "${{" not in str(step.get("run", "")), (
            f"{rel(path)}: step {step.get('name') or step.get('id')!r} has `${{{{` in `run:`; "
            "pass the value through `env:`"
        )


# --- GitLab templates ---------------------------------------------------------------------


@pytest.mark.parametrize(("path", "command"), mapped("template"))
def test_template_inputs_match_cli(path: Path, command: str) -> None:
    declared = header_inputs(path)
    expected = cli_inputs(command)
    assert set(declared) == set(expected) | TEMPLATE_ONLY_INPUTS, rel(path)
    for name, spec in expected.items():
        got = declared[name] or {}
        description = got.get("description") or ""
        assert len(description.strip().splitlines()) > 1, (
            f"{rel(path)}: input {name!r} needs a multi-line description"
        )
        if spec.help:
            assert words(spec.help) in words(description), (
                f"{rel(path)}: input {name!r}: description must carry the CLI help text"
            )
        if spec.required:
            assert "default" not in got, f"{rel(path)}: required input {name!r} has a default"
            continue
        assert "default" in got, f"{rel(path)}: optional input {name!r} needs a default"
        if spec.flag:
            assert got.get("type") == "boolean" and got["default"] is False, (
                f"{rel(path)}: flag {name!r} must be `type: boolean`, `default: false`"
            )
            continue
        assert got.get("type", "string") == "string", f"{rel(path)}: {name!r} must be a string"
        allowed = {"", spec.default}
        if name in TEMPLATE_DEFAULTS:
            allowed.add(TEMPLATE_DEFAULTS[name].format(command=command))
        assert got["default"] in allowed, f"{rel(path)}: input {name!r} default {got['default']!r}"


@pytest.mark.parametrize(("path", "command"), mapped("template"))
def test_template_passes_every_input_as_a_variable(path: Path, command: str) -> None:
    _, body = template_docs(path)
    jobs = [(k, j) for k, j in template_jobs(body) if k != "default"]
    assert [k for k, _ in jobs] == ["$[[ inputs.job-name ]]"], (
        f"{rel(path)}: expected one job named by the job-name input"
    )
    install = header_inputs(path)["install"].get("default", "")
    # mlgate from git at $MLGATE_REF (this version's tag): test_gitlab_template_install.py.
    assert PINNED_INSTALL.fullmatch(install), (
        f"{rel(path)}: the install input must default to this version of mlgate"
    )
    job = jobs[0][1]
    assert job.get("stage") == "$[[ inputs.stage ]]", rel(path)
    assert job.get("image") == "$[[ inputs.job-image ]]", rel(path)
    variables = job.get("variables") or {}
    assert variables.get("MLGATE_INSTALL") == "$[[ inputs.install ]]", rel(path)
    expected = cli_inputs(command)
    for name, spec in expected.items():
        assert variables.get(spec.env) == f"$[[ inputs.{name} ]]", (
            f"{rel(path)}: input {name!r} must reach mlgate as {spec.env}: $[[ inputs.{name} ]]"
        )
    extra = {k for k in variables if k.startswith(interface.ENV_PREFIX)} - {
        s.env for s in expected.values()
    }
    assert not extra, f"{rel(path)}: unknown {interface.ENV_PREFIX}* variables {sorted(extra)}"
    script = ['eval "$MLGATE_INSTALL"', f"mlgate --inputs-from-env {command}"]
    assert job["script"] == script, rel(path)


@pytest.mark.parametrize(("path", "command"), mapped("template"))
def test_template_outputs_match_cli(path: Path, command: str) -> None:
    _, body = template_docs(path)
    job = body["$[[ inputs.job-name ]]"]
    artifacts = job.get("artifacts") or {}
    assert artifacts.get("when") == "always", f"{rel(path)}: keep the reports when a gate fails"
    assert (artifacts.get("reports") or {}).get("dotenv") == f"mlgate-{command}.env", rel(path)
    assert f"mlgate-{command}.*" in (artifacts.get("paths") or []), rel(path)
    # The dotenv variables are documented in the template's header; they must be the outputs.
    text = path.read_text(encoding="utf-8")
    prefix = variable_name(command, "")
    documented = set(re.findall(re.escape(prefix) + r"[A-Z0-9_]+", text))
    outputs = {variable_name(command, o) for o in cli_outputs(command)}
    # The emitter adds <PREFIX>TRUNCATED when values must be left out of the dotenv file.
    assert outputs <= documented <= outputs | {variable_name(command, "truncated")}, rel(path)


@pytest.mark.parametrize("path", template_files(), ids=rel)
def test_no_input_inside_gitlab_scripts(path: Path) -> None:
    _, body = template_docs(path)
    for name, job in template_jobs(body):
        for key in SCRIPT_KEYS:
            for line in flat(job.get(key)):
                assert "$[[" not in line, (
                    f"{rel(path)}: job {name!r} {key} line {line!r} interpolates an input; "
                    "pass it through `variables:`"
                )


@pytest.mark.parametrize("path", template_files(), ids=rel)
def test_template_values_are_inputs_or_literals(path: Path) -> None:
    """A variable holding an input holds only that input, so no text is spliced around it."""
    _, body = template_docs(path)
    for name, job in template_jobs(body):
        for key, value in (job.get("variables") or {}).items():
            if "$[[" in str(value):
                assert TEMPLATE_INPUT.match(str(value)), f"{rel(path)}: {name}.{key}: {value!r}"


@pytest.mark.parametrize("path", action_files(), ids=rel)
def test_action_env_values_are_whole_expressions(path: Path) -> None:
    for step in action_steps(load(path)):
        for key, value in (step.get("env") or {}).items():
            if key.startswith(interface.ENV_PREFIX):
                assert ACTION_INPUT.match(str(value)), f"{rel(path)}: {key}: {value!r}"


# --- the pipeline template -----------------------------------------------------------------


def pipeline_template() -> tuple[Path, dict[str, Any], dict[str, Any]]:
    path = REPO / PIPELINE_TEMPLATE
    if not path.exists():
        pytest.skip(f"no {PIPELINE_TEMPLATE}")
    header, body = template_docs(path)
    return path, dict(header["spec"].get("inputs") or {}), body


def pipeline_job_key(step: str) -> str:
    return f"$[[ inputs.job-name-prefix ]]{step}"


def test_pipeline_template_inputs_match_cli() -> None:
    path, declared, _ = pipeline_template()
    expected = {n: s for n, s in cli_inputs("pipeline").items()
                if n not in PIPELINE_TEMPLATE_SET_BY_JOB}
    assert set(PIPELINE_TEMPLATE_SET_BY_JOB) <= set(cli_inputs("pipeline")), "stale names"
    assert set(declared) == set(expected) | PIPELINE_TEMPLATE_ONLY_INPUTS, rel(path)
    assert not PIPELINE_TEMPLATE_ONLY_INPUTS & set(cli_inputs("pipeline")), rel(path)
    for name, spec in expected.items():
        got = declared[name] or {}
        description = got.get("description") or ""
        assert len(description.strip().splitlines()) > 1, f"{rel(path)}: {name!r} description"
        if spec.help:
            assert words(spec.help) in words(description), (
                f"{rel(path)}: input {name!r}: description must carry the CLI help text"
            )
        assert got.get("type", "string") == "string", f"{rel(path)}: {name!r} must be a string"
        assert got.get("default") in ("", spec.default), f"{rel(path)}: {name!r} default"
    assert PINNED_INSTALL.fullmatch(declared["install"].get("default", "")), (
        f"{rel(path)}: the install input must default to this version of mlgate"
    )


def test_pipeline_template_jobs() -> None:
    """One job per gate in the gates stage (comply after the other three, whatever their
    verdicts), then a promotion job needing all four; each passes
    every template input as its variable and sets `only` itself."""
    path, declared, body = pipeline_template()
    steps = (*PIPELINE_GATES, "promote", *PIPELINE_AFTER)
    jobs = dict((k, j) for k, j in template_jobs(body) if k != "default")
    assert list(jobs) == [pipeline_job_key(s) for s in steps], rel(path)
    cli_names = set(declared) - PIPELINE_TEMPLATE_ONLY_INPUTS
    for step in steps:
        job = jobs[pipeline_job_key(step)]
        where = f"{rel(path)}: {step} job"
        stage = ("promote-stage" if step == "promote" else
                 "verify-stage" if step in PIPELINE_AFTER else "gates-stage")
        assert job.get("stage") == f"$[[ inputs.{stage} ]]", where
        assert job.get("image") == "$[[ inputs.job-image ]]", where
        variables = job.get("variables") or {}
        assert variables.get("MLGATE_INSTALL") == "$[[ inputs.install ]]", where
        for name in cli_names:
            assert variables.get(interface.env_name(name)) == f"$[[ inputs.{name} ]]", (
                f"{where}: input {name!r} must reach mlgate as {interface.env_name(name)}"
            )
        assert variables.get(interface.env_name("only")) == step, f"{where}: MLGATE_IN_ONLY"
        known = {interface.env_name(n) for n in cli_inputs("pipeline")}
        extra = {k for k in variables if k.startswith(interface.ENV_PREFIX)} - known
        assert not extra, f"{where}: unknown {interface.ENV_PREFIX}* variables {sorted(extra)}"
        assert job["script"] == ['eval "$MLGATE_INSTALL"', "mlgate --inputs-from-env pipeline"]
        artifacts = job.get("artifacts") or {}
        assert artifacts.get("when") == "always", f"{where}: keep the reports when it fails"
        assert "$[[ inputs.reports-dir ]]/" in (artifacts.get("paths") or []), where
        dotenv = (artifacts.get("reports") or {}).get("dotenv")
        if step == "promote":
            assert dotenv == "mlgate-pipeline.env", where
            assert "mlgate-pipeline.*" in artifacts["paths"], where
            needs = [(n.get("job"), n.get("artifacts")) for n in job.get("needs") or []]
            assert needs == [(pipeline_job_key(g), True) for g in PIPELINE_GATES], where
            assert job["environment"]["name"] == "$[[ inputs.environment ]]", where
            assert job["when"] == "$[[ inputs.promote-when ]]", where
        elif step in PIPELINE_AFTER:
            before = "promote" if step == "wait-sync" else "wait-sync"
            needs = [(n.get("job"), n.get("artifacts")) for n in job.get("needs") or []]
            assert needs == [(pipeline_job_key(before), True)], where
            assert dotenv is None, f"{where}: only the promotion job has a dotenv report"
        else:
            # Four jobs writing the same MLGATE_PIPELINE_* names would collide downstream.
            assert dotenv is None, f"{where}: only the promotion job has a dotenv report"
            needs = [(n.get("job"), n.get("artifacts")) for n in job.get("needs") or []]
            if step == "comply":
                assert needs == [(pipeline_job_key(g), True) for g in PARALLEL_GATES], where
                assert job["when"] == "always", f"{where}: every verdict is reported"
            else:
                assert needs == [], where


def test_pipeline_template_documents_its_outputs() -> None:
    path, _, _ = pipeline_template()
    text = path.read_text(encoding="utf-8")
    prefix = variable_name("pipeline", "")
    documented = set(re.findall(re.escape(prefix) + r"[A-Z0-9_]+", text))
    outputs = {variable_name("pipeline", o) for o in cli_outputs("pipeline")}
    assert outputs <= documented <= outputs | {variable_name("pipeline", "truncated")}, rel(path)
