"""Generate the input/output reference of every mlgate command from the CLI into the docs site.

Each command in `mlgate.interface.COMMANDS` that is not local-only has a page,
`docs/commands/<command>.md`, holding one block

    <!-- mlgate-docs:<command> start -->
    ...generated...
    <!-- mlgate-docs:<command> end -->

listing the command's inputs (the `with:` / GitLab `inputs:` name, the CLI option, the
MLGATE_IN_* variable the action or template passes it as, required / default, click's help) and
its outputs (the name, the GitLab dotenv variable, the description from the command module's
OUTPUTS), plus the action and GitLab template that run it (found, like
tests/unit/repo/test_interface_drift.py does, by the `--inputs-from-env <command>` they run). The
rest of each page is written by hand.

    python scripts/gen_docs.py           # rewrite the blocks in docs/commands/*.md in place
    python scripts/gen_docs.py --check   # exit 1 listing pages and blocks that are stale or missing

A command without a page gets a new page holding only its block when the docs are rewritten;
write the rest of it and add it to the nav in mkdocs.yml. tests/unit/repo/test_readme_docs.py fails
when a block is not what this script produces now.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "commands"
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

import click  # noqa: E402
import yaml  # noqa: E402

from mlgate.interface import OUTPUTS as OUTPUTS_BY_COMMAND  # noqa: E402
from mlgate import cli, interface  # noqa: E402
from mlgate.ci.gitlab import variable_name  # noqa: E402

RUNS_COMMAND = re.compile(r"--inputs-from-env\s+([a-z][a-z0-9-]*)")
SCRIPT_KEYS = ("script", "before_script", "after_script")
MARKER = re.compile(
    r"<!-- mlgate-docs:(?P<name>[a-z][a-z0-9-]*) start -->\n"
    r"(?P<body>.*?)"
    r"<!-- mlgate-docs:(?P=name) end -->",
    re.DOTALL,
)


def documented_commands() -> list[str]:
    """Every command that has an action or template: COMMANDS minus LOCAL_ONLY, in CLI order."""
    return [name for name in interface.COMMANDS if name not in interface.LOCAL_ONLY]


# --- where a command runs -----------------------------------------------------------------


def _load(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None


def _load_all(path: Path) -> list[Any]:
    try:
        return list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError):
        return []


def _action_files() -> list[Path]:
    found = sorted((ROOT / "actions").glob("*/action.yml"))
    if (ROOT / "action.yml").exists():
        found.append(ROOT / "action.yml")
    return found


def _template_files() -> list[Path]:
    return sorted((ROOT / "gitlab-templates").glob("*.yml"))


def _flat(lines: Any) -> list[str]:
    if isinstance(lines, list):
        return [line for item in lines for line in _flat(item)]
    return [] if lines is None else [str(lines)]


def _action_commands(doc: Any) -> set[str]:
    steps = ((doc or {}).get("runs") or {}).get("steps") or [] if isinstance(doc, dict) else []
    return {m.group(1) for s in steps if isinstance(s, dict)
            for m in RUNS_COMMAND.finditer(str(s.get("run", "")))}


def _template_commands(docs: list[Any]) -> set[str]:
    found: set[str] = set()
    for doc in docs[1:] if len(docs) > 1 else docs:
        if not isinstance(doc, dict):
            continue
        for job in doc.values():
            if isinstance(job, dict):
                for key in SCRIPT_KEYS:
                    for line in _flat(job.get(key)):
                        found.update(m.group(1) for m in RUNS_COMMAND.finditer(line))
    return found


def _template_inputs(docs: list[Any]) -> dict[str, Any]:
    header = docs[0] if docs and isinstance(docs[0], dict) else {}
    spec = header.get("spec") if isinstance(header.get("spec"), dict) else {}
    inputs = spec.get("inputs") if isinstance(spec.get("inputs"), dict) else {}
    return {k: v if isinstance(v, dict) else {} for k, v in inputs.items()}


@dataclass(frozen=True)
class Platform:
    path: str | None  # relative to the repo
    runs_command: bool  # False: a file named after the command that runs it in several jobs
    inputs: dict[str, Any]


def find_action(command: str) -> Platform:
    for path in _action_files():
        doc = _load(path)
        if _action_commands(doc) == {command}:
            inputs = (doc.get("inputs") or {}) if isinstance(doc, dict) else {}
            return Platform(path.relative_to(ROOT).as_posix(), True,
                            {k: v if isinstance(v, dict) else {} for k, v in inputs.items()})
    return Platform(None, False, {})


def find_template(command: str) -> Platform:
    for path in _template_files():
        docs = _load_all(path)
        if _template_commands(docs) == {command}:
            return Platform(path.relative_to(ROOT).as_posix(), True, _template_inputs(docs))
    named = ROOT / "gitlab-templates" / f"{command}.yml"
    if named.exists():  # e.g. pipeline.yml: the steps as separate jobs
        return Platform(named.relative_to(ROOT).as_posix(), False, {})
    return Platform(None, False, {})


# --- inputs and outputs ---------------------------------------------------------------------


@dataclass(frozen=True)
class Input:
    name: str
    cli: str
    env: str
    flag: bool
    multiple: bool
    required: bool
    default: str | None
    help: str


def _plain_default(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)) or value == "":
        return None
    return str(value)


def inputs_of(command: str) -> Iterator[Input]:
    cmd: click.Command = cli.command(command)
    ctx = click.Context(cmd, info_name=command)
    for param in cmd.params:
        if param.name is None or getattr(param, "hidden", False):
            continue
        name = interface.input_name(param)
        flag = isinstance(param, click.Option) and param.is_flag
        multiple = param.multiple if isinstance(param, click.Option) else param.nargs != 1
        if isinstance(param, click.Option):
            opt = max(param.opts, key=len)
            usage = opt if flag else f"{opt} {param.make_metavar(ctx)}"
        else:
            usage = param.make_metavar(ctx)
        yield Input(
            name=name,
            cli=usage,
            env=interface.env_name(name),
            flag=flag,
            multiple=multiple,
            required=param.required,
            default=None if multiple else _plain_default(param.default),
            help=" ".join((getattr(param, "help", None) or "").split()),
        )


TAIL = re.compile(r"^(Required\.|true or false\..*|One .* per line.*|Default: .*)$")


def platform_help(name: str, *platforms: Platform) -> str:
    """An input's description from the action or template, for a parameter without click help
    (an argument): its text without the closing "Required." / "Default: ..." line."""
    for platform in platforms:
        description = str((platform.inputs.get(name) or {}).get("description") or "")
        lines = description.strip().splitlines()
        while lines and TAIL.match(lines[-1].strip()):
            lines.pop()
        if lines:
            return " ".join(" ".join(lines).split())
    return ""


def outputs_of(command: str) -> dict[str, str]:
    return dict(OUTPUTS_BY_COMMAND[command])


# --- Markdown -----------------------------------------------------------------------------


def text(value: str) -> str:
    """Plain text for a table cell: no HTML, no emphasis, no column breaks."""
    value = " ".join(value.split())
    return (value.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;")
            .replace(">", "&gt;").replace("*", "\\*"))


def code(value: str) -> str:
    """A code span for a table cell (GitHub reads `\\|` in a code span as a pipe)."""
    value = " ".join(value.split()).replace("|", "\\|")
    fence = "``" if "`" in value else "`"
    pad = " " if "`" in value else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def _platform_default(platform: Platform, name: str) -> str | None:
    spec = platform.inputs.get(name) or {}
    value = spec.get("default")
    if isinstance(value, bool) or value is None or str(value) == "":
        return None
    return str(value)


def requirement(item: Input, action: Platform, template: Platform) -> str:
    if item.required:
        return "**required**"
    if item.flag:
        return "`false` (flag: `true` / `false`)"
    parts = []
    if item.multiple:
        parts.append("none; one value per line")
    else:
        parts.append(code(item.default) if item.default is not None else "none")
    for label, platform in (("action", action), ("template", template)):
        value = _platform_default(platform, item.name)
        if value is not None and value != item.default:
            parts.append(f"{label}: {code(value)}")
    return "; ".join(parts)


def _uses(action_path: str) -> str:
    if action_path == "action.yml":
        return "owner/mlgate@<full-commit-sha>"
    return f"owner/mlgate/{action_path.rsplit('/action.yml', 1)[0]}@<full-commit-sha>"


def render(command: str) -> str:
    action = find_action(command)
    template = find_template(command)
    lines = [
        ("<!-- Generated by scripts/gen_docs.py from the CLI: edit the command's help and "
         "OUTPUTS, then run it. -->"),
        "",
    ]
    where = [f"CLI `mlgate {command}`"]
    if action.path:
        if "/" in action.path:
            shown = f"GitHub action `{action.path.rsplit('/action.yml', 1)[0]}`"
        else:
            shown = f"GitHub root action `{action.path}`"
        where.append(f"{shown} (`uses: {_uses(action.path)}`)")
    if template.path:
        note = ("" if template.runs_command
                else " (the steps as separate jobs, with inputs of its own)")
        where.append(f"GitLab template `{template.path}`{note}")
    lines.append("**Runs as** " + ", ".join(where) + ".")
    lines.append("")

    items = list(inputs_of(command))
    lines += [
        (f"Inputs of `mlgate {command}` ({len(items)}): the `with:` / GitLab `inputs:` name, "
         "the CLI option, the variable the action or template passes it as:"),
        "",
        "| input | CLI | variable | default | description |",
        "| --- | --- | --- | --- | --- |",
    ]
    for item in items:
        description = item.help or platform_help(item.name, action, template)
        lines.append(
            f"| {code(item.name)} | {code(item.cli)} | {code(item.env)} | "
            f"{requirement(item, action, template)} | {text(description) or '—'} |"
        )
    lines.append("")

    outputs = outputs_of(command)
    lines += [
        (f"Outputs of `mlgate {command}` (GitHub: `steps.<id>.outputs.<name>`; GitLab: the "
         "dotenv variable, in every job that `needs:` this one):"),
        "",
        "| output | GitLab dotenv | description |",
        "| --- | --- | --- |",
    ]
    for name, description in outputs.items():
        lines.append(f"| {code(name)} | {code(variable_name(command, name))} | "
                     f"{text(description) or '—'} |")
    lines.append("")
    return "\n".join(lines)


def placeholder(command: str) -> str:
    return (f"<!-- `{command}` is not a command of this build's CLI: scripts/gen_docs.py fills "
            "this block once it is. -->\n")


def block(command: str, body: str) -> str:
    return f"<!-- mlgate-docs:{command} start -->\n{body}<!-- mlgate-docs:{command} end -->"


# --- the pages ----------------------------------------------------------------------------


def page_of(command: str, docs: Path = DOCS) -> Path:
    return docs / f"{command}.md"


def blocks_in(page: str) -> dict[str, str]:
    """command -> the body between its markers (the first block of each command)."""
    found: dict[str, str] = {}
    for m in MARKER.finditer(page):
        found.setdefault(m.group("name"), m.group("body"))
    return found


def expected_body(command: str) -> str:
    return render(command) if command in documented_commands() else placeholder(command)


def stale_blocks(page: str, command: str) -> list[str]:
    """One line per problem of the page of `command`: its block missing, duplicated or not
    what the generator writes now, or a block of another command in it."""
    problems = []
    names = [m.group("name") for m in MARKER.finditer(page)]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"{name}: more than one block")
    present = blocks_in(page)
    if command not in present:
        problems.append(f"{command}: no <!-- mlgate-docs:{command} start/end --> block")
    for name, body in present.items():
        if name != command:
            problems.append(f"{name}: block belongs in {name}.md")
        elif body != expected_body(name):
            problems.append(f"{name}: block is stale")
    return problems


def stale_pages(docs: Path = DOCS) -> list[str]:
    """One line per problem over every documented command's page, naming the page."""
    problems = []
    for command in documented_commands():
        path = page_of(command, docs)
        if not path.is_file():
            problems.append(f"{path.name}: no page for `mlgate {command}`")
            continue
        problems += [f"{path.name}: {line}"
                     for line in stale_blocks(path.read_text(encoding="utf-8"), command)]
    return problems


