"""A config repo's history made by running mlgate itself (and plain git beside it), for the
tests of the commands that read it back: history, status, audit, metrics."""

from __future__ import annotations

import json
import os
import subprocess

from support.configrepo import GIT_ENV, git

from mlgate.cli import main

IMG = "registry.example.com/ml/churn"
ENV = {"PATH": "/usr/bin:/bin"}


def run(*argv, tmp_path, environ=ENV):
    out = tmp_path / "out.json"
    if out.exists():
        out.unlink()
    code = main([*argv, "--json", str(out)], environ=environ)
    return code, (json.loads(out.read_text()) if out.exists() else {})


def promote(remote, environment, image, *extra, app="churn", path="apps/churn"):
    assert main(["promote", "--repo", str(remote), "--app", app, "--path", path,
                 "--environment", environment, "--image", image, *extra], environ=ENV) == 0
    return git(remote, "rev-parse", "main").strip()


def hand_commit(remote, tmp_path, message, *, date=None, files=None):
    """A commit made with plain git (a person, or another tool), pushed to main."""
    work = tmp_path / f"hand-{len(list(tmp_path.glob('hand-*')))}"
    git(tmp_path, "clone", "-q", str(remote), str(work))
    for rel, text in (files or {"NOTES.md": message}).items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text(text)
    git(work, "add", "-A")
    env = {**os.environ, **GIT_ENV}
    if date:
        env |= {"GIT_COMMITTER_DATE": date, "GIT_AUTHOR_DATE": date}
    subprocess.run(["git", "commit", "-qm", message], cwd=work, env=env, check=True)
    git(work, "push", "-q", "origin", "HEAD:main")
    return git(work, "rev-parse", "HEAD").strip()
