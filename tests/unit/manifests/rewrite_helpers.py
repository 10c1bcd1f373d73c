"""Shared helpers for rewrite tests: write a tree of files, run the CLI, read files back."""

from __future__ import annotations

import json
import os
from pathlib import Path

from mlgate.cli import main

LOCAL_ENV = {"PATH": os.environ.get("PATH", "")}


def write_tree(root: Path, files: dict[str, str | bytes]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            content = content.encode("utf-8")
        path.write_bytes(content)


def read(root: Path, rel: str) -> str:
    return (root / rel).read_bytes().decode("utf-8")


def run(root: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict]:
    """Run `mlgate rewrite --root ROOT ARGS --json` and return (exit code, JSON or {})."""
    out = root.parent / f"{root.name}-result.json"
    if out.exists():
        out.unlink()
    code = main(["rewrite", "--root", str(root), "--json", str(out), *args],
                environ=env or LOCAL_ENV)
    data = json.loads(out.read_text()) if out.exists() else {}
    return code, data
