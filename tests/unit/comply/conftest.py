"""What every comply test starts from: the example config repo as a bare remote, and a way to
run `mlgate comply` on its production environment with policies written by the test."""

from __future__ import annotations

import json
import textwrap

import pytest
from support.configrepo import example_remote, git

from mlgate.cli import main

IMG = "registry.example.com/ml/churn"
ENV = {"PATH": "/usr/bin:/bin"}
KUSTOMIZATION = "apps/churn/production/kustomization.yaml"


@pytest.fixture
def remote(tmp_path):
    return example_remote(tmp_path)


def refs(bare) -> str:
    """Every ref and its object: the remote's whole state, compared before and after."""
    return git(bare, "for-each-ref", "--format=%(objectname) %(refname)")


def write_policy(folder, name, text):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def comply(remote, tmp_path, *argv, image=f"{IMG}:v1.5.0", environment="production",
           environ=ENV):
    out = tmp_path / "comply.json"
    if out.exists():
        out.unlink()
    args = ["comply", "--repo", str(remote), "--app", "churn", "--path", "apps/churn",
            "--environment", environment, *(("--image", image) if image else ()), *argv,
            "--json", str(out)]
    code = main(args, environ=environ)
    return code, (json.loads(out.read_text()) if out.exists() else {})


def findings(doc):
    return [(f["kind"], f["package"], f["rule"], f["file"], f["line"], f["message"])
            for f in doc["result"]["findings"]]
