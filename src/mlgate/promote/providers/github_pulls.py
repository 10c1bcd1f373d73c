"""GitHub: the pull request of a promotion — open or update it, labels, reviewers, close the
ones it supersedes, and auto-merge.

GitHub as it really behaves (issue 14): auto-merge is pinned to the commit mlgate pushed, not
`pr.head.sha` (which lags a push), and a PR GitHub refuses auto-merge for because it is already
mergeable is merged directly; a comment whose answer was lost (502/504) is recognised on retry
instead of being posted twice.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING

from mlgate.promote.providers.github_client import (
    MERGE_METHODS,
    GitHubClient,
    _Budget,
    _detail,
    _graphql_error_types,
)
from mlgate.promote.result import ChangeRequestResult
from mlgate.promote.types import ChangeRequestSpec, Conflict, marker

if TYPE_CHECKING:
    from github.PullRequest import PullRequest

# enablePullRequestAutoMerge refuses a PR with nothing left to wait for: "Pull request Pull request
# is in clean status" (also unstable, has_hooks; dirty when it conflicts with its base)
REFUSED_STATUS_RE = re.compile(r"is in (clean|unstable|has_hooks|dirty) status", re.IGNORECASE)


def _split_reviewers(reviewers: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """Users stay users; `org/team` becomes the team slug GitHub's team_reviewers takes."""
    users, teams = [], []
    for item in dict.fromkeys(r.strip().lstrip("@") for r in reviewers if r.strip()):
        if "/" in item:
            teams.append(item.split("/", 1)[1])
        else:
            users.append(item)
    return users, teams


