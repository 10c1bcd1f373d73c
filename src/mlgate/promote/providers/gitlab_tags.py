"""GitLab: promote --tag's annotated tag and --release's release, through the REST API.

One call makes an annotated tag (docs.gitlab.com/api/tags: POST /projects/:id/repository/tags
with tag_name, ref = the commit's sha, and a message, which is what makes it annotated); GitLab
answers 400 "Tag NAME already exists" for a name that is taken. The tagger is the token's user
(the API takes no tagger). A release (POST /projects/:id/releases: tag_name, name, description)
is made on the existing tag; its page is `_links.self`.
"""

from __future__ import annotations

from mlgate.errors import BadInput
from mlgate.promote.config import Identity
from mlgate.promote.providers.gitlab_client import GitLabClient
from mlgate.promote.tagging import TagTaken


# what _api's bad_input hook answers for the two outcomes that are not errors here: it turns
# them into BadInput carrying exactly this text, told apart from a real refusal by it
_ABSENT, _TAKEN = "mlgate: tag absent", "mlgate: tag taken"


class GitLabTags(GitLabClient):
    """tag_exists / create_tag / create_release for GitLabProvider."""

    def tag_exists(self, name: str) -> bool:
        """GET /projects/:id/repository/tags/:tag_name: 200, or 404 when there is none."""
        project = self._project()
        try:
            self._api("tag", f"read tag {name}",
                      lambda: project.tags.get(name, **self._call_opts()),
                      bad_input=lambda code, _msg: _ABSENT if code == 404 else None)
        except BadInput as exc:
            if str(exc) == _ABSENT:
                return False
            raise
        return True

    def create_tag(self, name: str, sha: str, message: str, tagger: Identity | None) -> str:
        """The annotated tag on commit sha; returns its name (GitLab's tag answer carries no
        tag object id). TagTaken on "already exists" (made after the check)."""
        project = self._project()
        data = {"tag_name": name, "ref": sha, "message": message}
        try:
            self._api("tag", f"create tag {name}",
                      lambda: project.tags.create(data, **self._call_opts()),
                      bad_input=lambda code, msg: _TAKEN if code == 400 and
                      "already exists" in msg.lower() else None)
        except BadInput as exc:
            if str(exc) == _TAKEN:
                raise TagTaken(name) from None
            raise
        return name

    def create_release(self, name: str, title: str, body: str) -> str:
        """A release on the existing tag; returns its page (`_links.self`)."""
        project = self._project()
        data = {"tag_name": name, "name": title, "description": body}
        release = self._api("release", f"create release {name}",
                            lambda: project.releases.create(data, **self._call_opts()))
        links = getattr(release, "_links", None) or release.attributes.get("_links") or {}
        return str(links.get("self") or "")
