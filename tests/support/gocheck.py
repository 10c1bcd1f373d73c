"""The controllers' own evaluators, where this machine has them: Argo Rollouts judges a
measurement with expr (github.com/antonmedv/expr, Debian's golang-github-antonmedv-expr-dev)
and Flagger renders a MetricTemplate's query with Go's text/template. exprcheck/main.go runs
both the way the controllers call them; it is built once per session with the Go toolchain
(Debian's golang-go) in GOPATH mode, offline. scripts/test installs both; without them the
tests that need them fail with a line saying what to install (never a skip).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

SOURCE = Path(__file__).with_name("exprcheck") / "main.go"
GOCODE = Path("/usr/share/gocode")
_built: list[Path | None] = []


def harness() -> Path | None:
    """The built binary, or None when Go or the expr sources are not installed."""
    if _built:
        return _built[0]
    binary = None
    go = shutil.which("go")
    if go and (GOCODE / "src/github.com/antonmedv/expr").is_dir():
        work = Path(tempfile.mkdtemp(prefix="mlgate-exprcheck-"))
        src = work / "src" / "exprcheck"
        src.mkdir(parents=True)
        shutil.copy(SOURCE, src / "main.go")
        env = dict(os.environ, GO111MODULE="off", GOPROXY="off", GOFLAGS="",
                   GOPATH=f"{work}{os.pathsep}{GOCODE}")
        out = work / "exprcheck"
        done = subprocess.run([go, "build", "-o", str(out), "."], cwd=src, env=env,
                              capture_output=True, text=True, timeout=300, check=False)
        binary = out if done.returncode == 0 else None
    _built.append(binary)
    return binary


def run(binary: Path, requests: list[dict]) -> list[dict]:
    """One answer per request: {"value": "true"} / {"text": ...} / {"error": ...}."""
    text = "".join(json.dumps(r) + "\n" for r in requests)
    done = subprocess.run([str(binary)], input=text, capture_output=True, text=True,
                          timeout=60, check=True)
    return [json.loads(line) for line in done.stdout.splitlines()]
