"""What `mlgate history` and `mlgate status` share: where the config repo is and how to read it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import click

from mlgate.stages.params import OutputFile

if TYPE_CHECKING:
    from mlgate.promote.config import Target
    from mlgate.report.presentation import Presentation

READ_PARAMS: tuple[click.Parameter, ...] = (
    click.Option(
        ["--repo"],
        required=True,
        metavar="URL_OR_PATH",
        help="The config repository: https/ssh URL (cloned commits-only) or a local path "
        "(read in place, no token needed). Credentials never go in the URL: the token comes "
        "from MLGATE_GIT_TOKEN (user MLGATE_GIT_USERNAME), or GITHUB_TOKEN / GITLAB_TOKEN "
        "with --provider github / gitlab.",
    ),
    click.Option(
        ["--base"],
        default="main",
        show_default=True,
        help="Branch Argo CD or Flux watch: its history is the audit trail.",
    ),
    click.Option(
        ["--provider"],
        type=click.Choice(["git", "github", "gitlab"]),
        default="git",
        show_default=True,
        help="Which token variable reaches the config repo (git: MLGATE_GIT_TOKEN; "
        "github/gitlab: also GITHUB_TOKEN / GITLAB_TOKEN); read over git.",
    ),
    click.Option(["--report", "markdown_path"], default=None, type=OutputFile(),
                 help="Also write the Markdown table to this file."),
)


def read_target(values: Mapping[str, Any], environ: Mapping[str, str]) -> Target:
    from mlgate.promote.settings import build_target

    return build_target(repo=values["repo"], provider=values["provider"], mode="push",
                        base=values["base"], api_url=None, environ=environ)


def repo_label(target: Target) -> str:
    from mlgate.redact import redact_url

    return redact_url(target.url)


def write_markdown(path: str | None, present: Callable[[Any], Presentation], outcome: Any) -> None:
    """--report: the same Markdown the CI summary shows, written whole or not at all."""
    if path:
        from mlgate.atomic import write_atomic
        from mlgate.report.markdown import render_summary

        write_atomic(path, render_summary(present(outcome)).encode())
