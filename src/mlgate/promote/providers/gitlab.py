"""GitLab behind ApiProvider, through python-gitlab: one commit call per promotion, one merge
request per app and environment.

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

python-gitlab does the retrying (``retry_transient_errors`` for 5xx and connection errors,
``obey_rate_limit`` on 429, ``max_retries``). A response hook on its ``requests`` session counts
every request in :attr:`counter`, decides each wait and bounds the total sleep of one call to
``max_wait``: a wait that would exceed it ends the call at once with a ServiceError instead of
sleeping through a long ``Retry-After``. A 429 is waited out for ``Retry-After``, else until
``RateLimit-Reset`` (epoch seconds) or ``RateLimit-ResetTime`` (HTTP date), else for GitLab's
documented window of a minute -- GitLab's application limits (notes, users) send no
``Retry-After``, and python-gitlab's own 0.1 * 2**n backoff would spend four retries in 1.5 s.
The budget and the counter's current kind are per-call state: use one provider per thread.

What GitLab really does, and what mlgate does about it (tests/standins/gitlab_api.py models each):

- A commit POST whose answer was lost (502/504 after it landed) is retried by python-gitlab and
  refused as "file has changed"; the branch head is then read back, and when it is the commit
  just sent (the same message, trailers and all) it is taken as landed -- once, not re-applied.
- Notes are not idempotent: a note is posted without python-gitlab's blind retry, and after a
  5xx the MR's notes are read before posting again. An MR whose create answer was lost is found
  by the 409 of the retry and updated, never duplicated.
- A protected branch refuses the commits API with 403 "You are not allowed to push into this
  branch": BadInput (exit 2, nothing was written -- the fix is ``--mode pull-request`` or push
  rights, so rerunning as is cannot help), never retried.
- A CI/CD job token authenticates only a few read endpoints (not commits, not merge requests):
  GitLab answers 401, and mlgate says to use a project access token.
- Auto-merge: see :meth:`GitLabProvider._enable_auto_merge`.
"""

from __future__ import annotations

import base64
import math
import time
from collections.abc import Callable, Collection, Mapping
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlsplit

from mlgate.errors import BadInput, ServiceError
from mlgate.promote.config import Identity
from mlgate.promote.result import ChangeRequestResult
from mlgate.promote.types import CallCounter, ChangeRequestSpec, Conflict, FileChange, marker

if TYPE_CHECKING:
    import gitlab
    import requests
    from gitlab.v4.objects import Project

T = TypeVar("T")

TOKEN_KINDS = ("private", "job", "oauth")
# 400 answers of the commits API that mean "someone changed these files first".
_CONFLICT_MESSAGES = (
    "has changed since you started editing it",  # Files::MultiService / UpdateService
    "has been previously updated",  # Files::DeleteService
    "a file with this name already exists",  # create of a file that appeared meanwhile
    "a file with this name doesn't exist",  # update of a file deleted meanwhile
    "please refresh and try again",  # the branch ref moved between GitLab's check and write
)
_TRANSIENT = frozenset([500, 502, 503, 504, *range(520, 531)])  # python-gitlab's list
_AUTO_MERGE_REFUSALS = frozenset([405, 406, 409, 422])
# GitLab's documented rate-limit windows are a minute (notes: "Access to the endpoint is allowed
# after one minute"; users API and the authenticated API throttle: per minute): a 429 that says
# nothing about when to come back is waited out for that long.
RATE_LIMIT_WINDOW = 60.0
# Pipelines are created asynchronously after a push (gitlab-org/gitlab#353984): how long to wait
# for an MR's head pipeline to appear before giving up on auto-merge, and the steps.
PIPELINE_BACKOFF = (1.0, 2.0, 4.0, 8.0, 15.0)
_ACTIVE_PIPELINE = frozenset(["created", "waiting_for_resource", "preparing", "pending",
                              "running", "scheduled"])
_PROTECTED = "not allowed to push into this branch"  # Commits::CreateService, 403
_JOB_TOKEN_DOCS = "https://docs.gitlab.com/ci/jobs/ci_job_token/#job-token-access"
_USE_ACCESS_TOKEN = ("put a project access token (api scope, Developer role) in GITLAB_TOKEN or "
                     "MLGATE_GIT_TOKEN")


def _sleep(seconds: float) -> None:
    """Every wait mlgate itself decides goes through here (tests replace it)."""
    time.sleep(seconds)


