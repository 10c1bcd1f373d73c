"""The README's input/output reference is generated from the CLI and must stay what
scripts/gen_docs.py produces now: a changed option, help text or output, a renamed action or
template, or a new command in COMMANDS fails here until `python scripts/gen_docs.py` is run.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from mlgate import cli

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
SCRIPT = REPO / "scripts" / "gen_docs.py"
CI_COMMANDS = sorted(set(cli.COMMANDS) - set(cli.LOCAL_ONLY))
FIX = "run `python scripts/gen_docs.py` and commit README.md"


def _load_generator():
    spec = importlib.util.spec_from_file_location("mlgate_gen_docs", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


gen_docs = _load_generator()


@pytest.fixture(scope="module")
def readme() -> str:
    return README.read_text(encoding="utf-8")


def test_the_generator_documents_every_ci_command() -> None:
    assert sorted(gen_docs.documented_commands()) == CI_COMMANDS


@pytest.mark.parametrize("command", CI_COMMANDS)
def test_every_command_has_one_block(readme: str, command: str) -> None:
    start = f"<!-- mlgate-docs:{command} start -->"
    end = f"<!-- mlgate-docs:{command} end -->"
    assert readme.count(start) == 1 and readme.count(end) == 1, (
        f"README.md needs exactly one {start} ... {end} block for `mlgate {command}`; {FIX}"
    )


@pytest.mark.parametrize("command", CI_COMMANDS)
def test_block_is_what_the_generator_writes(readme: str, command: str) -> None:
    blocks = gen_docs.blocks_in(readme)
    assert command in blocks, f"no block for `mlgate {command}`; {FIX}"
    assert blocks[command] == gen_docs.render(command), (
        f"README.md's block for `mlgate {command}` is stale; {FIX}"
    )


@pytest.mark.parametrize("command", CI_COMMANDS)
def test_block_names_every_input_and_output(command: str) -> None:
    """The generator itself: every CLI input (with its MLGATE_IN_* variable) and every output
    (with its dotenv variable) is in the block, and the table rows stay one per line."""
    from mlgate.ci.gitlab import variable_name

    body = gen_docs.render(command)
    rows = [line for line in body.splitlines() if line.startswith("| `")]
    params = [p for p in cli.command_module(command).command.params
              if p.name is not None and not getattr(p, "hidden", False)]
    outputs = cli.command_module(command).OUTPUTS
    assert len(rows) == len(params) + len(outputs)
    for param in params:
        name = cli.input_name(param)
        assert f"| `{name}` | " in body and f"`{cli.env_name(name)}`" in body, name
    for output in outputs:
        assert f"| `{output}` | `{variable_name(command, output)}` |" in body, output
    for row in rows:
        cells = row.replace("\\|", "").split("|")
        assert len(cells) in (5, 7), f"a stray pipe breaks the table row: {row}"


def test_check_mode_agrees(tmp_path: Path, readme: str) -> None:
    copy = tmp_path / "README.md"
    copy.write_text(readme, encoding="utf-8")
    ok = subprocess.run([sys.executable, str(SCRIPT), "--check", "--readme", str(copy)],
                        capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr

    command = CI_COMMANDS[0]
    stale = readme.replace(f"<!-- mlgate-docs:{command} start -->\n",
                           f"<!-- mlgate-docs:{command} start -->\nhand-edited\n", 1)
    copy.write_text(stale, encoding="utf-8")
    bad = subprocess.run([sys.executable, str(SCRIPT), "--check", "--readme", str(copy)],
                         capture_output=True, text=True, check=False)
    assert bad.returncode == 1 and f"{command}: block is stale" in bad.stderr

    fixed = subprocess.run([sys.executable, str(SCRIPT), "--readme", str(copy)],
                           capture_output=True, text=True, check=False)
    assert fixed.returncode == 0, fixed.stderr
    assert copy.read_text(encoding="utf-8") == readme