class GitHubPullRequests(GitHubClient):
    """ApiProvider.open_or_update_request for GitHub: one pull request per app/environment."""

    def open_or_update_request(self, spec: ChangeRequestSpec) -> ChangeRequestResult:
        """One pull request per app/environment: found by its head branch, else created."""
        budget = self._budget()
        pulls = self._open_pulls(spec.target_branch, budget)
        pr = self._find_own(pulls, spec.source_branch)
        created = pr is None
        if pr is None:
            pr, created = self._create_pull(spec, budget)
        else:
            self._update_pull(pr, spec, budget)
        self._add_labels(pr, spec.labels, budget)
        self._request_reviewers(pr, spec.reviewers, budget)
        superseded = self._close_superseded(pr, pulls, spec, budget)
        auto_merge, merged, note = bool(pr.auto_merge), False, ""
        if spec.auto_merge:
            auto_merge, merged, note = self._auto_merge(pr, spec, budget)
        return ChangeRequestResult(url=pr.html_url, number=pr.number, created=created,
                                   superseded=superseded, auto_merge=auto_merge, merged=merged,
                                   note=note)

    def _open_pulls(self, base: str, budget: _Budget) -> list[PullRequest]:
        """Every open PR into base, one request per 100: ours and the ones it may supersede."""
        listing = self.repo.get_pulls(state="open", base=base, sort="created", direction="asc")
        return self._all_pages("list_pulls", f"list open pull requests into {base}", listing,
                               budget)

    def _find_own(self, pulls: list[PullRequest], source: str) -> PullRequest | None:
        label = f"{self.owner}:{source}".lower()
        return next((p for p in pulls
                     if p.head.ref == source and p.head.label.lower() == label), None)

    def _create_pull(self, spec: ChangeRequestSpec, budget: _Budget) -> tuple[PullRequest, bool]:
        from github import GithubException

        action = f"open a pull request {spec.source_branch} -> {spec.target_branch}"
        try:
            return self._call("create_pull", action, functools.partial(
                self.repo.create_pull, base=spec.target_branch, head=spec.source_branch,
                title=spec.title, body=spec.body), budget, passthrough=frozenset({422})), True
        except GithubException as exc:
            detail = _detail(exc)
        if "already exists" in detail.lower():  # another run opened it a moment ago
            pr = self._find_own(self._open_pulls(spec.target_branch, budget), spec.source_branch)
            if pr is not None:
                self._update_pull(pr, spec, budget)
                return pr, False
        raise self._error(f"could not {action} on {self.full_name} (HTTP 422: {detail})")

    def _update_pull(self, pr: PullRequest, spec: ChangeRequestSpec, budget: _Budget) -> None:
        if pr.title == spec.title and (pr.body or "") == spec.body:
            return
        self._call("update_pull", f"update pull request #{pr.number}",
                   functools.partial(pr.edit, title=spec.title, body=spec.body), budget)

    def _add_labels(self, pr: PullRequest, labels: tuple[str, ...], budget: _Budget) -> None:
        present = {label.name for label in pr.labels}
        missing = [name for name in dict.fromkeys(labels) if name and name not in present]
        if missing:
            self._call("add_labels", f"add labels to pull request #{pr.number}",
                       functools.partial(pr.add_to_labels, *missing), budget)

    def _request_reviewers(self, pr: PullRequest, reviewers: tuple[str, ...],
                           budget: _Budget) -> None:
        users, teams = _split_reviewers(reviewers)
        have_users = {user.login.lower() for user in pr.requested_reviewers}
        have_teams = {team.slug.lower() for team in pr.requested_teams}
        users = [u for u in users if u.lower() not in have_users]
        teams = [t for t in teams if t.lower() not in have_teams]
        if users or teams:
            who = ", ".join(users + teams)
            self._call("request_reviewers",
                       f"request reviews from {who} on pull request #{pr.number}",
                       functools.partial(pr.create_review_request, reviewers=users,
                                         team_reviewers=teams), budget)

    def _close_superseded(self, pr: PullRequest, pulls: list[PullRequest], spec: ChangeRequestSpec,
                          budget: _Budget) -> tuple[int, ...]:
        """Older open mlgate PRs for the same app/environment (marker in body, other head)."""
        tag = marker(spec.app, spec.environment)
        closed = []
        for other in pulls:
            if other.number == pr.number or other.head.ref == spec.source_branch:
                continue
            if tag not in (other.body or ""):
                continue
            note = (f"Superseded by #{pr.number}\n\nClosed by mlgate: a newer promotion of "
                    f"{spec.app} to {spec.environment} replaces this one.")
            self._call("comment", f"comment on superseded pull request #{other.number}",
                       functools.partial(other.create_issue_comment, note), budget,
                       landed=functools.partial(self._commented, other, note, budget))
            self._call("close_pull", f"close superseded pull request #{other.number}",
                       functools.partial(other.edit, state="closed"), budget)
            closed.append(other.number)
        return tuple(closed)

    def _commented(self, pr: PullRequest, body: str, budget: _Budget) -> bool | None:
        """After a 5xx on posting a comment: True when it was posted anyway (the answer was
        lost), so the retry does not post it a second time."""
        comments = self._all_pages("list_comments", f"read comments of #{pr.number}",
                                   pr.get_issue_comments(), budget)
        return True if any(c.body == body for c in comments) else None

    def _auto_merge(self, pr: PullRequest, spec: ChangeRequestSpec,
                    budget: _Budget) -> tuple[bool, bool, str]:
        """(auto-merge on, merged, note) for --auto-merge.

        Auto-merge is asked for first: GitHub itself decides on the PR's real state (a REST read
        can still say "unknown"). A PR with nothing left to wait for (clean, unstable) is refused
        auto-merge, so it is merged now, pinned to the head mlgate pushed; a refused merge is
        said in the note (the PR stays open), not an error. A PR that conflicts with its base
        (dirty) is a Conflict: the promotion re-applies on the new head.
        """
        if pr.auto_merge:
            return True, False, ""
        head = spec.head_sha or pr.head.sha
        refusal = self._enable_auto_merge(pr, head, budget)
        if refusal is None:
            return True, False, ""
        state = refusal.lower()
        if state == "dirty":
            raise Conflict(f"pull request #{pr.number} conflicts with {spec.target_branch} "
                           "(mergeable_state dirty)")
        return self._merge_now(pr, head, state, budget)

    def _enable_auto_merge(self, pr: PullRequest, head: str, budget: _Budget) -> str | None:
        """GraphQL enablePullRequestAutoMerge (REST has none), pinned to `head`. None when it
        is on; the state GitHub named when it refuses for lack of anything to wait for."""
        from github import GithubException

        action = f"enable auto-merge on pull request #{pr.number}"
        try:
            self._call("enable_auto_merge", action, functools.partial(
                pr.enable_automerge, merge_method=self._merge_method,
                expected_head_oid=head), budget, passthrough=frozenset({400, 404}))
        except GithubException as exc:
            types, detail = _graphql_error_types(exc), _detail(exc)
            if "FORBIDDEN" in types:
                raise self._error(f"token lacks permission to {action} on {self.full_name} "
                                  f"({detail})") from None
            refused = REFUSED_STATUS_RE.search(detail)
            if "UNPROCESSABLE" in types and refused:
                return refused[1]
            raise self._error(f"could not {action} on {self.full_name}: {detail}") from None
        return None

    def _merge_now(self, pr: PullRequest, head: str, state: str,
                   budget: _Budget) -> tuple[bool, bool, str]:
        """REST merge pinned to `head` (409 if anyone pushed since), by a method the
        repository allows. A 405/409 is reported, not raised: the PR is open and correct, and
        failing here would fail every run on a repository without required checks."""
        from github import GithubException

        method = self._allowed_method(budget)
        why = (f"pull request #{pr.number} had nothing left to wait for (mergeable_state "
               f"{state}), so GitHub does not take auto-merge for it")
        try:
            self._call("merge_pull", f"merge pull request #{pr.number}", functools.partial(
                pr.merge, merge_method=method.lower(), sha=head), budget,
                passthrough=frozenset({405, 409}))
        except GithubException as exc:
            if self._merged(pr, budget):  # an earlier try landed, its answer was lost
                return False, True, f"{why}: merged it directly ({method.lower()})"
            return False, False, (f"{why}, and it refused the direct merge (HTTP {exc.status}: "
                                  f"{_detail(exc)}); the pull request stays open")
        return False, True, (f"{why}: merged it directly ({method.lower()}, head "
                             f"{head[:12]})")

    def _allowed_method(self, budget: _Budget) -> str:
        """The configured merge method if the repository allows it, else one it allows."""
        self._call("get_repo", "read the repository's merge settings", self.repo.update, budget)
        allowed = {"MERGE": self.repo.allow_merge_commit, "SQUASH": self.repo.allow_squash_merge,
                   "REBASE": self.repo.allow_rebase_merge}
        if allowed[self._merge_method] is not False:
            return self._merge_method
        return next((m for m in MERGE_METHODS if allowed[m]), self._merge_method)

    def _merged(self, pr: PullRequest, budget: _Budget) -> bool:
        fresh = self._call("get_pull", f"read pull request #{pr.number}",
                           functools.partial(self.repo.get_pull, pr.number), budget)
        return bool(fresh.merged)
