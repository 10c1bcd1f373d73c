"""GitHub: a promotion lands as one atomic commit (Git Data API) and one pull request, via PyGithub.

Why the Git Data API: the contents API makes one commit per file, so a promotion touching three
manifests would land in three steps and a reader could sync a half-promoted state. A tree with
inline contents on top of the parent's tree, one commit, then a non-forced ref update is one
atomic change in four requests whatever the number of files; GitHub's "Update is not a fast
forward" (422) tells us another promotion landed first, and the caller re-applies on the new head.

Why our own retry loop rather than PyGithub's GithubRetry: GithubRetry sleeps inside urllib3
with no overall limit and no view of what was being attempted. Here every wait of one operation
(Retry-After, x-ratelimit-reset, 5xx backoff) draws on one budget (`max_wait`), the schedule is
deterministic under test (sleep, clock and jitter are injectable), every request is counted, and
a failure names what was being done on which repository — never the token.

GitHub as it really behaves (issue 14): a 422 that replica lag or a concurrent writer causes
("Reference update failed", "Tree SHA does not exist", …) is a Conflict, re-applied like a moved
branch; a protected branch is bad input (exit 2: push mode cannot work there, nothing was
written); auto-merge is pinned to the commit mlgate pushed, not `pr.head.sha` (which lags a
push), and a PR GitHub refuses auto-merge for because it is already mergeable is merged directly;
a write whose answer was lost (502/504) is recognised on retry instead of being done twice.

`import github` happens inside methods only, so `mlgate --help` stays light.
"""

from __future__ import annotations

import base64
import email.utils
import functools
import random
import re
import time
import urllib.parse
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from mlgate.errors import BadInput, ServiceError
from mlgate.promote.config import Identity
from mlgate.promote.result import ChangeRequestResult
from mlgate.promote.types import CallCounter, ChangeRequestSpec, Conflict, FileChange, marker

if TYPE_CHECKING:
    from github.GithubException import GithubException
    from github.GitRef import GitRef
    from github.InputGitTreeElement import InputGitTreeElement
    from github.PullRequest import PullRequest
    from github.Repository import Repository

T = TypeVar("T")

PUBLIC_HOSTS = ("github.com", "www.github.com")
PUBLIC_API = "https://api.github.com"
SECONDARY_WAIT = 60.0  # GitHub: no Retry-After on a secondary limit means wait at least a minute
RESET_MARGIN = 1.0  # x-ratelimit-reset is in whole epoch seconds and clocks differ
BACKOFF_BASE = 1.0
BACKOFF_CAP = 30.0
PAGE_SIZE = 100
MERGE_METHODS = ("MERGE", "SQUASH", "REBASE")
# 422s GitHub gives a write that may work a moment later: replica lag (an object just written is
# not yet visible to the next request) and concurrent writers on the ref. Re-applied, not fatal.
TRANSIENT_WRITE = ("reference cannot be updated", "reference update failed",
                   "tree sha does not exist", "is not a valid tree oid", "object does not exist",
                   "parent sha does not exist")
# 422s for a branch that refuses direct updates (branch protection, rulesets)
PROTECTED = ("protected branch", "must be made through a pull request", "required status check",
             "repository rule violation")
# enablePullRequestAutoMerge refuses a PR with nothing left to wait for: "Pull request Pull request
# is in clean status" (also unstable, has_hooks; dirty when it conflicts with its base)
REFUSED_STATUS_RE = re.compile(r"is in (clean|unstable|has_hooks|dirty) status", re.IGNORECASE)
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


# --------------------------------------------------------------------------- waiting


class _Budget:
    """One operation's allowance of waiting, shared by rate limits and 5xx backoff."""

    def __init__(self, limit: float, sleep: Callable[[float], None]) -> None:
        self.limit = limit
        self.spent = 0.0
        self._sleep = sleep

    def wait(self, seconds: float, why: str) -> None:
        if self.spent + seconds > self.limit:
            raise ServiceError(f"{why}; giving up: waiting {seconds:.0f}s more would pass the "
                               f"{self.limit:.0f}s limit (already waited {self.spent:.0f}s)")
        self.spent += seconds
        self._sleep(seconds)


# delta-seconds (RFC 9110 allows digits only; a fraction is tolerated), ASCII: str.isdigit() is
# True for "²", which int() then refuses with a traceback
_SECONDS_RE = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,6})?", re.ASCII)


def _retry_after_seconds(value: str | None, now: float) -> float | None:
    """Retry-After is delta-seconds or an HTTP date. Seconds are ASCII digits (float() would
    also take "inf", "nan", "1e9" and Arabic-Indic digits from a proxy's header)."""
    if value is None:
        return None
    value = value.strip()
    if _SECONDS_RE.fullmatch(value):
        return max(0.0, float(value))
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None


