"""The actions install the versions uv.lock pins: actions/_shared/constraints.txt is uv.lock
exported, and this test fails when the two differ (regenerate with the command in its header)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
FILE = REPO / "actions" / "_shared" / "constraints.txt"
EXPORT = ["uv", "export", "--frozen", "--no-hashes", "--no-emit-project", "--all-extras",
          "--no-header", "--no-annotate", "-q"]


def pins(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


def test_constraints_match_the_lock() -> None:
    if shutil.which("uv") is None:
        pytest.fail("uv is not on PATH (scripts/test installs it)")
    proc = subprocess.run(EXPORT, cwd=REPO, capture_output=True, text=True, check=True)
    assert pins(FILE.read_text()) == pins(proc.stdout), (
        "actions/_shared/constraints.txt is stale: regenerate it with the command in its header")


def test_install_script_uses_the_constraints() -> None:
    script = (REPO / "actions" / "_shared" / "install.sh").read_text()
    assert "--constraint" in script and "actions/_shared/constraints.txt" in script
