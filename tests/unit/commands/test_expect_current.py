"""A stale --expect-current is refused naming the file and line the current value was read from,
so the copy that differs can be found (through rewrite, and promote on a real bare repo)."""

from __future__ import annotations

from support.configrepo import example_remote, git

from mlgate.cli import main

IMG = "registry.example.com/ml/churn"
ENV = {"PATH": "/usr/bin:/bin"}


def test_rewrite_refusal_names_file_and_line(tmp_path, capsys):
    root = tmp_path / "repo"
    (root / "env").mkdir(parents=True)
    (root / "env" / "a.yaml").write_text(f"image:\n  repository: {IMG}\n  tag: v1.4.0\n")
    stale = f"# another copy\nimages:\n  - name: {IMG}\n    newTag: v1.3.9\n"
    (root / "env" / "kustomization.yaml").write_text(stale)
    code = main(["rewrite", "--root", str(root), "--image", f"{IMG}:v1.5.0",
                 "--expect-current", f"{IMG}:v1.4.0", "env"], environ=ENV)
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(lines) == 1
    assert "env/kustomization.yaml:4" in lines[0] and "v1.3.9" in lines[0]
    assert (root / "env" / "kustomization.yaml").read_text() == stale


def test_promote_refusal_names_file_and_line(tmp_path, capsys):
    remote = example_remote(tmp_path)
    refs = git(remote, "for-each-ref")
    code = main(["promote", "--repo", str(remote), "--app", "churn", "--path", "apps/churn",
                 "--environment", "staging", "--image", f"{IMG}:v1.5.0",
                 "--expect-current", f"{IMG}:v1.3.0"], environ=ENV)
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(lines) == 1
    assert "apps/churn/staging/kustomization.yaml:10" in lines[0]
    assert "refusing to overwrite (--expect-current)" in lines[0]
    assert git(remote, "for-each-ref") == refs
