"""The README's first command: the demo runs end to end and leaves a real config repo history."""

from __future__ import annotations

import subprocess

from mlgate.cli import main


def test_demo_promotes_staging_and_production(tmp_path, capsys):
    code = main(["demo", "--workdir", str(tmp_path)], environ={"PATH": "/usr/bin:/bin"})
    assert code == 0
    out = capsys.readouterr().out
    assert "[5/5]" in out and "Markdown report:" in out
    repo = tmp_path / "config-repo"
    log = subprocess.run(["git", "log", "--format=%s"], cwd=repo, capture_output=True,
                         text=True, check=True).stdout.splitlines()
    assert log == [
        "promote churn to production: v1.4.0 -> v1.5.0",
        "promote churn to staging: v1.4.0 -> v1.5.0",
        "initial config: churn v1.4.0, model 3",
    ]
    for env in ("staging", "production"):
        kust = (repo / f"apps/churn/{env}/kustomization.yaml").read_text()
        assert "newTag: v1.5.0   # promoted by mlgate" in kust
        model = (repo / f"apps/churn/{env}/model-version.yaml").read_text()
        assert 'storageUri: "s3://models/churn/4"' in model
        assert 'mlgate.io/model-version: "4"' in model
    # the base and everything outside the environment folders are untouched
    diff = subprocess.run(["git", "diff", "--stat", "HEAD~2", "--", "apps/churn/base", "charts"],
                          cwd=repo, capture_output=True, text=True, check=True).stdout
    assert diff == ""
    assert (tmp_path / "reports" / "summary.md").read_text().startswith("# mlgate demo")
