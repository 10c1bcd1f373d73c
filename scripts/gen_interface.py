"""Write the scaffold of an action.yml and a GitLab template for one mlgate command, from the
CLI (the one source of truth). Review and edit the result: the drift test
(tests/unit/repo/test_interface_drift.py) keeps the edited files equal to the CLI afterwards.

    python scripts/gen_interface.py scan actions/scan-image "mlgate scan-image" --extras ""
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import click  # noqa: E402

from mlgate.ci.gitlab import SOURCE_REF, SOURCE_REPOSITORY_URL, default_install  # noqa: E402
from mlgate.cli import command  # noqa: E402
from mlgate.interface import OUTPUTS, env_name, input_name  # noqa: E402


def params(command: click.Command):
    for p in command.params:
        if p.name is None or getattr(p, "hidden", False):
            continue
        name = input_name(p)
        is_flag = isinstance(p, click.Option) and p.is_flag
        multiple = (p.multiple if isinstance(p, click.Option) else p.nargs != 1)
        help_text = " ".join((getattr(p, "help", None) or name).split())
        raw = p.default
        default = raw if isinstance(raw, (str, int, float)) and not isinstance(raw, bool) \
            and raw != "" else None
        yield name, p, is_flag, multiple, p.required, help_text, default


def wrap(text: str, indent: int) -> str:
    # never break inside a hyphenated word: the drift test compares the help's words
    return "\n".join(textwrap.wrap(text, 96 - indent, initial_indent=" " * indent,
                                   subsequent_indent=" " * indent, break_on_hyphens=False))


def describe(help_text: str, is_flag: bool, multiple: bool, required: bool, default) -> str:
    tail = ("true or false. Default: false." if is_flag else
            "Required." if required else
            "One value per line. Default: none." if multiple else
            f"Default: {default}." if default is not None else "Default: none.")
    return f"{help_text}\n{tail}"


def action(cmd_name: str, title: str, extras: str) -> str:
    cmd = command(cmd_name)
    out = [f"name: {title}", "description: >-", wrap(cmd.help or title, 2),
           "author: mlgate", "branding:", "  icon: shield", "  color: blue", "",
           "# Every input is one `mlgate " + cmd_name + "` input, checked against the CLI by",
           "# tests/unit/repo/test_interface_drift.py.", "inputs:"]
    env = []
    for name, p, is_flag, multiple, required, help_text, default in params(cmd):
        out.append(f"  {name}:")
        out.append("    description: |")
        out += [wrap(part, 6) for part in
                describe(help_text, is_flag, multiple, required, default).split("\n")]
        out.append(f"    required: {'true' if required else 'false'}")
        if not required:
            d = "false" if is_flag else ("" if default is None else str(default))
            out.append(f'    default: "{d}"')
        env.append(f"        {env_name(name)}: ${{{{ inputs.{name} }}}}")
    out += ["", "outputs:"]
    for name, text in OUTPUTS[cmd_name].items():
        out += [f"  {name}:", "    description: |", wrap(text, 6),
                f"    value: ${{{{ steps.{cmd_name}.outputs.{name} }}}}"]
    out += ["", "runs:", "  using: composite", "  steps:", "    - name: Install mlgate",
            "      id: install", "      shell: bash", "      env:",
            f'        MLGATE_EXTRAS: "{extras}"',
            '      run: bash "$GITHUB_ACTION_PATH/../_shared/install.sh"', "",
            f"    - name: mlgate {cmd_name}", f"      id: {cmd_name}", "      shell: bash",
            "      env:", "        MLGATE_BIN: ${{ steps.install.outputs.mlgate }}", *env,
            f"      run: '\"$MLGATE_BIN\" --inputs-from-env {cmd_name}'", ""]
    return "\n".join(out)


def template(cmd_name: str, job: str, stage: str, image: str, install: str) -> str:
    cmd = command(cmd_name)
    out = [f"# mlgate {cmd_name}: a GitLab CI/CD template in component style (`spec: inputs:`).",
           "# Every input except job-name, stage, job-image and install is one mlgate input and",
           "# reaches mlgate as a MLGATE_IN_* variable, never as text inside a script line.",
           "# Outputs: a dotenv report, mlgate-" + cmd_name + ".env:"]
    for name, text in OUTPUTS[cmd_name].items():
        var = f"MLGATE_{cmd_name.upper()}_{name.upper().replace('-', '_')}"
        out.append(f"#   {var}: {text}")
    out += ["spec:", "  inputs:",
            "    job-name:", "      description: |", "        Name of the job this template adds.",
            f"      default: {job}",
            "    stage:", "      description: |", "        Stage of the job.", f"      default: {stage}",
            "    job-image:", "      description: |",
            "        Container image the job runs in; it needs Python >= 3.10, pip and git.",
            f"      default: {image}",
            "    install:", "      description: |",
            "        Shell command that installs mlgate so that `mlgate` is on PATH, run with `eval` in the",
            "        job's shell. Set it from the pipeline, never from untrusted variables.",
            f"      default: {install}"]
    variables = [f"    MLGATE_REPOSITORY_URL: {SOURCE_REPOSITORY_URL}", f"    MLGATE_REF: {SOURCE_REF}",
                 "    MLGATE_INSTALL: $[[ inputs.install ]]"]
    for name, p, is_flag, multiple, required, help_text, default in params(cmd):
        out += [f"    {name}:", "      description: |"]
        out += [wrap(part, 8) for part in
                describe(help_text, is_flag, multiple, required, default).split("\n")]
        if is_flag:
            out += ["      type: boolean", "      default: false"]
        elif required:
            out += ["      type: string"]
        else:
            out += ["      type: string", f'      default: "{"" if default is None else default}"']
        variables.append(f"    {env_name(name)}: $[[ inputs.{name} ]]")
    out += ["---", "$[[ inputs.job-name ]]:", "  stage: $[[ inputs.stage ]]",
            "  image: $[[ inputs.job-image ]]", "  variables:", *variables, "  script:",
            '    - eval "$MLGATE_INSTALL"', f"    - mlgate --inputs-from-env {cmd_name}",
            "  artifacts:", "    when: always", "    expire_in: 30 days", "    paths:",
            f"      - mlgate-{cmd_name}.*", "    reports:", f"      dotenv: mlgate-{cmd_name}.env", ""]
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("command")
    ap.add_argument("action_dir")
    ap.add_argument("template")
    ap.add_argument("--title", default=None)
    ap.add_argument("--extras", default="")
    ap.add_argument("--stage", default="test")
    ap.add_argument("--job-image", default="python:3.12")
    a = ap.parse_args()
    install = default_install(a.extras)
    Path(a.action_dir).mkdir(parents=True, exist_ok=True)
    (Path(a.action_dir) / "action.yml").write_text(
        action(a.command, a.title or f"mlgate {a.command}", a.extras))
    Path(a.template).write_text(template(a.command, f"mlgate-{Path(a.template).stem}", a.stage,
                                         a.job_image, install))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
