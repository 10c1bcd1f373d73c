"""The required documents' rules exactly: each refusal's words (long inputs cut where they
are), a document's age at the boundary and rounded as shown, front matter and headings on the
edge cases a Markdown writer produces (a byte-order mark, `...` closing the front matter, an
indented `---`, setext underlines after a fence or under indented code), YAML values as JSON has
them, and git's own words when it cannot answer."""

from __future__ import annotations

import os
import subprocess

import pytest
from support.configrepo import git

from mlgate.comply.documents import (
    MAX_DOCUMENT_BYTES,
    DocumentCheck,
    DocumentSpec,
    check_documents,
    front_matter,
    headings,
    last_changed,
    parse_spec,
)
from mlgate.errors import BadInput
from tests.unit.comply.test_documents import model_repo


def refused(call, *args) -> str:
    with pytest.raises(BadInput) as err:
        call(*args)
    return str(err.value)


def test_specs_as_given():
    assert parse_spec("card.md") == DocumentSpec("card.md", spec="card.md")
    assert parse_spec("card.md:version").spec == "card.md:version"
    long = "d" * 250 + ".md:nope"
    assert refused(parse_spec, long) == (
        f"--document {long[:200]!r}: unknown rule 'nope' (version, heading=H, field=F, "
        "max-age=Nd|Nh|Nw)")
    rule = "x" * 100
    assert refused(parse_spec, f"a.md:{rule}") == (
        f"--document {'a.md:' + rule!r}: unknown rule {'x' * 80!r} (version, heading=H, "
        "field=F, max-age=Nd|Nh|Nw)")


def _at(tmp_path, now_after: float, spec="card.md:max-age=1d"):
    where = tmp_path / str(now_after)
    where.mkdir()
    repo = model_repo(where, {"card.md": "# Card\n"})
    changed = last_changed(str(repo), "card.md")
    checks, _ = check_documents((parse_spec(spec),), str(repo), None, now=changed + now_after)
    return checks[-1]


def test_an_age_at_the_limit_passes_and_is_rounded_as_shown(tmp_path):
    assert _at(tmp_path, 86400) == DocumentCheck("card.md", "max-age=1d", True,
                                                 "card.md changed 1 days ago (max 1d)")
    assert _at(tmp_path, 86401).passed is False
    half = _at(tmp_path, 43200.5, "card.md:max-age=2d")
    assert half.message == "card.md changed 1 days ago (max 2d)"   # 0.5000058 days, rounded


def test_paths_and_files_refused_in_words(tmp_path):
    repo = model_repo(tmp_path, {"card.md": "# Card\n", "folder/x.md": "# X\n"})
    far = "../" + "o" * 250
    assert refused(check_documents, (parse_spec(far),), str(repo), None) == (
        f"--document {far[:200]!r}: outside the model repository {repo}")
    assert refused(check_documents, (parse_spec("folder"),), str(repo), None) == (
        "--document 'folder': not a file")
    (repo / "big.md").write_text("#" * (MAX_DOCUMENT_BYTES + 1))
    assert refused(check_documents, (parse_spec("big.md"),), str(repo), None).startswith(
        "--document big.md")


def test_the_version_rule_in_words(tmp_path):
    repo = model_repo(tmp_path, {
        "shout.md": "# Card\n\nModel VERSION: 8\n",
        "other.md": "---\nversion: 7\nmodel_version: 9\n---\n# Card\n"})
    long = "shout.md:version" + "," * 200
    assert refused(check_documents, (parse_spec(long),), str(repo), None) == (
        f"--document {long[:200]!r}: the version rule needs the candidate's version: give "
        "--model-version or the benchmark's --evidence")
    checks, _ = check_documents((parse_spec("shout.md:version"), parse_spec("other.md:version")),
                                str(repo), "8")
    assert [c.message for c in checks if c.rule == "version"] == [
        "shout.md names version 8",
        "other.md does not name the candidate's version 8 (it names 7, 9)"]