class _WaitBudgetExceeded(Exception):
    """Raised from the response hook: the next wait would cross max_wait."""

    def __init__(self, status: int, wait: float, hinted: bool = True) -> None:
        super().__init__(f"{status}, next wait {wait:.0f}s")
        self.status = status
        self.wait = wait
        self.hinted = hinted


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


class GitLabProvider:
    """A GitLab project reached with python-gitlab (``import gitlab`` happens in here only)."""

    name = "gitlab"

    def __init__(self, api_url: str, project_path: str, token: str, *,
                 token_kind: str = "private", max_wait: float = 60.0, retries: int = 4,
                 timeout: float = 30.0) -> None:
        if not token:
            raise BadInput("no GitLab token: set GITLAB_TOKEN (or MLGATE_GIT_TOKEN)")
        if token_kind not in TOKEN_KINDS:
            raise BadInput(f"GitLab token kind must be one of {', '.join(TOKEN_KINDS)}")
        self.api_url = api_url.rstrip("/")
        self.project_path = project_path
        self.max_wait = max_wait
        self.retries = retries
        self.counter = CallCounter()
        self.last_parent: str | None = None  # actual parent of the last commit made
        self.auto_merge_problem: str | None = None  # why auto-merge was not enabled
        self.notes_made: list[str] = []  # what the user should read about the last request
        self._last_merge: Any = None
        self._merged = False  # the last request was merged at once
        self._token = token
        self._token_kind = token_kind
        self._transient_seen = False  # a 5xx was answered during the current call
        self._kind = "request"
        self._waited = 0.0
        self._retries_done = 0
        self._retry_pending = False
        self._user_ids: dict[str, int] = {}
        self._gl = self._client(token, token_kind, timeout)
        self._project_obj: Project | None = None

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

    # -- the client ---------------------------------------------------------------------------

    def _client(self, token: str, token_kind: str, timeout: float) -> gitlab.Gitlab:
        import gitlab
        import requests

        session = requests.Session()
        session.hooks["response"].append(self._on_response)
        auth = {"private": "private_token", "job": "job_token", "oauth": "oauth_token"}
        return gitlab.Gitlab(self.api_url, session=session, timeout=timeout,
                             retry_transient_errors=True, user_agent="mlgate",
                             **{auth[token_kind]: token})

    def _project(self) -> Project:
        """A lazy project object: no request until a call needs one (a commit is one call)."""
        if self._project_obj is None:
            self._project_obj = self._gl.projects.get(self.project_path, lazy=True)
        return self._project_obj

    def _on_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        """Count each request; keep python-gitlab's next sleep inside the max_wait budget."""
        self.counter.add("retry" if self._retry_pending else self._kind)
        self._retry_pending = False
        status = response.status_code
        if status in _TRANSIENT:
            self._transient_seen = True
        if (status != 429 and status not in _TRANSIENT) or self._retries_done >= self.retries:
            return  # served, or python-gitlab gives up on this answer and raises
        wait, hinted = self._planned_wait(response)
        if self._waited + wait > self.max_wait:
            response.close()
            raise _WaitBudgetExceeded(status, wait, hinted or status != 429)
        if hinted or status == 429:
            # python-gitlab sleeps int(Retry-After) (else int(RateLimit-Reset) - now, which can
            # go negative, else 0.1 * 2**n): hand it the whole seconds this budget accounted for.
            response.headers["Retry-After"] = str(math.ceil(wait))
        self._waited += wait
        self._retries_done += 1
        self._retry_pending = True

    def _planned_wait(self, response: requests.Response) -> tuple[float, bool]:
        """(the sleep before the retry, whether the server hinted it) -- Retry-After in seconds
        or as an HTTP date, else RateLimit-Reset (epoch seconds), else RateLimit-ResetTime (an
        HTTP date); unhinted, a 429 waits RATE_LIMIT_WINDOW and a 5xx python-gitlab's own
        0.1 * 2**n backoff. A 429 always waits at least a second (a reset already past means
        the clocks differ, not that hammering helps)."""
        headers = response.headers
        floor = 1.0 if response.status_code == 429 else 0.0
        retry_after = headers.get("Retry-After", "").strip()
        # ASCII digits only: "²".isdigit() is True and int("²") raises (a traceback, not exit 3)
        if retry_after.isascii() and retry_after.isdigit():
            return float(retry_after), True
        if retry_after:
            return max(floor, _seconds_until(retry_after, default=1.0)), True
        reset = headers.get("RateLimit-Reset", "").strip()
        if reset.isascii() and reset.isdigit():
            return max(floor, float(math.ceil(int(reset) - time.time()))), True
        reset_time = headers.get("RateLimit-ResetTime", "").strip()
        if reset_time:
            return max(floor, _seconds_until(reset_time, default=RATE_LIMIT_WINDOW)), True
        if response.status_code == 429:
            return RATE_LIMIT_WINDOW, False
        return 0.1 * 2**self._retries_done, False

    def _api(self, kind: str, what: str, call: Callable[[], T],
             conflict: Callable[[int, str], bool] | None = None,
             bad_input: Callable[[int, str], str | None] | None = None) -> T:
        """One logical API call: counted under kind, errors turned into mlgate's (conflict
        picks the answers that mean "someone else changed it first"; bad_input names the
        refusals that are the caller's configuration, exit 2)."""
        import gitlab
        import requests

        self._kind, self._waited, self._retries_done, self._retry_pending = kind, 0.0, 0, False
        self._transient_seen = False
        try:
            return call()
        except _WaitBudgetExceeded as exc:
            raise ServiceError(self._scrub(self._budget_message(exc, what))) from None
        except gitlab.exceptions.GitlabError as exc:
            code = exc.response_code or 0
            message = self._message(exc)
            if conflict is not None and conflict(code, message):
                raise Conflict(self._scrub(f"{what}: {message}")) from None
            refusal = bad_input(code, message) if bad_input is not None else None
            if refusal is not None:
                raise BadInput(self._scrub(refusal)) from None
            if code == 401 and self._is_job_token():
                raise BadInput(self._scrub(
                    f"GitLab does not accept a CI/CD job token (CI_JOB_TOKEN) to {what} (401): "
                    f"job tokens reach only the endpoints listed at {_JOB_TOKEN_DOCS}; "
                    f"{_USE_ACCESS_TOKEN}")) from None
            raise self._service_error(code, message, what) from None
        except requests.RequestException as exc:
            raise ServiceError(self._scrub(
                f"cannot reach GitLab at {self.api_url} ({what}): {type(exc).__name__}")) from None

    def _budget_message(self, exc: _WaitBudgetExceeded, what: str) -> str:
        if exc.hinted:
            return (f"GitLab answered {exc.status} to {what} in {self.project_path} and asked to "
                    f"wait {exc.wait:.0f}s more, beyond the {self.max_wait:.0f}s budget")
        return (f"GitLab kept rate-limiting (429) the request to {what} in {self.project_path} "
                f"without saying when to retry; waiting out its {exc.wait:.0f}s window again "
                f"would pass the {self.max_wait:.0f}s budget: run again in a minute")

    def _is_job_token(self) -> bool:
        """A CI/CD job token: sent as one, or recognisable by GitLab's glcbt- prefix."""
        return self._token_kind == "job" or self._token.startswith("glcbt-")

    def _message(self, exc: Exception) -> str:
        raw = getattr(exc, "error_message", "") or ""
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        return self._scrub(" ".join(text.split()))[:300]

    def _service_error(self, code: int, message: str, what: str) -> ServiceError:
        where = self.project_path
        if code == 401:
            text = (f"GitLab refused the token (401) while trying to {what}: it is unknown, "
                    "expired or revoked -- or a CI/CD job token (CI_JOB_TOKEN), which cannot "
                    f"create commits or merge requests: {_USE_ACCESS_TOKEN}")
        elif code == 403:
            text = (f"the GitLab token may not {what} in {where} (403): it needs the api scope "
                    "and at least Developer access (and push rights on protected branches)")
        elif code == 404:
            text = (f"GitLab project {where!r} not found or token cannot see it "
                    f"(404 while trying to {what})")
        elif code == 429:
            text = f"GitLab kept rate-limiting ({code}) the request to {what} in {where}"
        elif code in _TRANSIENT:
            text = f"GitLab kept failing ({code}) to {what} in {where} after {self.retries} retries"
        else:
            text = f"GitLab refused to {what} in {where} ({code}): {message}"
        return ServiceError(self._scrub(text))

    def _scrub(self, text: str) -> str:
        """No message ever carries the token, raw or URL-encoded."""
        for form in {self._token, quote(self._token, safe="")}:
            if form:
                text = text.replace(form, "***")
        return text

    def _call_opts(self) -> dict[str, Any]:
        return {"max_retries": self.retries, "obey_rate_limit": True}

    # -- commits ------------------------------------------------------------------------------

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

    # -- merge requests -----------------------------------------------------------------------

    def open_or_update_request(self, spec: ChangeRequestSpec) -> ChangeRequestResult:
        """Update the open MR source -> target in place (or create it), close the MRs it
        supersedes, and turn on merge-when-pipeline-succeeds when asked."""
        self.auto_merge_problem = None
        self.notes_made = []
        self._merged = False
        opened = self._open_mrs()
        reviewer_ids = [self._user_id(name) for name in spec.reviewers]
        mine = _same_branches(opened, spec)
        if mine is None:
            mr, created = self._create_mr(spec, reviewer_ids), True
        else:
            mr, created = self._update_mr(mine, spec, reviewer_ids), False
        iid = int(mr["iid"])
        superseded = self._close_superseded(opened, spec, iid)
        auto = self._enable_auto_merge(iid, spec) if spec.auto_merge else False
        return ChangeRequestResult(url=str(mr.get("web_url", "")), number=iid, created=created,
                                   superseded=superseded, auto_merge=auto and not self._merged,
                                   merged=self._merged, note=" ".join(self.notes_made))

    def _open_mrs(self) -> list[dict[str, Any]]:
        """Every open MR of the project, 100 a page (one call unless more than 100 are open)."""
        project = self._project()
        found = self._api("mr-list", "list open merge requests",
                          lambda: project.mergerequests.list(
                              state="opened", per_page=100, get_all=True, **self._call_opts()))
        return [dict(mr.attributes) for mr in found]

    def _user_id(self, username: str) -> int:
        if username not in self._user_ids:
            found = self._api("user-lookup", f"look up user {username}",
                              lambda: self._gl.users.list(username=username,
                                                          **self._call_opts()))
            if not found:
                raise BadInput(f"reviewer {username!r} is not a GitLab user")
            self._user_ids[username] = int(found[0].id)
        return self._user_ids[username]

    def _create_mr(self, spec: ChangeRequestSpec, reviewer_ids: list[int]) -> dict[str, Any]:
        data: dict[str, Any] = {
            "source_branch": spec.source_branch, "target_branch": spec.target_branch,
            "title": spec.title, "description": spec.body,
        }
        if spec.labels:
            data["labels"] = ",".join(spec.labels)
        if reviewer_ids:
            data["reviewer_ids"] = reviewer_ids
        project = self._project()
        try:
            mr = self._api("mr-create", f"open a merge request from {spec.source_branch}",
                           lambda: project.mergerequests.create(data, **self._call_opts()),
                           conflict=lambda code, _msg: code == 409)
        except Conflict:
            # Created by a concurrent promotion between our list and our create: update it.
            mine = _same_branches(self._open_mrs(), spec)
            if mine is None:
                raise
            return self._update_mr(mine, spec, reviewer_ids)
        return dict(mr.attributes)

    def _update_mr(self, mr: dict[str, Any], spec: ChangeRequestSpec,
                   reviewer_ids: list[int]) -> dict[str, Any]:
        """Title and body replaced; labels and reviewers added to what people already set."""
        data: dict[str, Any] = {"title": spec.title, "description": spec.body}
        if spec.labels:
            data["add_labels"] = ",".join(spec.labels)
        existing = [int(r["id"]) for r in mr.get("reviewers") or [] if "id" in r]
        if reviewer_ids and not set(reviewer_ids) <= set(existing):
            data["reviewer_ids"] = existing + [i for i in reviewer_ids if i not in existing]
        iid = int(mr["iid"])
        project = self._project()
        updated = self._api("mr-update", f"update merge request !{iid}",
                            lambda: project.mergerequests.update(iid, data, **self._call_opts()))
        return {**mr, **updated}

    def _close_superseded(self, opened: list[dict[str, Any]], spec: ChangeRequestSpec,
                          iid: int) -> tuple[int, ...]:
        """Close the other open MRs that promote the same app/environment (marker in body)."""
        mark = marker(spec.app, spec.environment)
        closed = []
        for other in opened:
            number = int(other["iid"])
            if number != iid and mark in (other.get("description") or ""):
                self._close_one(number, f"Superseded by !{iid}")
                closed.append(number)
        return tuple(closed)

    def _close_one(self, number: int, note: str) -> None:
        """A note first (people watching the old MR learn where it went), then the close."""
        project = self._project()
        self._note_once(number, note)
        self._api("mr-close", f"close merge request !{number}",
                  lambda: project.mergerequests.update(number, {"state_event": "close"},
                                                       **self._call_opts()))

    def _note_once(self, number: int, body: str) -> None:
        """Post a note unless the MR already has it. A POST is not idempotent, so it goes
        without python-gitlab's blind retry: after a 5xx (whose note may well exist -- a lost
        answer) the notes are read again before another try."""
        mr_obj = self._project().mergerequests.get(number, lazy=True)
        what = f"comment on merge request !{number}"
        for attempt in range(self.retries + 1):
            if self._has_note(mr_obj, number, body):
                return
            try:
                self._api("note", what, lambda: mr_obj.notes.create(
                    {"body": body}, retry_transient_errors=False, **self._call_opts()),
                    conflict=lambda code, _msg: code in _TRANSIENT)
                return
            except Conflict:  # a 5xx: did it land anyway?
                _sleep(0.1 * 2**attempt)
        raise ServiceError(self._scrub(
            f"GitLab kept failing to {what} in {self.project_path} after {self.retries} "
            "retries"))

    def _has_note(self, mr_obj: Any, number: int, body: str) -> bool:
        notes = self._api("note-list", f"read the notes of merge request !{number}",
                          lambda: mr_obj.notes.list(per_page=100, order_by="created_at",
                                                    sort="desc", **self._call_opts()))
        return any(getattr(n, "body", None) == body for n in notes)

    def _enable_auto_merge(self, iid: int, spec: ChangeRequestSpec) -> bool:
        """Merge when the pipeline succeeds, as GitLab really allows it:

        - PUT .../merge with ``merge_when_pipeline_succeeds`` (GitLab < 17.11) and ``auto_merge``
          (its successor; GitLab ignores the one it does not know). Current GitLab merges a
          mergeable MR without a running pipeline at once (True).
        - Refused (405/406/409/422): the MR is read to learn why. Conflicts (the base moved
          after mlgate built the branch): Conflict, so the caller rebuilds the branch on the new
          head and comes back -- never auto-merge on a conflicted MR. No head pipeline yet -- GitLab creates it after the
          push, asynchronously (gitlab-org/gitlab#353984) -- wait with backoff
          (PIPELINE_BACKOFF, about 30 s) and try again.
        - A project that runs no pipelines (CI disabled, or no CI configuration on the source
          branch): auto-merge is not available on GitLab before 17.11; nothing is left to wait
          for, so the MR is merged directly when GitLab reports it mergeable (pinned to the
          reviewed head sha), else left open with the reason.
        - A failed pipeline, or none within the wait: left open, with the reason.
        The reason is kept in auto_merge_problem; what happened in notes_made."""
        delays = iter(PIPELINE_BACKOFF)
        while True:
            refusal = self._put_merge(iid, auto=True, sha=spec.head_sha or None)
            if refusal is None:
                return self._merged_or_auto(iid)
            mr = self._read_mr(iid)
            if mr.get("state") == "merged" or mr.get("merge_when_pipeline_succeeds"):
                self._merged = mr.get("state") == "merged"
                return True
            if mr.get("has_conflicts") or mr.get("merge_status") == "cannot_be_merged":
                raise Conflict(self._scrub(
                    f"merge request !{iid} conflicts with {spec.target_branch}, so GitLab will "
                    f"not merge it ({refusal})"))
            pipeline = mr.get("head_pipeline") or None
            if pipeline is None and not self._runs_pipelines(mr):
                return self._merge_without_pipeline(iid, mr, spec.head_sha)
            status = None if pipeline is None else str(pipeline.get("status"))
            if status is not None and status not in _ACTIVE_PIPELINE:
                return self._refused(f"auto-merge not enabled on !{iid}: its pipeline "
                                     f"{status} ({refusal})")
            delay = next(delays, None)
            if delay is None:
                waited = sum(PIPELINE_BACKOFF)
                return self._refused(f"auto-merge not enabled on !{iid}: no pipeline started "
                                     f"for it within {waited:.0f}s ({refusal}); merge it when "
                                     "its pipeline passes")
            _sleep(delay)

    def _put_merge(self, iid: int, *, auto: bool, sha: str | None = None) -> str | None:
        """PUT .../merge; None when accepted, else GitLab's refusal as text."""
        path = f"/projects/{quote(self.project_path, safe='')}/merge_requests/{iid}/merge"
        body: dict[str, Any] = ({"merge_when_pipeline_succeeds": True, "auto_merge": True}
                                if auto else {})
        if sha:
            body["sha"] = sha
        what = (f"enable auto-merge on merge request !{iid}" if auto
                else f"merge merge request !{iid}")
        codes: list[int] = []
        try:
            self._last_merge = self._api(
                "mr-merge", what, lambda: self._gl.http_put(path, post_data=body,
                                                           **self._call_opts()),
                conflict=lambda code, _msg: codes.append(code) or code in _AUTO_MERGE_REFUSALS)
        except Conflict as refusal:
            return f"{codes[-1]}: {refusal}"
        return None

    def _merged_or_auto(self, iid: int) -> bool:
        data = self._last_merge if isinstance(self._last_merge, dict) else {}
        if data.get("state") == "merged":
            self._merged = True
            self.notes_made.append(f"GitLab merged !{iid} at once: no pipeline was running, "
                                   "so there was nothing for auto-merge to wait for")
            return True
        return bool(data.get("merge_when_pipeline_succeeds") or data.get("auto_merge_enabled"))

    def _read_mr(self, iid: int) -> dict[str, Any]:
        project = self._project()
        mr = self._api("mr-get", f"read merge request !{iid}",
                       lambda: project.mergerequests.get(iid, **self._call_opts()))
        return dict(mr.attributes)

    def _runs_pipelines(self, mr: dict[str, Any]) -> bool:
        """False when the project cannot run a pipeline for this MR: CI/CD disabled, or no CI
        configuration file on the source branch (an external ci_config_path counts as one)."""
        project = self._project()
        info = self._api("project", f"read project {self.project_path}",
                         lambda: self._gl.projects.get(self.project_path, **self._call_opts()))
        attrs = dict(info.attributes)
        if attrs.get("jobs_enabled") is False or attrs.get("builds_access_level") == "disabled":
            return False
        config = str(attrs.get("ci_config_path") or ".gitlab-ci.yml")
        if "@" in config or "://" in config:
            return True
        try:
            self._api("ci-config", f"look for {config}",
                      lambda: project.files.get(config, ref=str(mr.get("source_branch")),
                                                **self._call_opts()))
        except ServiceError:
            return False  # 404: no CI configuration, no pipeline will ever come
        return True

    def _merge_without_pipeline(self, iid: int, mr: dict[str, Any], head_sha: str) -> bool:
        """No pipeline will ever run: merge now if GitLab says the MR is mergeable."""
        why = f"{self.project_path} runs no pipelines, so GitLab has no auto-merge to set"
        if mr.get("detailed_merge_status", "mergeable") != "mergeable":
            return self._refused(f"auto-merge not available on !{iid}: {why}, and GitLab "
                                 f"reports it {mr.get('detailed_merge_status')}; left open")
        refusal = self._put_merge(iid, auto=False, sha=head_sha or str(mr.get("sha") or "") or None)
        if refusal is not None:
            return self._refused(f"auto-merge not available on !{iid}: {why}; merging it "
                                 f"directly was refused too ({refusal}); left open")
        self._merged = True
        self.notes_made.append(f"auto-merge not available on !{iid}: {why}; GitLab reported "
                               "it mergeable, so mlgate merged it directly")
        return True

    def _refused(self, reason: str) -> bool:
        self.auto_merge_problem = self._scrub(reason)
        self.notes_made.append(self.auto_merge_problem)
        return False


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


def _seconds_until(http_date: str, default: float) -> float:
    """Whole seconds from now until an HTTP date (0 if past); default if it is no date."""
    try:
        when = parsedate_to_datetime(http_date).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return default
    return float(max(0, math.ceil(when - time.time())))


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


def _same_branches(opened: list[dict[str, Any]], spec: ChangeRequestSpec) -> dict[str, Any] | None:
    """The open MR from spec's source branch to its target, in this project (not a fork)."""
    for mr in opened:
        if mr.get("source_branch") == spec.source_branch \
                and mr.get("target_branch") == spec.target_branch \
                and mr.get("source_project_id") == mr.get("target_project_id"):
            return mr
    return None