def regenerate(page: str) -> str:
    def fill(m: re.Match[str]) -> str:
        return block(m.group("name"), expected_body(m.group("name")))

    return MARKER.sub(fill, page)


def new_page(command: str) -> str:
    return f"# `mlgate {command}`\n\n{block(command, expected_body(command))}\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true",
                    help="change nothing; exit 1 listing the stale or missing blocks")
    ap.add_argument("--docs", type=Path, default=DOCS, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.check:
        problems = stale_pages(args.docs)
        for line in problems:
            print(line, file=sys.stderr)
        if problems:
            print("run: python scripts/gen_docs.py", file=sys.stderr)
        return 1 if problems else 0
    for command in documented_commands():
        path = page_of(command, args.docs)
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(new_page(command), encoding="utf-8")
            print(f"wrote {path.name}: a new page; write the rest of it and add it to the nav "
                  "in mkdocs.yml", file=sys.stderr)
            continue
        old = path.read_text(encoding="utf-8")
        new = regenerate(old)
        if command not in blocks_in(new):
            new = new.rstrip("\n") + "\n\n" + block(command, expected_body(command)) + "\n"
        if new != old:
            path.write_text(new, encoding="utf-8")
            print(f"rewrote {path.name}")
        for name in blocks_in(new):
            if name != command:
                print(f"note: {path.name} holds a block for {name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
