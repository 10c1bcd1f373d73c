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


def public_pem(public_key, path):
    from cryptography.hazmat.primitives import serialization

    path.write_bytes(public_key.public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo))
    return str(path)


def gate_file(tmp_path, name="benchmark.json", verdict="passed", command="benchmark"):
    path = tmp_path / name
    path.write_text(json.dumps({"command": command, "verdict": verdict, "exit_code": 0,
                                "title": "t", "result": {"candidate": {
                                    "uri": "models:/churn/7", "name": "churn",
                                    "version": "7"}}}))
    return str(path)


def checks(doc):
    return {c["what"]: c["status"] for c in doc["result"]["checks"]}


def edit_and_push(remote, tmp_path, edit, *, amend=False):
    """Clone, let `edit` change the work tree, then commit (or amend main's head, keeping its
    message: a forged commit) and push (forced when amending)."""
    work = tmp_path / f"edit-{len(list(tmp_path.glob('edit-*')))}"
    git(tmp_path, "clone", "-q", str(remote), str(work))
    edit(work)
    git(work, "add", "-A")
    env = {**os.environ, **GIT_ENV}
    args = ["commit", "-q", "--amend", "--no-edit"] if amend else ["commit", "-qm", "edit"]
    subprocess.run(["git", *args], cwd=work, env=env, check=True)
    if amend:  # the remote refuses a forced push: move main in the bare repo itself
        git(work, "push", "-q", "origin", "HEAD:refs/heads/forged")
        new = git(work, "rev-parse", "HEAD").strip()
        git(remote, "update-ref", "refs/heads/main", new)
        git(remote, "update-ref", "-d", "refs/heads/forged")
        return new
    git(work, "push", "-q", "origin", "HEAD:main")
    return git(work, "rev-parse", "HEAD").strip()


def flip_verdict(folder):
    """An edit turning the kept benchmark result's "failed" into "passed"."""
    def flip(work):
        path = work / folder / "benchmark.json"
        path.write_text(path.read_text().replace('"failed"', '"passed"'))
    return flip


def folder_of(remote, sha):
    body = git(remote, "show", "-s", "--format=%B", sha)
    return next(line.split(": ", 1)[1] for line in body.splitlines()
                if line.startswith("Mlgate-Evidence-Dir: "))
