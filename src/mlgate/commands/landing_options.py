"""Options promote and rollback share (config repo, provider, identity), declared once."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click

F = TypeVar("F", bound=Callable[..., object])


def landing_options(func: F) -> F:
    options = [
        click.option("--repo", required=True, metavar="URL_OR_PATH",
                     help="The config repository: https/ssh URL or a local path. Credentials "
                          "never go in the URL: the token comes from MLGATE_GIT_TOKEN (user "
                          "MLGATE_GIT_USERNAME), or GITHUB_TOKEN / GITLAB_TOKEN with --provider "
                          "github / gitlab."),
        click.option("--app", required=True, help="Application name (used in the commit, "
                     "trailers and request branch mlgate/<app>/<environment>)."),
        click.option("--environment", required=True, help="Environment to change, e.g. "
                     "production; its folder is given by --layout."),
        click.option("--path", "base_path", default=".", show_default=True,
                     help="Folder in the config repo that holds the environment folders."),
        click.option("--layout", default="{path}/{environment}", show_default=True,
                     help="Where an environment lives: a template of {path}, {app} and "
                          "{environment}."),
        click.option("--provider", type=click.Choice(["git", "github", "gitlab"]), default="git",
                     show_default=True, help="git: plain git push; github/gitlab: the forge's "
                     "API (one atomic commit, or a pull/merge request)."),
        click.option("--mode", type=click.Choice(["push", "pull-request"]), default="push",
                     show_default=True, help="push: commit to --base directly; pull-request: "
                     "open or update one request per app and environment."),
        click.option("--base", default="main", show_default=True,
                     help="Branch Argo CD or Flux watch."),
        click.option("--api-url", default=None, help="API base URL for --provider github/gitlab "
                     "(default: GITHUB_API_URL / CI_SERVER_URL, else derived from --repo)."),
        click.option("--author-name", default=None, help="Commit author name (default mlgate)."),
        click.option("--author-email", default=None, help="Commit author email."),
        click.option("--committer-name", default=None, help="Committer name (default: author)."),
        click.option("--committer-email", default=None, help="Committer email (default: author)."),
        click.option("--signing-key", default=None, help="Sign commits: an SSH key file path "
                     "(gpg.format=ssh) or a GPG key id."),
        click.option("--signing-format", type=click.Choice(["ssh", "gpg"]), default=None,
                     help="Signing key kind (default: ssh for a path, gpg otherwise)."),
        click.option("--max-attempts", type=int, default=10, show_default=True,
                     help="Tries when another promotion lands first (re-applied on the new "
                          "head with jittered backoff; never force-pushed)."),
        click.option("--label", "labels", multiple=True, help="Label for the request. Repeatable."),
        click.option("--reviewer", "reviewers", multiple=True,
                     help="Reviewer for the request (user, or org/team on GitHub). Repeatable."),
        click.option("--auto-merge", is_flag=True, help="Enable auto-merge (GitHub) / merge when "
                     "the pipeline succeeds (GitLab) on the request."),
        click.option("--tracking-uri", default=None, help="MLflow tracking/registry URI for "
                     "alias moves (default: MLFLOW_TRACKING_URI)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func
