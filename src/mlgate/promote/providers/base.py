"""The surface every forge provider has (GitHub and GitLab today), described once."""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

from mlgate.promote.config import Identity
from mlgate.promote.result import ChangeRequestResult
from mlgate.promote.types import CallCounter, ChangeRequestSpec, FileChange


class ApiProvider(Protocol):
    """A forge reached over its REST API with a token.

    Errors: raise mlgate.promote.types.Conflict when the branch moved (the caller re-applies);
    mlgate.errors.ServiceError (exit 3) for a token without rights, 5xx or rate limits that
    outlast the retries, with a message that never contains the token.
    """

    name: str
    counter: CallCounter

    def commit_files(
        self,
        branch: str,
        parent_sha: str,
        changes: list[FileChange],
        message: str,
        author: Identity | None,
        *,
        created: Collection[str] = (),
    ) -> str:
        """One atomic commit of all files on top of parent_sha; the branch moves only if its
        head is still parent_sha (no force). `created`: the paths that are new at parent_sha
        (GitLab needs a create action for them). Returns the new commit's sha."""
        ...

    def open_or_update_request(self, spec: ChangeRequestSpec) -> ChangeRequestResult:
        """Open the request for spec.source_branch -> spec.target_branch, or update the open
        one (title, body, labels, reviewers); close older open mlgate requests for the same
        app/environment (found by marker() in their body) with a comment naming the new one;
        enable auto-merge when asked."""
        ...

    def tag_exists(self, name: str) -> bool:
        """Whether refs/tags/NAME exists on the forge (checked before the commit lands)."""
        ...

    def create_tag(self, name: str, sha: str, message: str, tagger: Identity | None) -> str:
        """An annotated tag NAME on commit sha (promote --tag); returns the tag object's sha
        (GitHub) or its name (GitLab). Raises mlgate.promote.tagging.TagTaken when the name
        was taken meanwhile."""
        ...

    def create_release(self, name: str, title: str, body: str) -> str:
        """A release on the existing tag NAME, notes in Markdown; returns its web page."""
        ...
