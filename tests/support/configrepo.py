"""Config repositories for promotion tests: the example repo, or many small apps, as bare
repos that tests push to and read back with plain git."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "config-repo"
GIT_ENV = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
           "GIT_AUTHOR_NAME": "seed", "GIT_AUTHOR_EMAIL": "seed@example.invalid",
           "GIT_COMMITTER_NAME": "seed", "GIT_COMMITTER_EMAIL": "seed@example.invalid"}


def git(cwd: Path | str, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env={**os.environ, **GIT_ENV},
                          capture_output=True, text=True, check=True).stdout


def tree_files(folder: Path) -> dict[str, str]:
    """{relative path: text} of every file under folder, for the servers' create_repo."""
    return {str(p.relative_to(folder)): p.read_text() for p in folder.rglob("*") if p.is_file()}


def bare_from_tree(tmp: Path, tree: Path | dict[str, str], name: str = "config.git") -> Path:
    """A bare repo whose main branch holds `tree` (a folder or {path: text})."""
    seed = tmp / f"{name}-seed"
    if isinstance(tree, dict):
        for rel, text in tree.items():
            (seed / rel).parent.mkdir(parents=True, exist_ok=True)
            (seed / rel).write_text(text)
    else:
        shutil.copytree(tree, seed)
    git(seed, "init", "-q", "-b", "main")
    git(seed, "add", "-A")
    git(seed, "commit", "-qm", "seed")
    bare = tmp / name
    git(tmp, "clone", "-q", "--bare", str(seed), str(bare))
    git(bare, "config", "receive.denyNonFastForwards", "true")
    git(bare, "config", "uploadpack.allowFilter", "true")
    shutil.rmtree(seed)
    return bare


def example_remote(tmp: Path) -> Path:
    return bare_from_tree(tmp, EXAMPLES)


def show(bare: Path, rev: str, path: str) -> str:
    return git(bare, "show", f"{rev}:{path}")


def many_apps(count: int) -> dict[str, str]:
    return {
        f"apps/app{i}/prod/deploy.yaml": (
            f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app{i}\nspec:\n"
            f"  template:\n    spec:\n      containers:\n        - name: main\n"
            f"          image: registry.example.com/team/app{i}:v1\n"
        )
        for i in range(count)
    }


def split_evidence(changed: list[str]) -> tuple[list[str], set[str]]:
    """A promotion commit's changed paths as (the manifests, the file names in its one
    `.mlgate/evidence/APP/ENV/ID/` folder): every promotion commit now carries its evidence."""
    manifests = [p for p in changed if not p.startswith(".mlgate/")]
    evidence = [p for p in changed if p.startswith(".mlgate/evidence/")]
    folders = {p.rsplit("/", 1)[0] for p in evidence}
    assert len(folders) == 1, evidence
    return manifests, {p.rsplit("/", 1)[1] for p in evidence}
