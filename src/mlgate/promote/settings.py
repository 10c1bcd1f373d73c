"""Inputs shared by promote and rollback: where the config repo is, how to reach it, who
commits. Built once from the CLI and the environment, validated before anything is cloned."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping

from mlgate.errors import BadInput
from mlgate.promote.config import Identity, Options, Target
from mlgate.promote.git import Credentials, check_branch, check_repo_url

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
DEFAULT_USERNAMES = {"github": "x-access-token", "gitlab": "oauth2", "git": "mlgate"}
TOKEN_VARIABLES = {
    "github": ("MLGATE_GIT_TOKEN", "GITHUB_TOKEN"),
    "gitlab": ("MLGATE_GIT_TOKEN", "GITLAB_TOKEN"),
    "git": ("MLGATE_GIT_TOKEN",),
}


def check_name(value: str, what: str) -> str:
    if not NAME_RE.match(value or ""):
        raise BadInput(f"{what} {value[:80]!r}: use letters, digits, '.', '_' or '-' (max 63)")
    return value


def environment_path(layout: str, path: str, app: str, environment: str) -> str:
    """The environment's folder in the config repo, relative and inside it."""
    try:
        rendered = layout.format(path=path.strip("/") or ".", app=app, environment=environment)
    except (KeyError, IndexError, ValueError):
        raise BadInput(f"--layout {layout!r}: use only {{path}}, {{app}} and {{environment}}") from None
    norm = posixpath.normpath(rendered)
    segments = norm.split("/")
    if (norm.startswith("/") or norm == "." or segments[0] == ".."
            or any(c in norm for c in "\\\x00\n\r")
            or any(s.casefold() == ".git" for s in segments)):  # git's metadata is no folder
        raise BadInput(f"--layout/--path give {rendered!r}: not a folder inside the config repo")
    return norm


def credentials(provider: str, environ: Mapping[str, str]) -> Credentials | None:
    for name in TOKEN_VARIABLES[provider]:
        token = environ.get(name, "").strip()
        if token:
            user = environ.get("MLGATE_GIT_USERNAME", "").strip() or DEFAULT_USERNAMES[provider]
            return Credentials(user, token)
    return None


def build_target(
    *, repo: str, provider: str, mode: str, base: str, api_url: str | None,
    environ: Mapping[str, str],
) -> Target:
    url = check_repo_url(repo)
    check_branch(base, "--base")
    if mode == "pull-request" and provider == "git":
        raise BadInput("--mode pull-request needs --provider github or gitlab")
    creds = credentials(provider, environ)
    if provider in ("github", "gitlab") and creds is None:
        names = " or ".join(TOKEN_VARIABLES[provider])
        raise BadInput(f"--provider {provider} needs a token in {names}")
    if api_url is None:
        api_url = environ.get("GITHUB_API_URL") if provider == "github" else (
            environ.get("CI_SERVER_URL") if provider == "gitlab" else None)
    return Target(url=url, provider=provider, mode=mode, base=base, credentials=creds,
                  api_url=api_url or None)


def build_options(
    *, author_name: str | None, author_email: str | None, committer_name: str | None,
    committer_email: str | None, signing_key: str | None, signing_format: str | None,
    max_attempts: int, labels: tuple[str, ...], reviewers: tuple[str, ...], auto_merge: bool,
    verb: str,
) -> Options:
    author = Identity(author_name or "mlgate", author_email or "mlgate@users.noreply.localhost")
    for value in (author.name, author.email, committer_name or "", committer_email or ""):
        if any(c in value for c in "<>\n\r"):
            raise BadInput(f"author/committer {value[:60]!r}: no '<', '>' or newlines")
    committer = Identity(committer_name or author.name, committer_email or author.email)
    fmt = signing_format or ("ssh" if signing_key and "/" in signing_key else "gpg")
    if max_attempts < 1 or max_attempts > 100:
        raise BadInput("--max-attempts: between 1 and 100")
    return Options(author=author, committer=committer, signing_key=signing_key,
                   signing_format=fmt, max_attempts=max_attempts, labels=labels,
                   reviewers=reviewers, auto_merge=auto_merge, verb=verb)


def provider_factory(target: Target):
    """Build the API provider lazily: its library is imported only when it is used."""
    if target.provider == "git":
        return None
    assert target.credentials is not None
    token = target.credentials.token
    repo_url = target.url

    def make():
        if target.provider == "github":
            from mlgate.promote.providers.github import GitHubProvider

            return GitHubProvider.from_repo_url(repo_url, token, target.api_url)
        from mlgate.promote.providers.gitlab import GitLabProvider

        return GitLabProvider.from_repo_url(repo_url, token, target.api_url)

    return make