def _is_secondary_message(message: str) -> bool:
    text = message.lower()
    return ("secondary rate limit" in text or "abuse" in text
            or text.endswith("please retry your request again later."))


# --------------------------------------------------------------------------- errors


def _error_data(exc: GithubException) -> dict[str, Any]:
    return exc.data if isinstance(exc.data, dict) else {}


def _graphql_error_types(exc: GithubException) -> set[str]:
    errors = _error_data(exc).get("errors")
    if not isinstance(errors, list):
        return set()
    return {str(e.get("type")) for e in errors if isinstance(e, dict) and e.get("type")}


def _detail(exc: GithubException) -> str:
    """GitHub's own words for an error: message plus validation / GraphQL error messages."""
    data = _error_data(exc)
    parts = [str(data["message"])] if data.get("message") else []
    for item in data.get("errors") or []:
        if isinstance(item, dict):
            text = item.get("message") or " ".join(
                str(item[k]) for k in ("resource", "field", "code") if item.get(k))
            parts.append(str(text))
        elif isinstance(item, str):
            parts.append(item)
    if not parts:
        parts.append("server error" if (exc.status or 0) >= 500 else "no details")
    text = "; ".join(parts)
    return text if len(text) <= 300 else text[:297] + "..."


def _is_transient(detail: str) -> bool:
    return any(text in detail.lower() for text in TRANSIENT_WRITE)


