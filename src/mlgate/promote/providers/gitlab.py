"""GitLab behind ApiProvider, through python-gitlab: one commit call per promotion, one merge
request per app and environment.

GitLabProvider is put together from three modules, one job each: `gitlab_commit.py` lands the
commit (the commits API, its per-file guard, a lost answer recognised), `gitlab_merge_requests.py`
handles the merge request (open or update, labels, reviewers, superseded MRs, notes, merge when
the pipeline succeeds), and `gitlab_client.py` is the plumbing under both (the python-gitlab
client, the wait budget of one call, rate limits, Retry-After, and GitLab's answers turned into
mlgate's errors without the token). This module has the entry points: the repository URL and
GitLabProvider itself. tests/standins/gitlab_api.py models what GitLab really does.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from mlgate.errors import BadInput
from mlgate.promote.providers.gitlab_commit import GitLabCommits
from mlgate.promote.providers.gitlab_merge_requests import GitLabMergeRequests
from mlgate.promote.providers.gitlab_tags import GitLabTags


def parse_repo_url(repo_url: str) -> tuple[str, str]:
    """(server base URL, project path) from a git URL: https/http, ssh:// or scp-like.

    ``https://gitlab.example.com/group/sub/project.git`` -> (``https://gitlab.example.com``,
    ``group/sub/project``). For ssh forms the API is assumed on https of the same host (pass
    ``api_url`` otherwise). Credentials in the URL are refused without echoing them.
    """
    url = repo_url.strip()
    if "://" not in url and "@" in url and ":" in url.split("@", 1)[1]:
        host, path = url.split("@", 1)[1].split(":", 1)
        return f"https://{host}", _project_path(path, repo_url)
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http", "ssh") or not parts.hostname:
        raise BadInput("--repo: a GitLab repository must be an https, http or ssh URL")
    if parts.password is not None or (parts.username and parts.scheme != "ssh"):
        raise BadInput("--repo: the URL holds credentials; pass the token in GITLAB_TOKEN instead")
    if parts.scheme == "ssh":
        return f"https://{parts.hostname}", _project_path(parts.path, repo_url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}", _project_path(parts.path, repo_url)


def _project_path(path: str, repo_url: str) -> str:
    path = path.strip("/")
    path = path.removesuffix(".git")
    segments = path.split("/")
    if len(segments) < 2 or any(s in ("", ".", "..") for s in segments):
        raise BadInput(f"--repo {repo_url!r}: expected <server>/<group>/<project>[.git]")
    return path


def _relative_project_path(project_path: str, api_url: str) -> str:
    """Drop the api_url's path prefix (GitLab under https://host/gitlab) from project_path."""
    prefix = urlsplit(api_url).path.strip("/")
    if prefix and project_path.startswith(prefix + "/"):
        return project_path[len(prefix) + 1:]
    return project_path


class GitLabProvider(GitLabCommits, GitLabMergeRequests, GitLabTags):
    """ApiProvider for a GitLab project, over python-gitlab (``import gitlab`` happens inside
    methods only, so ``mlgate --help`` stays light)."""

    name = "gitlab"

    @classmethod
    def from_repo_url(cls, repo_url: str, token: str, api_url: str | None = None, *,
                      token_kind: str = "private", max_wait: float = 60.0,
                      retries: int = 4) -> GitLabProvider:
        """The provider for a config repository's git URL; api_url is ``CI_SERVER_URL`` when
        the caller runs in GitLab CI (it also covers GitLab served under a path prefix)."""
        server, path = parse_repo_url(repo_url)
        base = (api_url or server).rstrip("/")
        return cls(base, _relative_project_path(path, base), token, token_kind=token_kind,
                   max_wait=max_wait, retries=retries)
