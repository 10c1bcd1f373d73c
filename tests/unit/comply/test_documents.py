"""Required documents of a model repository in real git: present, naming the candidate's
version, holding headings and front-matter fields, changed recently; and their facts in the
release policies' input."""

from __future__ import annotations

import os
import subprocess
import time

import pytest
from support.configrepo import GIT_ENV, git

from mlgate.comply.documents import check_documents, headings, parse_spec
from mlgate.errors import BadInput
from tests.unit.comply.conftest import comply, write_policy

CARD = """---
model_version: 8
owner: ml-platform
review:
  approved_by: risk-team
---
# Churn model card

## Intended use
Scoring churn risk.

Evaluation
----------
Accuracy 0.91 on the 2026 holdout.

```
# not a heading: inside a fence
```
"""

AUDIT = "# Bias audit\n\nThis audit covers model version 8 of churn.\n\n## Findings\nNone.\n"


def model_repo(tmp_path, files, *, days_ago=0):
    repo = tmp_path / "model"
    repo.mkdir(exist_ok=True)
    for rel, text in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    if not (repo / ".git").exists():
        git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    stamp = f"@{int(time.time()) - days_ago * 86400} +0000"
    subprocess.run(["git", "commit", "-qm", "docs"], cwd=repo, check=True,
                   env={**os.environ, **GIT_ENV, "GIT_AUTHOR_DATE": stamp,
                        "GIT_COMMITTER_DATE": stamp})
    return repo


def judged(tmp_path, *specs, version="8", root=None):
    checks, facts = check_documents(tuple(parse_spec(s) for s in specs),
                                    str(root or tmp_path / "model"), version)
    return [(c.path, c.rule, c.passed, c.message) for c in checks], facts


def test_a_complete_model_card_and_bias_audit(tmp_path):
    model_repo(tmp_path, {"MODEL_CARD.md": CARD, "docs/bias_audit.md": AUDIT}, days_ago=10)
    checks, facts = judged(
        tmp_path, "MODEL_CARD.md:version,heading=Intended use,heading=evaluation,"
        "field=owner,field=review.approved_by,max-age=30d", "docs/bias_audit.md:version")
    assert checks == [
        ("MODEL_CARD.md", "exists", True, "MODEL_CARD.md is present"),
        ("MODEL_CARD.md", "version", True, "MODEL_CARD.md names version 8 (model_version)"),
        ("MODEL_CARD.md", "heading=Intended use", True,
         "MODEL_CARD.md has the heading 'Intended use'"),
        ("MODEL_CARD.md", "heading=evaluation", True,
         "MODEL_CARD.md has the heading 'evaluation'"),
        ("MODEL_CARD.md", "field=owner", True, "MODEL_CARD.md front matter sets owner"),
        ("MODEL_CARD.md", "field=review.approved_by", True,
         "MODEL_CARD.md front matter sets review.approved_by"),
        ("MODEL_CARD.md", "max-age=30d", True, "MODEL_CARD.md changed 10 days ago (max 30d)"),
        ("docs/bias_audit.md", "exists", True, "docs/bias_audit.md is present"),
        ("docs/bias_audit.md", "version", True, "docs/bias_audit.md names version 8"),
    ]
    card = facts["MODEL_CARD.md"]
    assert card.headings == ("Churn model card", "Intended use", "Evaluation")
    assert card.front_matter == {"model_version": 8, "owner": "ml-platform",
                                 "review": {"approved_by": "risk-team"}}
    assert len(card.sha256) == 64


def test_documents_that_fail_each_rule(tmp_path):
    model_repo(tmp_path, {"MODEL_CARD.md": CARD, "empty.md": "  \n",
                          "docs/bias_audit.md": AUDIT.replace("version 8", "version 7")},
               days_ago=120)
    checks, facts = judged(tmp_path, "MODEL_CARD.md:version,heading=Limitations,field=license,"
                           "max-age=90d", "docs/bias_audit.md:version", "empty.md",
                           "datasheet.md:field=x", version="9")
    assert [c for c in checks if not c[2]] == [
        ("MODEL_CARD.md", "version", False,
         "MODEL_CARD.md does not name the candidate's version 9 (it names 8)"),
        ("MODEL_CARD.md", "heading=Limitations", False,
         "MODEL_CARD.md has no heading 'Limitations'"),
        ("MODEL_CARD.md", "field=license", False, "MODEL_CARD.md front matter has no license"),
        ("MODEL_CARD.md", "max-age=90d", False,
         "MODEL_CARD.md last changed 120 days ago (max 90d)"),
        ("docs/bias_audit.md", "version", False,
         "docs/bias_audit.md does not name the candidate's version 9"),
        ("empty.md", "exists", False, "empty.md is empty"),
        ("datasheet.md", "exists", False, "datasheet.md is missing"),
    ]
    assert set(facts) == {"MODEL_CARD.md", "docs/bias_audit.md"}


def test_a_version_is_named_only_next_to_the_word_version(tmp_path):
    model_repo(tmp_path, {"a.md": "We checked 8 groups and version 18.\n",
                          "b.md": "Model version: v8\n", "c.md": "version 8.1\n"})
    checks, _ = judged(tmp_path, "a.md:version", "b.md:version", "c.md:version")
    assert [(c[0], c[2]) for c in checks if c[1] == "version"] == [
        ("a.md", False), ("b.md", True), ("c.md", False)]


