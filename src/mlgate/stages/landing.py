"""What promote and rollback share: the config repo, provider and identity options, declared
once, and their conversion into the landing's typed Target and Options."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from mlgate.promote.config import Options, Target


PARAMS: tuple[click.Parameter, ...] = (
    click.Option(
        ["--repo"],
        required=True,
        metavar="URL_OR_PATH",
        help="The config repository: https/ssh URL or a local path. Credentials "
        "never go in the URL: the token comes from MLGATE_GIT_TOKEN (user "
        "MLGATE_GIT_USERNAME), or GITHUB_TOKEN / GITLAB_TOKEN with --provider "
        "github / gitlab.",
    ),
    click.Option(
        ["--app"],
        required=True,
        help="Application name (used in the commit, "
        "trailers and request branch mlgate/<app>/<environment>).",
    ),
    click.Option(
        ["--environment"],
        required=True,
        help="Environment to change, e.g. production; its folder is given by --layout.",
    ),
    click.Option(
        ["--path", "base_path"],
        default=".",
        show_default=True,
        help="Folder in the config repo that holds the environment folders.",
    ),
    click.Option(
        ["--layout"],
        default="{path}/{environment}",
        show_default=True,
        help="Where an environment lives: a template of {path}, {app} and {environment}.",
    ),
    click.Option(
        ["--provider"],
        type=click.Choice(["git", "github", "gitlab"]),
        default="git",
        show_default=True,
        help="git: plain git push; github/gitlab: the forge's "
        "API (one atomic commit, or a pull/merge request).",
    ),
    click.Option(
        ["--mode"],
        type=click.Choice(["push", "pull-request"]),
        default="push",
        show_default=True,
        help="push: commit to --base directly; pull-request: "
        "open or update one request per app and environment.",
    ),
    click.Option(
        ["--base"], default="main", show_default=True, help="Branch Argo CD or Flux watch."
    ),
    click.Option(
        ["--api-url"],
        default=None,
        help="API base URL for --provider github/gitlab "
        "(default: GITHUB_API_URL / CI_SERVER_URL, else derived from --repo).",
    ),
    click.Option(["--author-name"], default=None, help="Commit author name (default mlgate)."),
    click.Option(["--author-email"], default=None, help="Commit author email."),
    click.Option(["--committer-name"], default=None, help="Committer name (default: author)."),
    click.Option(["--committer-email"], default=None, help="Committer email (default: author)."),
    click.Option(
        ["--signing-key"],
        default=None,
        help="Sign commits: an SSH key file path (gpg.format=ssh) or a GPG key id.",
    ),
    click.Option(
        ["--signing-format"],
        type=click.Choice(["ssh", "gpg"]),
        default=None,
        help="Signing key kind (default: ssh for a path, gpg otherwise).",
    ),
    click.Option(
        ["--attestation-key"],
        default=None,
        metavar="FILE",
        help="Sign the promotion's in-toto statement (.mlgate/evidence/.../statement.json) "
        "in a DSSE envelope with this PEM private key (Ed25519 or ECDSA P-256); "
        "--signing-key signs the commit itself.",
    ),
    click.Option(
        ["--max-attempts"],
        type=int,
        default=10,
        show_default=True,
        help="Tries when another promotion lands first (re-applied on the new "
        "head with jittered backoff; never force-pushed).",
    ),
    click.Option(["--label", "labels"], multiple=True, help="Label for the request. Repeatable."),
    click.Option(
        ["--reviewer", "reviewers"],
        multiple=True,
        help="Reviewer for the request (user, or org/team on GitHub). Repeatable.",
    ),
    click.Option(
        ["--auto-merge"],
        is_flag=True,
        help="Enable auto-merge (GitHub) / merge when "
        "the pipeline succeeds (GitLab) on the request.",
    ),
    click.Option(
        ["--tracking-uri"],
        default=None,
        help="MLflow tracking/registry URI for alias moves (default: MLFLOW_TRACKING_URI).",
    ),
)


# Plain-text inputs that name local paths (or URLs), resolved against mlgate.yaml's folder.
PATHS = frozenset({"repo", "attestation_key"})
# A key file path or a GPG key id: resolved only when such a file exists.
NAME_OR_PATH = frozenset({"signing_key"})


def target_and_options(
    values: Mapping[str, Any], environ: Mapping[str, str], verb: str
) -> tuple[Target, Options]:
    """The landing settings from the shared options' values (exit 2 naming a bad one)."""
    from mlgate.promote.settings import build_options, build_target, check_name

    check_name(values["app"], "--app")
    check_name(values["environment"], "--environment")
    target = build_target(
        repo=values["repo"],
        provider=values["provider"],
        mode=values["mode"],
        base=values["base"],
        api_url=values["api_url"],
        environ=environ,
    )
    options = build_options(
        author_name=values["author_name"],
        author_email=values["author_email"],
        committer_name=values["committer_name"],
        committer_email=values["committer_email"],
        signing_key=values["signing_key"],
        signing_format=values["signing_format"],
        max_attempts=values["max_attempts"],
        labels=values["labels"],
        reviewers=values["reviewers"],
        auto_merge=values["auto_merge"],
        verb=verb,
    )
    if values.get("attestation_key"):
        from dataclasses import replace

        from mlgate.promote.attest import load_key

        options = replace(options, attestation_key=load_key(values["attestation_key"]))
    return target, options


def environment_path(values: Mapping[str, Any], environment: str) -> str:
    from mlgate.promote.settings import environment_path as path_of

    return path_of(values["layout"], values["base_path"], values["app"], environment)
