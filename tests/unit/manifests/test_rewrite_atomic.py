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


# --------------------------------------------------------------------------- what is left behind


def _replace_failing(monkeypatch, errors: dict[int, BaseException], on_first=None):
    """os.replace raises errors[n] on call n (1-based); on_first() runs before the first call."""
    real = os.replace
    seen = {"n": 0}

    def replace(src, dst, *args, **kwargs):
        seen["n"] += 1
        if seen["n"] == 1 and on_first is not None:
            on_first()
        if seen["n"] in errors:
            raise errors[seen["n"]]
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(writer.os, "replace", replace)


def _kept(directory: Path) -> list[str]:
    return sorted(n for n in os.listdir(directory) if n.endswith(".orig.mlgate"))


def test_failing_restores_name_every_original_kept_in_one_line(tmp_path, monkeypatch):
    """The 3rd rename fails, then both restores fail: exit 3, and the message names the file
    that could not be replaced and, newest first, where each original now is."""
    paths = _targets(tmp_path)
    _replace_failing(monkeypatch, {3: OSError(1, "Operation not permitted"),
                                   4: OSError(5, "Input/output error"),
                                   5: OSError(5, "Input/output error")})
    with pytest.raises(ServiceError) as info:
        write_all([(str(p), f"new {i}\n") for i, p in enumerate(paths)])
    kept = _kept(tmp_path)
    assert [k.split(".")[1] for k in kept] == ["f0", "f1"]
    k0, k1 = (str(tmp_path / k) for k in kept)
    assert str(info.value) == (
        f"cannot replace {paths[2]}: Operation not permitted, and the files already replaced "
        f"could not all be put back: {paths[1]} (original kept as {k1}); "
        f"{paths[0]} (original kept as {k0})")
    assert [Path(k0).read_text(), Path(k1).read_text()] == ["old 0\n", "old 1\n"]
    assert [p.read_text() for p in paths] == ["new 0\n", "new 1\n", "old 2\n", "old 3\n"]
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".mlgate") and n not in kept]


class Cancelled(BaseException):
    """An interrupt that is not KeyboardInterrupt, so a test that fails does not stop pytest."""


def test_interrupt_with_a_failing_restore_names_the_interrupt(tmp_path, monkeypatch):
    paths = _targets(tmp_path, 3)
    _replace_failing(monkeypatch, {2: Cancelled(), 3: OSError(5, "Input/output error")})
    with pytest.raises(ServiceError) as info:
        write_all([(str(p), f"new {i}\n") for i, p in enumerate(paths)])
    (kept,) = _kept(tmp_path)
    assert str(info.value) == (
        f"cannot replace {paths[1]}: Cancelled, and the files already replaced could "
        f"not all be put back: {paths[0]} (original kept as {tmp_path / kept})")


def test_an_error_without_a_description_is_shown_by_its_text(tmp_path, monkeypatch):
    paths = _targets(tmp_path, 2)
    _replace_failing(monkeypatch, {2: OSError("the disk went away")})
    with pytest.raises(BadInput) as info:
        write_all([(str(p), "new\n") for p in paths])
    assert str(info.value) == (f"cannot replace {paths[1]}: the disk went away; "
                               "no file was changed")
    assert [p.read_text() for p in paths] == ["old 0\n", "old 1\n"]


def test_missing_target_is_bad_input_and_nothing_is_written(tmp_path):
    paths = _targets(tmp_path, 2)
    gone = tmp_path / "gone.yaml"
    with pytest.raises(BadInput) as info:
        write_all([(str(paths[0]), "new\n"), (str(gone), "new\n"), (str(paths[1]), "new\n")])
    assert str(info.value) == (f"cannot write {gone}: No such file or directory; "
                               "no file was changed")
    assert [p.read_text() for p in paths] == ["old 0\n", "old 1\n"]
    assert sorted(os.listdir(tmp_path)) == sorted(p.name for p in paths)


