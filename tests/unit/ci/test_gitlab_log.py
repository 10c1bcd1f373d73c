"""The GitLab job log shows the terminal rendering, not the Markdown report's source.

Seen in a job log before: `✅ **Passed**`, `100\\.0% successful`, `suites/breast\\_cancer\\.yaml`
(the report's Markdown, escapes and all). The emitter prints what a terminal shows (the local
emitter's rendering: escapes resolved, emphasis gone, tables as tables, code kept exactly)
and still writes the Markdown report file unchanged.
"""

from __future__ import annotations

import io
from pathlib import Path

from mlgate.ci.gitlab import GitLabEmitter
from mlgate.ci.local import LocalEmitter
from mlgate.report.markdown import render_summary
from mlgate.report.presentation import Presentation, Section

MARKDOWN = (
    "✅ **Passed**\n\n"
    "66 evaluated · 0 failed · 100\\.0% successful · GX 1\\.24\\.1\n\n"
    "suite: suites/breast\\_cancer\\.yaml\n\n"
    "### Expectations\n\n"
    "| # | Result | Expectation |\n"
    "| ---: | --- | --- |\n"
    "| 1 | ✅ passed | expect\\_table\\_row\\_count\\_to\\_be\\_between |\n"
    "| 2 | ❌ failed | a \\| b |\n\n"
    "<details><summary>More</summary>\n\n"
    "See [the docs](https://example.com/x\\_y) and <https://example.com/raw>.\n\n"
    "</details>\n\n"
    "- first *item*\n"
    "- second `code_span`\n\n"
    "```diff\n"
    "-image: a\\_b:1\n"
    "+image: **c**:2\n"
    "```\n"
)


def presentation() -> Presentation:
    return Presentation(
        command="validate", title="mlgate validate d.csv", verdict="passed", exit_code=0,
        outputs={"passed": "true"}, sections=(Section("Expectations", MARKDOWN),),
    )


def gitlab_log(tmp_path: Path) -> str:
    out, err = io.StringIO(), io.StringIO()
    GitLabEmitter({"MLGATE_REPORT_DIR": str(tmp_path)}, out=out, err=err).emit(presentation())
    return out.getvalue()


def test_the_job_log_is_the_terminal_rendering(tmp_path: Path) -> None:
    log = gitlab_log(tmp_path)
    local = io.StringIO()
    LocalEmitter({}, out=local).emit(presentation())
    assert log == local.getvalue()


def test_the_job_log_shows_no_markdown_source(tmp_path: Path) -> None:
    log = gitlab_log(tmp_path)
    assert "✅ Passed" in log and "**Passed**" not in log
    assert "100.0% successful" in log and "GX 1.24.1" in log
    assert "suite: suites/breast_cancer.yaml" in log
    prose = log.split("-image:")[0]  # everything before the code block
    assert "\\" not in prose and "**" not in prose and "###" not in prose
    assert "<details>" not in log and "<summary>" not in log
    # The table is a terminal table, every cell whole (folded, never cut).
    assert "| ---: |" not in log
    assert "┃ #" in log or "│ #" in log
    cells = "".join(c for c in log if c not in " │┃\n")
    assert "expect_table_row_count_to_be_between" in cells
    assert "a|b" in cells
    # Links keep their target; lists keep their bullets; inline code its text.
    assert "the docs (https://example.com/x_y)" in log
    assert "https://example.com/raw" in log
    assert "- first item" in log and "- second code_span" in log


def test_code_blocks_are_kept_exactly(tmp_path: Path) -> None:
    log = gitlab_log(tmp_path)
    assert "-image: a\\_b:1\n+image: **c**:2\n" in log


def test_the_markdown_report_keeps_the_markdown(tmp_path: Path) -> None:
    gitlab_log(tmp_path)
    report = (tmp_path / "mlgate-validate.md").read_text(encoding="utf-8")
    assert report == render_summary(presentation(), None)
    assert "suites/breast\\_cancer\\.yaml" in report and "✅ **Passed**" in report


def test_a_validate_report_renders_in_the_log(tmp_path: Path) -> None:
    """The real validate Markdown (mlgate.escape's escapes), as the job log shows it."""
    from mlgate.escape import escape_markdown  # what the reports escape with

    name = "suites/breast_cancer.yaml"
    md = f"✅ **Passed**\n\nsuite: {escape_markdown(name)}\n"
    assert "\\_" in md
    p = Presentation(command="validate", title="t", verdict="passed", exit_code=0, outputs={},
                     sections=(Section("Expectations", md),))
    out = io.StringIO()
    GitLabEmitter({"MLGATE_REPORT_DIR": str(tmp_path)}, out=out, err=io.StringIO()).emit(p)
    assert f"suite: {name}" in out.getvalue()
