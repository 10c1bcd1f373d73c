"""A GitLab REST API (v4) stand-in on 127.0.0.1, backed by real bare git repositories.

Why a stand-in at all: no GitLab can run here, and python-gitlab has to be exercised for real --
its URL encoding of project paths, its JSON bodies, its pagination, its 429/5xx retry loop. So
this server speaks the endpoints mlgate uses as GitLab's REST documentation (and, where the
documentation is vague, GitLab's source) describes them, errors included:

- ``POST /projects/:id/repository/commits`` validates ``last_commit_id`` the way current GitLab's
  ``Files::BaseService#file_has_changed?`` does: the last commit that touched the path on the
  branch is compared with the last commit that touched it as of ``last_commit_id``; a difference
  is ``400 {"message": "The file has changed since you started editing it: <path>"}``. ``create``
  of an existing file and ``update``/``delete``/``chmod`` of a missing one are 400 with Gitaly's
  wording. The branch moves with ``git update-ref <ref> <new> <old>`` (a compare-and-swap), so
  a commit can never overwrite a concurrent one.
- merge requests (list with filters and pagination, create with the 409 for a duplicate source
  branch, get, update with ``labels``/``add_labels``/``reviewer_ids``/``state_event``, merge with
  ``merge_when_pipeline_succeeds``/``auto_merge``), notes, ``users?username=``, branches.
- auth through ``PRIVATE-TOKEN``, ``JOB-TOKEN`` or ``Authorization: Bearer``: no or an unknown
  token is 401, a project the token may not see is 404, a write with a read-only token is 403.
- fault injection: the next N (matching) requests answer 5xx, or 429 with ``Retry-After``; every
  request is logged so tests can count API calls.

The ways the real service fails that a happy-path stand-in hides, each switchable per test:

- **late pipelines** (``pipeline_delay``): GitLab creates an MR's pipeline asynchronously after
  the push, so ``head_pipeline`` is null for the next N single-MR reads after the source branch
  moves (gitlab-org/gitlab#353984: "Marking a MR for Merge-When-Pipeline-Succeeds fails directly
  after creating the MR"), then appears as ``mr_pipeline`` (``created``/``running``). A project
  with ``mr_pipeline=None`` runs no pipelines at all (``jobs_enabled: false``).
- **GitLab before ``auto_merge``** (``auto_merge_param=False``, i.e. < 17.11): the merge endpoint
  knows only ``merge_when_pipeline_succeeds``; with no active pipeline it answers
  ``405 {"message": "405 Method Not Allowed"}`` (gitlab-org/gitlab#217710, #355455) unless the
  head pipeline already succeeded. Current GitLab merges a mergeable MR without a pipeline at once.
- **conflicts**: an MR with ``has_conflicts`` is never set to auto-merge; the merge endpoint
  answers 405 when no pipeline is active (gitlab-org/gitlab#364102), else ``406 Branch cannot be
  merged`` (before ``auto_merge``) or ``422`` (current).
- **429 without ``Retry-After``** (``rate_limit_next(retry_after=None)``): GitLab's application
  rate limits (notes, users) answer ``{"message": {"error": "This endpoint has been requested too
  many times. Try again later."}}`` with at most ``RateLimit-Reset``/``RateLimit-ResetTime``.
- **protected branches** (``protect_branch``): the commits API answers
  ``403 {"message": "403 Forbidden - You are not allowed to push into this branch"}``
  (``Commits::CreateService#validate_permissions!``) unless the token's user may push there.
- **job tokens**: ``JOB-TOKEN`` authenticates only the endpoints GitLab's "Job token access" list
  names (of those served here: ``GET .../repository/branches/:branch`` and ``GET
  .../repository/commits/:sha``); anywhere else the token is not looked at and the request is
  ``401 {"message": "401 Unauthorized"}`` -- creating commits and merge requests included.
- **issues and pipelines** (mlgate verify): ``POST /projects/:id/issues`` (``issue_type``
  incident; labels that do not exist are created; 403 when the project's issues are disabled)
  and ``GET`` to list them; ``POST /projects/:id/pipeline`` with ``variables``, refused as
  GitLab's pipeline creation chain does -- 400 ``{"message": {"base": [...]}}`` with
  "Insufficient permissions to set pipeline variables" (``pipeline_variables_allowed``),
  "Duplicate variable name: X", "Insufficient permissions for protected ref 'main'",
  "Reference not found", "Missing CI config file" (``ci_config``), the rules message
  (``pipeline_rules_skip``) -- and ``GET /projects/:id/pipelines`` to list them.
- **lost answers** (``lose_answer_next``): the request is served for real (the commit lands, the
  MR or note is created), then the client gets a 502/504 as if a proxy timed out.

Everything the API writes lands in a bare repository (``hash-object``, ``read-tree`` and
``update-index`` on a temporary index, ``write-tree``, ``commit-tree``, ``update-ref``), so tests
check the result with ``git clone`` rather than by trusting the stand-in's own bookkeeping.

Usage::

    with GitLabApiServer(tmp_path / "gitlab", tokens={"tok": "write"}) as server:
        project = server.create_project("group/config", {"apps/churn/values.yaml": "tag: v1\\n"})
        gl = gitlab.Gitlab(server.url, private_token="tok")
        ...
        subprocess.run(["git", "clone", str(project.git_dir), "c"], check=True)
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs, quote, unquote, urlencode

try:  # only the fixture below needs pytest; bench/promote.py imports this module without it
    import pytest
except ImportError:
    pytest = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["GitLabApiServer", "Grant", "LoggedRequest", "Project", "gitlab_api"]

Rights = Literal["read", "write"]
ZERO_SHA = "0" * 40
_GIT = shutil.which("git") or "git"
_ENV_KEEP = ("PATH", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
_PROJECT_PATH = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)+$")
_ACTIONS = ("create", "update", "move", "delete", "chmod")
_CHECKED_ACTIONS = ("update", "move", "delete", "chmod")  # Files::MultiService UPDATE_FILE_ACTIONS
_MR_UPDATE_KEYS = (
    "title", "description", "labels", "add_labels", "remove_labels", "reviewer_ids",
    "assignee_id", "assignee_ids", "milestone_id", "remove_source_branch", "state_event",
    "target_branch", "discussion_locked", "squash",
)


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _git_env() -> dict[str, str]:
    """Server-side git sees nothing of the user's or the test's git configuration."""
    env = {k: os.environ[k] for k in _ENV_KEEP if k in os.environ}
    env.setdefault("PATH", os.defpath)
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, HOME=os.devnull,
               GIT_TERMINAL_PROMPT="0")
    return env


class ApiError(Exception):
    """An answer other than 2xx, shaped like GitLab's (``{"message": ...}`` or ``{"error": ...}``)."""

    def __init__(self, status: int, message: Any, *, key: str = "message",
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.body = {key: message}
        self.headers = dict(headers or {})


# -- git plumbing -----------------------------------------------------------------------------


class _Git:
    """git on one bare repository, through argument lists only."""

    def __init__(self, git_dir: Path) -> None:
        self.git_dir = git_dir

    def run(self, *args: str, stdin: bytes | None = None, env: Mapping[str, str] | None = None,
            check: bool = True) -> subprocess.CompletedProcess[bytes]:
        full_env = {**_git_env(), **(env or {})}
        proc = subprocess.run([_GIT, "--git-dir", str(self.git_dir), *args], input=stdin,
                              capture_output=True, env=full_env, check=False)
        if check and proc.returncode != 0:
            raise RuntimeError(f"git {args[0]} failed: {proc.stderr.decode(errors='replace')}")
        return proc

    def out(self, *args: str, **kwargs: Any) -> str:
        return self.run(*args, **kwargs).stdout.decode().strip()

    def rev(self, ref: str) -> str | None:
        proc = self.run("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
        return proc.stdout.decode().strip() if proc.returncode == 0 else None

    def branch_head(self, branch: str) -> str | None:
        if not branch or branch.startswith("-"):
            return None
        return self.rev(f"refs/heads/{branch}")

    def tree_entries(self, commit: str) -> dict[str, tuple[str, str]]:
        """path -> (mode, blob sha) of every file in the commit."""
        raw = self.run("ls-tree", "-r", "-z", "--full-tree", commit).stdout.decode()
        entries: dict[str, tuple[str, str]] = {}
        for record in filter(None, raw.split("\0")):
            meta, path = record.split("\t", 1)
            mode, _kind, sha = meta.split(" ")
            entries[path] = (mode, sha)
        return entries

    def last_commit_for_path(self, ref: str, path: str) -> str | None:
        if self.rev(ref) is None:
            return None
        out = self.out("--literal-pathspecs", "log", "-1", "--format=%H", ref, "--", path)
        return out or None

    def hash_blobs(self, contents: list[bytes]) -> list[str]:
        """Write every content as a blob with one `git hash-object --stdin-paths`."""
        if not contents:
            return []
        with tempfile.TemporaryDirectory(prefix="glapi-blobs-") as tmp:
            paths = []
            for number, content in enumerate(contents):
                path = Path(tmp, str(number))
                path.write_bytes(content)
                paths.append(str(path))
            listing = ("\n".join(paths) + "\n").encode()
            out = self.out("hash-object", "-w", "--no-filters", "--stdin-paths", stdin=listing)
        return out.split("\n")

    def write_tree(self, base: str | None, changes: Mapping[str, tuple[str, str] | None]) -> str:
        """The tree of base with changes applied (None deletes), built on a temporary index."""
        with tempfile.TemporaryDirectory(prefix="glapi-index-") as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp, "index"))}
            if base:
                self.run("read-tree", base, env=env)
            records = []
            for path, entry in changes.items():
                mode, sha = entry if entry else ("0", ZERO_SHA)
                records.append(f"{mode} {sha}\t{path}\0")
            if records:
                self.run("update-index", "-z", "--index-info", stdin="".join(records).encode(),
                         env=env)
            return self.out("write-tree", env=env)

    def commit_tree(self, tree: str, parents: list[str], message: str,
                    author: tuple[str, str], committer: tuple[str, str]) -> str:
        args = ["commit-tree", tree]
        for parent in parents:
            args += ["-p", parent]
        env = {"GIT_AUTHOR_NAME": author[0], "GIT_AUTHOR_EMAIL": author[1],
               "GIT_COMMITTER_NAME": committer[0], "GIT_COMMITTER_EMAIL": committer[1]}
        return self.out(*args, stdin=message.encode(), env=env)

    def update_ref(self, branch: str, new: str, old: str | None) -> bool:
        """Compare-and-swap: moves the branch only if it still points at old (None: absent)."""
        proc = self.run("update-ref", f"refs/heads/{branch}", new, old or ZERO_SHA, check=False)
        return proc.returncode == 0

    def commit_info(self, sha: str) -> dict[str, Any]:
        fmt = "%H%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B"
        fields = self.run("show", "-s", f"--format={fmt}", sha).stdout.decode().split("\0")
        message = fields[8].rstrip("\n") + "\n" if fields[8].strip() else ""
        return {
            "id": fields[0], "short_id": fields[0][:8], "parent_ids": fields[1].split(),
            "title": message.split("\n", 1)[0], "message": message,
            "author_name": fields[2], "author_email": fields[3], "authored_date": fields[4],
            "committer_name": fields[5], "committer_email": fields[6],
            "committed_date": fields[7], "created_at": fields[7],
        }

    def stats(self, parent: str | None, sha: str) -> dict[str, int]:
        if parent is None:
            return {"additions": 0, "deletions": 0, "total": 0}
        out = self.out("diff", "--numstat", parent, sha)
        adds = dels = 0
        for line in filter(None, out.split("\n")):
            added, deleted, _ = line.split("\t", 2)
            adds += int(added) if added.isdigit() else 0
            dels += int(deleted) if deleted.isdigit() else 0
        return {"additions": adds, "deletions": dels, "total": adds + dels}

    def merge_tree(self, ours: str, theirs: str) -> str | None:
        """The merged tree, or None on conflicts (git >= 2.38 `merge-tree --write-tree`)."""
        proc = self.run("merge-tree", "--write-tree", ours, theirs, check=False)
        if proc.returncode != 0:
            return None
        return proc.stdout.decode().split("\n", 1)[0].strip()


