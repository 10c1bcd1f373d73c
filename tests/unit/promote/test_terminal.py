"""What `mlgate promote` shows on a terminal or in a job log: one summary table (every output
once, then where it landed), the changes as a terminal table, never a Markdown pipe table or
the same facts twice. Run through the CLI against a real bare config repo."""

from __future__ import annotations

import re
import sys

import pytest
from support.configrepo import example_remote, git

from mlgate.cli import main

IMG = "registry.example.com/ml/churn"
ENV = {"PATH": "/usr/bin:/bin", "COLUMNS": "200"}


@pytest.fixture
def remote(tmp_path):
    return example_remote(tmp_path)


def rows(text: str, key: str) -> list[str]:
    return [line for line in text.splitlines() if re.match(rf"^[│┃] {re.escape(key)}\s+[│┃]", line)]


@pytest.mark.parametrize("command", ["promote", "rollback"])
def test_the_terminal_shows_one_summary_table(remote, capsys, command):
    argv = ["--repo", str(remote), "--app", "churn", "--path", "apps/churn",
            "--environment", "staging"]
    assert main(["promote", *argv, "--image", f"{IMG}:v1.5.0"], environ=ENV) == 0
    if command == "rollback":
        capsys.readouterr()
        assert main(["rollback", *argv], environ=ENV) == 0
    out = capsys.readouterr().out
    sha = git(remote, "rev-parse", "main").strip()
    for key, value in [("changed", "true"), ("commit", sha), ("attempts", "1"),
                       ("provider", "git (push)"), ("base", "main")]:
        found = rows(out, key)
        assert len(found) == 1, (key, out)
        assert value in found[0]
    assert len(rows(out, "previous")) == 1 and len(rows(out, "new")) == 1
    assert "Output" not in out and "Value" not in out  # no second table of the same outputs
    assert not any(line.lstrip().startswith("|") for line in out.splitlines())  # no pipe table
    # the changes are a terminal table of their own, with the file it changed
    assert "Changes" in out and rows(out, "apps/churn/staging/kustomization.yaml")
    # the summary table has no empty header row
    first_table = out[out.index("┌"):]
    assert first_table.splitlines()[1].startswith("│ changed")


def test_outputs_not_in_the_table_are_still_printed(capsys):
    """Other commands keep their outputs table: the dedupe is only of what is shown."""
    from mlgate.ci.local import print_presentation
    from mlgate.report.presentation import Presentation, Table

    p = Presentation(command="benchmark", title="t", verdict="passed", exit_code=0,
                     outputs={"winner": "candidate"},
                     table=Table(("metric", "value"), (("winner", "champion"),)))
    print_presentation(p, sys.stdout, {})
    out = capsys.readouterr().out
    assert "Output" in out and "candidate" in out and "metric" in out