def test_an_uncommitted_document_has_no_age(tmp_path):
    repo = model_repo(tmp_path, {"README.md": "x"})
    (repo / "new.md").write_text("fresh but not in git\n")
    checks, _ = judged(tmp_path, "new.md:max-age=1d")
    assert checks[-1] == ("new.md", "max-age=1d", False,
                          "new.md has no commit in the model repository's history")


def test_a_shallow_clone_cannot_tell_a_documents_age(tmp_path):
    repo = model_repo(tmp_path, {"MODEL_CARD.md": CARD}, days_ago=400)
    model_repo(tmp_path, {"other.md": "later"}, days_ago=1)
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{repo}", str(shallow))
    with pytest.raises(BadInput, match="shallow clone"):
        judged(tmp_path, "MODEL_CARD.md:max-age=90d", root=shallow)
    # a file the boundary commit did not touch is no better known: refused too
    with pytest.raises(BadInput, match="shallow clone"):
        judged(tmp_path, "other.md:max-age=90d", root=shallow)


def test_a_model_repository_outside_git(tmp_path):
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "card.md").write_text("x\n")
    with pytest.raises(BadInput, match="max-age needs the model repository in git"):
        judged(tmp_path, "card.md:max-age=9d", root=tmp_path / "plain")


@pytest.mark.parametrize("spec, says", [
    ("card.md:versions", "unknown rule 'versions'"),
    ("card.md:max-age=90", "unknown rule 'max-age=90'"),
    ("card.md:max-age=1y", "unknown rule"),
    ("card.md:heading=", "unknown rule"),
    (":version", "give the document's path"),
])
def test_bad_document_specs(spec, says):
    with pytest.raises(BadInput, match=says):
        parse_spec(spec)


@pytest.mark.parametrize("path", ["../outside.md", "/etc/passwd", "link/x.md"])
def test_documents_outside_the_model_repository(tmp_path, path):
    repo = model_repo(tmp_path, {"README.md": "x"})
    (tmp_path / "outside.md").write_text("x")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "x.md").write_text("x")
    os.symlink(tmp_path / "elsewhere", repo / "link")
    with pytest.raises(BadInput, match="outside the model repository"):
        judged(tmp_path, path)


def test_headings_ignore_fences_and_front_matter():
    text = "---\ntitle: x\n---\n# One\n```\n# two\n```\nThree\n=====\n    # four\n## Five ##\n"
    assert headings(text) == ("One", "Three", "Five")


def test_malformed_front_matter_is_bad_input(tmp_path):
    model_repo(tmp_path, {"card.md": "---\nowner: [unclosed\n---\n# x\n"})
    with pytest.raises(BadInput, match="card.md front matter"):
        judged(tmp_path, "card.md")


def test_the_gate_fails_on_a_document_and_policies_read_the_documents(remote, tmp_path):
    repo = model_repo(tmp_path, {"MODEL_CARD.md": CARD, "bias_audit.md": AUDIT})
    write_policy(tmp_path / "pol", "docs.rego", """
        package mlgate.release
        import rego.v1

        deny contains "the model card needs an approver" if {
          not input.documents["MODEL_CARD.md"].front_matter.review.approved_by
        }
        warn contains sprintf("card owner %s, %d headings, sha %s", [
          input.documents["MODEL_CARD.md"].front_matter.owner,
          count(input.documents["MODEL_CARD.md"].headings),
          substring(input.documents["MODEL_CARD.md"].sha256, 0, 8)]) if true
        deny contains "production needs a bias audit" if {
          input.environment == "production"
          not input.documents["bias_audit.md"]
        }
    """)
    code, doc = comply(remote, tmp_path, "--policy", str(tmp_path / "pol"),
                       "--model-repo", str(repo), "--model-version", "8",
                       "--document", "MODEL_CARD.md:version", "--document", "bias_audit.md:version")
    assert code == 0, doc
    import hashlib

    sha = hashlib.sha256(CARD.encode()).hexdigest()[:8]
    assert [f["message"] for f in doc["result"]["findings"]] == [
        f"card owner ml-platform, 3 headings, sha {sha}"]
    code, doc = comply(remote, tmp_path, "--policy", str(tmp_path / "pol"),
                       "--model-repo", str(repo), "--model-version", "9",
                       "--document", "MODEL_CARD.md:version", "--document", "gone.md")
    assert code == 1
    assert doc["verdict"] == ("failed: 1 policy violation(s), 2 document rule(s) not met")
    assert doc["outputs"]["documents-failed"] == "2"


def test_a_version_rule_without_a_version_is_bad_input(remote, tmp_path, capsys):
    repo = model_repo(tmp_path, {"MODEL_CARD.md": CARD})
    code, _ = comply(remote, tmp_path, "--model-repo", str(repo),
                     "--document", "MODEL_CARD.md:version")
    assert code == 2
    assert "needs the candidate's version" in capsys.readouterr().err


def test_nothing_to_judge(remote, tmp_path, capsys):
    code, _ = comply(remote, tmp_path)
    assert code == 2
    assert "nothing to judge" in capsys.readouterr().err