# -- model --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Grant:
    """What a token may do: read or write, as a user, on every project or only some."""

    rights: Rights = "write"
    username: str = "mlgate-bot"
    projects: frozenset[str] | None = None
    maintainer: bool = False  # may push to branches protected for Maintainers


@dataclass
class Project:
    id: int
    path: str
    git_dir: Path
    default_branch: str
    mrs: dict[int, dict[str, Any]] = field(default_factory=dict)
    notes: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    next_iid: int = 1
    protected: dict[str, str] = field(default_factory=dict)  # branch -> who may push
    releases: dict[str, dict[str, Any]] = field(default_factory=dict)  # tag_name -> release
    # issues and pipelines (mlgate verify): switch these per test
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    next_issue_iid: int = 1
    labels: list[str] = field(default_factory=list)
    issues_enabled: bool = True  # False: the project's issues are disabled (403)
    pipelines: dict[int, dict[str, Any]] = field(default_factory=dict)
    ci_config: bool = True  # False: no .gitlab-ci.yml ("Missing CI config file")
    pipeline_rules_skip: bool = False  # workflow:rules keep API pipelines out
    pipeline_variables_allowed: bool = True  # False: the role may not set pipeline variables

    @property
    def git(self) -> _Git:
        return _Git(self.git_dir)


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str  # raw URL path, e.g. /api/v4/projects/group%2Fconfig/repository/commits
    query: str
    status: int
    auth: str  # private / job / bearer / none
    injected: bool  # answered by a fault from fail_next() / rate_limit_next() / lose_answer_next()


@dataclass
class _Fault:
    remaining: int
    status: int
    retry_after: int | None
    method: str | None
    path_contains: str | None
    reset_in: int | None = None  # RateLimit-Reset / RateLimit-ResetTime, seconds from now
    lost: bool = False  # served for real, then the answer replaced by status

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path_contains is None or self.path_contains in unquote(path)
        )


@dataclass
class _Request:
    """What a route handler sees."""

    method: str
    query: dict[str, list[str]]
    body: dict[str, Any]
    grant: Grant
    base_url: str
    raw_path: str

    def param(self, name: str, default: Any = None) -> Any:
        if name in self.body:
            return self.body[name]
        values = self.query.get(name)
        return values[-1] if values else default

    def list_param(self, name: str) -> list[Any] | None:
        for key in (name, f"{name}[]"):
            if key in self.body:
                value = self.body[key]
                return value if isinstance(value, list) else [value]
            if key in self.query:
                return self.query[key]
        return None


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("true", "1", "yes"))


def _csv(value: Any) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    return [str(item).strip() for item in items if str(item).strip()]


# -- the server -----------------------------------------------------------------------------------