def _split_reviewers(reviewers: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """Users stay users; `org/team` becomes the team slug GitHub's team_reviewers takes."""
    users, teams = [], []
    for item in dict.fromkeys(r.strip().lstrip("@") for r in reviewers if r.strip()):
        if "/" in item:
            teams.append(item.split("/", 1)[1])
        else:
            users.append(item)
    return users, teams


# --------------------------------------------------------------------------- provider


class GitHubProvider:
    """ApiProvider for GitHub and GitHub Enterprise Server, over PyGithub."""

    name = "github"

    def __init__(
        self,
        full_name: str,
        token: str,
        api_url: str = PUBLIC_API,
        *,
        max_wait: float = 60.0,
        retries: int = 4,
        merge_method: str = "MERGE",
        timeout: int = 30,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
    ) -> None:
        if not token:
            raise BadInput("a GitHub token is required to promote through the GitHub API")
        if merge_method.upper() not in MERGE_METHODS:
            raise BadInput(f"merge method must be one of {', '.join(MERGE_METHODS)}")
        self.full_name = full_name
        self.owner = full_name.split("/", 1)[0]
        self.api_url = api_url.rstrip("/")
        self.counter = CallCounter()
        self._token = token
        self._max_wait = max_wait
        self._retries = retries
        self._merge_method = merge_method.upper()
        self._timeout = timeout
        self._sleep, self._clock, self._rng = sleep, clock, rng
        self._repo: Repository | None = None

    @classmethod
    def from_repo_url(cls, repo_url: str, token: str, api_url: str | None = None, *,
                      max_wait: float = 60.0, retries: int = 4, **options: Any) -> GitHubProvider:
        """The provider for a repository's git URL; api_url wins when given (GITHUB_API_URL)."""
        address = parse_repo_url(repo_url)
        return cls(address.full_name, token, api_url or address.default_api_url,
                   max_wait=max_wait, retries=retries, **options)

    def __repr__(self) -> str:
        return f"GitHubProvider({self.full_name!r}, api_url={self.api_url!r})"

    # ------------------------------------------------------------------ commits

    def commit_files(self, branch: str, parent_sha: str, changes: list[FileChange], message: str,
                     author: Identity | None) -> str:
        """One commit of every change on parent_sha, then a fast-forward-only move of the branch.

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

    # ------------------------------------------------------------------ pull requests

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

    def _all_pages(self, kind: str, action: str, listing: Any, budget: _Budget) -> list[Any]:
        """Every item of a paginated listing, one counted request per page of 100."""
        items: list[Any] = []
        for page in range(10_000):
            batch = self._call(kind, action, functools.partial(listing.get_page, page), budget)
            items += batch
            if len(batch) < PAGE_SIZE:
                break
        return items

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

    # ------------------------------------------------------------------ plumbing

    @property
    def repo(self) -> Repository:
        """A lazy Repository: building it makes no request (each call then makes exactly one)."""
        if self._repo is None:
            self._repo = self._connect()
        return self._repo

    def _connect(self) -> Repository:
        from github import Auth, Github

        options: dict[str, Any] = {
            "auth": Auth.Token(self._token), "base_url": self.api_url, "timeout": self._timeout,
            "retry": None, "per_page": PAGE_SIZE, "user_agent": "mlgate",
            "seconds_between_requests": None, "seconds_between_writes": None,
        }
        try:
            return Github(**options, lazy=True).get_repo(self.full_name)
        except TypeError:  # PyGithub < 2.6 has no lazy client; its get_repo(lazy=True) is the same
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                return Github(**options).get_repo(self.full_name, lazy=True)

    def _budget(self) -> _Budget:
        return _Budget(self._max_wait, self._sleep)

    def _call(self, kind: str, action: str, request: Callable[[], T], budget: _Budget,
              passthrough: frozenset[int] = frozenset(),
              landed: Callable[[], Any] | None = None) -> T:
        """Run one request, counted; wait out rate limits and retry 5xx/network errors within
        the budget. Statuses in passthrough are re-raised for the caller to interpret; any other
        error becomes a ServiceError naming the action.

        `landed`, for a write that is not idempotent: asked before each retry after a 5xx or a
        network error (the write may have landed and only the answer been lost); a value other
        than None is returned instead of writing again."""
        import requests
        from github import GithubException

        failures = limited = 0
        while True:
            if failures and landed is not None and (done := landed()) is not None:
                return done  # type: ignore[no-any-return]
            self.counter.add(kind)
            try:
                return request()
            except GithubException as exc:
                status = exc.status or 0
                wait = self._rate_limit_wait(exc, limited)
                if wait is not None:
                    limited += 1
                    budget.wait(wait, self._scrub(f"GitHub rate limit (HTTP {status}) while trying "
                                                  f"to {action} on {self.full_name}"))
                    continue
                if status >= 500:
                    failures += 1
                    self._backoff(failures, budget, f"GitHub answered HTTP {status} while trying "
                                                    f"to {action} on {self.full_name}")
                    continue
                if status in passthrough:
                    raise
                raise self._service_error(exc, action, budget) from None
            except requests.exceptions.RequestException as exc:
                failures += 1
                self._backoff(failures, budget, f"could not reach GitHub at {self.api_url} "
                                                f"({type(exc).__name__}) while trying to {action} "
                                                f"on {self.full_name}")

    def _backoff(self, failures: int, budget: _Budget, why: str) -> None:
        """Exponential backoff with jitter (half fixed, half random) for 5xx and network errors."""
        why = self._scrub(why)
        if failures > self._retries:
            raise ServiceError(f"{why}; gave up after {failures} attempts")
        delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (failures - 1))
        budget.wait(delay * (0.5 + 0.5 * self._rng()), why)

    def _rate_limit_wait(self, exc: GithubException, earlier: int) -> float | None:
        """Seconds GitHub asks us to wait, or None when the error is not a rate limit.

        Retry-After first (secondary limits), then x-ratelimit-remaining: 0 with
        x-ratelimit-reset (primary), then a minute, doubling, for a 429 or a secondary-limit
        message without headers. A 403 with none of these is a permission error.
        """
        headers = {str(k).lower(): str(v) for k, v in (exc.headers or {}).items()}
        graphql_limited = "RATE_LIMITED" in _graphql_error_types(exc)
        if exc.status not in (403, 429) and not graphql_limited:
            return None
        retry_after = _retry_after_seconds(headers.get("retry-after"), self._clock())
        if retry_after is not None:
            return retry_after
        reset = headers.get("x-ratelimit-reset")
        if headers.get("x-ratelimit-remaining") == "0" and reset and _SECONDS_RE.fullmatch(reset):
            return max(0.0, float(reset) - self._clock()) + RESET_MARGIN
        message = str(_error_data(exc).get("message") or "")
        if exc.status == 429 or graphql_limited or _is_secondary_message(message):
            return SECONDARY_WAIT * 2 ** earlier
        return None

    def _service_error(self, exc: GithubException, action: str, budget: _Budget) -> ServiceError:
        """A non-retryable answer as one line a user can act on."""
        status, detail = exc.status, _detail(exc)
        if status == 401:
            return self._error(f"GitHub rejected the token (HTTP 401: {detail}) while trying to "
                               f"{action} on {self.full_name}; check that it is valid and "
                               "unexpired")
        if status == 403:
            return self._error(f"token lacks permission to {action} on {self.full_name} "
                               f"(HTTP 403: {detail})")
        if status == 404 and self._repo_missing(budget):
            return self._error(f"repository {self.full_name} not found or token cannot see it "
                               f"(HTTP 404 from {self.api_url} while trying to {action})")
        return self._error(f"could not {action} on {self.full_name} (HTTP {status}: {detail})")

    def _repo_missing(self, budget: _Budget) -> bool:
        """After a 404, ask for the repository itself: is it the repo or the object that's gone?"""
        from github import GithubException

        try:
            self._call("get_repo", "read the repository", self.repo.update, budget,
                       passthrough=frozenset({404}))
        except GithubException:
            return True
        return False

    def _error(self, message: str) -> ServiceError:
        return ServiceError(self._scrub(message))

    def _scrub(self, text: str) -> str:
        """Belt and braces: no message leaves with the token in it, whatever a server echoed."""
        return text.replace(self._token, "***") if self._token else text
