"""GitHub: a promotion lands as one atomic commit through the Git Data API.

Why the Git Data API: the contents API makes one commit per file, so a promotion touching three
manifests would land in three steps and a reader could sync a half-promoted state. A tree with
inline contents on top of the parent's tree, one commit, then a non-forced ref update is one
atomic change in four requests whatever the number of files; GitHub's "Update is not a fast
forward" (422) tells us another promotion landed first, and the caller re-applies on the new head.

GitHub as it really behaves (issue 14): a 422 that replica lag or a concurrent writer causes
("Reference update failed", "Tree SHA does not exist", …) is a Conflict, re-applied like a moved
branch; a protected branch is bad input (exit 2: push mode cannot work there, nothing was
written); a branch created by a write whose answer was lost (502/504) is recognised on retry.
"""

from __future__ import annotations

import base64
import functools
import urllib.parse
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any, TypeVar

from mlgate.errors import BadInput
from mlgate.promote.providers.github_client import GitHubClient, _Budget, _detail
from mlgate.promote.config import Identity
from mlgate.promote.types import Conflict, FileChange

if TYPE_CHECKING:
    from github.GitRef import GitRef
    from github.InputGitTreeElement import InputGitTreeElement

T = TypeVar("T")

# 422s GitHub gives a write that may work a moment later: replica lag (an object just written is
# not yet visible to the next request) and concurrent writers on the ref. Re-applied, not fatal.
TRANSIENT_WRITE = ("reference cannot be updated", "reference update failed",
                   "tree sha does not exist", "is not a valid tree oid", "object does not exist",
                   "parent sha does not exist")
# 422s for a branch that refuses direct updates (branch protection, rulesets)
PROTECTED = ("protected branch", "must be made through a pull request", "required status check",
             "repository rule violation")


def _is_transient(detail: str) -> bool:
    return any(text in detail.lower() for text in TRANSIENT_WRITE)


