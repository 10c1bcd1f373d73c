"""A rewrite is all-or-nothing when a rename fails: with the second target immutable
(`chattr +i`), `mlgate rewrite` puts the first file back, leaves no temp or backup file, and
exits 2 with one line and no traceback. write_all is also driven with a failure injected at the
Nth rename, and with the restore failing too."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mlgate.cli import main
from mlgate.errors import BadInput, ServiceError
from mlgate.manifests import writer
from mlgate.manifests.writer import write_all

IMG = "registry.example.com/ml/churn"
ENV = {"PATH": "/usr/bin:/bin"}
FILES = {
    "deployment.yaml": (f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: churn\n"
                        f"spec:\n  template:\n    spec:\n      containers:\n"
                        f"        - name: main\n          image: {IMG}:v1.4.0\n"),
    "kustomization.yaml": f"images:\n  - name: {IMG}\n    newTag: v1.4.0   # promoted\n",
    "values.yaml": f"image:\n  repository: {IMG}\n  tag: v1.4.0\n",
}


def _chattr(flag: str, path: Path) -> bool:
    if shutil.which("chattr") is None:
        return False
    return subprocess.run(["chattr", flag, str(path)], capture_output=True).returncode == 0


def _write_order(root: Path, tmp_path: Path) -> list[str]:
    """The files a rewrite would replace, in the order it replaces them (from --dry-run)."""
    out = tmp_path / "dry.json"
    code = main(["rewrite", "--root", str(root), "--image", f"{IMG}:v1.5.0", "--dry-run",
                 "--json", str(out), "."], environ=ENV)
    assert code == 0
    return json.loads(out.read_text())["result"]["files"]


@pytest.fixture
def tree(tmp_path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    for rel, text in FILES.items():
        (root / rel).write_text(text)
    return root


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in root.iterdir() if p.is_file()}


@pytest.mark.parametrize("which", [1, 0, 2], ids=["second", "first", "last"])
def test_immutable_file_leaves_every_file_as_it_was(tree, tmp_path, capsys, which):
    """The issue's attack is the second file; the first and last are the edges."""
    order = _write_order(tree, tmp_path)
    assert len(order) == 3
    locked = tree / order[which]
    if not _chattr("+i", locked):
        pytest.skip("chattr +i is not available on this filesystem")
    try:
        capsys.readouterr()
        before = _snapshot(tree)
        code = main(["rewrite", "--root", str(tree), "--image", f"{IMG}:v1.5.0", "."],
                    environ=ENV)
        err = capsys.readouterr().err
        assert code == 2
        assert "Traceback" not in err
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert order[which] in lines[0] and "no file was changed" in lines[0]
        assert _snapshot(tree) == before  # files replaced before it were put back, byte for byte
        assert sorted(os.listdir(tree)) == sorted(FILES)  # no *.mlgate temp or backup
    finally:
        _chattr("-i", locked)
    # and once the file is writable again the same rewrite goes through
    assert main(["rewrite", "--root", str(tree), "--image", f"{IMG}:v1.5.0", "."],
                environ=ENV) == 0
    assert all("v1.5.0" in (tree / rel).read_text() for rel in FILES)
    assert sorted(os.listdir(tree)) == sorted(FILES)


# --------------------------------------------------------------------------- write_all itself


def _targets(tmp_path: Path, count: int = 4) -> list[Path]:
    paths = []
    for i in range(count):
        p = tmp_path / f"f{i}.yaml"
        p.write_text(f"old {i}\n")
        p.chmod(0o640 if i % 2 else 0o600)
        paths.append(p)
    return paths


def _fail_on(monkeypatch, calls: set[int], error=OSError(1, "Operation not permitted")):
    """os.replace fails on the given calls (1-based), counting every call."""
    real = os.replace
    seen = {"n": 0}

    def replace(src, dst, *args, **kwargs):
        seen["n"] += 1
        if seen["n"] in calls:
            raise error
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(writer.os, "replace", replace)
    return seen


@pytest.mark.parametrize("nth", [1, 2, 3, 4])
def test_failure_at_nth_rename_restores_all(tmp_path, monkeypatch, nth):
    paths = _targets(tmp_path)
    before = {p: (p.read_bytes(), p.stat().st_mode, p.stat().st_ino) for p in paths}
    _fail_on(monkeypatch, {nth})
    with pytest.raises(BadInput, match=f"cannot replace {paths[nth - 1]}.*no file was changed"):
        write_all([(str(p), f"new {i}\n") for i, p in enumerate(paths)])
    # the same bytes, mode and even inode: the originals themselves were renamed back
    assert {p: (p.read_bytes(), p.stat().st_mode, p.stat().st_ino) for p in paths} == before
    assert sorted(os.listdir(tmp_path)) == sorted(p.name for p in paths)


def test_success_keeps_modes_and_leaves_nothing_behind(tmp_path):
    paths = _targets(tmp_path)
    modes = [p.stat().st_mode for p in paths]
    write_all([(str(p), f"new {i}\n") for i, p in enumerate(paths)])
    assert [p.read_text() for p in paths] == [f"new {i}\n" for i in range(len(paths))]
    assert [p.stat().st_mode for p in paths] == modes
    assert sorted(os.listdir(tmp_path)) == sorted(p.name for p in paths)


def test_failing_restore_keeps_the_original_and_says_where(tmp_path, monkeypatch):
    """3rd rename fails, then putting back the 2nd fails: exit 3 naming the kept original."""
    paths = _targets(tmp_path)
    _fail_on(monkeypatch, {3, 4})  # the 3rd rename, then the first restore (of f1)
    with pytest.raises(ServiceError) as info:
        write_all([(str(p), f"new {i}\n") for i, p in enumerate(paths)])
    message = str(info.value)
    assert "\n" not in message and f"cannot replace {paths[2]}" in message
    kept = [name for name in os.listdir(tmp_path) if name.endswith(".mlgate")]
    assert len(kept) == 1 and kept[0].startswith(".f1.yaml.") and kept[0] in message
    assert (tmp_path / kept[0]).read_text() == "old 1\n"
    assert paths[0].read_text() == "old 0\n"  # the other replaced file was put back
    assert [p.read_text() for p in paths[2:]] == ["old 2\n", "old 3\n"]


def test_interrupt_during_renames_restores_and_cleans_up(tmp_path, monkeypatch):
    paths = _targets(tmp_path)
    _fail_on(monkeypatch, {2}, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        write_all([(str(p), f"new {i}\n") for i, p in enumerate(paths)])
    assert [p.read_text() for p in paths] == [f"old {i}\n" for i in range(len(paths))]
    assert sorted(os.listdir(tmp_path)) == sorted(p.name for p in paths)


def test_unwritable_temp_changes_nothing(tmp_path, monkeypatch):
    paths = _targets(tmp_path)
    real = writer.tempfile.mkstemp
    calls = {"n": 0}

    def mkstemp(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(writer.tempfile, "mkstemp", mkstemp)
    with pytest.raises(BadInput, match=f"cannot write {paths[2]}: No space left"):
        write_all([(str(p), f"new {i}\n") for i, p in enumerate(paths)])
    assert [p.read_text() for p in paths] == [f"old {i}\n" for i in range(len(paths))]
    assert sorted(os.listdir(tmp_path)) == sorted(p.name for p in paths)