def test_front_matter_edges():
    assert front_matter("", "x") == {}
    assert front_matter("\ufeff---\nversion: 8\n---\n# T\n", "x") == {"version": 8}
    assert front_matter(" ---\na: 1\n---\n", "x") == {}
    assert front_matter("---\na: 1\n...\nbody\n", "x") == {"a": 1}
    assert front_matter("---\na: 1\n  ---\n---\n", "x") == {"a": "1 ---"}
    assert refused(front_matter, "---\n- a\n---\n", "card.md") == (
        "--document card.md: front matter is not a mapping")
    values = front_matter("---\nreviewed: 2026-01-02 03:04:05\nday: 2026-01-02\nnone: null\n"
                          "blob: !!binary aGk=\nlist: [2026-01-02, {k: 2026-01-03}]\n---\n", "x")
    assert values == {"reviewed": "2026-01-02T03:04:05", "day": "2026-01-02", "none": None,
                      "blob": "b'hi'", "list": ["2026-01-02", {"k": "2026-01-03"}]}


def test_heading_edges():
    assert headings("\ufeff# Title\n") == ("Title",)
    assert headings("===\n# T\n") == ("T",)
    assert headings("```\nx\n```\n===\n") == ()
    assert headings("---\na: 1\n---\n===\n") == ()
    assert headings("---\n# inside\n...\n# T\n") == ("T",)
    assert headings("---\na: 1\n ---\n# inside\n---\n# T\n") == ("T",)
    assert headings("    code\n----\n") == ()


def test_git_says_why_it_cannot_tell_an_age(tmp_path, monkeypatch):
    gone = tmp_path / ("g" * 230)
    said = refused(last_changed, str(gone), "card.md")
    assert said.startswith("--document card.md: max-age needs the model repository in git (")
    inner = said[len("--document card.md: max-age needs the model repository in git ("):-1]
    assert len(inner) == 200 and inner.startswith("fatal: cannot change to")
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "git").write_text("#!/bin/sh\nexit 1\n")
    (fake / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    assert refused(last_changed, str(tmp_path), "card.md") == (
        "--document card.md: max-age needs the model repository in git (git failed)")


def test_a_document_named_like_a_branch(tmp_path):
    repo = model_repo(tmp_path, {"main": "# Card\n"})
    assert last_changed(str(repo), "main") is not None


def test_a_shallow_clone_says_exactly_why(tmp_path):
    repo = model_repo(tmp_path, {"card.md": "# Card\n"})
    (repo / "other.md").write_text("x\n")
    git(repo, "add", "-A")
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "2"],
                   cwd=repo, check=True)
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{repo}", str(shallow))
    assert refused(last_changed, str(shallow), "card.md") == (
        "--document card.md: max-age cannot be judged in a shallow clone (check out the whole "
        "history, e.g. fetch-depth: 0)")


def test_a_leading_x_is_text_not_a_byte_order_mark(tmp_path):
    assert headings("X\n===\n") == ("X",)
    assert front_matter("X---\na: 1\n---\n", "x") == {}


def test_a_long_folder_name_is_cut_at_200(tmp_path):
    repo = model_repo(tmp_path, {"card.md": "# Card\n"})
    name = "f" * 240
    (repo / name).mkdir()
    assert refused(check_documents, (parse_spec(name),), str(repo), None) == (
        f"--document {name[:200]!r}: not a file")


def test_a_document_not_in_utf8_and_an_empty_field(tmp_path):
    repo = model_repo(tmp_path, {"card.md": "---\nowner: \"\"\n---\n# Card\n"})
    (repo / "latin.md").write_bytes(b"# Caf\xe9\n")
    assert refused(check_documents, (parse_spec("latin.md"),), str(repo), None) == (
        "--document latin.md:1: not UTF-8 text (byte 5)")
    checks, facts = check_documents((parse_spec("card.md:field=owner"),), str(repo), None)
    assert facts["card.md"].path == "card.md"
    assert checks[-1] == DocumentCheck("card.md", "field=owner", False,
                                       "card.md front matter has no owner")