class GitHubCommits(GitHubClient):
    """ApiProvider.commit_files for GitHub: tree, commit and a fast-forward-only ref update."""

    def commit_files(self, branch: str, parent_sha: str, changes: list[FileChange], message: str,
                     author: Identity | None, *, created: Collection[str] = ()) -> str:
        """One commit of every change on parent_sha, then a fast-forward-only move of the branch.
        (`created` is GitLab's need; a tree entry here creates or replaces alike.)

        Requests: GET the parent commit (for its tree), POST the tree with inline contents, POST
        the commit, PATCH the ref — four, plus one blob per file that is not UTF-8 text. Changes
        that leave the tree as it was make no commit and return parent_sha (no empty commits).
        A branch that does not exist yet is created at the new commit (one more request).
        """
        if not changes:
            raise ValueError("commit_files needs at least one change")
        budget = self._budget()
        parent = self._call("get_commit", f"read commit {parent_sha[:12]}",
                            functools.partial(self.repo.get_git_commit, parent_sha), budget)
        elements = [self._tree_element(change, budget) for change in changes]
        tree = self._write("create_tree", "create a tree", functools.partial(
            self.repo.create_git_tree, elements, parent.tree), budget)
        if tree.sha == parent.tree.sha:
            return parent_sha
        commit = self._write("create_commit", "create a commit",
                             functools.partial(self.repo.create_git_commit, message, tree, [parent],
                                               **self._author(author)), budget)
        self._move_branch(branch, commit.sha, parent_sha, budget)
        return commit.sha

    def _write(self, kind: str, action: str, request: Callable[[], T], budget: _Budget) -> T:
        """A Git Data write whose 422 may be replica lag ("Tree SHA does not exist", "base_tree
        … is not a valid tree oid"): that one is a Conflict, so the promotion re-applies on the
        head it reads again after a backoff, instead of failing a run that would pass."""
        from github import GithubException

        try:
            return self._call(kind, action, request, budget, passthrough=frozenset({422}))
        except GithubException as exc:
            detail = _detail(exc)
            if _is_transient(detail):
                raise Conflict(f"GitHub could not {action} yet (HTTP 422: {detail})") from None
            raise self._error(f"could not {action} on {self.full_name} (HTTP 422: "
                              f"{detail})") from None

    def _tree_element(self, change: FileChange, budget: _Budget) -> InputGitTreeElement:
        """Inline content (no request) for UTF-8 text; a base64 blob for anything else."""
        from github import InputGitTreeElement

        mode = "100755" if change.executable else "100644"
        try:
            text = change.content.decode("utf-8")
        except UnicodeDecodeError:
            encoded = base64.b64encode(change.content).decode("ascii")
            blob = self._call("create_blob", f"upload {change.path}", functools.partial(
                self.repo.create_git_blob, encoded, "base64"), budget)
            return InputGitTreeElement(change.path, mode, "blob", sha=blob.sha)
        return InputGitTreeElement(change.path, mode, "blob", content=text)

    @staticmethod
    def _author(author: Identity | None) -> dict[str, Any]:
        if author is None:
            return {}
        from github import InputGitAuthor

        return {"author": InputGitAuthor(author.name, author.email)}

    def _move_branch(self, branch: str, sha: str, parent_sha: str, budget: _Budget) -> None:
        """PATCH the ref with force=false: GitHub refuses (422) unless it is a fast forward."""
        from github import GithubException

        action = f"update branch {branch}"
        try:
            self._call("update_ref", action, functools.partial(self._branch_ref(branch).edit, sha,
                                                               force=False),
                       budget, passthrough=frozenset({409, 422}))
        except GithubException as exc:
            detail = _detail(exc)
            if any(text in detail.lower() for text in PROTECTED):
                raise self._protected(branch, exc.status, detail) from None
            if "does not exist" in detail.lower() and "reference" in detail.lower():
                self._create_branch(branch, sha, budget)
                return
            if exc.status == 409 or "fast forward" in detail.lower():
                raise Conflict(f"branch {branch} of {self.full_name} moved past "
                               f"{parent_sha[:12]}") from None
            if _is_transient(detail):
                raise Conflict(f"GitHub could not {action} yet (HTTP {exc.status}: "
                               f"{detail})") from None
            raise self._error(f"could not {action} on {self.full_name} (HTTP {exc.status}: "
                              f"{detail})") from None

    def _protected(self, branch: str, status: int, detail: str) -> BadInput:
        """Exit 2, not 3: GitHub works as configured and refuses the same way on every run; what
        has to change is the invocation (push mode on a branch that takes pull requests only).
        No ref moved, so nothing was written."""
        return BadInput(self._scrub(
            f"branch {branch} of {self.full_name} is protected: GitHub refused the direct update "
            f"(HTTP {status}: {detail}); use --mode pull-request to land it through a pull "
            "request"))

    def _create_branch(self, branch: str, sha: str, budget: _Budget) -> None:
        """A branch that does not exist yet (a first pull-request branch) is created at sha."""
        from github import GithubException

        try:
            self._call("create_ref", f"create branch {branch}",
                       functools.partial(self.repo.create_git_ref, f"refs/heads/{branch}", sha),
                       budget, passthrough=frozenset({422}))
        except GithubException as exc:
            if "already exists" in _detail(exc).lower():
                if self._ref_at(branch, sha, budget):  # our own create, its answer lost
                    return
                raise Conflict(f"branch {branch} of {self.full_name} was created "
                               "meanwhile") from None
            raise self._error(f"could not create branch {branch} on {self.full_name} "
                              f"(HTTP {exc.status}: {_detail(exc)})") from None

    def _ref_at(self, branch: str, sha: str, budget: _Budget) -> bool:
        """Whether branch points at sha now (did a write whose answer was lost land?)."""
        ref = self._call("get_ref", f"read branch {branch}",
                         functools.partial(self.repo.get_git_ref, f"heads/{branch}"), budget)
        return bool(ref.object.sha == sha)

    def _branch_ref(self, branch: str) -> GitRef:
        """The ref object without a GET: PATCH goes to git/refs/heads/<branch>, as documented
        (a lazy `get_git_ref` would PATCH git/ref/…, the read-only spelling)."""
        import github.GitRef

        url = f"{self.repo.url}/git/refs/heads/{urllib.parse.quote(branch)}"
        return github.GitRef.GitRef(self.repo._requester, {},
                                    {"url": url, "ref": f"refs/heads/{branch}"}, True)