class GitLabApiServer:
    """The stand-in. Use as a context manager; ``url`` is what python-gitlab takes as its URL."""

    def __init__(self, root: Path, *, tokens: Mapping[str, Rights | Grant] | None = None,
                 job_tokens: Mapping[str, Rights | Grant] | None = None,
                 mr_pipeline: str | None = "running", pipeline_delay: int = 0,
                 auto_merge_param: bool = True) -> None:
        self.root = Path(root)
        self.tokens = {k: self._grant(v) for k, v in (tokens or {"token": "write"}).items()}
        self.job_tokens = {k: self._grant(v) for k, v in (job_tokens or {}).items()}
        self.mr_pipeline = mr_pipeline  # head pipeline status of a new MR (None: no pipeline)
        self.pipeline_delay = pipeline_delay  # single-MR reads after a push with no pipeline yet
        self.auto_merge_param = auto_merge_param  # False: GitLab < 17.11 (MWPS only)
        self.projects: dict[str, Project] = {}
        self.users: dict[str, int] = {}
        self.log: list[LoggedRequest] = []
        self._faults: list[_Fault] = []
        self._lock = threading.RLock()
        self._ids = iter(range(1, 10**9))
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        for grant in [*self.tokens.values(), *self.job_tokens.values()]:
            self.add_user(grant.username)

    @staticmethod
    def _grant(value: Rights | Grant) -> Grant:
        return value if isinstance(value, Grant) else Grant(rights=value)

    # -- lifecycle --------------------------------------------------------------------------

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self._httpd = _HttpServer(self)
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,),
                                        daemon=True, name="gitlab-api-standin")
        self._thread.start()

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    # -- setup and inspection for tests -----------------------------------------------------

    def add_user(self, username: str) -> int:
        with self._lock:
            if username not in self.users:
                self.users[username] = 100 + len(self.users)
            return self.users[username]

    def create_project(self, path: str, files: Mapping[str, str | bytes] | None = None, *,
                       default_branch: str = "main") -> Project:
        """A project whose bare repository holds one commit with files on default_branch."""
        if not _PROJECT_PATH.match(path):
            raise ValueError(f"not a GitLab project path: {path!r}")
        git_dir = self.root / f"{path}.git"
        git_dir.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([_GIT, "init", "--bare", "-q", "--initial-branch", default_branch,
                        str(git_dir)], check=True, env=_git_env())
        project = Project(id=next(self._ids), path=path, git_dir=git_dir,
                          default_branch=default_branch)
        with self._lock:
            self.projects[path] = project
        self.commit(path, default_branch, files or {"README.md": "config\n"}, "initial commit")
        return project

    def commit(self, path: str, branch: str, files: Mapping[str, str | bytes | None],
               message: str = "direct commit", *, executable: frozenset[str] = frozenset()) -> str:
        """Commit straight to a branch, as another promotion or a human would (None deletes)."""
        project = self.projects[path]
        git = project.git
        with self._lock:
            old = git.branch_head(branch)
            contents = [c.encode() if isinstance(c, str) else c for c in files.values()
                        if c is not None]
            blobs = iter(git.hash_blobs(contents))
            changes: dict[str, tuple[str, str] | None] = {}
            for name, content in files.items():
                mode = "100755" if name in executable else "100644"
                changes[name] = None if content is None else (mode, next(blobs))
            tree = git.write_tree(old, changes)
            who = ("Someone Else", "someone@example.com")
            sha = git.commit_tree(tree, [old] if old else [], message, who, who)
            if not git.update_ref(branch, sha, old):
                raise RuntimeError(f"{branch} moved while committing")
            return sha

    def create_branch(self, path: str, branch: str, ref: str) -> str:
        git = self.projects[path].git
        with self._lock:
            sha = git.rev(ref)
            assert sha and git.update_ref(branch, sha, None), f"cannot create {branch}"
            return sha

    def head(self, path: str, branch: str) -> str | None:
        return self.projects[path].git.branch_head(branch)

    def merge_request(self, path: str, iid: int) -> dict[str, Any]:
        with self._lock:
            project = self.projects[path]
            return self._mr_json(project, project.mrs[iid], self.url, single=True)

    def notes(self, path: str, iid: int) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.projects[path].notes.get(iid, []))

    def finish_pipeline(self, path: str, iid: int, status: str = "success") -> None:
        """The MR's head pipeline ends; a merge-when-pipeline-succeeds MR merges on success."""
        with self._lock:
            project = self.projects[path]
            mr = project.mrs[iid]
            if self._head_pipeline(project, mr) is not None:
                mr["pipeline"]["status"] = status
            if mr["mwps"]:
                if status == "success":
                    self._merge(project, mr)
                else:
                    mr["mwps"] = False

    def fail_next(self, count: int = 1, status: int = 503, *, method: str | None = None,
                  path_contains: str | None = None) -> None:
        """The next count matching requests answer status (a 5xx) instead of being served."""
        with self._lock:
            self._faults.append(_Fault(count, status, None, method, path_contains))

    def rate_limit_next(self, count: int = 1, retry_after: int | None = 1, *,
                        method: str | None = None, path_contains: str | None = None,
                        reset_in: int | None = None) -> None:
        """The next count matching requests answer 429: with Retry-After (and RateLimit-Reset)
        as Rack::Attack does; with retry_after=None as GitLab's application rate limits (notes,
        users) do -- no Retry-After, RateLimit-Reset/-ResetTime only when reset_in is given."""
        with self._lock:
            self._faults.append(_Fault(count, 429, retry_after, method, path_contains,
                                       reset_in=reset_in))

    def lose_answer_next(self, count: int = 1, status: int = 502, *, method: str | None = None,
                         path_contains: str | None = None) -> None:
        """The next count matching requests are served for real (the write lands), then answered
        with status (502/504), as when a proxy gives up on a slow GitLab."""
        with self._lock:
            self._faults.append(_Fault(count, status, None, method, path_contains, lost=True))

    def protect_branch(self, path: str, branch: str, push: str = "no_one") -> None:
        """Protect branch: push "no_one" (mlgate's usual config repo: merge requests only) or
        "maintainers" (tokens whose Grant has maintainer=True may push)."""
        if push not in ("no_one", "maintainers"):
            raise ValueError(f"unknown push access level {push!r}")
        with self._lock:
            self.projects[path].protected[branch] = push

    def requests(self, method: str | None = None, path_contains: str | None = None,
                 *, served_only: bool = False) -> list[LoggedRequest]:
        with self._lock:
            return [r for r in self.log
                    if (method is None or r.method == method)
                    and (path_contains is None or path_contains in unquote(r.path))
                    and not (served_only and r.injected)]

    def clear_log(self) -> None:
        with self._lock:
            self.log.clear()

    # -- request entry point ------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, query: str, headers: Mapping[str, str],
               body: bytes) -> tuple[int, dict[str, str], bytes]:
        """Answer one request: (status, headers, body). Called by the HTTP handler."""
        with self._lock:
            auth_kind, grant = self._authenticate(headers)
            fault = self._take_fault(method, raw_path)
            if fault is None or fault.lost:
                status, out_headers, payload = self._serve(method, raw_path, query, headers,
                                                           body, grant, auth_kind)
            if fault is not None:
                status, out_headers, payload = self._fault_answer(fault)
            self.log.append(LoggedRequest(method, raw_path, query, status, auth_kind,
                                          fault is not None))
            return status, out_headers, payload

    def _authenticate(self, headers: Mapping[str, str]) -> tuple[str, Grant | None]:
        lowered = {k.lower(): v for k, v in headers.items()}
        if "private-token" in lowered:
            return "private", self.tokens.get(lowered["private-token"])
        if "job-token" in lowered:
            return "job", self.job_tokens.get(lowered["job-token"])
        bearer = lowered.get("authorization", "")
        if bearer.lower().startswith("bearer "):
            return "bearer", self.tokens.get(bearer[7:].strip())
        return "none", None

    def _take_fault(self, method: str, raw_path: str) -> _Fault | None:
        for fault in self._faults:
            if fault.remaining > 0 and fault.matches(method, raw_path):
                fault.remaining -= 1
                return fault
        return None

    @staticmethod
    def _fault_answer(fault: _Fault) -> tuple[int, dict[str, str], bytes]:
        if fault.status == 429 and fault.retry_after is None:
            return GitLabApiServer._application_limit(fault.reset_in)
        if fault.status == 429:
            reset = int(time.time()) + (fault.retry_after or 1)
            headers = {"Content-Type": "text/plain", "Retry-After": str(fault.retry_after),
                       "RateLimit-Name": "throttle_authenticated_api", "RateLimit-Limit": "60",
                       "RateLimit-Observed": "61", "RateLimit-Remaining": "0",
                       "RateLimit-Reset": str(reset)}
            return 429, headers, b"Retry later\n"
        if fault.status == 500:
            body = json.dumps({"message": "500 Internal Server Error"}).encode()
            return 500, {"Content-Type": "application/json"}, body
        html = f"<html><body><h1>{fault.status} Error</h1></body></html>\n".encode()
        return fault.status, {"Content-Type": "text/html"}, html

    @staticmethod
    def _application_limit(reset_in: int | None) -> tuple[int, dict[str, str], bytes]:
        """Gitlab::ApplicationRateLimiter's answer (render_api_error! with an error hash): no
        Retry-After; RateLimit-Reset (epoch seconds) and -ResetTime (HTTP date) only sometimes."""
        headers = {"Content-Type": "application/json"}
        if reset_in is not None:
            when = int(time.time()) + reset_in
            headers.update({"RateLimit-Reset": str(when), "RateLimit-ResetTime":
                            datetime.fromtimestamp(when, timezone.utc).strftime(
                                "%a, %d %b %Y %H:%M:%S GMT")})
        body = {"message": {"error": "This endpoint has been requested too many times. "
                                     "Try again later."}}
        return 429, headers, json.dumps(body).encode()

    def _serve(self, method: str, raw_path: str, query: str, headers: Mapping[str, str],
               body: bytes, grant: Grant | None,
               auth_kind: str = "private") -> tuple[int, dict[str, str], bytes]:
        extra: dict[str, str] = {}
        try:
            if grant is None or (auth_kind == "job" and not self._job_token_route(method,
                                                                                  raw_path)):
                raise ApiError(401, "401 Unauthorized")
            request = _Request(method, parse_qs(query, keep_blank_values=True),
                               self._parse_body(headers, body), grant,
                               self._base_url(headers), raw_path)
            status, payload = self._route(request, extra)
        except ApiError as err:
            status, payload = err.status, err.body
            extra.update(err.headers)
        data = b"" if payload is None else json.dumps(payload).encode()
        return status, {"Content-Type": "application/json", **extra}, data

    @staticmethod
    def _parse_body(headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
        if not body:
            return {}
        ctype = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
        try:
            if "json" in ctype:
                parsed = json.loads(body)
                if not isinstance(parsed, dict):
                    raise ApiError(400, "body must be a JSON object", key="error")
                return parsed
            flat = parse_qs(body.decode(), keep_blank_values=True)
            return {k: v if k.endswith("[]") else v[-1] for k, v in flat.items()}
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, f"invalid request body: {exc}", key="error") from exc

    def _base_url(self, headers: Mapping[str, str]) -> str:
        host = {k.lower(): v for k, v in headers.items()}.get("host")
        return f"http://{host}" if host else self.url

    # -- routing ----------------------------------------------------------------------------

    _ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = tuple(
        (verb, re.compile(f"^/api/v4{pattern}$"), name)
        for verb, pattern, name in (
            ("GET", r"/user", "get_current_user"),
            ("GET", r"/users", "list_users"),
            ("GET", r"/projects/([^/]+)", "get_project"),
            ("GET", r"/projects/([^/]+)/repository/branches/([^/]+)", "get_branch"),
            ("GET", r"/projects/([^/]+)/repository/files/([^/]+)", "get_file"),
            ("POST", r"/projects/([^/]+)/repository/commits", "create_commit"),
            ("GET", r"/projects/([^/]+)/repository/commits/([0-9a-fA-F]{4,40})", "get_commit"),
            ("GET", r"/projects/([^/]+)/repository/tags/([^/]+)", "get_tag"),
            ("POST", r"/projects/([^/]+)/repository/tags", "create_tag"),
            ("POST", r"/projects/([^/]+)/releases", "create_release"),
            ("GET", r"/projects/([^/]+)/merge_requests", "list_mrs"),
            ("POST", r"/projects/([^/]+)/merge_requests", "create_mr"),
            ("GET", r"/projects/([^/]+)/merge_requests/(\d+)", "get_mr"),
            ("PUT", r"/projects/([^/]+)/merge_requests/(\d+)", "update_mr"),
            ("PUT", r"/projects/([^/]+)/merge_requests/(\d+)/merge", "merge_mr"),
            ("GET", r"/projects/([^/]+)/merge_requests/(\d+)/notes", "list_notes"),
            ("POST", r"/projects/([^/]+)/merge_requests/(\d+)/notes", "create_note"),
            ("GET", r"/projects/([^/]+)/issues", "list_issues"),
            ("POST", r"/projects/([^/]+)/issues", "create_issue"),
            ("GET", r"/projects/([^/]+)/pipelines", "list_pipelines"),
            ("POST", r"/projects/([^/]+)/pipeline", "create_pipeline"),
        )
    )

    # "Job token access" (docs.gitlab.com/ci/jobs/ci_job_token/#job-token-access): of the routes
    # served here, a job token authenticates only these; elsewhere it is not even looked at.
    _JOB_TOKEN_ROUTES = frozenset({"get_branch", "get_commit"})

    def _job_token_route(self, method: str, raw_path: str) -> bool:
        return any(verb == method and pattern.match(raw_path) and name in self._JOB_TOKEN_ROUTES
                   for verb, pattern, name in self._ROUTES)

    def _route(self, request: _Request, extra: dict[str, str]) -> tuple[int, Any]:
        path_known = False
        for verb, pattern, name in self._ROUTES:
            match = pattern.match(request.raw_path)
            if not match:
                continue
            path_known = True
            if verb != request.method:
                continue
            args = [unquote(group) for group in match.groups()]
            if args and name not in ("list_users", "get_current_user"):
                project = self._project(args[0], request.grant)
                if request.method != "GET" and request.grant.rights != "write":
                    raise ApiError(403, "403 Forbidden")
                return getattr(self, f"_r_{name}")(request, extra, project, *args[1:])
            return getattr(self, f"_r_{name}")(request, extra)
        if path_known:
            raise ApiError(405, "405 Method Not Allowed")
        raise ApiError(404, "404 Not Found", key="error")

    def _project(self, ident: str, grant: Grant) -> Project:
        project = self.projects.get(ident)
        if project is None and ident.isdigit():
            project = next((p for p in self.projects.values() if p.id == int(ident)), None)
        if project is None or (grant.projects is not None and project.path not in grant.projects):
            raise ApiError(404, "404 Project Not Found")
        return project

    # -- users, projects, branches ------------------------------------------------------------

    def _user_json(self, username: str) -> dict[str, Any]:
        return {"id": self.users[username], "username": username, "name": username.title(),
                "state": "active", "locked": False, "avatar_url": None,
                "web_url": f"{self.url}/{username}"}

    def _r_get_current_user(self, request: _Request, extra: dict[str, str]) -> tuple[int, Any]:
        return 200, self._user_json(request.grant.username)

    def _r_list_users(self, request: _Request, extra: dict[str, str]) -> tuple[int, Any]:
        wanted = request.param("username")
        names = sorted(self.users) if wanted is None else [
            n for n in self.users if n.lower() == str(wanted).lower()]
        return 200, self._paginate(request, extra, [self._user_json(n) for n in names])

    def _r_get_project(self, request: _Request, extra: dict[str, str],
                       project: Project) -> tuple[int, Any]:
        name = project.path.rsplit("/", 1)[1]
        namespace = project.path.rsplit("/", 1)[0]
        level = 30 if request.grant.rights == "write" else 20
        return 200, {
            "id": project.id, "name": name, "path": name, "path_with_namespace": project.path,
            "name_with_namespace": project.path.replace("/", " / "),
            "default_branch": project.default_branch, "visibility": "private",
            "jobs_enabled": self.mr_pipeline is not None, "ci_config_path": None,
            "builds_access_level": "enabled" if self.mr_pipeline is not None else "disabled",
            "archived": False, "empty_repo": False,
            "web_url": f"{self.url}/{project.path}",
            "http_url_to_repo": f"{self.url}/{project.path}.git",
            "namespace": {"id": 1, "name": namespace, "path": namespace.rsplit("/", 1)[-1],
                          "kind": "group", "full_path": namespace},
            "permissions": {"project_access": {"access_level": level}, "group_access": None},
        }

    def _r_get_branch(self, request: _Request, extra: dict[str, str], project: Project,
                      branch: str) -> tuple[int, Any]:
        sha = project.git.branch_head(branch)
        if sha is None:
            raise ApiError(404, "404 Branch Not Found")
        return 200, {
            "name": branch, "merged": False, "protected": branch in project.protected,
            "default": branch == project.default_branch, "developers_can_push": False,
            "developers_can_merge": False, "can_push": request.grant.rights == "write",
            "web_url": f"{self.url}/{project.path}/-/tree/{quote(branch, safe='')}",
            "commit": self._commit_json(project, sha),
        }

    def _r_get_file(self, request: _Request, extra: dict[str, str], project: Project,
                    file_path: str) -> tuple[int, Any]:
        """GET .../repository/files/:file_path?ref= (ref is required)."""
        ref = request.param("ref")
        if not ref:
            raise ApiError(400, "ref is missing", key="error")
        git = project.git
        commit = git.branch_head(str(ref)) or git.rev(str(ref))
        entry = git.tree_entries(commit).get(file_path) if commit else None
        if entry is None:
            raise ApiError(404, "404 File Not Found")
        content = git.run("cat-file", "blob", entry[1]).stdout
        return 200, {"file_name": file_path.rsplit("/", 1)[-1], "file_path": file_path,
                     "size": len(content), "encoding": "base64",
                     "content": base64.b64encode(content).decode(), "ref": str(ref),
                     "blob_id": entry[1], "commit_id": commit,
                     "last_commit_id": git.last_commit_for_path(commit, file_path)}

    def _commit_json(self, project: Project, sha: str) -> dict[str, Any]:
        info = project.git.commit_info(sha)
        info.update(web_url=f"{self.url}/{project.path}/-/commit/{sha}", trailers={},
                    extended_trailers={})
        return info

    def _r_get_commit(self, request: _Request, extra: dict[str, str], project: Project,
                      sha: str) -> tuple[int, Any]:
        full = project.git.rev(sha)
        if full is None:
            raise ApiError(404, "404 Commit Not Found")
        info = self._commit_json(project, full)
        parents = info["parent_ids"]
        info.update(stats=project.git.stats(parents[0] if parents else None, full),
                    status=None, project_id=project.id, last_pipeline=None)
        return 200, info

    # -- tags and releases (docs.gitlab.com/api/tags, /api/releases) ------------------------------

    def _tag_json(self, project: Project, name: str) -> dict[str, Any]:
        git = project.git
        target = git.out("rev-parse", f"refs/tags/{name}")
        kind = git.out("cat-file", "-t", target)
        message = ""
        if kind == "tag":  # annotated: the message is the tag object's
            message = git.out("cat-file", "tag", target).partition("\n\n")[2]
        release = project.releases.get(name)
        return {"name": name, "message": message, "target": target,
                "commit": self._commit_json(project, git.rev(f"refs/tags/{name}") or target),
                "release": {"tag_name": name, "description": release["description"]}
                if release else None,
                "protected": False, "created_at": _now() if kind == "tag" else None}

    def _r_get_tag(self, request: _Request, extra: dict[str, str], project: Project,
                   name: str) -> tuple[int, Any]:
        if project.git.run("rev-parse", "--verify", "--quiet", f"refs/tags/{name}",
                           check=False).returncode != 0:
            raise ApiError(404, "404 Tag Not Found")
        return 200, self._tag_json(project, name)

    def _r_create_tag(self, request: _Request, extra: dict[str, str],
                      project: Project) -> tuple[int, Any]:
        """Tags::CreateService: 400 for a bad or taken name or an unknown ref; a message makes
        the tag annotated (tagger: the token's user)."""
        missing = [k for k in ("tag_name", "ref") if request.param(k) in (None, "")]
        if missing:
            raise ApiError(400, f"{', '.join(missing)} is missing", key="error")
        name, ref = str(request.param("tag_name")), str(request.param("ref"))
        git = project.git
        if git.run("check-ref-format", f"refs/tags/{name}", check=False).returncode != 0:
            raise ApiError(400, "Tag name invalid")
        if git.run("rev-parse", "--verify", "--quiet", f"refs/tags/{name}",
                   check=False).returncode == 0:
            raise ApiError(400, f"Tag {name} already exists")
        target = git.branch_head(ref) or git.rev(ref)
        if target is None:
            raise ApiError(400, f"Target {ref} is invalid")
        message = request.param("message")
        sha = target
        if message:
            user = request.grant.username
            text = (f"object {target}\ntype commit\ntag {name}\n"
                    f"tagger {user.title()} <{user}@example.com> {int(time.time())} +0000\n\n"
                    f"{str(message).rstrip()}\n")
            sha = git.out("mktag", stdin=text.encode())
        if git.run("update-ref", f"refs/tags/{name}", sha, ZERO_SHA, check=False).returncode:
            raise ApiError(400, f"Tag {name} already exists")
        return 201, self._tag_json(project, name)

    def _r_create_release(self, request: _Request, extra: dict[str, str],
                          project: Project) -> tuple[int, Any]:
        """Releases::CreateService: 409 "Release already exists"; a tag that does not exist is
        made from ref (422 "Ref is not specified" without one)."""
        name = request.param("tag_name")
        if name in (None, ""):
            raise ApiError(400, "tag_name is missing", key="error")
        name = str(name)
        if name in project.releases:
            raise ApiError(409, "Release already exists")
        git = project.git
        commit = git.rev(f"refs/tags/{name}")
        if commit is None:
            ref = request.param("ref")
            if not ref:
                raise ApiError(422, "Ref is not specified")
            commit = git.branch_head(str(ref)) or git.rev(str(ref))
            if commit is None:
                raise ApiError(400, f"Target {ref} is invalid")
            git.run("update-ref", f"refs/tags/{name}", commit, ZERO_SHA)
        user = request.grant.username
        now = _now()
        release = {"tag_name": name, "name": str(request.param("name") or name),
                   "description": str(request.param("description") or ""),
                   "created_at": now, "released_at": now}
        project.releases[name] = release
        page = f"{self.url}/{project.path}/-/releases/{quote(name, safe='')}"
        return 201, {**release, "description_html": None, "upcoming_release": False,
                     "author": self._user_json(user) if user in self.users else None,
                     "commit": self._commit_json(project, commit), "milestones": [],
                     "commit_path": f"/{project.path}/-/commit/{commit}",
                     "tag_path": f"/{project.path}/-/tags/{quote(name, safe='')}",
                     "assets": {"count": 0, "sources": [], "links": []}, "evidences": [],
                     "_links": {"self": page,
                                "edit_url": f"{page}/edit"}}

    # -- commits with several actions -----------------------------------------------------------

    def _r_create_commit(self, request: _Request, extra: dict[str, str],
                         project: Project) -> tuple[int, Any]:
        git = project.git
        branch, message, actions = self._commit_params(request)
        self._check_push_allowed(project, branch, request.grant)
        base, old = self._commit_base(request, project, branch)
        decoded = [self._decode_content(i, a) for i, a in enumerate(actions)]
        blobs = iter(git.hash_blobs([c for c in decoded if c is not None]))
        blob_of = [next(blobs) if c is not None else None for c in decoded]
        self._check_unchanged(git, branch, old, actions)
        changes = self._apply_actions(git.tree_entries(base), actions, blob_of)
        tree = git.write_tree(base, changes)
        user = request.grant.username
        committer = (user.title(), f"{user}@example.com")
        author = (str(request.param("author_name") or committer[0]),
                  str(request.param("author_email") or committer[1]))
        sha = git.commit_tree(tree, [base], message, author, committer)
        if not git.update_ref(branch, sha, old):
            raise ApiError(400, f"Could not update refs/heads/{branch}. "
                                "Please refresh and try again.")
        info = self._commit_json(project, sha)
        info.update(stats=git.stats(base, sha), status=None, project_id=project.id,
                    last_pipeline=None)
        return 201, info

    @staticmethod
    def _check_push_allowed(project: Project, branch: str, grant: Grant) -> None:
        """Commits::CreateService#validate_permissions! on a protected branch."""
        level = project.protected.get(branch)
        if level is None or (level == "maintainers" and grant.maintainer):
            return
        raise ApiError(403, "403 Forbidden - You are not allowed to push into this branch")

    @staticmethod
    def _commit_params(request: _Request) -> tuple[str, str, list[dict[str, Any]]]:
        missing = [k for k in ("branch", "commit_message", "actions")
                   if request.param(k) in (None, "")]
        if missing:
            raise ApiError(400, f"{', '.join(missing)} is missing", key="error")
        actions = request.param("actions")
        if not isinstance(actions, list) or not all(isinstance(a, dict) for a in actions):
            raise ApiError(400, "actions is invalid", key="error")
        for number, action in enumerate(actions):
            if action.get("action") not in _ACTIONS:
                raise ApiError(400, f"actions[{number}][action] does not have a valid value",
                               key="error")
            if not action.get("file_path"):
                raise ApiError(400, f"actions[{number}][file_path] is missing", key="error")
            for key in ("file_path", "previous_path"):
                value = action.get(key)
                if value is not None and not _safe_path(str(value)):
                    raise ApiError(400, f"Your changes could not be committed, because the "
                                        f"file path {value} is invalid")
        return str(request.param("branch")), str(request.param("commit_message")), actions

    @staticmethod
    def _commit_base(request: _Request, project: Project, branch: str) -> tuple[str, str | None]:
        """(parent commit, current branch head) following start_branch/start_sha/force."""
        git = project.git
        old = git.branch_head(branch)
        start_branch, start_sha = request.param("start_branch"), request.param("start_sha")
        force = _truthy(request.param("force"))
        moving_start = start_sha or (start_branch and start_branch != branch)
        if old is not None and moving_start and not force:
            raise ApiError(400, f"A branch called '{branch}' already exists. Switch to "
                                    "that branch in order to make changes")
        if start_sha:
            base = git.rev(str(start_sha))
            if base is None:
                raise ApiError(400, f"Invalid start_sha {start_sha}")
            return base, old
        if start_branch and start_branch != branch:
            base = git.branch_head(str(start_branch))
            if base is None:
                raise ApiError(400, "You can only create or edit files when you are on a branch")
            return base, old
        if old is None:
            raise ApiError(400, "You can only create or edit files when you are on a branch")
        return old, old

    @staticmethod
    def _decode_content(number: int, action: dict[str, Any]) -> bytes | None:
        if action["action"] in ("delete", "chmod"):
            return None
        content = action.get("content")
        if content is None:
            return None if action["action"] == "move" else b""
        encoding = action.get("encoding", "text")
        if encoding == "base64":
            try:
                return base64.b64decode(str(content), validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ApiError(400, f"actions[{number}][content] is not valid base64") from exc
        if encoding != "text":
            raise ApiError(400, f"actions[{number}][encoding] does not have a valid value",
                           key="error")
        return str(content).encode()

    @staticmethod
    def _check_unchanged(git: _Git, branch: str, head: str | None,
                         actions: list[dict[str, Any]]) -> None:
        """Files::BaseService#file_has_changed?: the file's last commit on the branch must be
        its last commit as of last_commit_id (no information on either side: no refusal)."""
        if head is None:
            return
        for action in actions:
            commit_id = action.get("last_commit_id")
            if action["action"] not in _CHECKED_ACTIONS or not commit_id:
                continue
            if git.rev(str(commit_id)) == head:
                continue  # same commit on both sides: the answers cannot differ
            path = action.get("previous_path") or action["file_path"]
            on_branch = git.last_commit_for_path(f"refs/heads/{branch}", path)
            on_ref = git.last_commit_for_path(str(commit_id), path)
            if on_branch and on_ref and on_branch != on_ref:
                raise ApiError(400, f"The file has changed since you started editing it: {path}")

    @staticmethod
    def _apply_actions(entries: dict[str, tuple[str, str]], actions: list[dict[str, Any]],
                       blob_of: list[str | None]) -> dict[str, tuple[str, str] | None]:
        """Gitaly's UserCommitFiles: actions in order, each seeing the ones before it."""
        changes: dict[str, tuple[str, str] | None] = {}

        def current(path: str) -> tuple[str, str] | None:
            return changes[path] if path in changes else entries.get(path)

        for action, blob in zip(actions, blob_of):
            kind, path = action["action"], action["file_path"]
            executable = _truthy(action.get("execute_filemode"))
            if kind == "create":
                if current(path) is not None:
                    raise ApiError(400, "A file with this name already exists")
                changes[path] = ("100755" if executable else "100644", blob or "")
                continue
            source = action.get("previous_path") if kind == "move" else path
            existing = current(source) if source else None
            if existing is None:
                raise ApiError(400, "A file with this name doesn't exist")
            if kind == "update":
                changes[path] = (existing[0], blob or "")
            elif kind == "delete":
                changes[path] = None
            elif kind == "chmod":
                changes[path] = ("100755" if executable else "100644", existing[1])
            else:  # move
                if current(path) is not None:
                    raise ApiError(400, "A file with this name already exists")
                changes[source] = None
                changes[path] = (existing[0], blob or existing[1])
        return changes

    # -- merge requests -------------------------------------------------------------------------

    def _mr_json(self, project: Project, mr: dict[str, Any], base_url: str, *,
                 single: bool = False) -> dict[str, Any]:
        git = project.git
        sha = mr["sha"] if mr["state"] == "merged" else (
            git.branch_head(mr["source_branch"]) or mr["sha"])
        target = git.branch_head(mr["target_branch"])
        conflicts = mr["state"] == "opened" and bool(
            sha and target and git.merge_tree(target, sha) is None)
        pipeline = mr["pipeline"] if mr["state"] != "opened" or (
            mr["pipeline"] is not None and mr["pipeline"]["sha"] == sha) else None
        data: dict[str, Any] = {
            "id": mr["id"], "iid": mr["iid"], "project_id": project.id,
            "title": mr["title"], "description": mr["description"], "state": mr["state"],
            "created_at": mr["created_at"], "updated_at": mr["updated_at"],
            "merged_at": mr["merged_at"], "closed_at": mr["closed_at"],
            "target_branch": mr["target_branch"], "source_branch": mr["source_branch"],
            "source_project_id": project.id, "target_project_id": project.id,
            "author": self._user_json(mr["author"]), "assignees": [], "assignee": None,
            "reviewers": [self._user_json(n) for n in self.users if self.users[n] in
                          mr["reviewer_ids"]],
            "labels": list(mr["labels"]), "draft": False, "work_in_progress": False,
            "merge_when_pipeline_succeeds": mr["mwps"], "merge_status":
                "cannot_be_merged" if conflicts else "can_be_merged",
            "detailed_merge_status": self._detailed_status(mr, conflicts, pipeline),
            "has_conflicts": conflicts, "sha": sha, "merge_commit_sha": mr["merge_commit_sha"],
            "squash_commit_sha": None, "user_notes_count": len(project.notes.get(mr["iid"], [])),
            "should_remove_source_branch": None, "force_remove_source_branch": False,
            "squash": False, "web_url": f"{base_url}/{project.path}/-/merge_requests/{mr['iid']}",
            "references": {"short": f"!{mr['iid']}", "relative": f"!{mr['iid']}",
                           "full": f"{project.path}!{mr['iid']}"},
        }
        if single:
            data["head_pipeline"] = None if pipeline is None else {
                **pipeline, "ref": mr["source_branch"], "project_id": project.id}
            data["merge_user"] = self._user_json(mr["merge_user"]) if mr["merge_user"] else None
        return data

    def _head_pipeline(self, project: Project, mr: dict[str, Any]) -> dict[str, Any] | None:
        """The pipeline of the source branch's head, created late: a push (a new head sha) is
        followed by pipeline_delay single-MR reads with no pipeline, then one appears. Each
        handler that answers with one MR calls this once (one read)."""
        if self.mr_pipeline is None or mr["state"] != "opened":
            return mr["pipeline"]
        sha = project.git.branch_head(mr["source_branch"])
        pipeline = mr["pipeline"]
        if pipeline is not None and pipeline["sha"] == sha:
            return pipeline
        waits = mr.setdefault("pipeline_waits", {})
        left = waits.setdefault(sha, self.pipeline_delay)
        if left > 0:
            waits[sha] = left - 1
            mr["pipeline"] = None  # head_pipeline is the head sha's pipeline: none yet
            return None
        mr["pipeline"] = {"id": next(self._ids), "iid": mr["iid"], "status": self.mr_pipeline,
                          "source": "merge_request_event", "sha": sha}
        return mr["pipeline"]

    @staticmethod
    def _detailed_status(mr: dict[str, Any], conflicts: bool,
                         pipeline: dict[str, Any] | None) -> str:
        if mr["state"] != "opened":
            return "not_open"
        if conflicts:
            return "conflict"
        if pipeline is not None and pipeline["status"] in ("created", "pending", "running"):
            return "ci_still_running"
        return "mergeable"

    def _find_mr(self, project: Project, iid: str) -> dict[str, Any]:
        mr = project.mrs.get(int(iid))
        if mr is None:
            raise ApiError(404, "404 Not found")
        return mr

    def _r_list_mrs(self, request: _Request, extra: dict[str, str],
                    project: Project) -> tuple[int, Any]:
        state = request.param("state", "all")
        if state not in ("opened", "closed", "merged", "locked", "all"):
            raise ApiError(400, "state does not have a valid value", key="error")
        found = [mr for mr in project.mrs.values() if self._mr_matches(request, mr, state)]
        order = request.param("order_by", "created_at")
        found.sort(key=lambda mr: (mr["updated_at"] if order == "updated_at" else mr["created_at"],
                                   mr["iid"]), reverse=request.param("sort", "desc") == "desc")
        items = [self._mr_json(project, mr, request.base_url) for mr in found]
        return 200, self._paginate(request, extra, items)

    @staticmethod
    def _mr_matches(request: _Request, mr: dict[str, Any], state: str) -> bool:
        if state != "all" and mr["state"] != state:
            return False
        for key in ("source_branch", "target_branch"):
            wanted = request.param(key)
            if wanted is not None and mr[key] != wanted:
                return False
        iids = request.list_param("iids")
        if iids and str(mr["iid"]) not in {str(i) for i in iids}:
            return False
        labels = _csv(request.param("labels"))
        if labels and not set(labels) <= set(mr["labels"]):
            return False
        search = request.param("search")
        if search:
            scope = _csv(request.param("in", "title,description"))
            haystack = " ".join(str(mr[k] or "") for k in scope if k in ("title", "description"))
            words = [w for w in str(search).split() if len(w) >= 3] or [str(search)]
            return all(w.lower() in haystack.lower() for w in words)
        return True

    def _r_create_mr(self, request: _Request, extra: dict[str, str],
                     project: Project) -> tuple[int, Any]:
        for key in ("source_branch", "target_branch", "title"):
            if not request.param(key):
                raise ApiError(400, f"{key} is missing", key="error")
        source, target = str(request.param("source_branch")), str(request.param("target_branch"))
        git = project.git
        errors = {k: [f"{k.replace('_', ' ').capitalize()} \"{b}\" does not exist"]
                  for k, b in (("source_branch", source), ("target_branch", target))
                  if git.branch_head(b) is None}
        if errors:
            raise ApiError(400, errors)
        if source == target:
            raise ApiError(409, ["You can't use same project/branch for source and target"])
        for other in project.mrs.values():
            if other["state"] == "opened" and other["source_branch"] == source \
                    and other["target_branch"] == target:
                message = ("Another open merge request already exists for this source branch: "
                           f"!{other['iid']}")
                raise ApiError(409, [message])
        mr = self._new_mr(project, request, source, target)
        self._head_pipeline(project, mr)
        return 201, self._mr_json(project, mr, request.base_url, single=True)

    def _new_mr(self, project: Project, request: _Request, source: str,
                target: str) -> dict[str, Any]:
        now = _now()
        iid = project.next_iid
        project.next_iid += 1
        mr = {
            "id": next(self._ids), "iid": iid, "title": str(request.param("title")),
            "description": str(request.param("description") or ""), "state": "opened",
            "created_at": now, "updated_at": now, "merged_at": None, "closed_at": None,
            "source_branch": source, "target_branch": target,
            "author": request.grant.username, "labels": _csv(request.param("labels")),
            "reviewer_ids": self._known_ids(request.list_param("reviewer_ids")),
            "mwps": False, "merge_user": None, "merge_commit_sha": None,
            "sha": project.git.branch_head(source),
            "pipeline": None,  # created on the first read (_head_pipeline), maybe late
        }
        project.mrs[iid] = mr
        return mr

    def _known_ids(self, values: list[Any] | None) -> list[int]:
        known = set(self.users.values())
        ids = []
        for value in values or []:
            if str(value).isdigit() and int(value) in known and int(value) not in ids:
                ids.append(int(value))
        return ids

    def _r_get_mr(self, request: _Request, extra: dict[str, str], project: Project,
                  iid: str) -> tuple[int, Any]:
        mr = self._find_mr(project, iid)
        self._head_pipeline(project, mr)
        return 200, self._mr_json(project, mr, request.base_url, single=True)

    def _r_update_mr(self, request: _Request, extra: dict[str, str], project: Project,
                     iid: str) -> tuple[int, Any]:
        mr = self._find_mr(project, iid)
        if not any(request.param(k) is not None or request.list_param(k) is not None
                   for k in _MR_UPDATE_KEYS):
            raise ApiError(400, ", ".join(_MR_UPDATE_KEYS) + " are missing, at least one "
                                "parameter must be provided", key="error")
        for key in ("title", "description", "target_branch"):
            if request.param(key) is not None:
                mr[key] = str(request.param(key))
        self._update_labels(mr, request)
        if request.list_param("reviewer_ids") is not None:
            mr["reviewer_ids"] = self._known_ids(request.list_param("reviewer_ids"))
        self._update_state(mr, request.param("state_event"))
        mr["updated_at"] = _now()
        return 200, self._mr_json(project, mr, request.base_url, single=True)

    @staticmethod
    def _update_labels(mr: dict[str, Any], request: _Request) -> None:
        if request.param("labels") is not None:
            mr["labels"] = _csv(request.param("labels"))
        for label in _csv(request.param("add_labels")):
            if label not in mr["labels"]:
                mr["labels"].append(label)
        removed = set(_csv(request.param("remove_labels")))
        mr["labels"] = [label for label in mr["labels"] if label not in removed]

    @staticmethod
    def _update_state(mr: dict[str, Any], event: Any) -> None:
        if event is None:
            return
        if event not in ("close", "reopen"):
            raise ApiError(400, "state_event does not have a valid value", key="error")
        if event == "close" and mr["state"] == "opened":
            mr.update(state="closed", closed_at=_now(), mwps=False)
        elif event == "reopen" and mr["state"] == "closed":
            mr.update(state="opened", closed_at=None)

    def _r_merge_mr(self, request: _Request, extra: dict[str, str], project: Project,
                    iid: str) -> tuple[int, Any]:
        """GitLab's accept endpoint (lib/api/merge_requests.rb): auto-merge when asked and the
        head pipeline is active; merge now when mergeable; never auto-merge a conflicted MR."""
        mr = self._find_mr(project, iid)
        if mr["state"] != "opened":
            raise ApiError(405, "405 Method Not Allowed")
        source_sha = project.git.branch_head(mr["source_branch"])
        sha = request.param("sha")
        if sha and sha != source_sha:
            raise ApiError(409, f"SHA does not match HEAD of source branch: {source_sha}")
        pipeline = self._head_pipeline(project, mr)
        status = None if pipeline is None else pipeline["status"]
        active = status in ("created", "pending", "running")
        auto = _truthy(request.param("merge_when_pipeline_succeeds")) or (
            self.auto_merge_param and _truthy(request.param("auto_merge")))
        self._refuse_conflicts(project, mr, active)
        if auto and active:
            mr.update(mwps=True, merge_user=request.grant.username, updated_at=_now())
        elif active or status in ("failed", "canceled") or (
                auto and not self.auto_merge_param and status != "success"):
            raise ApiError(405, "405 Method Not Allowed")  # old GitLab: MWPS needs a pipeline
        else:
            mr["merge_user"] = request.grant.username
            self._merge(project, mr)
        return 200, self._mr_json(project, mr, request.base_url, single=True)

    def _refuse_conflicts(self, project: Project, mr: dict[str, Any], active: bool) -> None:
        """A conflicted MR: 405 when nothing could be automatic (gitlab-org/gitlab#364102), else
        "Branch cannot be merged" -- 406 before the auto_merge parameter, 422 since."""
        git = project.git
        source = git.branch_head(mr["source_branch"])
        target = git.branch_head(mr["target_branch"])
        if source and target and git.merge_tree(target, source) is not None:
            return
        if not active:
            raise ApiError(405, "405 Method Not Allowed")
        raise ApiError(422 if self.auto_merge_param else 406, "Branch cannot be merged")

    def _merge(self, project: Project, mr: dict[str, Any]) -> None:
        """A merge commit (GitLab's default merge method) moved onto the target by CAS."""
        git = project.git
        source = git.branch_head(mr["source_branch"])
        target = git.branch_head(mr["target_branch"])
        tree = git.merge_tree(target, source) if source and target else None
        if tree is None:
            raise ApiError(422, "Branch cannot be merged")
        message = (f"Merge branch '{mr['source_branch']}' into '{mr['target_branch']}'\n\n"
                   f"{mr['title']}\n\nSee merge request {project.path}!{mr['iid']}\n")
        user = mr["merge_user"] or mr["author"]
        who = (user.title(), f"{user}@example.com")
        sha = git.commit_tree(tree, [target, source], message, who, who)
        if not git.update_ref(mr["target_branch"], sha, target):
            raise ApiError(422, "Failed to merge: the target branch moved")
        now = _now()
        mr.update(state="merged", merged_at=now, updated_at=now, merge_commit_sha=sha,
                  sha=source, mwps=False)

    def _r_list_notes(self, request: _Request, extra: dict[str, str], project: Project,
                      iid: str) -> tuple[int, Any]:
        self._find_mr(project, iid)
        return 200, self._paginate(request, extra, list(project.notes.get(int(iid), [])))

    def _r_create_note(self, request: _Request, extra: dict[str, str], project: Project,
                       iid: str) -> tuple[int, Any]:
        mr = self._find_mr(project, iid)
        body = request.param("body")
        if not body:
            raise ApiError(400, "body is missing", key="error")
        note = {"id": next(self._ids), "type": None, "body": str(body),
                "author": self._user_json(request.grant.username), "created_at": _now(),
                "updated_at": _now(), "system": False, "noteable_id": mr["id"],
                "noteable_type": "MergeRequest", "noteable_iid": mr["iid"],
                "project_id": project.id, "resolvable": False, "internal": False}
        project.notes.setdefault(mr["iid"], []).append(note)
        return 201, note

    # -- issues and pipelines (mlgate verify's incident and retraining) --------------------------

    _ISSUE_TYPES = ("issue", "incident", "test_case", "task")

    def _issue_json(self, project: Project, issue: dict[str, Any],
                    base_url: str) -> dict[str, Any]:
        iid = issue["iid"]
        return {
            "id": issue["id"], "iid": iid, "project_id": project.id, "title": issue["title"],
            "description": issue["description"], "state": issue["state"],
            "created_at": issue["created_at"], "updated_at": issue["updated_at"],
            "closed_at": None, "closed_by": None, "labels": list(issue["labels"]),
            "milestone": None, "assignees": [], "assignee": None,
            "author": self._user_json(issue["author"]), "type": issue["issue_type"].upper(),
            "issue_type": issue["issue_type"], "user_notes_count": 0, "confidential": False,
            "discussion_locked": None, "severity": "UNKNOWN",
            "web_url": f"{base_url}/{project.path}/-/issues/{iid}",
            "references": {"short": f"#{iid}", "relative": f"#{iid}",
                           "full": f"{project.path}#{iid}"},
        }

    def _r_create_issue(self, request: _Request, extra: dict[str, str],
                        project: Project) -> tuple[int, Any]:
        """POST /projects/:id/issues (docs: api/issues.md#new-issue): a label that does not exist
        yet is created in the project; issue_type one of issue, incident, test_case, task."""
        if not project.issues_enabled:
            raise ApiError(403, "403 Forbidden")
        title = request.param("title")
        if title in (None, ""):
            raise ApiError(400, "title is missing", key="error")
        issue_type = request.param("issue_type", "issue")
        if issue_type not in self._ISSUE_TYPES:
            raise ApiError(400, "issue_type does not have a valid value", key="error")
        description = request.param("description")
        errors = {}
        if len(str(title)) > 255:
            errors["title"] = ["is too long (maximum is 255 characters)"]
        if description is not None and len(str(description)) > 1_048_576:
            errors["description"] = ["is too long (maximum is 1048576 characters)"]
        if errors:
            raise ApiError(400, errors)
        labels = list(dict.fromkeys(_csv(request.param("labels"))))
        project.labels += [label for label in labels if label not in project.labels]
        now, iid = _now(), project.next_issue_iid
        project.next_issue_iid += 1
        issue = {"id": next(self._ids), "iid": iid, "title": str(title),
                 "description": None if description is None else str(description),
                 "state": "opened", "created_at": now, "updated_at": now, "labels": labels,
                 "author": request.grant.username, "issue_type": issue_type}
        project.issues[iid] = issue
        return 201, self._issue_json(project, issue, request.base_url)

    def _r_list_issues(self, request: _Request, extra: dict[str, str],
                       project: Project) -> tuple[int, Any]:
        """GET /projects/:id/issues: state, search (title and description), created_after,
        issue_type; newest first."""
        if not project.issues_enabled:
            raise ApiError(403, "403 Forbidden")
        state = request.param("state", "all")
        search = str(request.param("search") or "").lower()
        after = request.param("created_after")
        kind = request.param("issue_type")
        found = [i for i in project.issues.values()
                 if state in ("all", i["state"]) and (kind is None or i["issue_type"] == kind)
                 and (not search or search in f"{i['title']} {i['description'] or ''}".lower())
                 and (after is None or _stamp(i["created_at"]) >= _stamp(str(after)))]
        found.sort(key=lambda i: i["iid"], reverse=request.param("sort", "desc") == "desc")
        items = [self._issue_json(project, i, request.base_url) for i in found]
        return 200, self._paginate(request, extra, items)

    def _pipeline_json(self, project: Project, pipeline: dict[str, Any],
                       base_url: str) -> dict[str, Any]:
        return {
            "id": pipeline["id"], "iid": pipeline["iid"], "project_id": project.id,
            "sha": pipeline["sha"], "ref": pipeline["ref"], "status": pipeline["status"],
            "source": pipeline["source"], "name": None, "tag": pipeline["tag"],
            "created_at": pipeline["created_at"], "updated_at": pipeline["created_at"],
            "web_url": f"{base_url}/{project.path}/-/pipelines/{pipeline['id']}",
            "before_sha": ZERO_SHA, "yaml_errors": None,
            "user": self._user_json(pipeline["user"]), "started_at": None, "finished_at": None,
            "committed_at": None, "duration": None, "queued_duration": None, "coverage": None,
            "detailed_status": {"icon": "status_created", "text": "Created",
                                "label": "created", "group": "created"},
        }

    def _r_create_pipeline(self, request: _Request, extra: dict[str, str],
                           project: Project) -> tuple[int, Any]:
        """POST /projects/:id/pipeline (docs: api/pipelines.md#create-a-new-pipeline), refused
        in the order of GitLab's creation chain (variables, abilities, ref, configuration),
        each as render_validation_error!: 400 {"message": {"base": [...]}}."""
        ref = request.param("ref")
        if not ref:
            raise ApiError(400, "ref is missing", key="error")
        variables = self._pipeline_variables(request.param("variables"))
        ref = str(ref)
        if variables and not project.pipeline_variables_allowed:
            raise ApiError(400, {"base": ["Insufficient permissions to set pipeline variables"]})
        keys = [v["key"] for v in variables]
        twice = sorted({k for k in keys if keys.count(k) > 1})
        if twice:
            noun = "name" if len(twice) == 1 else "names"
            raise ApiError(400, {"base": [f"Duplicate variable {noun}: {', '.join(twice)}"]})
        if self.mr_pipeline is None:
            raise ApiError(400, {"base": ["Pipelines are disabled!"]})
        if ref in project.protected and not request.grant.maintainer:
            raise ApiError(400, {"base": [f"Insufficient permissions for protected ref '{ref}'"]})
        git = project.git
        sha, tag = git.branch_head(ref), False
        if sha is None and not ref.startswith("-"):
            sha, tag = git.rev(f"refs/tags/{ref}"), True
        if sha is None:
            raise ApiError(400, {"base": ["Reference not found"]})
        if not project.ci_config:
            raise ApiError(400, {"base": ["Missing CI config file"]})
        if project.pipeline_rules_skip:
            raise ApiError(400, {"base": ["Pipeline will not run for the selected trigger. The "
                                          "rules configuration prevented any jobs from being "
                                          "added to the pipeline."]})
        for variable in variables:
            if not re.fullmatch(r"[a-zA-Z0-9_]{1,255}", variable["key"]):
                # the model's validation message; GitLab nests it under the association
                raise ApiError(400, {"variables.key": ["can contain only letters, digits "
                                                       "and '_'."]})
        pipeline = {"id": next(self._ids), "iid": len(project.pipelines) + 1, "ref": ref,
                    "sha": sha, "tag": tag, "status": "created", "source": "api",
                    "created_at": _now(), "user": request.grant.username,
                    "variables": variables}
        project.pipelines[pipeline["id"]] = pipeline
        return 201, self._pipeline_json(project, pipeline, request.base_url)

    @staticmethod
    def _pipeline_variables(value: Any) -> list[dict[str, str]]:
        """Grape's checks of `variables`: an array of hashes with key, value, variable_type."""
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise ApiError(400, "variables is invalid", key="error")
        found = []
        for item in value:
            kind = item.get("variable_type", "env_var")
            if kind not in ("env_var", "file"):
                raise ApiError(400, "variables[variable_type] does not have a valid value",
                               key="error")
            found.append({"key": str(item.get("key") or ""), "value": str(item.get("value", "")),
                          "variable_type": kind})
        return found

    def _r_list_pipelines(self, request: _Request, extra: dict[str, str],
                          project: Project) -> tuple[int, Any]:
        """GET /projects/:id/pipelines: ref, sha, source, status, username, created_after;
        ordered by id, newest first unless sort=asc."""
        wanted = {k: request.param(k) for k in ("ref", "sha", "source", "status")}
        username, after = request.param("username"), request.param("created_after")
        found = [p for p in project.pipelines.values()
                 if all(v is None or p[k] == v for k, v in wanted.items())
                 and (username is None or p["user"] == username)
                 and (after is None or _stamp(p["created_at"]) >= _stamp(str(after)))]
        found.sort(key=lambda p: p["id"], reverse=request.param("sort", "desc") == "desc")
        items = [self._pipeline_json(project, p, request.base_url) for p in found]
        return 200, self._paginate(request, extra, items)

    # -- pagination -------------------------------------------------------------------------------

    @staticmethod
    def _paginate(request: _Request, extra: dict[str, str], items: list[Any]) -> list[Any]:
        """Offset pagination with GitLab's X-* headers and an RFC 5988 Link header."""
        try:
            page = max(1, int(request.param("page", 1)))
            per_page = min(100, max(1, int(request.param("per_page", 20))))
        except ValueError as exc:
            raise ApiError(400, "page/per_page is invalid", key="error") from exc
        total_pages = max(1, -(-len(items) // per_page))
        extra.update({"X-Page": str(page), "X-Per-Page": str(per_page),
                      "X-Total": str(len(items)), "X-Total-Pages": str(total_pages),
                      "X-Next-Page": str(page + 1) if page < total_pages else "",
                      "X-Prev-Page": str(page - 1) if page > 1 else ""})
        query = {k: v[-1] for k, v in request.query.items() if k not in ("page", "per_page")}
        links = []
        for rel, number in (("prev", page - 1), ("next", page + 1), ("first", 1),
                            ("last", total_pages)):
            if (rel == "prev" and page <= 1) or (rel == "next" and page >= total_pages):
                continue
            params = urlencode({**query, "page": number, "per_page": per_page})
            links.append(f'<{request.base_url}{request.raw_path}?{params}>; rel="{rel}"')
        extra["Link"] = ", ".join(links)
        return items[(page - 1) * per_page: page * per_page]


def _stamp(text: str) -> float:
    """Epoch seconds of an ISO 8601 time (GitLab's `created_at` and filter values)."""
    try:
        stamp = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ApiError(400, "created_after is invalid", key="error") from exc
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)).timestamp()


def _safe_path(path: str) -> bool:
    parts = path.split("/")
    return bool(path) and not path.startswith("/") and all(
        p not in ("", ".", "..", ".git") for p in parts) and "\0" not in path


# -- HTTP ---------------------------------------------------------------------------------------


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, owner: GitLabApiServer) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mlgate-test-gitlab"
    timeout = 60
    server: _HttpServer

    def log_message(self, format: str, *args: object) -> None:
        pass  # the server's structured request log replaces http.server's stderr lines

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        raw_path, _, query = self.path.partition("?")
        status, headers, payload = self.server.owner.handle(
            self.command, raw_path, query, dict(self.headers.items()), body)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve


if pytest is not None:
    @pytest.fixture
    def gitlab_api(tmp_path: Path) -> Iterator[GitLabApiServer]:
        """A running stand-in with a read/write token "token" (tests add more through the ctor)."""
        with GitLabApiServer(tmp_path / "gitlab-api", tokens={"token": "write"}) as server:
            yield server
