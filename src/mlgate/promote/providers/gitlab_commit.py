"""GitLab: a promotion lands as one commit through the commits API (every file one action).

Concurrency: GitLab's commits API has no "parent sha" parameter, so the guard is per file. Every
``update`` action carries ``last_commit_id = parent_sha``; current GitLab
(``Files::BaseService#file_has_changed?``) compares the last commit that touched the path on the
branch with the last commit that touched it as of ``last_commit_id`` and answers 400 "The file has
changed since you started editing it" when they differ. ``create`` of a file that appeared
meanwhile, or ``update`` of one that vanished, is a 400 as well. All of these become
:class:`Conflict`, and the caller re-applies its rewrite on the new head.

What this means: the commit lands on the branch's *current* head when none of the files it writes
changed since ``parent_sha``, even if the branch moved because of other files. mlgate's rewrite
is per file (the new content of a file depends only on that file), so the result is what a
re-apply on the new head would have produced, one round trip sooner. The new commit's actual
parent is kept in :attr:`GitLabProvider.last_parent`; ``last_parent != parent_sha`` tells the
caller the branch had moved under other files.

Which paths are new is the caller's knowledge (``created=``): GitLab has no "create or update"
action. A POST retried after a 5xx whose first attempt did land comes back as a Conflict (its
files changed since parent_sha -- by that very commit), never as a duplicate commit.

A commit POST whose answer was lost (502/504 after it landed) is retried by python-gitlab and
refused as "file has changed"; the branch head is then read back, and when it is the commit just
sent (the same message, trailers and all) it is taken as landed -- once, not re-applied.

A protected branch refuses the commits API with 403 "You are not allowed to push into this
branch": BadInput (exit 2, nothing was written -- the fix is ``--mode pull-request`` or push
rights, so rerunning as is cannot help), never retried.
"""

from __future__ import annotations

import base64
from collections.abc import Collection, Mapping
from typing import Any

from mlgate.errors import BadInput
from mlgate.promote.providers.gitlab_client import GitLabClient
from mlgate.promote.config import Identity
from mlgate.promote.types import Conflict, FileChange

# 400 answers of the commits API that mean "someone changed these files first".
_CONFLICT_MESSAGES = (
    "has changed since you started editing it",  # Files::MultiService / UpdateService
    "has been previously updated",  # Files::DeleteService
    "a file with this name already exists",  # create of a file that appeared meanwhile
    "a file with this name doesn't exist",  # update of a file deleted meanwhile
    "please refresh and try again",  # the branch ref moved between GitLab's check and write
)
_PROTECTED = "not allowed to push into this branch"  # Commits::CreateService, 403


class GitLabCommits(GitLabClient):
    """ApiProvider.commit_files for GitLab: one POST /projects/:id/repository/commits."""

    def commit_files(self, branch: str, parent_sha: str, changes: list[FileChange],
                     message: str, author: Identity | None, *,
                     created: Collection[str] = (),
                     last_commit_ids: Mapping[str, str] | None = None) -> str:
        """One POST /projects/:id/repository/commits with every file as an action.

        created: paths that do not exist at parent_sha (``create`` actions); every other path
        is an ``update`` guarded by ``last_commit_id`` -- parent_sha unless last_commit_ids
        names the exact last commit of that path (needed only by GitLab versions that compare
        last_commit_id literally). See the module docstring for what lands when.
        """
        if not changes:
            raise ValueError("commit_files needs at least one change")
        actions = _actions(changes, parent_sha, set(created), last_commit_ids or {})
        data: dict[str, Any] = {"branch": branch, "commit_message": message, "actions": actions}
        if author is not None:
            data.update(author_name=author.name, author_email=author.email)
        project = self._project()
        try:
            commit = self._api("commit", f"commit {len(changes)} file(s) to {branch}",
                               lambda: project.commits.create(data, **self._call_opts()),
                               conflict=_is_commit_conflict,
                               bad_input=lambda code, msg: _protected(code, msg, branch))
        except Conflict:
            if not self._transient_seen:
                raise
            landed = self._landed_commit(branch, message)
            if landed is None:
                raise
            self.last_parent = landed[1]
            return landed[0]
        parents = list(getattr(commit, "parent_ids", None) or [])
        self.last_parent = parents[0] if parents else None
        return str(commit.id)

    def _landed_commit(self, branch: str, message: str) -> tuple[str, str | None] | None:
        """After a 5xx whose retry was refused as a conflict: (sha, parent) of the branch head
        when it is the commit just sent -- its answer was lost -- else None. mlgate's messages
        carry the promotion's trailers (run id, old and new values), so the message identifies
        the commit; a head someone else committed leaves it to the caller's re-apply."""
        project = self._project()
        found = self._api("branch", f"read branch {branch}",
                          lambda: project.branches.get(branch, **self._call_opts()))
        head = dict(getattr(found, "commit", None) or {})
        if not head.get("id") or str(head.get("message", "")).strip() != message.strip():
            return None
        parents = list(head.get("parent_ids") or [])
        return str(head["id"]), (parents[0] if parents else None)


def _actions(changes: list[FileChange], parent_sha: str, created: set[str],
             last_commit_ids: Mapping[str, str]) -> list[dict[str, Any]]:
    """Commit actions with base64 content (any bytes survive). An update keeps the file's mode
    on GitLab, so an executable update adds a ``chmod`` action."""
    actions: list[dict[str, Any]] = []
    for change in changes:
        _check_path(change.path)
        content = base64.b64encode(change.content).decode("ascii")
        if change.path in created:
            actions.append({"action": "create", "file_path": change.path, "content": content,
                            "encoding": "base64", "execute_filemode": change.executable})
            continue
        guard = last_commit_ids.get(change.path, parent_sha)
        actions.append({"action": "update", "file_path": change.path, "content": content,
                        "encoding": "base64", "last_commit_id": guard})
        if change.executable:
            actions.append({"action": "chmod", "file_path": change.path,
                            "execute_filemode": True, "last_commit_id": guard})
    return actions


def _check_path(path: str) -> None:
    parts = path.split("/")
    if not path or path.startswith("/") or any(p in ("", ".", "..") for p in parts) \
            or "\0" in path:
        raise BadInput(f"refusing to commit an unsafe path: {path!r}")


def _protected(code: int, message: str, branch: str) -> str | None:
    """The message for GitLab's protected-branch refusal of the commits API, else None."""
    if code != 403 or _PROTECTED not in message.lower():
        return None
    return (f"{branch} is a protected branch: GitLab does not let this token push to it "
            f"(403 {message}); use --mode pull-request to open a merge request instead, or "
            f"give the token's user push rights on {branch}")


def _is_commit_conflict(code: int, message: str) -> bool:
    lowered = message.lower()
    return code == 409 or (code == 400 and any(m in lowered for m in _CONFLICT_MESSAGES))
