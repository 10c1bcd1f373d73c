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
``obey_rate_limit`` honouring ``Retry-After``/``RateLimit-Reset`` on 429, ``max_retries``). A
response hook on its ``requests`` session counts every request in :attr:`counter` and bounds the
total sleep of one call to ``max_wait``: a wait that would exceed it ends the call at once with a
ServiceError instead of sleeping through a long ``Retry-After``. The budget and the counter's
current kind are per-call state: use one provider per thread.
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
from mlgate.promote.types import (
    CallCounter,
    ChangeRequestResult,
    ChangeRequestSpec,
    Conflict,
    FileChange,
    Identity,
    marker,
)

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


class _WaitBudgetExceeded(Exception):
    """Raised from the response hook: the next wait would cross max_wait."""

    def __init__(self, status: int, wait: float) -> None:
        super().__init__(f"{status}, next wait {wait:.0f}s")
        self.status = status
        self.wait = wait


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
        self._token = token
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
        if (status != 429 and status not in _TRANSIENT) or self._retries_done >= self.retries:
            return  # served, or python-gitlab gives up on this answer and raises
        wait, hinted = self._planned_wait(response)
        if self._waited + wait > self.max_wait:
            response.close()
            raise _WaitBudgetExceeded(status, wait)
        if hinted:
            # python-gitlab sleeps int(Retry-After) (else int(RateLimit-Reset) - now, which can
            # go negative): hand it the whole seconds this budget accounted for.
            response.headers["Retry-After"] = str(int(wait))
        self._waited += wait
        self._retries_done += 1
        self._retry_pending = True

    def _planned_wait(self, response: requests.Response) -> tuple[float, bool]:
        """(the sleep before the retry, whether the server hinted it) -- Retry-After in seconds
        or as an HTTP date, else RateLimit-Reset, else python-gitlab's own 0.1 * 2**n backoff."""
        retry_after = response.headers.get("Retry-After", "").strip()
        reset = response.headers.get("RateLimit-Reset", "").strip()
        # ASCII digits only: "²".isdigit() is True and int("²") raises (a traceback, not exit 3)
        if retry_after.isascii() and retry_after.isdigit():
            return float(retry_after), True
        if retry_after:
            try:
                when = parsedate_to_datetime(retry_after).timestamp()
            except (TypeError, ValueError):
                return 1.0, True
            return float(max(0, math.ceil(when - time.time()))), True
        if reset.isascii() and reset.isdigit():
            return float(max(0, math.ceil(int(reset) - time.time()))), True
        return 0.1 * 2**self._retries_done, False

    def _api(self, kind: str, what: str, call: Callable[[], T],
             conflict: Callable[[int, str], bool] | None = None) -> T:
        """One logical API call: counted under kind, errors turned into mlgate's (conflict
        picks the answers that mean "someone else changed it first")."""
        import gitlab
        import requests

        self._kind, self._waited, self._retries_done, self._retry_pending = kind, 0.0, 0, False
        try:
            return call()
        except _WaitBudgetExceeded as exc:
            raise ServiceError(self._scrub(
                f"GitLab answered {exc.status} to {what} in {self.project_path} and asked to "
                f"wait {exc.wait:.0f}s more, beyond the {self.max_wait:.0f}s budget")) from None
        except gitlab.exceptions.GitlabError as exc:
            code = exc.response_code or 0
            message = self._message(exc)
            if conflict is not None and conflict(code, message):
                raise Conflict(self._scrub(f"{what}: {message}")) from None
            raise self._service_error(code, message, what) from None
        except requests.RequestException as exc:
            raise ServiceError(self._scrub(
                f"cannot reach GitLab at {self.api_url} ({what}): {type(exc).__name__}")) from None

    def _message(self, exc: Exception) -> str:
        raw = getattr(exc, "error_message", "") or ""
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        return self._scrub(" ".join(text.split()))[:300]

    def _service_error(self, code: int, message: str, what: str) -> ServiceError:
        where = self.project_path
        if code == 401:
            text = (f"GitLab refused the token (401) while trying to {what}: it is unknown, "
                    "expired or revoked")
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
        commit = self._api("commit", f"commit {len(changes)} file(s) to {branch}",
                           lambda: project.commits.create(data, **self._call_opts()),
                           conflict=_is_commit_conflict)
        parents = list(getattr(commit, "parent_ids", None) or [])
        self.last_parent = parents[0] if parents else None
        return str(commit.id)

    # -- merge requests -----------------------------------------------------------------------

    def open_or_update_request(self, spec: ChangeRequestSpec) -> ChangeRequestResult:
        """Update the open MR source -> target in place (or create it), close the MRs it
        supersedes, and turn on merge-when-pipeline-succeeds when asked."""
        self.auto_merge_problem = None
        opened = self._open_mrs()
        reviewer_ids = [self._user_id(name) for name in spec.reviewers]
        mine = _same_branches(opened, spec)
        if mine is None:
            mr, created = self._create_mr(spec, reviewer_ids), True
        else:
            mr, created = self._update_mr(mine, spec, reviewer_ids), False
        iid = int(mr["iid"])
        superseded = self._close_superseded(opened, spec, iid)
        auto = self._enable_auto_merge(iid) if spec.auto_merge else False
        return ChangeRequestResult(url=str(mr.get("web_url", "")), number=iid, created=created,
                                   superseded=superseded, auto_merge=auto)

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
        mr_obj = project.mergerequests.get(number, lazy=True)
        self._api("note", f"comment on merge request !{number}",
                  lambda: mr_obj.notes.create({"body": note}, **self._call_opts()))
        self._api("mr-close", f"close merge request !{number}",
                  lambda: project.mergerequests.update(number, {"state_event": "close"},
                                                       **self._call_opts()))

    def _enable_auto_merge(self, iid: int) -> bool:
        """PUT .../merge with merge_when_pipeline_succeeds (GitLab < 17.11) and auto_merge (its
        successor); GitLab ignores the one it does not know. A 405/406/409/422 (not mergeable
        yet, e.g. no pipeline; or conflicts) leaves the MR open: False, and the reason kept in
        auto_merge_problem. Mergeable and no pipeline running: GitLab merges at once (True)."""
        path = f"/projects/{quote(self.project_path, safe='')}/merge_requests/{iid}/merge"
        body = {"merge_when_pipeline_succeeds": True, "auto_merge": True}
        try:
            answer = self._api("mr-merge", f"enable auto-merge on merge request !{iid}",
                               lambda: self._gl.http_put(path, post_data=body,
                                                         **self._call_opts()),
                               conflict=lambda code, _msg: code in _AUTO_MERGE_REFUSALS)
        except Conflict as refusal:
            self.auto_merge_problem = str(refusal)
            return False
        data = answer if isinstance(answer, dict) else {}
        return bool(data.get("merge_when_pipeline_succeeds") or data.get("auto_merge_enabled")
                    or data.get("state") == "merged")


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
