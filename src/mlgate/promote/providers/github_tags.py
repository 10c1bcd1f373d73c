"""GitHub: promote --tag's annotated tag and --release's release, through the REST API.

An annotated tag on GitHub is two writes (docs.github.com/rest/git/tags): the tag object
(POST /repos/{owner}/{repo}/git/tags: tag, message, object, type, tagger), then the reference
refs/tags/NAME pointing at it (POST /git/refs). Creating the object alone makes no tag. The
reference create answers 422 "Reference already exists" when the name is taken, which is how a
tag made meanwhile by someone else shows. A release (POST /releases: tag_name, name, body) on an
existing tag uses it as it is.
"""

from __future__ import annotations

import functools

from mlgate.promote.config import Identity
from mlgate.promote.providers.github_client import GitHubClient, _detail
from mlgate.promote.tagging import TagTaken


class GitHubTags(GitHubClient):
    """tag_exists / create_tag / create_release for GitHubProvider."""

    def tag_exists(self, name: str) -> bool:
        """GET /git/ref/tags/NAME: 200 when the tag exists, 404 when it does not."""
        from github import GithubException

        budget = self._budget()
        ref = self.repo.get_git_ref(f"tags/{name}")  # lazy: the GET happens on first read
        try:
            self._call("get_ref", f"read tag {name}", lambda: ref.object, budget,
                       passthrough=frozenset({404}))
        except GithubException:
            return False
        return True

    def create_tag(self, name: str, sha: str, message: str, tagger: Identity | None) -> str:
        """The tag object on commit sha, then refs/tags/NAME; returns the tag object's sha.
        TagTaken when the reference exists (made after the check)."""
        from github import GithubException, InputGitAuthor

        budget = self._budget()
        extra = {"tagger": InputGitAuthor(tagger.name, tagger.email)} if tagger else {}
        obj = self._call("create_tag", f"create tag object {name}", functools.partial(
            self.repo.create_git_tag, name, message, sha, "commit", **extra), budget)
        try:
            self._call("create_ref", f"create tag {name}", functools.partial(
                self.repo.create_git_ref, f"refs/tags/{name}", obj.sha), budget,
                passthrough=frozenset({422}))
        except GithubException as exc:
            if "already exists" in _detail(exc).lower():
                raise TagTaken(name) from None
            raise self._error(f"could not create tag {name} on {self.full_name} (HTTP "
                              f"{exc.status}: {_detail(exc)})") from None
        return str(obj.sha)

    def create_release(self, name: str, title: str, body: str) -> str:
        """A published release on the existing tag; returns its html_url."""
        budget = self._budget()
        release = self._call("create_release", f"create release {name}", functools.partial(
            self.repo.create_git_release, name, title, body), budget)
        return str(release.html_url)
