"""The docs site's input/output reference is generated from the CLI and must stay what
scripts/gen_docs.py produces now: each command's page, docs/commands/<command>.md, holds one
generated block, and a changed option, help text or output, a renamed action or template, or a
new command in COMMANDS fails here until `python scripts/gen_docs.py` is run.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlgate.interface import OUTPUTS as OUTPUTS_BY_COMMAND  # noqa: E402
from mlgate import cli, interface

REPO = Path(__file__).resolve().parents[3]
DOCS = REPO / "docs" / "commands"
SCRIPT = REPO / "scripts" / "gen_docs.py"
CI_COMMANDS = sorted(set(interface.COMMANDS) - set(interface.LOCAL_ONLY))
FIX = "run `python scripts/gen_docs.py` and commit docs/commands/"


def _load_generator():
    spec = importlib.util.spec_from_file_location("mlgate_gen_docs", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


gen_docs = _load_generator()


def page(command: str) -> str:
    path = DOCS / f"{command}.md"
    assert path.is_file(), f"no page {path.relative_to(REPO)} for `mlgate {command}`; {FIX}"
    return path.read_text(encoding="utf-8")


def _gen(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args],
                          capture_output=True, text=True, check=False)


def test_the_generator_documents_every_ci_command() -> None:
    assert sorted(gen_docs.documented_commands()) == CI_COMMANDS


def test_the_generator_writes_the_docs_pages_not_the_readme() -> None:
    assert gen_docs.DOCS == DOCS
    assert "mlgate-docs:" not in (REPO / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("command", CI_COMMANDS)
def test_every_command_has_one_block(command: str) -> None:
    text = page(command)
    start = f"<!-- mlgate-docs:{command} start -->"
    end = f"<!-- mlgate-docs:{command} end -->"
    assert text.count(start) == 1 and text.count(end) == 1, (
        f"docs/commands/{command}.md needs exactly one {start} ... {end} block; {FIX}"
    )


@pytest.mark.parametrize("command", CI_COMMANDS)
def test_block_is_what_the_generator_writes(command: str) -> None:
    blocks = gen_docs.blocks_in(page(command))
    assert command in blocks, f"no block for `mlgate {command}`; {FIX}"
    assert blocks[command] == gen_docs.render(command), (
        f"docs/commands/{command}.md's block for `mlgate {command}` is stale; {FIX}"
    )
    assert gen_docs.stale_blocks(page(command), command) == []


@pytest.mark.parametrize("command", CI_COMMANDS)
def test_block_names_every_input_and_output(command: str) -> None:
    """The generator itself: every CLI input (with its MLGATE_IN_* variable) and every output
    (with its dotenv variable) is in the block, and the table rows stay one per line."""
    from mlgate.ci.gitlab import variable_name

    body = gen_docs.render(command)
    rows = [line for line in body.splitlines() if line.startswith("| `")]
    params = [p for p in cli.command(command).params
              if p.name is not None and not getattr(p, "hidden", False)]
    outputs = OUTPUTS_BY_COMMAND[command]
    assert len(rows) == len(params) + len(outputs)
    for param in params:
        name = interface.input_name(param)
        assert f"| `{name}` | " in body and f"`{interface.env_name(name)}`" in body, name
    for output in outputs:
        assert f"| `{output}` | `{variable_name(command, output)}` |" in body, output
    for row in rows:
        cells = row.replace("\\|", "").split("|")
        assert len(cells) in (5, 7), f"a stray pipe breaks the table row: {row}"
    assert "<details>" not in body, "Markdown inside HTML is not rendered by MkDocs"


def test_check_mode_agrees(tmp_path: Path) -> None:
    docs = tmp_path / "commands"
    shutil.copytree(DOCS, docs)
    ok = _gen("--check", "--docs", str(docs))
    assert ok.returncode == 0, ok.stderr

    command = CI_COMMANDS[0]
    path = docs / f"{command}.md"
    original = path.read_text(encoding="utf-8")
    path.write_text(original.replace(f"<!-- mlgate-docs:{command} start -->\n",
                                     f"<!-- mlgate-docs:{command} start -->\nhand-edited\n", 1),
                    encoding="utf-8")
    bad = _gen("--check", "--docs", str(docs))
    assert bad.returncode == 1 and f"{command}.md: {command}: block is stale" in bad.stderr

    fixed = _gen("--docs", str(docs))
    assert fixed.returncode == 0, fixed.stderr
    assert path.read_text(encoding="utf-8") == original
    assert _gen("--check", "--docs", str(docs)).returncode == 0


def test_check_mode_fails_on_a_missing_page_or_block(tmp_path: Path) -> None:
    docs = tmp_path / "commands"
    shutil.copytree(DOCS, docs)
    gone, emptied = CI_COMMANDS[0], CI_COMMANDS[1]
    (docs / f"{gone}.md").unlink()
    (docs / f"{emptied}.md").write_text(f"# `mlgate {emptied}`\n\nhand-written only\n",
                                        encoding="utf-8")
    bad = _gen("--check", "--docs", str(docs))
    assert bad.returncode == 1
    assert f"{gone}.md: no page for `mlgate {gone}`" in bad.stderr
    no_block = f"{emptied}.md: {emptied}: no <!-- mlgate-docs:{emptied} start/end --> block"
    assert no_block in bad.stderr

    fixed = _gen("--docs", str(docs))
    assert fixed.returncode == 0, fixed.stderr
    assert _gen("--check", "--docs", str(docs)).returncode == 0
    assert "hand-written only" in (docs / f"{emptied}.md").read_text(encoding="utf-8")
    assert gen_docs.blocks_in((docs / f"{gone}.md").read_text(encoding="utf-8"))[gone] == (
        gen_docs.render(gone))