def test_a_temp_that_cannot_take_the_mode_is_removed(tmp_path, monkeypatch):
    paths = _targets(tmp_path, 3)
    real, calls = os.chmod, {"n": 0}

    def chmod(path, mode, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise PermissionError(1, "Operation not permitted")
        return real(path, mode, *args, **kwargs)

    monkeypatch.setattr(writer.os, "chmod", chmod)
    with pytest.raises(BadInput) as info:
        write_all([(str(p), "new\n") for p in paths])
    assert str(info.value) == (f"cannot write {paths[1]}: Operation not permitted; "
                               "no file was changed")
    assert sorted(os.listdir(tmp_path)) == sorted(p.name for p in paths)


def test_interrupt_while_writing_temps_removes_them(tmp_path, monkeypatch):
    paths = _targets(tmp_path, 3)
    real, calls = writer.tempfile.mkstemp, {"n": 0}

    def mkstemp(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(writer.tempfile, "mkstemp", mkstemp)
    with pytest.raises(KeyboardInterrupt):
        write_all([(str(p), "new\n") for p in paths])
    assert sorted(os.listdir(tmp_path)) == sorted(p.name for p in paths)


def _refuse_links(monkeypatch):
    def link(*args, **kwargs):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(writer.os, "link", link)


def test_failed_backup_changes_nothing_and_leaves_nothing(tmp_path, monkeypatch):
    """No hard links here, and the 3rd copy fails (a full disk): exit 2 naming that file, every
    temp and every backup made so far removed."""
    paths = _targets(tmp_path)
    _refuse_links(monkeypatch)
    real, calls = writer.shutil.copy2, {"n": 0}

    def copy2(src, dst, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(28, "No space left on device")
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(writer.shutil, "copy2", copy2)
    with pytest.raises(BadInput) as info:
        write_all([(str(p), f"new {i}\n") for i, p in enumerate(paths)])
    assert str(info.value) == (f"cannot back up {paths[2]} before replacing it: No space left "
                               "on device; no file was changed")
    assert [p.read_text() for p in paths] == [f"old {i}\n" for i in range(len(paths))]
    assert sorted(os.listdir(tmp_path)) == sorted(p.name for p in paths)


@pytest.mark.parametrize("links", [True, False], ids=["hard-link backups", "copied backups"])
def test_temps_and_backups_sit_beside_their_targets(tmp_path, monkeypatch, links):
    """In each target's own folder (never the working directory or /tmp), so every rename, the
    replacing one and the restoring one, stays on one filesystem and is atomic."""
    a, b, cwd = tmp_path / "a", tmp_path / "b" / "deep", tmp_path / "cwd"
    for d in (a, b, cwd):
        d.mkdir(parents=True)
    f, g = a / "f.yaml", b / "g.yaml"
    f.write_text("old f\n")
    g.write_text("old g\n")
    f.chmod(0o640)
    monkeypatch.chdir(cwd)
    if not links:
        _refuse_links(monkeypatch)
    seen = {}

    def look():
        for d in (a, b, cwd):
            seen[d.name] = sorted(os.listdir(d))

    _replace_failing(monkeypatch, {2: OSError(1, "Operation not permitted")}, on_first=look)
    with pytest.raises(BadInput):
        write_all([(str(f), "new f\n"), (str(g), "new g\n")])
    assert seen["cwd"] == []
    for d, name in ((a, "f.yaml"), (b, "g.yaml")):
        names = seen[d.name]
        assert len(names) == 3 and name in names
        temp = [n for n in names if n.startswith(f".{name}.") and n.endswith(".mlgate")
                and not n.endswith(".orig.mlgate")]
        backup = [n for n in names if n.startswith(f".{name}.") and n.endswith(".orig.mlgate")]
        assert len(temp) == 1 and len(backup) == 1, names
    assert (f.read_text(), g.read_text()) == ("old f\n", "old g\n")
    assert f.stat().st_mode & 0o7777 == 0o640
    assert os.listdir(a) == ["f.yaml"] and os.listdir(b) == ["g.yaml"] and os.listdir(cwd) == []


@pytest.mark.parametrize("links", [True, False], ids=["hard-link backups", "copied backups"])
def test_a_file_named_relative_to_the_working_directory(tmp_path, monkeypatch, links):
    monkeypatch.chdir(tmp_path)
    Path("values.yaml").write_text("old\n")
    Path("other.yaml").write_text("old\n")
    if not links:
        _refuse_links(monkeypatch)
    _replace_failing(monkeypatch, {2: OSError(1, "Operation not permitted")})
    with pytest.raises(BadInput, match="^cannot replace other.yaml: Operation not permitted; "):
        write_all([("values.yaml", "new\n"), ("other.yaml", "new\n")])
    assert sorted(os.listdir(tmp_path)) == ["other.yaml", "values.yaml"]
    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)
    write_all([("values.yaml", "new é\n")])
    assert Path("values.yaml").read_bytes() == "new é\n".encode()
    assert sorted(os.listdir(tmp_path)) == ["other.yaml", "values.yaml"]


def test_a_stray_file_with_the_backups_name_is_left_alone(tmp_path, monkeypatch):
    """A name already taken is skipped, not overwritten, and the backup is still a link: the
    original itself (same inode) is what gets put back."""
    paths = _targets(tmp_path, 2)
    stray = tmp_path / ".f0.yaml.000000000000.orig.mlgate"
    stray.write_text("someone else's\n")
    names = iter(["000000000000", "111111111111", "222222222222", "333333333333"])
    monkeypatch.setattr(writer.secrets, "token_hex", lambda n: next(names))
    inodes = [p.stat().st_ino for p in paths]
    _replace_failing(monkeypatch, {2: OSError(1, "Operation not permitted")})
    with pytest.raises(BadInput):
        write_all([(str(p), "new\n") for p in paths])
    assert [p.stat().st_ino for p in paths] == inodes
    assert stray.read_text() == "someone else's\n"
    assert sorted(os.listdir(tmp_path)) == sorted([stray.name] + [p.name for p in paths])


def test_a_symlink_given_as_target_is_put_back_as_the_link(tmp_path, monkeypatch):
    real = tmp_path / "real.yaml"
    real.write_text("old\n")
    link = tmp_path / "link.yaml"
    link.symlink_to("real.yaml")
    other = _targets(tmp_path, 1)[0]
    _replace_failing(monkeypatch, {2: OSError(1, "Operation not permitted")})
    with pytest.raises(BadInput):
        write_all([(str(link), "new\n"), (str(other), "new\n")])
    assert link.is_symlink() and os.readlink(link) == "real.yaml"
    assert real.read_text() == "old\n" and other.read_text() == "old 0\n"
    assert sorted(os.listdir(tmp_path)) == ["f0.yaml", "link.yaml", "real.yaml"]
