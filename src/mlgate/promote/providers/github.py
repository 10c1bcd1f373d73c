"""GitHub: a promotion lands as one atomic commit (Git Data API) and one pull request, via PyGithub.

GitHubProvider is put together from three modules, one job each: `github_commit.py` lands the
commit (tree, commit, non-forced ref update), `github_pulls.py` handles the pull request (open or
update, labels, reviewers, superseded PRs, auto-merge), and `github_client.py` is the plumbing
under both (the PyGithub client, retries within one wait budget, rate limits, Retry-After, and
GitHub's answers turned into mlgate's errors without the token). This module has the entry
points: the repository address and GitHubProvider itself.

`import github` happens inside methods only, so `mlgate --help` stays light.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

from mlgate.errors import BadInput
from mlgate.promote.providers.github_client import PUBLIC_API
from mlgate.promote.providers.github_commit import GitHubCommits
from mlgate.promote.providers.github_pulls import GitHubPullRequests
from mlgate.promote.providers.github_tags import GitHubTags

PUBLIC_HOSTS = ("github.com", "www.github.com")
NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+\Z", re.ASCII)


# --------------------------------------------------------------------------- addresses


@dataclass(frozen=True)
class RepoAddress:
    """Where a repository lives, from its git URL."""

    scheme: str
    host: str  # host[:port]
    full_name: str  # owner/name

    @property
    def default_api_url(self) -> str:
        """api.github.com for github.com, `<scheme>://<host>/api/v3` for GitHub Enterprise."""
        if self.host.lower() in PUBLIC_HOSTS:
            return PUBLIC_API
        return f"{self.scheme}://{self.host}/api/v3"


def parse_repo_url(repo_url: str) -> RepoAddress:
    """owner/name from `https://host/owner/name(.git)`, `ssh://git@host/…` or `git@host:owner/name`.

    A URL carrying a password or an http(s) user is refused without being echoed: credentials
    come from the environment, never from a URL that ends up in logs.
    """
    text = repo_url.strip()
    if "://" in text:
        scheme, host, path = _split_url(text)
    else:
        match = re.fullmatch(r"(?:[A-Za-z0-9_.-]+@)?([A-Za-z0-9_.-]+):(.+)", text, re.ASCII)
        if not match:
            raise BadInput(f"--repo: not a GitHub repository URL: {text}")
        scheme, host, path = "https", match[1], match[2]
    segments = [s for s in path.strip("/").split("/") if s]
    if len(segments) < 2:
        raise BadInput(f"--repo: expected …/OWNER/NAME in the repository URL: {text}")
    owner, name = segments[-2], segments[-1].removesuffix(".git")
    if not (NAME_RE.match(owner) and NAME_RE.match(name)):
        raise BadInput(f"--repo: {owner}/{name} is not a valid GitHub repository name")
    return RepoAddress(scheme, host, f"{owner}/{name}")


def _split_url(text: str) -> tuple[str, str, str]:
    parts = urllib.parse.urlsplit(text)
    web = parts.scheme in ("http", "https")
    if parts.password or (web and parts.username):
        raise BadInput("--repo: the repository URL must not embed credentials; pass the token "
                       "through the environment instead")
    if not web and parts.scheme not in ("ssh", "git", "git+ssh"):
        raise BadInput(f"--repo: unsupported URL scheme {parts.scheme!r} for GitHub")
    if not parts.hostname:
        raise BadInput(f"--repo: no host in the repository URL: {text}")
    host = parts.hostname + (f":{parts.port}" if web and parts.port else "")
    return (parts.scheme if web else "https"), host, parts.path


# --------------------------------------------------------------------------- provider


class GitHubProvider(GitHubCommits, GitHubPullRequests, GitHubTags):
    """ApiProvider for GitHub and GitHub Enterprise Server, over PyGithub."""

    name = "github"

    @classmethod
    def from_repo_url(cls, repo_url: str, token: str, api_url: str | None = None, *,
                      max_wait: float = 60.0, retries: int = 4, **options: Any) -> GitHubProvider:
        """The provider for a repository's git URL; api_url wins when given (GITHUB_API_URL)."""
        address = parse_repo_url(repo_url)
        return cls(address.full_name, token, api_url or address.default_api_url,
                   max_wait=max_wait, retries=retries, **options)

    def __repr__(self) -> str:
        return f"GitHubProvider({self.full_name!r}, api_url={self.api_url!r})"
