"""The README's first command: the demo runs end to end and leaves a real config repo history."""

from __future__ import annotations

import subprocess

from mlgate.cli import main


def git(repo, *args):
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True,
                          check=True).stdout


def test_demo_promotes_staging_then_production_and_rolls_back(tmp_path, capsys):
    code = main(["demo", "--workdir", str(tmp_path)], environ={"PATH": "/usr/bin:/bin"})
    assert code == 0
    out = capsys.readouterr().out
    assert "[6/6]" in out and "Markdown report:" in out
    remote = tmp_path / "config.git"
    subjects = git(remote, "log", "--format=%s", "main").splitlines()
    assert subjects == [
        "rollback churn in production: v1.5.0 -> v1.4.0",
        "promote churn to production: v1.4.0 -> v1.5.0",
        "promote churn to staging: v1.4.0 -> v1.5.0",
        "initial config: churn v1.4.0, model 3",
    ]
    staging = git(remote, "show", "main:apps/churn/staging/kustomization.yaml")
    production = git(remote, "show", "main:apps/churn/production/kustomization.yaml")
    assert "newTag: v1.5.0   # promoted by mlgate" in staging
    assert "newTag: v1.4.0   # promoted by mlgate" in production
    assert 'mlgate.io/model-version: "4"' in git(
        remote, "show", "main:apps/churn/staging/model-version.yaml")
    # production is back, byte for byte, to what it was before its promotion
    assert git(remote, "diff", "main~2", "main", "--", "apps/churn/production") == ""
    assert "Mlgate-From-Environment: staging" in git(remote, "log", "-1", "--format=%B", "main~1")
    assert (tmp_path / "reports" / "summary.md").read_text().startswith("# mlgate demo")
