"""Reading the policy files, exactly: each refusal's words and limits at their boundary, where
a compiler's byte offset lands (line and column, multi-byte text too), which files count (a
.rego given directly, hidden folders skipped, one file named twice read once)."""

from __future__ import annotations

import pytest

from mlgate.comply.policies import (
    MAX_POLICY_BYTES,
    MAX_POLICY_FILES,
    check_namespace,
    line_and_column,
    load_policies,
)
from mlgate.errors import BadInput
from tests.unit.comply.conftest import write_policy

RULE = "package main\nimport rego.v1\ndeny contains \"x\" if { false }\n"


def refused(*folders) -> str:
    with pytest.raises(BadInput) as err:
        load_policies(tuple(str(f) for f in folders))
    return str(err.value)


def test_offsets_become_line_and_column():
    assert line_and_column("abc\ndef", 0) == (1, 1)
    assert line_and_column("abc\ndef", -3) == (1, 1)
    assert line_and_column("abc\ndef", 5) == (2, 2)
    assert line_and_column("a\nb\ncd", 5) == (3, 2)      # the last newline, not the first
    assert line_and_column("a\nb\ncd\n", 7) == (4, 1)
    assert line_and_column("é\nxé y", 6) == (2, 4)         # bytes, as rego-cpp counts them


def test_namespaces_at_their_limit():
    assert check_namespace("a" * 200) == "a" * 200
    with pytest.raises(BadInput) as long:
        check_namespace("a" * 201)
    assert str(long.value) == (f"--namespace {'a' * 80!r}: a Rego package name, e.g. main or "
                               "policies.k8s")
    with pytest.raises(BadInput) as bad:
        check_namespace("x y")
    assert str(bad.value) == "--namespace 'x y': a Rego package name, e.g. main or policies.k8s"


def test_a_file_given_directly(tmp_path):
    path = write_policy(tmp_path, "one.rego", RULE)
    assert [f.path for f in load_policies((str(path),)).files] == [str(path)]
    other = write_policy(tmp_path, "notes.txt", RULE)
    assert refused(other) == f"--policy {other}: not a .rego file or a folder of them"
    upper = write_policy(tmp_path, "shout.REGO", RULE)
    assert refused(upper) == f"--policy {upper}: not a .rego file or a folder of them"


def test_hidden_folders_are_skipped(tmp_path):
    write_policy(tmp_path / "pol", "a.rego", RULE)
    write_policy(tmp_path / "pol" / ".git", "b.rego", "this is not rego")
    write_policy(tmp_path / "pol" / "sub.d", "c.rego", RULE)
    got = [f.path for f in load_policies((str(tmp_path / "pol"),)).files]
    assert got == [str(tmp_path / "pol" / "a.rego"), str(tmp_path / "pol" / "sub.d" / "c.rego")]


def test_a_file_named_twice_is_read_once_and_the_rest_still_read(tmp_path):
    a = write_policy(tmp_path / "pol", "a.rego", RULE)
    write_policy(tmp_path / "pol", "b.rego", RULE.replace("main", "other"))
    got = load_policies((str(a), str(tmp_path / "pol")))
    assert [f.path for f in got.files] == [str(a), str(tmp_path / "pol" / "b.rego")]


def test_at_most_so_many_files(tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(MAX_POLICY_FILES):
        (folder / f"p{i:05d}.rego").write_text(f"package p{i}\n")
    assert len(load_policies((str(folder),)).files) == MAX_POLICY_FILES
    (folder / "zzz.rego").write_text("package z\n")
    assert refused(folder) == f"--policy: more than {MAX_POLICY_FILES} policy files"


def test_what_is_not_a_policy_file_is_named(tmp_path):
    binary = tmp_path / "bin" / "x.rego"
    binary.parent.mkdir()
    binary.write_bytes(b"package main\n\x00\x01")
    assert refused(binary.parent) == f"--policy {binary}: not a text file"
    latin = tmp_path / "latin" / "x.rego"
    latin.parent.mkdir()
    latin.write_bytes(b"package main\n# caf\xe9\n")
    assert refused(latin.parent) == f"--policy {latin}:2: not UTF-8 text (byte 18)"
    big = tmp_path / "big" / "x.rego"
    big.parent.mkdir()
    big.write_text("package main\n" + "#" * MAX_POLICY_BYTES + "\n")
    assert refused(big.parent).startswith(f"--policy {big}: ")


def test_an_empty_namespace_is_refused():
    with pytest.raises(BadInput) as err:
        check_namespace("")
    assert str(err.value) == "--namespace '': a Rego package name, e.g. main or policies.k8s"


def test_a_comment_after_the_package_is_no_part_of_it(tmp_path):
    write_policy(tmp_path / "pol", "a.rego", "package main # the team's rules\nimport rego.v1\n"
                 "deny_x contains \"x\" if { false }  # never\n")
    (only,) = load_policies((str(tmp_path / "pol"),)).files
    assert (only.package, only.rules) == ("main", ("deny_x",))
