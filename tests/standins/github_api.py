"""A GitHub REST API (and the one GraphQL mutation mlgate needs) on 127.0.0.1, over a real git repo.

Why a stand-in: the GitHub API cannot run here, so the real client (PyGithub) is pointed at this
server instead. It follows GitHub's REST documentation for the endpoints mlgate uses — status
codes, JSON shapes, error bodies — and every git object it reports is a real object in a bare
repository on disk, written with git plumbing (`hash-object -w`, an index + `write-tree`,
`commit-tree`, `update-ref NEW OLD` as a compare-and-swap). What a client commits through the
API can therefore be checked with `git show`, `git log` or a clone of `server.repo.path`.

Served (under `/api/v3`, the GitHub Enterprise layout PyGithub derives `/api/graphql` from, and
also at the root):

    GET    /rate_limit
    GET    /repos/{o}/{r}
    GET    /repos/{o}/{r}/git/commits/{sha}       POST /repos/{o}/{r}/git/commits
    GET    /repos/{o}/{r}/git/trees/{sha}         POST /repos/{o}/{r}/git/trees
    GET    /repos/{o}/{r}/git/blobs/{sha}         POST /repos/{o}/{r}/git/blobs
    GET    /repos/{o}/{r}/git/ref/{ref}           GET  /repos/{o}/{r}/git/refs[/{prefix}]
    GET    /repos/{o}/{r}/git/matching-refs/{prefix}
    POST   /repos/{o}/{r}/git/refs                PATCH/DELETE /repos/{o}/{r}/git/refs/{ref}
    GET    /repos/{o}/{r}/pulls  (state, head, base, sort, direction, per_page, page)
    POST   /repos/{o}/{r}/pulls                   GET/PATCH /repos/{o}/{r}/pulls/{n}
    GET/POST /repos/{o}/{r}/pulls/{n}/requested_reviewers
    GET/POST /repos/{o}/{r}/issues/{n}/comments
    GET/POST /repos/{o}/{r}/issues/{n}/labels
    PUT    /repos/{o}/{r}/pulls/{n}/merge          (merge, squash, rebase; `sha` pinned)
    POST   /graphql   enablePullRequestAutoMerge, disablePullRequestAutoMerge
    GET/POST /repos/{o}/{r}/issues  (list: state, since, sort, direction; create: title, body,
                                     labels; 410 "Issues are disabled for this repo")
    GET    /repos/{o}/{r}/actions/workflows/{id or file name}
    POST   /repos/{o}/{r}/actions/workflows/{id}/dispatches    (204; see `add_workflow`)
    GET    /repos/{o}/{r}/actions/workflows/{id}/runs  (event, branch, status, head_sha, created)

Tokens (`Authorization: token X` or `Bearer X`) carry rights: "write", "read" (writes get 403
"Resource not accessible by integration") or "none" (the repository answers 404, as GitHub
does for a repository the token cannot see); an unknown token gets 401 "Bad credentials".
A "pull" token (PULL_TOKEN) is a user with pull access only: it may open issues but nothing
else, and the labels it names are dropped (docs: "Only users with push access can set labels
for new issues. Labels are silently dropped otherwise.") -- except that a label the repository
does not have yet makes GitHub answer 403 (reported in github community discussion #197408); a
push ("write") token's unknown labels are created with the issue.

Knobs for tests: `fail_next` (5xx, or a 4xx with GitHub's message such as 422 "Reference
update failed"), `rate_limit` (a primary or secondary limit window that keeps answering 403/429
until it ends, so a client that does not wait is refused again), `before_next_ref_update` /
`push_concurrently` (really move a branch with git just before the next ref update is processed).
Every request is logged in `server.log` for counting.

Real-world behaviours, each off by default and switched on per test:

- `merge_state`: what GitHub computes for an open PR without conflicts — "blocked" (the default:
  required reviews or checks), "clean", "unstable", "behind", "has_hooks"; a PR whose head and
  base really conflict (git merge-tree) is "dirty" whatever the knob. `enablePullRequestAutoMerge`
  answers UNPROCESSABLE "Pull request Pull request is in clean status" (unstable, has_hooks,
  dirty alike) when there is nothing to wait for, as GitHub does (peter-evans/enable-pull-request-
  automerge#343, #355); the REST merge answers 405 "Pull Request is not mergeable" and 409 "Head
  branch was modified. Review and try the merge again." (docs: pulls#merge-a-pull-request).
- `mergeability_lag`: REST reads that show `mergeable_state: "unknown"` (mergeable null) after a
  PR is opened or its head moves, while GitHub computes it.
- `head_sha_lag`: REST reads of a PR that still show the previous `head.sha` after a push.
- `replica_lag()` / `hide()`: an object just written (tree, commit, blob) is not visible for the
  next N requests — "Tree SHA does not exist", "base_tree … is not a valid tree oid", "Object
  does not exist" (422), as replica lag makes GitHub answer.
- `lose_answer_next()`: the request is carried out, then answered 502/504 (the answer is lost).
- `protect()`: ref updates on a protected branch answer 422 "Protected branch update failed for
  refs/heads/main." (or the rule's own message, e.g. "Changes must be made through a pull
  request."); merging a PR through the API is still allowed.
- `has_issues = False`: issue endpoints answer 410 "Issues are disabled for this repo".
- workflows (`add_workflow`): a dispatch is checked as GitHub does -- 422 "Workflow does not
  have 'workflow_dispatch' trigger", "Cannot trigger a 'workflow_dispatch' on a disabled
  workflow", "No ref found for: X", 'Unexpected inputs provided: ["x"]', "Required input 'x'
  not provided", more than `max_dispatch_inputs` inputs (10: GitHub Enterprise Server and, until
  late 2025, github.com) -- and answered 204 with no body: the run it starts is found by listing
  the workflow's runs. `dispatch_lag()`: that run is missing from the listings for a while
  (the next N listings and/or S seconds), as GitHub creates it asynchronously.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import os
import re
import subprocess
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

try:  # only the fixture below needs pytest; bench/promote.py imports this module without it
    import pytest
except ImportError:
    pytest = None  # type: ignore[assignment]

ZERO = "0" * 40
DOCS = "https://docs.github.com/rest"
WRITE_TOKEN = "ghp_standinWriteToken0000000000000000001"
READ_TOKEN = "ghp_standinReadOnlyToken00000000000000002"
STRANGER_TOKEN = "ghp_standinStrangerToken0000000000000003"
PULL_TOKEN = "ghp_standinPullOnlyToken00000000000000004"
DEFAULT_TOKENS = {WRITE_TOKEN: "write", READ_TOKEN: "read", STRANGER_TOKEN: "none",
                  PULL_TOKEN: "pull"}
# the labels a new GitHub repository starts with
DEFAULT_LABELS = ("bug", "documentation", "duplicate", "enhancement", "good first issue",
                  "help wanted", "invalid", "question", "wontfix")
ISSUE_TITLE_MAX, ISSUE_BODY_MAX, LABEL_NAME_MAX = 256, 65536, 50
SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    "If you reach out to GitHub Support for help, please include the request ID standin."
)
PRIMARY_MESSAGE = "API rate limit exceeded for user ID 1."
FILE_MODES = {"100644", "100755", "040000", "160000", "120000"}
SHA_RE = re.compile(r"^[0-9a-f]{40}$")
GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_TERMINAL_PROMPT": "0",
    "LC_ALL": "C",
}


# --------------------------------------------------------------------------- errors & replies


@dataclass
class Reply:
    """One HTTP answer: a JSON body (or raw text for 5xx pages) plus headers."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    text: str | None = None


class ApiError(Exception):
    """An error answer shaped like GitHub's: {"message", "documentation_url", "status"}."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        text: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.headers = headers or {}
        self.text = text

    def reply(self) -> Reply:
        if self.text is not None:
            return Reply(self.status, headers=self.headers, text=self.text)
        body: dict[str, Any] = {"message": self.message, "documentation_url": DOCS,
                                "status": str(self.status)}
        if self.errors is not None:
            body["errors"] = self.errors
        return Reply(self.status, body, self.headers)


def validation_failed(*errors: dict[str, Any]) -> ApiError:
    """GitHub's 422 for a request whose fields are wrong."""
    return ApiError(422, "Validation Failed", errors=list(errors))


def iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


# --------------------------------------------------------------------------- git


@dataclass(frozen=True)
class TreeInput:
    """One entry of a create-tree request; sha None and content None means delete."""

    path: str
    mode: str
    type: str
    sha: str | None = None
    content: bytes | None = None


class BareRepo:
    """A bare git repository driven with plumbing commands, one subprocess helper for all."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, path: Path, default_branch: str) -> BareRepo:
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["git", "init", "--quiet", "--bare", f"--initial-branch={default_branch}", str(path)],
            check=True, env={**os.environ, **GIT_ENV}, capture_output=True,
        )
        return cls(path)

    def git(self, *args: str, input: bytes | None = None, env: Mapping[str, str] | None = None,
            check: bool = True) -> subprocess.CompletedProcess[bytes]:
        full_env = {**os.environ, **GIT_ENV, **(env or {})}
        return subprocess.run(["git", "--git-dir", str(self.path), *args], input=input,
                              capture_output=True, env=full_env, check=check)

    def out(self, *args: str, **kwargs: Any) -> str:
        return self.git(*args, **kwargs).stdout.decode("utf-8", "replace").strip()

    # reads

    def object_type(self, sha: str | None) -> str | None:
        """The type of a full 40-hex object id, None when absent (GitHub takes no rev syntax)."""
        if not sha or not SHA_RE.match(sha):
            return None
        done = self.git("cat-file", "-t", sha, check=False)
        return done.stdout.decode().strip() if done.returncode == 0 else None

    def ref_sha(self, ref: str) -> str | None:
        done = self.git("rev-parse", "--verify", "--quiet", ref, check=False)
        return done.stdout.decode().strip() if done.returncode == 0 else None

    def refs(self, prefix: str = "refs/") -> list[tuple[str, str]]:
        listing = self.out("for-each-ref", "--format=%(refname) %(objectname)", prefix)
        return [tuple(line.split(" ", 1)) for line in listing.splitlines() if line]  # type: ignore[misc]

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        done = self.git("merge-base", "--is-ancestor", ancestor, descendant, check=False)
        return done.returncode == 0

    def read_commit(self, sha: str) -> dict[str, Any]:
        raw = self.git("cat-file", "commit", sha).stdout.decode("utf-8", "replace")
        header, _, message = raw.partition("\n\n")
        commit: dict[str, Any] = {"parents": [], "message": message}
        for line in header.split("\n"):
            key, _, value = line.partition(" ")
            if key == "tree":
                commit["tree"] = value
            elif key == "parent":
                commit["parents"].append(value)
            elif key in ("author", "committer"):
                commit[key] = _parse_person(value)
        return commit

    def tree_listing(self, sha: str, recursive: bool = False) -> list[dict[str, Any]]:
        args = ["ls-tree", "-l", "-z"] + (["-r", "-t"] if recursive else []) + [sha]
        entries = []
        for item in self.git(*args).stdout.decode("utf-8", "replace").split("\0"):
            if not item:
                continue
            meta, _, path = item.partition("\t")
            mode, kind, obj, size = meta.split()
            entries.append({"path": path, "mode": mode, "type": kind, "sha": obj,
                            "size": None if size == "-" else int(size)})
        return entries

    def blob(self, sha: str) -> bytes:
        return self.git("cat-file", "blob", sha).stdout

    def show(self, rev: str, path: str) -> bytes:
        """A file's bytes at a revision (for tests)."""
        return self.git("cat-file", "blob", f"{rev}:{path}").stdout

    def files(self, rev: str) -> list[str]:
        return self.out("ls-tree", "-r", "--name-only", rev).splitlines()

    def rev_list(self, rev: str) -> list[str]:
        return self.out("rev-list", rev).splitlines()

    # writes

    def hash_blobs(self, contents: list[bytes]) -> list[str]:
        """Write blobs in one `git hash-object -w --stdin-paths` whatever their number."""
        if not contents:
            return []
        with tempfile.TemporaryDirectory(prefix="standin-blobs-") as tmp:
            paths = []
            for index, content in enumerate(contents):
                path = os.path.join(tmp, str(index))
                Path(path).write_bytes(content)
                paths.append(path)
            listing = "\n".join(paths).encode() + b"\n"
            return self.out("hash-object", "-w", "--no-filters", "--stdin-paths",
                            input=listing).splitlines()

    def build_tree(self, base_tree: str | None, entries: list[TreeInput]) -> str:
        """A new tree: base_tree (or nothing) with entries set, replaced or deleted, at any depth.

        A throwaway index does the nesting (`read-tree`, `update-index --index-info`,
        `write-tree`), so deep paths cost no more subprocesses than top-level ones.
        """
        with tempfile.TemporaryDirectory(prefix="standin-index-") as tmp:
            env = {"GIT_INDEX_FILE": os.path.join(tmp, "index")}
            self.git("read-tree", *([base_tree] if base_tree else ["--empty"]), env=env)
            present = set(self._index_paths(env))
            blob_shas = iter(self.hash_blobs([e.content for e in entries if e.content is not None]))
            lines: list[str] = []
            for entry in entries:
                sha = next(blob_shas) if entry.content is not None else entry.sha
                if sha is None:
                    lines += [f"0 {ZERO}\t{p}" for p in _deleted(present, entry.path)]
                    continue
                lines += [f"0 {ZERO}\t{p}" for p in _conflicting(present, entry.path)]
                if entry.type == "tree":
                    self._update_index(lines, env)
                    lines = []
                    self.git("read-tree", f"--prefix={entry.path}/", sha, env=env)
                else:
                    lines.append(f"{entry.mode} {sha}\t{entry.path}")
            self._update_index(lines, env)
            return self.out("write-tree", env=env)

    def _index_paths(self, env: Mapping[str, str]) -> list[str]:
        listing = self.git("ls-files", "-z", env=env).stdout.decode("utf-8", "surrogateescape")
        return [p for p in listing.split("\0") if p]

    def _update_index(self, lines: list[str], env: Mapping[str, str]) -> None:
        if lines:
            payload = "\0".join(lines).encode("utf-8", "surrogateescape") + b"\0"
            self.git("update-index", "-z", "--index-info", input=payload, env=env)

    def merge_tree(self, ours: str, theirs: str) -> str | None:
        """The tree of merging theirs into ours, None when they conflict (git >= 2.38)."""
        done = self.git("merge-tree", "--write-tree", "--no-messages", ours, theirs, check=False)
        if done.returncode != 0:
            return None
        return done.stdout.decode().split("\n", 1)[0].strip()

    def commit_tree(self, tree: str, parents: list[str], message: str,
                    author: Mapping[str, str], committer: Mapping[str, str]) -> str:
        env = {
            "GIT_AUTHOR_NAME": author["name"], "GIT_AUTHOR_EMAIL": author["email"],
            "GIT_AUTHOR_DATE": author["date"],
            "GIT_COMMITTER_NAME": committer["name"], "GIT_COMMITTER_EMAIL": committer["email"],
            "GIT_COMMITTER_DATE": committer["date"],
        }
        args = ["commit-tree", tree]
        for parent in parents:
            args += ["-p", parent]
        return self.out(*args, "-F", "-", input=message.encode("utf-8"), env=env)

    def update_ref(self, ref: str, new: str, old: str) -> bool:
        """Compare-and-swap: the ref moves only if it still holds `old` (ZERO: must not exist)."""
        return self.git("update-ref", ref, new, old, check=False).returncode == 0

    def delete_ref(self, ref: str, old: str) -> bool:
        return self.git("update-ref", "-d", ref, old, check=False).returncode == 0

    def commit_on(self, branch: str, files: Mapping[str, bytes | str | None], message: str,
                  who: tuple[str, str] = ("Someone Else", "someone@example.com")) -> str:
        """Commit straight to a branch with git (seeding, or a concurrent push in a test)."""
        ref = f"refs/heads/{branch}"
        head = self.ref_sha(ref)
        base_tree = self.read_commit(head)["tree"] if head else None
        entries = [TreeInput(path, "100644", "blob", None, _as_bytes(data))
                   for path, data in files.items()]
        tree = self.build_tree(base_tree, entries)
        person = {"name": who[0], "email": who[1], "date": f"@{int(time.time())} +0000"}
        sha = self.commit_tree(tree, [head] if head else [], message, person, person)
        if not self.update_ref(ref, sha, head or ZERO):
            raise RuntimeError(f"{ref} moved while committing to it")
        return sha


def _as_bytes(data: bytes | str | None) -> bytes | None:
    return data.encode("utf-8") if isinstance(data, str) else data


def _deleted(present: set[str], path: str) -> list[str]:
    """What deleting `path` removes (a file or a whole directory); a missing path is a 422."""
    gone = [p for p in present if p == path or p.startswith(path + "/")]
    if not gone:
        raise ApiError(422, f"tree.path {path} does not exist and cannot be deleted")
    return gone


def _conflicting(present: set[str], path: str) -> list[str]:
    """Index entries a new entry at `path` replaces: files under it, or a file where a dir goes."""
    prefix = path + "/"
    found = [p for p in present if p.startswith(prefix)]
    parts = path.split("/")
    found += [p for p in ("/".join(parts[:i]) for i in range(1, len(parts))) if p in present]
    return found


def _parse_person(value: str) -> dict[str, str]:
    match = re.match(r"^(.*) <(.*)> (\d+) ([+-]\d{4})$", value)
    if not match:
        return {"name": value, "email": "", "date": iso(0)}
    return {"name": match[1], "email": match[2], "date": iso(int(match[3]))}


def _git_date(value: str | None) -> str:
    """GitHub takes ISO 8601; git takes `@epoch +zone`."""
    if not value:
        return f"@{int(time.time())} +0000"
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ApiError(422, f"Invalid date: {value}") from exc
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)
    return f"@{int(stamp.timestamp())} +0000"


# --------------------------------------------------------------------------- state


@dataclass
class Pull:
    number: int
    title: str
    body: str | None
    head: str
    base: str
    user: str
    head_sha: str
    base_sha: str
    draft: bool = False
    state: str = "open"
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    closed_at: float | None = None
    labels: list[str] = field(default_factory=list)
    reviewers: list[str] = field(default_factory=list)
    teams: list[str] = field(default_factory=list)
    auto_merge: dict[str, Any] | None = None
    merged: bool = False
    merged_at: float | None = None
    merge_commit_sha: str | None = None
    reported_head: str = ""  # the head.sha REST shows (lags a push by `head_sha_lag` reads)
    seen_head: str = ""  # the real head when GitHub last looked
    head_lag: int = 0
    unknown_reads: int = 0  # REST reads left that show mergeable_state "unknown"

    @property
    def node_id(self) -> str:
        return f"PR_kwDOstandin{self.number:06d}"


@dataclass
class Comment:
    id: int
    issue: int
    body: str
    user: str
    created_at: float = field(default_factory=time.time)


@dataclass
class Workflow:
    """An Actions workflow file: whether it has a workflow_dispatch trigger, the inputs it
    declares (name -> required) and its state ("active", "disabled_manually", ...)."""

    id: int
    name: str
    path: str
    dispatch: bool = True
    inputs: dict[str, bool] = field(default_factory=dict)
    state: str = "active"
    created_at: float = field(default_factory=time.time)

    @property
    def file_name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass
class Run:
    """A workflow run; a dispatched one may be missing from listings for a while (lag)."""

    id: int
    workflow: Workflow
    head_branch: str
    head_sha: str
    event: str
    actor: str
    run_number: int
    inputs: dict[str, Any] = field(default_factory=dict)
    status: str = "queued"
    created_at: float = field(default_factory=time.time)
    hidden_lists: int = 0  # listings it is still missing from
    visible_at: float = 0.0  # time.time() from which listings show it


@dataclass(frozen=True)
class LoggedRequest:
    """What the server saw and answered; tests count API calls from these."""

    method: str
    path: str  # without the /api/v3 prefix and the query string
    query: dict[str, str]
    status: int
    body: Any
    at: float


@dataclass
class _Fault:
    status: int
    remaining: int
    method: str | None
    path: str | None
    message: str | None = None  # a 4xx answer's message
    lost: bool = False  # carry the request out, then answer `status` (the answer is lost)


@dataclass
class _Window:
    kind: str  # "primary" | "secondary"
    until: float
    status: int
    retry_after_header: bool
    method: str | None
    path: str | None


def _matches(method: str | None, path: str | None, req_method: str, req_path: str) -> bool:
    return (method is None or method == req_method) and (path is None or path in req_path)


# --------------------------------------------------------------------------- server


class GitHubStandIn:
    """The server; a context manager that starts it on 127.0.0.1 (a free port) and stops it."""

    def __init__(
        self,
        root: Path,
        *,
        owner: str = "acme",
        name: str = "config",
        default_branch: str = "main",
        files: Mapping[str, bytes | str] | None = None,
        tokens: Mapping[str, str] | None = None,
        login: str = "mlgate-bot",
        collaborators: tuple[str, ...] = ("alice", "bob"),
        teams: tuple[str, ...] = ("platform", "ml-reviewers"),
        allow_auto_merge: bool = True,
    ) -> None:
        self.owner, self.name, self.default_branch = owner, name, default_branch
        self.tokens = dict(DEFAULT_TOKENS if tokens is None else tokens)
        self.login = login
        self.collaborators = set(collaborators)
        self.teams = set(teams)
        self.allow_auto_merge = allow_auto_merge
        self.repo = BareRepo.create(root / f"{name}.git", default_branch)
        seed = files or {"README.md": "config repo\n"}
        self.repo.commit_on(default_branch, seed, "initial commit")
        self.pulls: dict[int, Pull] = {}
        self.comments: list[Comment] = []
        self.log: list[LoggedRequest] = []
        self._issue_numbers = iter(range(1, 1_000_000))
        self._comment_ids = iter(range(9001, 10_000_000))
        self._faults: list[_Fault] = []
        self._windows: list[_Window] = []
        self._before_ref_update: list[Callable[[], None]] = []
        self._before: list[tuple[str | None, str | None, Callable[[], None]]] = []
        self.merge_state = "blocked"
        self.mergeability_lag = 0
        self.head_sha_lag = 0
        self.merge_methods = {"merge", "squash", "rebase"}
        self.protected: dict[str, str] = {}  # ref -> the message GitHub answers
        self._lag_next: list[tuple[int, str | None]] = []  # (requests, kind) for new objects
        self._hidden: dict[str, int] = {}  # object sha -> requests it stays invisible
        self._invisible: set[str] = set()
        self._created: set[str] = set()
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        # issues and Actions workflows (mlgate verify's incident and retraining)
        self.has_issues = True
        self.issues: dict[int, dict[str, Any]] = {}
        self.repo_labels: list[str] = list(DEFAULT_LABELS)
        self.workflows: dict[int, Workflow] = {}
        self.runs: list[Run] = []
        self.max_dispatch_inputs = 10
        self._workflow_ids = iter(range(161_335, 10_000_000))
        self._run_ids = iter(range(30_433_642, 100_000_000))
        self._run_lag: tuple[int, float] = (0, 0.0)
        self.releases: dict[str, dict[str, Any]] = {}  # tag_name -> the release as created
        self._release_ids = iter(range(1_000_001, 100_000_000))
        self._routes = self._route_table()

    # lifecycle

    def __enter__(self) -> GitHubStandIn:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.standin = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="github-standin", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return self._server.server_address[1]

    @property
    def html_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """What to give PyGithub as base_url (GitHub Enterprise layout)."""
        return f"{self.html_url}/api/v3"

    @property
    def repo_url(self) -> str:
        """The repository's git URL, as a user would pass it to mlgate."""
        return f"{self.html_url}/{self.full_name}.git"

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    # knobs

    def fail_next(self, count: int = 1, status: int = 502, *, method: str | None = None,
                  path: str | None = None, message: str | None = None) -> None:
        """The next `count` matching requests answer `status` without doing anything: a 5xx,
        or a 4xx with GitHub's `message` (422 "Reference update failed", "Reference cannot be
        updated" — what concurrent writers and replica lag make GitHub answer)."""
        with self._lock:
            self._faults.append(_Fault(status, count, method, path, message))

    def rate_limit(self, kind: str = "secondary", seconds: float = 1.0, *, status: int = 403,
                   retry_after_header: bool = True, method: str | None = None,
                   path: str | None = None) -> float:
        """Refuse matching requests for `seconds` as GitHub does when a limit is hit; returns
        the epoch time the window ends.

        secondary: 403/429 with `Retry-After` (unless retry_after_header=False);
        primary: 403/429 with `x-ratelimit-remaining: 0` and `x-ratelimit-reset` (epoch seconds,
        so the window is rounded up to a whole second).
        """
        until = time.time() + seconds
        if kind == "primary":
            until = float(math.ceil(until))
        with self._lock:
            self._windows.append(_Window(kind, until, status, retry_after_header, method, path))
        return until

    def lose_answer_next(self, count: int = 1, status: int = 502, *, method: str | None = None,
                         path: str | None = None) -> None:
        """The next `count` matching requests are carried out, then answered `status` (a 502 or
        504 from the front end after the write landed: the client cannot tell it happened)."""
        with self._lock:
            self._faults.append(_Fault(status, count, method, path, lost=True))

    def replica_lag(self, requests: int = 1, kind: str | None = None, objects: int = 1) -> None:
        """The next `objects` newly written objects (of `kind`: tree, commit, blob, or any) are
        invisible to the next `requests` requests, as on a replica that has not caught up."""
        with self._lock:
            self._lag_next += [(requests, kind)] * objects

    def hide(self, sha: str, requests: int = 1) -> None:
        """An existing object (say the tree of a commit just pushed) is invisible for a while."""
        with self._lock:
            self._hidden[sha] = requests

    def protect(self, branch: str, message: str | None = None) -> None:
        """Branch protection: ref updates answer 422 with GitHub's message."""
        ref = f"refs/heads/{branch}"
        with self._lock:
            self.protected[ref] = message or f"Protected branch update failed for {ref}."

    def before_next(self, callback: Callable[[], None], *, method: str | None = None,
                    path: str | None = None) -> None:
        """Run callback just before the next matching request is processed (someone pushes
        between mlgate's push and its merge, say)."""
        with self._lock:
            self._before.append((method, path, callback))

    def before_next_ref_update(self, callback: Callable[[], None]) -> None:
        """Run callback just before the next `PATCH git/refs/...` is processed."""
        with self._lock:
            self._before_ref_update.append(callback)

    def push_concurrently(self, branch: str, files: Mapping[str, bytes | str | None]) -> None:
        """Another writer pushes to `branch` (for real, with git) right before our ref update."""
        self.before_next_ref_update(lambda: self.repo.commit_on(branch, files, "concurrent push"))

    def calls(self, method: str | None = None, path: str | None = None) -> list[LoggedRequest]:
        with self._lock:
            return [r for r in self.log if _matches(method, path, r.method, r.path)]

    def clear_log(self) -> None:
        with self._lock:
            self.log.clear()

    def head(self, branch: str | None = None) -> str | None:
        return self.repo.ref_sha(f"refs/heads/{branch or self.default_branch}")

    def add_workflow(self, path: str = ".github/workflows/train.yml", *, name: str | None = None,
                     inputs: tuple[str, ...] | list[str] = (), required: tuple[str, ...] = (),
                     dispatch: bool = True, state: str = "active") -> Workflow:
        """A workflow file in the repository: with an `on: workflow_dispatch` trigger declaring
        `inputs` (those in `required` required) unless dispatch=False."""
        with self._lock:
            workflow = Workflow(next(self._workflow_ids), name or path.rsplit("/", 1)[-1], path,
                                dispatch, {n: n in required for n in inputs}, state)
            self.workflows[workflow.id] = workflow
            return workflow

    def add_run(self, workflow: Workflow, branch: str | None = None, *, event: str = "push",
                created_at: float | None = None, actor: str = "someone") -> Run:
        """A run that exists already (another push, someone else's dispatch)."""
        branch = branch or self.default_branch
        with self._lock:
            return self._new_run(workflow, branch, self.head(branch) or ZERO, event, actor, {},
                                 created_at if created_at is not None else time.time())

    def dispatch_lag(self, requests: int = 0, seconds: float = 0.0) -> None:
        """The runs of later dispatches are missing from the next `requests` run listings and
        for `seconds` after the dispatch (GitHub creates the run asynchronously)."""
        with self._lock:
            self._run_lag = (requests, seconds)

    # dispatch

    def dispatch(self, method: str, target: str, headers: Mapping[str, str], raw: bytes) -> Reply:
        split = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        api_path, graphql = _strip_prefix(split.path)
        body: Any = None
        with self._lock:
            lagging = {sha for sha, left in self._hidden.items() if left > 0}
            self._invisible = lagging
            try:
                body = _parse_body(raw)
                reply = self._answer(method, api_path, graphql, query, headers, body)
                reply = self._lose_answer(method, api_path, reply)
            except ApiError as exc:
                reply = exc.reply()
            self._catch_up(lagging)
            self.log.append(LoggedRequest(method, api_path, query, reply.status, body, time.time()))
            reply.headers = {**self._rate_headers(), **reply.headers}
            return reply

    def _answer(self, method: str, path: str, graphql: bool, query: dict[str, str],
                headers: Mapping[str, str], body: Any) -> Reply:
        rights, login = self._authenticate(headers, graphql)
        self._check_faults(method, path)
        for hook in [h for h in self._before if _matches(h[0], h[1], method, path)][:1]:
            self._before.remove(hook)
            hook[2]()
        if graphql:
            if method != "POST":
                raise ApiError(404, "Not Found")
            return self._graphql(body, rights, login)
        handler, params, write = self._route(method, path)
        if "owner" in params:
            self._check_repo(params, rights)
        if write and rights != "write":
            raise ApiError(403, "Resource not accessible by integration")
        return handler(params=params, query=query, body=body, login=login, rights=rights)

    def _authenticate(self, headers: Mapping[str, str], graphql: bool) -> tuple[str, str]:
        value = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        scheme, _, token = value.partition(" ")
        if not value:
            raise ApiError(401, "This endpoint requires you to be authenticated." if graphql
                           else "Requires authentication")
        if scheme.lower() not in ("token", "bearer") or token.strip() not in self.tokens:
            raise ApiError(401, "Bad credentials")
        return self.tokens[token.strip()], self.login

    def _check_faults(self, method: str, path: str) -> None:
        now = time.time()
        self._windows = [w for w in self._windows if w.until > now]
        for window in self._windows:
            if _matches(window.method, window.path, method, path):
                raise self._rate_limited(window, now)
        for fault in self._faults:
            if not fault.lost and fault.remaining > 0 and _matches(fault.method, fault.path,
                                                                   method, path):
                fault.remaining -= 1
                if fault.status < 500:
                    raise ApiError(fault.status, fault.message or "Validation Failed")
                raise _server_error(fault.status)

    def _lose_answer(self, method: str, path: str, reply: Reply) -> Reply:
        """A request carried out whose answer the front end replaces with a 5xx page."""
        if reply.status >= 400:
            return reply
        for fault in self._faults:
            if fault.lost and fault.remaining > 0 and _matches(fault.method, fault.path, method,
                                                                path):
                fault.remaining -= 1
                return _server_error(fault.status).reply()
        return reply

    def _catch_up(self, lagging: set[str]) -> None:
        """One more request served: objects hidden during it come closer to visible."""
        for sha in lagging:
            self._hidden[sha] -= 1
            if self._hidden[sha] <= 0:
                del self._hidden[sha]
        self._invisible = set()

    def _object_type(self, sha: str | None) -> str | None:
        """An object's type as this request's replica sees it (None while it lags)."""
        return None if sha in self._invisible else self.repo.object_type(sha)

    def _written(self, sha: str, kind: str) -> None:
        """A write produced `sha`: the first time, it may lag on the replicas (replica_lag)."""
        if sha in self._created:
            return
        self._created.add(sha)
        for index, (requests, wanted) in enumerate(self._lag_next):
            if wanted in (None, kind):
                del self._lag_next[index]
                self._hidden[sha] = requests
                return

    def _rate_limited(self, window: _Window, now: float) -> ApiError:
        if window.kind == "primary":
            headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(window.until)),
                       "x-ratelimit-used": "5000", "x-ratelimit-limit": "5000"}
            return ApiError(window.status, PRIMARY_MESSAGE, headers=headers)
        headers = {}
        if window.retry_after_header:
            headers["retry-after"] = str(max(1, math.ceil(window.until - now)))
        return ApiError(window.status, SECONDARY_MESSAGE, headers=headers)

    def _rate_headers(self) -> dict[str, str]:
        used = len(self.log)
        return {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": str(max(0, 5000 - used)),
                "x-ratelimit-used": str(used), "x-ratelimit-resource": "core",
                "x-ratelimit-reset": str(int(time.time()) + 3600),
                "x-github-media-type": "github.v3; format=json",
                "x-github-api-version-selected": "2022-11-28"}

    def _check_repo(self, params: dict[str, str], rights: str) -> None:
        asked = (params["owner"].lower(), params["repo"].lower())
        if asked != (self.owner.lower(), self.name.lower()) or rights == "none":
            raise ApiError(404, "Not Found")

    def _route(self, method: str, path: str) -> tuple[Callable[..., Reply], dict[str, str], bool]:
        for verb, pattern, handler, write in self._routes:
            match = pattern.match(path)
            if match and verb == method:
                params = {k: unquote(v) for k, v in match.groupdict().items() if v is not None}
                return handler, params, write
        raise ApiError(404, "Not Found")

    def _route_table(self) -> list[tuple[str, re.Pattern[str], Callable[..., Reply], bool]]:
        repo = r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"
        pull = repo + r"/pulls/(?P<number>\d+)"
        table = [
            ("GET", r"/rate_limit", self._get_rate_limit, False),
            ("GET", repo, self._get_repo, False),
            ("GET", repo + r"/git/commits/(?P<sha>[^/]+)", self._get_commit, False),
            ("POST", repo + r"/git/commits", self._create_commit, True),
            ("GET", repo + r"/git/trees/(?P<sha>[^/]+)", self._get_tree, False),
            ("POST", repo + r"/git/trees", self._create_tree, True),
            ("GET", repo + r"/git/blobs/(?P<sha>[^/]+)", self._get_blob, False),
            ("POST", repo + r"/git/blobs", self._create_blob, True),
            ("GET", repo + r"/git/ref/(?P<ref>.+)", self._get_ref, False),
            ("GET", repo + r"/git/refs(?:/(?P<ref>.+))?", self._list_refs, False),
            ("GET", repo + r"/git/matching-refs/(?P<ref>.*)", self._matching_refs, False),
            ("POST", repo + r"/git/refs", self._create_ref, True),
            ("GET", repo + r"/git/tags/(?P<sha>[^/]+)", self._get_tag, False),
            ("POST", repo + r"/git/tags", self._create_tag, True),
            ("GET", repo + r"/releases/tags/(?P<tag>.+)", self._get_release_by_tag, False),
            ("POST", repo + r"/releases", self._create_release, True),
            ("PATCH", repo + r"/git/refs/(?P<ref>.+)", self._update_ref, True),
            ("DELETE", repo + r"/git/refs/(?P<ref>.+)", self._delete_ref, True),
            ("GET", repo + r"/pulls", self._list_pulls, False),
            ("POST", repo + r"/pulls", self._create_pull, True),
            ("GET", repo + r"/pulls/(?P<number>\d+)", self._get_pull, False),
            ("PATCH", repo + r"/pulls/(?P<number>\d+)", self._update_pull, True),
            ("PUT", pull + r"/merge", self._merge_pull, True),
            ("GET", pull + r"/requested_reviewers", self._get_reviewers, False),
            ("POST", pull + r"/requested_reviewers", self._request_reviewers, True),
            ("GET", repo + r"/issues/(?P<number>\d+)/comments", self._list_comments, False),
            ("POST", repo + r"/issues/(?P<number>\d+)/comments", self._create_comment, True),
            ("GET", repo + r"/issues/(?P<number>\d+)/labels", self._list_labels, False),
            ("POST", repo + r"/issues/(?P<number>\d+)/labels", self._add_labels, True),
            # who may open an issue is decided in the handler: a pull-only user may too
            ("GET", repo + r"/issues", self._list_issues, False),
            ("POST", repo + r"/issues", self._create_issue, False),
            ("GET", repo + r"/actions/workflows/(?P<workflow>[^/]+)", self._get_workflow, False),
            ("POST", repo + r"/actions/workflows/(?P<workflow>[^/]+)/dispatches",
             self._dispatch_workflow, True),
            ("GET", repo + r"/actions/workflows/(?P<workflow>[^/]+)/runs", self._list_runs,
             False),
        ]
        return [(verb, re.compile(f"^{pattern}/?$"), handler, write)
                for verb, pattern, handler, write in table]

    # JSON shapes

    @property
    def _repo_api(self) -> str:
        return f"{self.api_url}/repos/{self.full_name}"

    def _user_json(self, login: str, kind: str = "User") -> dict[str, Any]:
        return {"login": login, "id": _number(login), "node_id": f"U_standin_{login}",
                "avatar_url": f"{self.html_url}/avatars/{login}",
                "url": f"{self.api_url}/users/{login}",
                "html_url": f"{self.html_url}/{login}", "type": kind, "site_admin": False}

    def _team_json(self, slug: str) -> dict[str, Any]:
        return {"id": _number(slug), "node_id": f"T_standin_{slug}",
                "url": f"{self.api_url}/orgs/{self.owner}/teams/{slug}",
                "html_url": f"{self.html_url}/orgs/{self.owner}/teams/{slug}", "name": slug,
                "slug": slug, "description": None, "privacy": "closed", "permission": "push",
                "members_url": f"{self.api_url}/orgs/{self.owner}/teams/{slug}/members{{/member}}",
                "repositories_url": f"{self.api_url}/orgs/{self.owner}/teams/{slug}/repos",
                "parent": None}

    def _repo_json(self, rights: str | None = None) -> dict[str, Any]:
        data = {
            "id": 4242, "node_id": "R_kgDOstandin", "name": self.name, "full_name": self.full_name,
            "owner": self._user_json(self.owner, "Organization"), "private": True,
            "html_url": f"{self.html_url}/{self.full_name}", "description": None, "fork": False,
            "url": self._repo_api, "clone_url": self.repo_url,
            "default_branch": self.default_branch,
            "visibility": "private", "archived": False, "disabled": False,
            "allow_auto_merge": self.allow_auto_merge,
            "allow_merge_commit": "merge" in self.merge_methods,
            "allow_squash_merge": "squash" in self.merge_methods,
            "allow_rebase_merge": "rebase" in self.merge_methods,
            "has_issues": self.has_issues,
            "created_at": iso(0), "updated_at": iso(time.time()), "pushed_at": iso(time.time()),
        }
        if rights is not None:
            write = rights == "write"
            data["permissions"] = {"admin": False, "maintain": False, "push": write,
                                   "triage": write, "pull": True}
        return data

    def _commit_json(self, sha: str) -> dict[str, Any]:
        commit = self.repo.read_commit(sha)
        return {
            "sha": sha, "node_id": f"C_standin_{sha}", "url": f"{self._repo_api}/git/commits/{sha}",
            "html_url": f"{self.html_url}/{self.full_name}/commit/{sha}",
            "author": commit["author"], "committer": commit["committer"],
            "message": commit["message"],
            "tree": {"sha": commit["tree"], "url": f"{self._repo_api}/git/trees/{commit['tree']}"},
            "parents": [{"sha": p, "url": f"{self._repo_api}/git/commits/{p}",
                         "html_url": f"{self.html_url}/{self.full_name}/commit/{p}"}
                        for p in commit["parents"]],
            "verification": {"verified": False, "reason": "unsigned", "signature": None,
                             "payload": None, "verified_at": None},
        }

    def _tree_json(self, sha: str, recursive: bool = False) -> dict[str, Any]:
        entries = []
        for entry in self.repo.tree_listing(sha, recursive):
            kind = {"blob": "blobs", "tree": "trees", "commit": "commits"}[entry["type"]]
            item = {"path": entry["path"], "mode": entry["mode"], "type": entry["type"],
                    "sha": entry["sha"], "url": f"{self._repo_api}/git/{kind}/{entry['sha']}"}
            if entry["size"] is not None:
                item["size"] = entry["size"]
            entries.append(item)
        return {"sha": sha, "url": f"{self._repo_api}/git/trees/{sha}", "tree": entries,
                "truncated": False}

    def _ref_json(self, ref: str, sha: str) -> dict[str, Any]:
        kind = self.repo.object_type(sha) or "commit"
        return {"ref": ref, "node_id": f"REF_standin_{ref}", "url": f"{self._repo_api}/git/{ref}",
                "object": {"type": kind, "sha": sha, "url": f"{self._repo_api}/git/{kind}s/{sha}"}}

    def _label_json(self, name: str) -> dict[str, Any]:
        return {"id": _number(name), "node_id": f"LA_standin_{name}",
                "url": f"{self._repo_api}/labels/{quote(name)}", "name": name, "description": None,
                "color": "ededed", "default": False}

    def _part_json(self, branch: str, sha: str) -> dict[str, Any]:
        return {"label": f"{self.owner}:{branch}", "ref": branch, "sha": sha,
                "user": self._user_json(self.owner, "Organization"), "repo": self._repo_json()}

    def _pull_json(self, pr: Pull) -> dict[str, Any]:
        n, api, html = pr.number, self._repo_api, f"{self.html_url}/{self.full_name}"
        head_sha = self._reported_head(pr)
        base_sha = self.repo.ref_sha(f"refs/heads/{pr.base}") or pr.base_sha
        state = self._reported_state(pr)
        commits = int(self.repo.out("rev-list", "--count", f"{base_sha}..{head_sha}") or 0)
        links = {"self": f"{api}/pulls/{n}", "html": f"{html}/pull/{n}",
                 "issue": f"{api}/issues/{n}",
                 "comments": f"{api}/issues/{n}/comments",
                 "review_comments": f"{api}/pulls/{n}/comments",
                 "review_comment": f"{api}/pulls/comments{{/number}}",
                 "commits": f"{api}/pulls/{n}/commits", "statuses": f"{api}/statuses/{head_sha}"}
        return {
            "url": links["self"], "id": 100_000 + n, "node_id": pr.node_id,
            "html_url": links["html"],
            "diff_url": f"{html}/pull/{n}.diff", "patch_url": f"{html}/pull/{n}.patch",
            "issue_url": links["issue"], "commits_url": links["commits"],
            "review_comments_url": links["review_comments"],
            "review_comment_url": links["review_comment"], "comments_url": links["comments"],
            "statuses_url": links["statuses"], "number": n, "state": pr.state, "locked": False,
            "title": pr.title, "user": self._user_json(pr.user, "Bot"), "body": pr.body,
            "labels": [self._label_json(name) for name in pr.labels], "milestone": None,
            "active_lock_reason": None, "created_at": iso(pr.created_at),
            "updated_at": iso(pr.updated_at),
            "closed_at": iso(pr.closed_at) if pr.closed_at else None,
            "merged_at": iso(pr.merged_at) if pr.merged_at else None,
            "merge_commit_sha": pr.merge_commit_sha, "assignee": None, "assignees": [],
            "requested_reviewers": [self._user_json(u) for u in pr.reviewers],
            "requested_teams": [self._team_json(t) for t in pr.teams],
            "head": self._part_json(pr.head, head_sha), "base": self._part_json(pr.base, base_sha),
            "_links": {k: {"href": v} for k, v in links.items()},
            "author_association": "CONTRIBUTOR", "auto_merge": pr.auto_merge, "draft": pr.draft,
            "merged": pr.merged, "mergeable": _mergeable(state), "rebaseable": _mergeable(state),
            "mergeable_state": state,
            "merged_by": None, "comments": sum(1 for c in self.comments if c.issue == n),
            "review_comments": 0, "maintainer_can_modify": False, "commits": commits,
            "additions": 0, "deletions": 0, "changed_files": 0,
        }

    def _comment_json(self, comment: Comment) -> dict[str, Any]:
        return {"id": comment.id, "node_id": f"IC_standin_{comment.id}",
                "url": f"{self._repo_api}/issues/comments/{comment.id}",
                "html_url": f"{self.html_url}/{self.full_name}/pull/{comment.issue}"
                            f"#issuecomment-{comment.id}",
                "body": comment.body, "user": self._user_json(comment.user, "Bot"),
                "created_at": iso(comment.created_at), "updated_at": iso(comment.created_at),
                "issue_url": f"{self._repo_api}/issues/{comment.issue}",
                "author_association": "CONTRIBUTOR"}

    def _paginate(self, items: list[Any], path: str, query: dict[str, str]) -> Reply:
        """GitHub's page/per_page with a Link header (rel next/last/first/prev)."""
        per_page = max(1, min(_int(query.get("per_page"), 30), 100))
        page = max(1, _int(query.get("page"), 1))
        last = max(1, math.ceil(len(items) / per_page))
        links = []
        for rel, number in (("prev", page - 1), ("next", page + 1), ("first", 1), ("last", last)):
            if (rel in ("prev", "first") and page > 1) or (rel in ("next", "last") and page < last):
                params = urlencode({**query, "page": number, "per_page": per_page})
                links.append(f'<{self.api_url}{path}?{params}>; rel="{rel}"')
        headers = {"link": ", ".join(links)} if links else {}
        return Reply(200, items[(page - 1) * per_page: page * per_page], headers)

    # handlers: repository and rate limit

    def _get_rate_limit(self, **_: Any) -> Reply:
        core = {"limit": 5000, "remaining": max(0, 5000 - len(self.log)), "used": len(self.log),
                "reset": int(time.time()) + 3600}
        resources = {name: dict(core, resource=name) for name in ("core", "search", "graphql")}
        return Reply(200, {"resources": resources, "rate": dict(core, resource="core")})

    def _get_repo(self, rights: str, **_: Any) -> Reply:
        return Reply(200, self._repo_json(rights))

    # handlers: git data

    def _get_commit(self, params: dict[str, str], **_: Any) -> Reply:
        if self._object_type(params["sha"]) != "commit":
            raise ApiError(404, "Not Found")
        return Reply(200, self._commit_json(params["sha"]))

    def _create_commit(self, body: Any, login: str, **_: Any) -> Reply:
        body = _require_object(body)
        message, tree, parents = body.get("message"), body.get("tree"), body.get("parents", [])
        if not isinstance(message, str):
            raise ApiError(422, 'Invalid request.\n\n"message" wasn\'t supplied.')
        if not isinstance(tree, str):
            raise ApiError(422, 'Invalid request.\n\n"tree" wasn\'t supplied.')
        if not isinstance(parents, list) or not all(isinstance(p, str) for p in parents):
            raise ApiError(422, "Invalid request.\n\nFor 'properties/parents', it is not an "
                                "array of strings.")
        if self._object_type(tree) != "tree":
            raise ApiError(422, "Tree SHA does not exist")
        for parent in parents:
            if self._object_type(parent) != "commit":
                raise ApiError(422, "Parent SHA does not exist or is not a commit object")
        default = {"name": login, "email": f"{login}@users.noreply.github.com"}
        author = _person(body.get("author"), default, "author")
        committer = _person(body.get("committer"), author, "committer")
        sha = self.repo.commit_tree(tree, parents, message, author, committer)
        self._written(sha, "commit")
        return Reply(201, self._commit_json(sha),
                     {"location": f"{self._repo_api}/git/commits/{sha}"})

    def _get_tree(self, params: dict[str, str], query: dict[str, str], **_: Any) -> Reply:
        sha = params["sha"]
        if self._object_type(sha) == "commit":
            sha = self.repo.read_commit(sha)["tree"]
        if self._object_type(sha) != "tree":
            raise ApiError(404, "Not Found")
        recursive = query.get("recursive") not in (None, "", "0", "false")
        return Reply(200, self._tree_json(sha, recursive))

    def _create_tree(self, body: Any, **_: Any) -> Reply:
        body = _require_object(body)
        entries = body.get("tree")
        if not isinstance(entries, list):
            raise ApiError(422, 'Invalid request.\n\n"tree" wasn\'t supplied.')
        base_tree = body.get("base_tree")
        if base_tree is not None and self._object_type(base_tree) != "tree":
            raise ApiError(422, f"base_tree {base_tree} is not a valid tree oid")
        inputs = [self._tree_input(entry) for entry in entries]
        sha = self.repo.build_tree(base_tree, inputs)
        self._written(sha, "tree")
        return Reply(201, self._tree_json(sha), {"location": f"{self._repo_api}/git/trees/{sha}"})

    def _tree_input(self, entry: Any) -> TreeInput:
        if not isinstance(entry, dict):
            raise ApiError(422, "Invalid request.\n\nFor 'items', it is not an object.")
        path, mode, kind = entry.get("path"), entry.get("mode"), entry.get("type")
        if not isinstance(path, str) or not _valid_path(path):
            raise ApiError(422, "tree.path contains a malformed path component")
        if mode not in FILE_MODES:
            raise ApiError(422, f"tree.mode {mode} is not a valid file mode")
        if kind not in ("blob", "tree", "commit"):
            raise ApiError(422, f"tree.type {kind} is not a valid object type")
        if "sha" in entry and "content" in entry:
            raise ApiError(422, "Must supply either tree.sha or tree.content. Request will be "
                                "rejected if both are present.")
        content = entry.get("content")
        if content is not None:
            if not isinstance(content, str) or kind != "blob":
                raise ApiError(422, "tree.content must be a string for a blob")
            return TreeInput(path, mode, kind, content=content.encode("utf-8"))
        sha = entry.get("sha")
        if sha is not None and kind != "commit" and self._object_type(sha) != kind:
            raise ApiError(422, f"tree.sha {sha} is not a valid {kind}")
        if sha is None and "sha" not in entry:
            raise ApiError(422, "Must supply either tree.sha or tree.content.")
        return TreeInput(path, mode, kind, sha=sha)

    def _get_blob(self, params: dict[str, str], **_: Any) -> Reply:
        sha = params["sha"]
        if self._object_type(sha) != "blob":
            raise ApiError(404, "Not Found")
        data = self.repo.blob(sha)
        return Reply(200, {"sha": sha, "node_id": f"B_standin_{sha}", "size": len(data),
                           "url": f"{self._repo_api}/git/blobs/{sha}", "encoding": "base64",
                           "content": base64.encodebytes(data).decode("ascii")})

    def _create_blob(self, body: Any, **_: Any) -> Reply:
        body = _require_object(body)
        content, encoding = body.get("content"), body.get("encoding", "utf-8")
        if not isinstance(content, str):
            raise ApiError(422, 'Invalid request.\n\n"content" wasn\'t supplied.')
        if encoding == "base64":
            try:
                data = base64.b64decode(content, validate=False)
            except binascii.Error as exc:
                raise ApiError(422, "content is not valid Base64") from exc
        elif encoding in ("utf-8", "utf8"):
            data = content.encode("utf-8")
        else:
            raise ApiError(422, f"encoding must be utf-8 or base64, not {encoding}")
        sha = self.repo.hash_blobs([data])[0]
        self._written(sha, "blob")
        return Reply(201, {"sha": sha, "url": f"{self._repo_api}/git/blobs/{sha}"},
                     {"location": f"{self._repo_api}/git/blobs/{sha}"})

    # handlers: refs

    def _get_ref(self, params: dict[str, str], **_: Any) -> Reply:
        ref = "refs/" + params["ref"]
        sha = dict(self.repo.refs()).get(ref)
        if sha is None:
            raise ApiError(404, "Not Found")
        return Reply(200, self._ref_json(ref, sha))

    def _list_refs(self, params: dict[str, str], query: dict[str, str], **_: Any) -> Reply:
        """Legacy GET git/refs/{ref}: one object on an exact match, a list for a prefix."""
        refs = self.repo.refs()
        wanted = params.get("ref")
        if wanted:
            exact = [r for r in refs if r[0] == f"refs/{wanted}"]
            if exact:
                return Reply(200, self._ref_json(*exact[0]))
            refs = [r for r in refs if r[0].startswith(f"refs/{wanted.rstrip('/')}/")]
            if not refs:
                raise ApiError(404, "Not Found")
        path = f"/repos/{self.full_name}/git/refs" + (f"/{wanted}" if wanted else "")
        return self._paginate([self._ref_json(*r) for r in refs], path, query)

    def _matching_refs(self, params: dict[str, str], query: dict[str, str], **_: Any) -> Reply:
        wanted = params.get("ref", "")
        refs = [self._ref_json(*r) for r in self.repo.refs() if r[0].startswith("refs/" + wanted)]
        return self._paginate(refs, f"/repos/{self.full_name}/git/matching-refs/{wanted}", query)

    def _create_ref(self, body: Any, **_: Any) -> Reply:
        body = _require_object(body)
        ref, sha = body.get("ref"), body.get("sha")
        if not isinstance(ref, str) or not ref.startswith("refs/") or ref.count("/") < 2 \
                or self.repo.git("check-ref-format", ref, check=False).returncode != 0:
            raise ApiError(422, f"{ref} is not a valid ref name.")
        if self._object_type(sha) is None:
            raise ApiError(422, "Object does not exist")
        if not self.repo.update_ref(ref, sha, ZERO):
            raise ApiError(422, "Reference already exists")
        return Reply(201, self._ref_json(ref, sha), {"location": f"{self._repo_api}/git/{ref}"})

    def _update_ref(self, params: dict[str, str], body: Any, **_: Any) -> Reply:
        while self._before_ref_update:
            self._before_ref_update.pop(0)()
        body = _require_object(body)
        ref, sha, force = "refs/" + params["ref"], body.get("sha"), bool(body.get("force", False))
        if not isinstance(sha, str):
            raise ApiError(422, 'Invalid request.\n\n"sha" wasn\'t supplied.')
        if self._object_type(sha) is None:
            raise ApiError(422, "Object does not exist")
        if ref in self.protected:
            raise ApiError(422, self.protected[ref])
        for _attempt in range(3):
            current = dict(self.repo.refs()).get(ref)
            if current is None:
                raise ApiError(422, "Reference does not exist")
            if not force and not self.repo.is_ancestor(current, sha):
                raise ApiError(422, "Update is not a fast forward")
            if self.repo.update_ref(ref, sha, current):
                return Reply(200, self._ref_json(ref, sha))
        raise ApiError(422, "Reference cannot be updated")

    def _delete_ref(self, params: dict[str, str], **_: Any) -> Reply:
        ref = "refs/" + params["ref"]
        if ref in self.protected:
            raise ApiError(422, self.protected[ref])
        current = dict(self.repo.refs()).get(ref)
        if current is None or not self.repo.delete_ref(ref, current):
            raise ApiError(422, "Reference does not exist")
        return Reply(204)

    # handlers: tag objects and releases (docs.github.com/rest/git/tags, /rest/releases)

    def _tag_json(self, sha: str) -> dict[str, Any]:
        raw = self.repo.git("cat-file", "tag", sha).stdout.decode("utf-8", "replace")
        header, _, message = raw.partition("\n\n")
        fields: dict[str, Any] = {}
        for line in header.split("\n"):
            key, _, value = line.partition(" ")
            fields[key] = _parse_person(value) if key == "tagger" else value
        target, kind = fields.get("object", ""), fields.get("type", "commit")
        return {"node_id": f"TAG_standin_{sha}", "tag": fields.get("tag", ""), "sha": sha,
                "url": f"{self._repo_api}/git/tags/{sha}", "message": message,
                "tagger": fields.get("tagger"),
                "object": {"type": kind, "sha": target,
                           "url": f"{self._repo_api}/git/{kind}s/{target}"},
                "verification": {"verified": False, "reason": "unsigned", "signature": None,
                                 "payload": None, "verified_at": None}}

    def _get_tag(self, params: dict[str, str], **_: Any) -> Reply:
        if self._object_type(params["sha"]) != "tag":
            raise ApiError(404, "Not Found")
        return Reply(200, self._tag_json(params["sha"]))

    def _create_tag(self, body: Any, login: str, **_: Any) -> Reply:
        """POST git/tags writes the tag object only: no refs/tags/NAME (that is git/refs)."""
        body = _require_object(body)
        for key in ("tag", "message", "object", "type"):
            if not isinstance(body.get(key), str):
                raise ApiError(422, f'Invalid request.\n\n"{key}" wasn\'t supplied.')
        if body["type"] not in ("commit", "tree", "blob"):
            raise validation_failed({"resource": "Tag", "field": "type", "code": "invalid"})
        if self._object_type(body["object"]) != body["type"]:
            raise ApiError(422, "Object does not exist")
        default = {"name": login, "email": f"{login}@users.noreply.github.com"}
        tagger = _person(body.get("tagger"), default, "tagger")
        epoch = tagger["date"].lstrip("@")
        text = (f"object {body['object']}\ntype {body['type']}\ntag {body['tag']}\n"
                f"tagger {tagger['name']} <{tagger['email']}> {epoch}\n\n{body['message']}")
        done = self.repo.git("mktag", input=text.encode("utf-8"), check=False)
        if done.returncode != 0:
            raise validation_failed({"resource": "Tag", "field": "tag", "code": "invalid"})
        sha = done.stdout.decode().strip()
        self._written(sha, "tag")
        return Reply(201, self._tag_json(sha), {"location": f"{self._repo_api}/git/tags/{sha}"})

    def _release_json(self, release: dict[str, Any]) -> dict[str, Any]:
        rid, tag = release["id"], release["tag_name"]
        html = f"{self.html_url}/{self.full_name}"
        return {"url": f"{self._repo_api}/releases/{rid}",
                "html_url": f"{html}/releases/tag/{quote(tag)}",
                "assets_url": f"{self._repo_api}/releases/{rid}/assets",
                "upload_url": f"{self.api_url}/uploads/{self.full_name}/releases/{rid}/assets"
                              "{?name,label}",
                "tarball_url": f"{self._repo_api}/tarball/{quote(tag)}",
                "zipball_url": f"{self._repo_api}/zipball/{quote(tag)}",
                "id": rid, "node_id": f"RE_standin_{rid}", "tag_name": tag,
                "target_commitish": release["target_commitish"], "name": release["name"],
                "body": release["body"], "draft": release["draft"],
                "prerelease": release["prerelease"], "created_at": release["created_at"],
                "published_at": None if release["draft"] else release["created_at"],
                "author": self._user_json(release["author"], "Bot"), "assets": []}

    def _get_release_by_tag(self, params: dict[str, str], **_: Any) -> Reply:
        release = self.releases.get(params["tag"])
        if release is None:
            raise ApiError(404, "Not Found")
        return Reply(200, self._release_json(release))

    def _create_release(self, body: Any, login: str, **_: Any) -> Reply:
        """A release on tag_name; a tag that does not exist yet is made (lightweight) from
        target_commitish, the default branch unless given; one release per tag (422
        already_exists)."""
        body = _require_object(body)
        tag = body.get("tag_name")
        if not isinstance(tag, str) or not tag:
            raise ApiError(422, 'Invalid request.\n\n"tag_name" wasn\'t supplied.')
        if tag in self.releases:
            raise validation_failed({"resource": "Release", "code": "already_exists",
                                     "field": "tag_name"})
        target = body.get("target_commitish") or self.default_branch
        ref = f"refs/tags/{tag}"
        if self.repo.ref_sha(ref) is None:
            sha = self.repo.ref_sha(f"refs/heads/{target}") or (
                target if self._object_type(target) == "commit" else None)
            if sha is None or self.repo.git("check-ref-format", ref, check=False).returncode:
                raise validation_failed({"resource": "Release", "code": "invalid",
                                         "field": "target_commitish"})
            self.repo.update_ref(ref, sha, ZERO)
        release = {"id": next(self._release_ids), "tag_name": tag, "target_commitish": target,
                   "name": body.get("name") or tag, "body": body.get("body") or "",
                   "draft": bool(body.get("draft", False)),
                   "prerelease": bool(body.get("prerelease", False)),
                   "created_at": iso(time.time()), "author": login}
        self.releases[tag] = release
        return Reply(201, self._release_json(release),
                     {"location": f"{self._repo_api}/releases/{release['id']}"})

    # handlers: pull requests

    def _pull(self, params: dict[str, str]) -> Pull:
        pr = self.pulls.get(int(params["number"]))
        if pr is None:
            raise ApiError(404, "Not Found")
        return pr

    def _list_pulls(self, query: dict[str, str], **_: Any) -> Reply:
        state = query.get("state", "open")
        if state not in ("open", "closed", "all"):
            raise validation_failed({"resource": "PullRequest", "field": "state",
                                     "code": "invalid"})
        pulls = [p for p in self.pulls.values() if state in ("all", p.state)]
        if query.get("base"):
            pulls = [p for p in pulls if p.base == query["base"]]
        if query.get("head"):
            owner, _, branch = query["head"].rpartition(":")
            pulls = [p for p in pulls
                     if p.head == branch and (not owner or owner.lower() == self.owner.lower())]
        key = "updated_at" if query.get("sort") == "updated" else "created_at"
        default_direction = "desc" if query.get("sort", "created") == "created" else "asc"
        descending = query.get("direction", default_direction) == "desc"
        pulls.sort(key=lambda p: (getattr(p, key), p.number), reverse=descending)
        return self._paginate([self._pull_json(p) for p in pulls],
                              f"/repos/{self.full_name}/pulls", query)

    def _create_pull(self, body: Any, login: str, **_: Any) -> Reply:
        body = _require_object(body)
        title, head, base = body.get("title"), body.get("head"), body.get("base")
        for name, value in (("title", title), ("head", head), ("base", base)):
            if not isinstance(value, str) or not value:
                raise validation_failed({"resource": "PullRequest", "code": "missing_field",
                                         "field": name})
        owner, _, branch = head.rpartition(":")
        head_sha = self.repo.ref_sha(f"refs/heads/{branch}")
        if (owner and owner.lower() != self.owner.lower()) or head_sha is None:
            raise validation_failed({"resource": "PullRequest", "field": "head", "code": "invalid"})
        base_sha = self.repo.ref_sha(f"refs/heads/{base}")
        if base_sha is None:
            raise validation_failed({"resource": "PullRequest", "field": "base", "code": "invalid"})
        if any(p.state == "open" and p.head == branch and p.base == base
               for p in self.pulls.values()):
            raise validation_failed({"resource": "PullRequest", "code": "custom", "message":
                                     f"A pull request already exists for {self.owner}:{branch}."})
        if self.repo.is_ancestor(head_sha, base_sha):
            raise validation_failed({"resource": "PullRequest", "code": "custom",
                                     "message": f"No commits between {base} and {branch}"})
        body_text = body.get("body")
        text = body_text if isinstance(body_text, str) else None
        pr = Pull(next(self._issue_numbers), title, text, branch, base, login, head_sha, base_sha,
                  draft=bool(body.get("draft", False)), reported_head=head_sha,
                  seen_head=head_sha, unknown_reads=self.mergeability_lag)
        self.pulls[pr.number] = pr
        return Reply(201, self._pull_json(pr), {"location": f"{self._repo_api}/pulls/{pr.number}"})

    def _get_pull(self, params: dict[str, str], **_: Any) -> Reply:
        return Reply(200, self._pull_json(self._pull(params)))

    def _update_pull(self, params: dict[str, str], body: Any, **_: Any) -> Reply:
        pr, body = self._pull(params), _require_object(body)
        if "state" in body and body["state"] not in ("open", "closed"):
            raise validation_failed({"resource": "PullRequest", "field": "state",
                                     "code": "invalid"})
        if "base" in body and self.repo.ref_sha(f"refs/heads/{body['base']}") is None:
            raise validation_failed({"resource": "PullRequest", "field": "base", "code": "invalid"})
        for name in ("title", "body", "base"):
            if isinstance(body.get(name), str):
                setattr(pr, name, body[name])
        if body.get("state") == "closed" and pr.state == "open":
            pr.state, pr.closed_at, pr.auto_merge = "closed", time.time(), None
            pr.head_sha = self.repo.ref_sha(f"refs/heads/{pr.head}") or pr.head_sha
        elif body.get("state") == "open":
            pr.state, pr.closed_at = "open", None
        pr.updated_at = time.time()
        return Reply(200, self._pull_json(pr))

    def _get_reviewers(self, params: dict[str, str], **_: Any) -> Reply:
        pr = self._pull(params)
        return Reply(200, {"users": [self._user_json(u) for u in pr.reviewers],
                           "teams": [self._team_json(t) for t in pr.teams]})

    def _request_reviewers(self, params: dict[str, str], body: Any, **_: Any) -> Reply:
        pr, body = self._pull(params), _require_object(body)
        users, teams = body.get("reviewers", []), body.get("team_reviewers", [])
        if not isinstance(users, list) or not isinstance(teams, list):
            raise ApiError(422, "Invalid request.\n\nreviewers and team_reviewers must be arrays.")
        if pr.user in users:
            raise ApiError(422, "Review cannot be requested from pull request author.")
        unknown = [u for u in users if u not in self.collaborators] + \
                  [t for t in teams if t not in self.teams]
        if unknown:
            raise ApiError(422, "Reviews may only be requested from collaborators. One or more of "
                                "the users or teams you specified is not a collaborator of the "
                                f"{self.full_name} repository.")
        pr.reviewers += [u for u in users if u not in pr.reviewers]
        pr.teams += [t for t in teams if t not in pr.teams]
        return Reply(201, self._pull_json(pr))

    # mergeability, head lag and the merge button

    def _reported_head(self, pr: Pull) -> str:
        """The head.sha REST shows: after a push, the previous one for `head_sha_lag` reads."""
        actual = self.repo.ref_sha(f"refs/heads/{pr.head}") or pr.head_sha
        if actual != pr.seen_head:  # the branch moved since GitHub last looked
            pr.seen_head, pr.head_lag = actual, self.head_sha_lag
            pr.unknown_reads = self.mergeability_lag
        if pr.head_lag > 0 and pr.state == "open":
            pr.head_lag -= 1
            return pr.reported_head or actual
        pr.reported_head = actual
        return actual

    def _reported_state(self, pr: Pull) -> str:
        """mergeable_state as REST shows it: "unknown" while GitHub computes it."""
        if pr.state != "open":
            return "unknown"
        if pr.unknown_reads > 0:
            pr.unknown_reads -= 1
            return "unknown"
        return self._merge_state(pr)

    def _merge_state(self, pr: Pull) -> str:
        """The real state (what the merge button and auto-merge decide on): a draft is "draft",
        a PR whose head conflicts with its base is "dirty", else the repository's `merge_state`."""
        if pr.draft:
            return "draft"
        head = self.repo.ref_sha(f"refs/heads/{pr.head}") or pr.head_sha
        base = self.repo.ref_sha(f"refs/heads/{pr.base}") or pr.base_sha
        if self.repo.merge_tree(base, head) is None:
            return "dirty"
        return self.merge_state

    def _merge_pull(self, params: dict[str, str], body: Any, login: str, **_: Any) -> Reply:
        """PUT pulls/{n}/merge: 405 when not mergeable or the method is not allowed, 409 when
        `sha` is not the head any more, else a real merge, squash or rebase onto the base."""
        pr = self._pull(params)
        body = _require_object(body if body is not None else {})
        method = body.get("merge_method", "merge")
        if method not in ("merge", "squash", "rebase"):
            raise validation_failed({"resource": "PullRequest", "field": "merge_method",
                                     "code": "invalid"})
        if pr.state != "open":
            raise ApiError(405, "Pull Request is not mergeable")
        head = self.repo.ref_sha(f"refs/heads/{pr.head}") or pr.head_sha
        if body.get("sha") is not None and body["sha"] != head:
            raise ApiError(409, "Head branch was modified. Review and try the merge again.")
        if method not in self.merge_methods:
            raise ApiError(405, {"merge": "Merge commits are not allowed on this repository.",
                                 "squash": "Squash merges are not allowed on this repository.",
                                 "rebase": "Rebase merges are not allowed on this repository."}
                           [method])
        if self._merge_state(pr) not in ("clean", "unstable", "has_hooks"):
            raise ApiError(405, "Pull Request is not mergeable")
        sha = self._land_merge(pr, head, method, body, login)
        pr.state, pr.merged, pr.auto_merge = "closed", True, None
        pr.closed_at = pr.merged_at = pr.updated_at = time.time()
        pr.merge_commit_sha = sha
        return Reply(200, {"sha": sha, "merged": True,
                           "message": "Pull Request successfully merged"})

    def _land_merge(self, pr: Pull, head: str, method: str, body: dict[str, Any],
                    login: str) -> str:
        """The merge written with git and the base moved by compare-and-swap."""
        ref = f"refs/heads/{pr.base}"
        base = self.repo.ref_sha(ref) or pr.base_sha
        person = {"name": login, "email": f"{login}@users.noreply.github.com",
                  "date": _git_date(None)}
        title = body.get("commit_title") or (
            f"Merge pull request #{pr.number} from {self.owner}/{pr.head}" if method == "merge"
            else f"{pr.title} (#{pr.number})")
        message = f"{title}\n\n{body.get('commit_message') or pr.title}\n"
        if method == "rebase":
            sha = base
            for commit in self.repo.out("rev-list", "--reverse", f"{base}..{head}").split():
                tree = self.repo.merge_tree(sha, commit)
                original = self.repo.read_commit(commit)
                sha = self.repo.commit_tree(str(tree), [sha], original["message"], person, person)
        else:
            tree = str(self.repo.merge_tree(base, head))
            parents = [base, head] if method == "merge" else [base]
            sha = self.repo.commit_tree(tree, parents, message, person, person)
        if not self.repo.update_ref(ref, sha, base):
            raise ApiError(405, "Base branch was modified. Review and try the merge again.")
        return sha

    # handlers: issues (comments, labels)

    def _list_comments(self, params: dict[str, str], query: dict[str, str], **_: Any) -> Reply:
        number = self._pull(params).number
        comments = [self._comment_json(c) for c in self.comments if c.issue == number]
        return self._paginate(comments, f"/repos/{self.full_name}/issues/{number}/comments", query)

    def _create_comment(self, params: dict[str, str], body: Any, login: str, **_: Any) -> Reply:
        number, body = self._pull(params).number, _require_object(body)
        if not isinstance(body.get("body"), str) or not body["body"]:
            raise validation_failed({"resource": "IssueComment", "code": "missing_field",
                                     "field": "body"})
        comment = Comment(next(self._comment_ids), number, body["body"], login)
        self.comments.append(comment)
        return Reply(201, self._comment_json(comment),
                     {"location": f"{self._repo_api}/issues/comments/{comment.id}"})

    def _list_labels(self, params: dict[str, str], **_: Any) -> Reply:
        return Reply(200, [self._label_json(n) for n in self._pull(params).labels])

    def _add_labels(self, params: dict[str, str], body: Any, **_: Any) -> Reply:
        """Accepts every documented body: ["a"], {"labels": ["a"]}, {"labels": [{"name": "a"}]}."""
        pr = self._pull(params)
        labels = body.get("labels") if isinstance(body, dict) else body
        if not isinstance(labels, list) or not labels:
            raise validation_failed({"resource": "Label", "code": "missing_field",
                                     "field": "labels"})
        names = [item.get("name") if isinstance(item, dict) else item for item in labels]
        if not all(isinstance(n, str) and n for n in names):
            raise validation_failed({"resource": "Label", "code": "invalid", "field": "name"})
        pr.labels += [n for n in names if n not in pr.labels]
        return Reply(200, [self._label_json(n) for n in pr.labels])

    # handlers: issues (mlgate verify's incident)

    def _issue_json(self, issue: dict[str, Any]) -> dict[str, Any]:
        n, api = issue["number"], self._repo_api
        return {
            "id": 200_000 + n, "node_id": f"I_standin_{n:06d}", "url": f"{api}/issues/{n}",
            "repository_url": api, "labels_url": f"{api}/issues/{n}/labels{{/name}}",
            "comments_url": f"{api}/issues/{n}/comments", "events_url": f"{api}/issues/{n}/events",
            "html_url": f"{self.html_url}/{self.full_name}/issues/{n}", "number": n,
            "state": issue["state"], "state_reason": None, "title": issue["title"],
            "body": issue["body"], "user": self._user_json(issue["user"], "Bot"),
            "labels": [self._label_json(name) for name in issue["labels"]], "assignee": None,
            "assignees": [], "milestone": None, "locked": False, "active_lock_reason": None,
            "comments": 0, "closed_at": None, "created_at": iso(issue["created_at"]),
            "updated_at": iso(issue["updated_at"]), "author_association": "CONTRIBUTOR",
        }

    def _pull_as_issue(self, pr: Pull) -> dict[str, Any]:
        """A pull request as the issues listing shows it (every PR is an issue)."""
        data = self._issue_json({"number": pr.number, "state": pr.state, "title": pr.title,
                                 "body": pr.body, "user": pr.user, "labels": pr.labels,
                                 "created_at": pr.created_at, "updated_at": pr.updated_at})
        data["html_url"] = f"{self.html_url}/{self.full_name}/pull/{pr.number}"
        data["pull_request"] = {"url": f"{self._repo_api}/pulls/{pr.number}",
                                "html_url": data["html_url"], "merged_at": None}
        return data

    def _list_issues(self, query: dict[str, str], **_: Any) -> Reply:
        """GET issues: open by default, newest first; `since` is on updated_at; PRs included."""
        if not self.has_issues:
            raise ApiError(410, "Issues are disabled for this repo")
        state = query.get("state", "open")
        if state not in ("open", "closed", "all"):
            raise validation_failed({"resource": "Issue", "field": "state", "code": "invalid"})
        since = _parse_time(query["since"]) if query.get("since") else None
        if query.get("since") and since is None:
            raise validation_failed({"resource": "Issue", "field": "since", "code": "invalid"})
        items = [self._issue_json(i) for i in self.issues.values()]
        items += [self._pull_as_issue(p) for p in self.pulls.values()]
        items = [i for i in items if state in ("all", i["state"])
                 and (since is None or _parse_time(i["updated_at"]) >= since)]
        key = "updated_at" if query.get("sort") == "updated" else "created_at"
        items.sort(key=lambda i: (i[key], i["number"]),
                   reverse=query.get("direction", "desc") == "desc")
        return self._paginate(items, f"/repos/{self.full_name}/issues", query)

    def _create_issue(self, body: Any, login: str, rights: str, **_: Any) -> Reply:
        """POST issues (docs: issues#create-an-issue): 403 for an integration without issue
        rights, 410 when issues are disabled, 422 for a missing or too long title or body."""
        if rights not in ("write", "pull"):
            raise ApiError(403, "Resource not accessible by integration")
        if not self.has_issues:
            raise ApiError(410, "Issues are disabled for this repo")
        body = _require_object(body)
        title, text = body.get("title"), body.get("body")
        if title is None:
            raise ApiError(422, 'Invalid request.\n\n"title" wasn\'t supplied.')
        if not isinstance(title, (str, int)) or isinstance(title, bool):
            raise ApiError(422, "Invalid request.\n\nFor 'properties/title', "
                                f"{json.dumps(title)} is not a string or an integer.")
        if text is not None and not isinstance(text, str):
            raise ApiError(422, "Invalid request.\n\nFor 'properties/body', "
                                f"{json.dumps(text)} is not a string or null.")
        title = str(title)
        if not title.strip():
            raise validation_failed({"resource": "Issue", "code": "missing_field",
                                     "field": "title"})
        for field_name, value, limit in (("title", title, ISSUE_TITLE_MAX),
                                         ("body", text or "", ISSUE_BODY_MAX)):
            if len(value) > limit:
                raise validation_failed({"resource": "Issue", "code": "custom",
                                         "field": field_name, "message": f"{field_name} is too "
                                         f"long (maximum is {limit} characters)"})
        labels = self._issue_labels(body.get("labels"), rights)
        now, number = time.time(), next(self._issue_numbers)
        issue = {"number": number, "state": "open", "title": title, "body": text,
                 "user": login, "labels": labels, "created_at": now, "updated_at": now}
        self.issues[number] = issue
        return Reply(201, self._issue_json(issue),
                     {"location": f"{self._repo_api}/issues/{number}"})

    def _issue_labels(self, value: Any, rights: str) -> list[str]:
        """Label names (strings or {"name": ...}); unknown ones are created for a push user,
        a pull-only user's are dropped -- or refused when one does not exist yet."""
        if value is None:
            return []
        if not isinstance(value, list):
            raise ApiError(422, "Invalid request.\n\nFor 'properties/labels', "
                                f"{json.dumps(value)} is not an array.")
        names = [item.get("name") if isinstance(item, dict) else item for item in value]
        for name in names:
            if not isinstance(name, str) or not name.strip():
                raise validation_failed({"resource": "Label", "code": "invalid",
                                         "field": "name"})
            if len(name) > LABEL_NAME_MAX:
                raise validation_failed({"resource": "Label", "code": "custom", "field": "name",
                                         "message": f"name is too long (maximum is "
                                                    f"{LABEL_NAME_MAX} characters)"})
        known = {n.lower(): n for n in self.repo_labels}
        if rights != "write":
            if any(n.lower() not in known for n in names):
                # community discussion #197408: HTTP 403 (GitHub's wording is not recorded)
                raise ApiError(403, "Resource not accessible by personal access token")
            return []
        labels: list[str] = []
        for name in names:
            if name.lower() not in known:
                self.repo_labels.append(name)
                known[name.lower()] = name
            if known[name.lower()] not in labels:
                labels.append(known[name.lower()])
        return labels

    # handlers: Actions workflows (mlgate verify's retraining)

    def _workflow(self, params: dict[str, str]) -> Workflow:
        """A workflow by numeric id or by file name (train.yml), as GitHub takes either."""
        key = params["workflow"]
        for workflow in self.workflows.values():
            if str(workflow.id) == key or workflow.file_name == key:
                return workflow
        raise ApiError(404, "Not Found")

    def _workflow_json(self, workflow: Workflow) -> dict[str, Any]:
        html = f"{self.html_url}/{self.full_name}"
        return {"id": workflow.id, "node_id": f"W_standin_{workflow.id}", "name": workflow.name,
                "path": workflow.path, "state": workflow.state,
                "created_at": iso(workflow.created_at), "updated_at": iso(workflow.created_at),
                "url": f"{self._repo_api}/actions/workflows/{workflow.id}",
                "html_url": f"{html}/blob/{self.default_branch}/{workflow.path}",
                "badge_url": f"{html}/workflows/{quote(workflow.name)}/badge.svg"}

    def _run_json(self, run: Run) -> dict[str, Any]:
        api, html = f"{self._repo_api}/actions/runs/{run.id}", f"{self.html_url}/{self.full_name}"
        actor = self._user_json(run.actor)
        return {
            "id": run.id, "name": run.workflow.name, "node_id": f"WFR_standin_{run.id}",
            "head_branch": run.head_branch, "head_sha": run.head_sha, "path": run.workflow.path,
            "display_title": run.workflow.name, "run_number": run.run_number,
            "event": run.event, "status": run.status, "conclusion": None,
            "workflow_id": run.workflow.id, "check_suite_id": run.id + 1,
            "url": api, "html_url": f"{html}/actions/runs/{run.id}", "pull_requests": [],
            "created_at": iso(run.created_at), "updated_at": iso(run.created_at),
            "run_attempt": 1, "run_started_at": iso(run.created_at), "actor": actor,
            "triggering_actor": actor, "jobs_url": f"{api}/jobs", "logs_url": f"{api}/logs",
            "artifacts_url": f"{api}/artifacts", "cancel_url": f"{api}/cancel",
            "rerun_url": f"{api}/rerun",
            "workflow_url": f"{self._repo_api}/actions/workflows/{run.workflow.id}",
            "repository": {"id": 4242, "name": self.name, "full_name": self.full_name},
        }

    def _new_run(self, workflow: Workflow, branch: str, sha: str, event: str, actor: str,
                 inputs: dict[str, Any], created_at: float, lag: tuple[int, float] = (0, 0.0),
                 ) -> Run:
        number = 1 + sum(1 for r in self.runs if r.workflow.id == workflow.id)
        run = Run(next(self._run_ids), workflow, branch, sha, event, actor, number, dict(inputs),
                  created_at=created_at, hidden_lists=lag[0], visible_at=created_at + lag[1])
        self.runs.append(run)
        return run

    def _get_workflow(self, params: dict[str, str], **_: Any) -> Reply:
        return Reply(200, self._workflow_json(self._workflow(params)))

    def _dispatch_workflow(self, params: dict[str, str], body: Any, login: str,
                           **_: Any) -> Reply:
        """POST .../dispatches (docs: actions/workflows#create-a-workflow-dispatch-event): 204
        and no body; the run appears in the listing later (dispatch_lag)."""
        workflow = self._workflow(params)
        body = _require_object(body)
        ref, inputs = body.get("ref"), body.get("inputs")
        if not isinstance(ref, str) or not ref:
            raise ApiError(422, 'Invalid request.\n\n"ref" wasn\'t supplied.')
        inputs = {} if inputs is None else inputs
        if not isinstance(inputs, dict):
            raise ApiError(422, "Invalid request.\n\nFor 'properties/inputs', "
                                f"{json.dumps(inputs)} is not an object.")
        if not workflow.dispatch:
            raise ApiError(422, "Workflow does not have 'workflow_dispatch' trigger")
        if workflow.state != "active":
            raise ApiError(422, "Cannot trigger a 'workflow_dispatch' on a disabled workflow")
        branch, sha = self._dispatch_ref(ref)
        if len(inputs) > self.max_dispatch_inputs:
            # the stand-in's wording: GitHub documents the limit, not its error message
            raise ApiError(422, f"Too many inputs provided: {len(inputs)} (at most "
                                f"{self.max_dispatch_inputs})")
        unexpected = sorted(set(inputs) - set(workflow.inputs))
        if unexpected:
            raise ApiError(422, "Unexpected inputs provided: "
                                + json.dumps(unexpected, separators=(",", ":")))
        for name, needed in workflow.inputs.items():
            if needed and name not in inputs:
                raise ApiError(422, f"Required input '{name}' not provided")
        for name, value in inputs.items():
            if not isinstance(value, str):
                raise ApiError(422, f"Invalid request.\n\nFor 'properties/{name}', "
                                    f"{json.dumps(value)} is not a string.")
        self._new_run(workflow, branch, sha, "workflow_dispatch", login, inputs, time.time(),
                      self._run_lag)
        return Reply(204)

    def _dispatch_ref(self, ref: str) -> tuple[str, str]:
        """(head_branch, sha) of a branch or tag name, or of refs/heads/... / refs/tags/..."""
        names = [ref] if ref.startswith("refs/") else [f"refs/heads/{ref}", f"refs/tags/{ref}"]
        for name in names:
            sha = self.repo.ref_sha(name) if name.startswith(("refs/heads/", "refs/tags/")) \
                else None
            if sha:
                return name.split("/", 2)[2], self.repo.out("rev-parse", f"{sha}^{{commit}}")
        raise ApiError(422, f"No ref found for: {ref}")

    def _list_runs(self, params: dict[str, str], query: dict[str, str], **_: Any) -> Reply:
        """GET .../runs, newest first, {"total_count", "workflow_runs"}; a dispatched run that
        still lags is left out (and one listing closer to showing)."""
        workflow = self._workflow(params)
        created = _created_filter(query.get("created"))
        now, found = time.time(), []
        for run in sorted(self.runs, key=lambda r: r.id, reverse=True):
            if run.workflow.id != workflow.id:
                continue
            if run.hidden_lists > 0:
                run.hidden_lists -= 1
                continue
            if now < run.visible_at:
                continue
            wanted = {"event": run.event, "branch": run.head_branch, "status": run.status,
                      "head_sha": run.head_sha, "actor": run.actor}
            if any(query.get(k) not in (None, "", v) for k, v in wanted.items()):
                continue
            if created is not None and not created(run.created_at):
                continue
            found.append(self._run_json(run))
        reply = self._paginate(found, f"/repos/{self.full_name}/actions/workflows/"
                                      f"{params['workflow']}/runs", query)
        reply.body = {"total_count": len(found), "workflow_runs": reply.body}
        return reply

    # GraphQL

    def _graphql(self, body: Any, rights: str, login: str) -> Reply:
        """enablePullRequestAutoMerge / disablePullRequestAutoMerge, answered the GraphQL way:
        HTTP 200 with `errors` (type NOT_FOUND, FORBIDDEN, UNPROCESSABLE) when it fails."""
        body = _require_object(body)
        query = body.get("query")
        if not isinstance(query, str):
            return Reply(200, {"errors": [{"message": "A query attribute must be specified and "
                                                      "must be a string."}]})
        match = re.search(r"\b(enablePullRequestAutoMerge|disablePullRequestAutoMerge)\s*\(", query)
        if not match:
            return Reply(200, {"errors": [{"type": "UNSUPPORTED", "message":
                                           "this stand-in serves enablePullRequestAutoMerge and "
                                           "disablePullRequestAutoMerge only"}]})
        name = match[1]
        variables = body.get("variables") or {}
        data = variables.get("input") if isinstance(variables, dict) else None
        if not isinstance(data, dict) or not isinstance(data.get("pullRequestId"), str):
            return _graphql_error(name, "INVALID", f"Variable $input of type {name[0].upper()}"
                                  f"{name[1:]}Input! was provided invalid value for pullRequestId")
        pr = next((p for p in self.pulls.values() if p.node_id == data["pullRequestId"]), None)
        if pr is None or rights == "none":
            return _graphql_error(name, "NOT_FOUND", "Could not resolve to a node with the global "
                                  f"id of '{data['pullRequestId']}'")
        if rights != "write":
            return _graphql_error(name, "FORBIDDEN", "Resource not accessible by integration")
        if name == "disablePullRequestAutoMerge":
            pr.auto_merge = None
            return self._graphql_actor(name, login, data)
        return self._enable_auto_merge(pr, data, login, name)

    def _enable_auto_merge(self, pr: Pull, data: dict[str, Any], login: str, name: str) -> Reply:
        method = data.get("mergeMethod", "MERGE")
        if method not in ("MERGE", "SQUASH", "REBASE"):
            return _graphql_error(name, "INVALID",
                                  f"mergeMethod {method} is not a PullRequestMergeMethod")
        if not self.allow_auto_merge:
            return _graphql_error(name, "UNPROCESSABLE",
                                  "Pull request Auto merge is not allowed for this repository")
        if pr.state != "open":
            return _graphql_error(name, "UNPROCESSABLE", "Pull request is not in the correct state "
                                  "to enable auto-merge")
        head_sha = self.repo.ref_sha(f"refs/heads/{pr.head}")
        expected = data.get("expectedHeadOid")
        if expected is not None and expected != head_sha:
            return _graphql_error(name, "UNPROCESSABLE", "Head sha didn't match expected head sha")
        state = self._merge_state(pr)
        if state in ("clean", "unstable", "has_hooks", "dirty"):
            # nothing to wait for (or nothing it could ever merge): GitHub's doubled wording
            return _graphql_error(name, "UNPROCESSABLE", f"Pull request Pull request is in "
                                  f"{state} status")
        pr.auto_merge = {"enabled_by": self._user_json(login, "Bot"),
                         "merge_method": method.lower(),
                         "commit_title": data.get("commitHeadline", ""),
                         "commit_message": data.get("commitBody", "")}
        return self._graphql_actor(name, login, data)

    def _graphql_actor(self, name: str, login: str, data: dict[str, Any]) -> Reply:
        actor = {"avatarUrl": f"{self.html_url}/avatars/{login}", "login": login,
                 "resourcePath": f"/{login}", "url": f"{self.html_url}/{login}"}
        return Reply(200, {"data": {name: {"actor": actor,
                                           "clientMutationId": data.get("clientMutationId")}}})


# --------------------------------------------------------------------------- helpers


def _strip_prefix(path: str) -> tuple[str, bool]:
    """(REST path without /api/v3, whether it is the GraphQL endpoint)."""
    if path in ("/api/graphql", "/graphql"):
        return "/graphql", True
    if path.startswith("/api/v3/"):
        path = path[len("/api/v3"):]
    return path, False


def _parse_body(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ApiError(400, "Problems parsing JSON") from exc


def _require_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(400, "Problems parsing JSON")
    return body


def _number(text: str) -> int:
    """A stable numeric id for a name (users, teams, labels)."""
    return zlib.crc32(text.encode()) % 10_000_000


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _valid_path(path: str) -> bool:
    parts = path.split("/")
    return bool(path) and all(p not in ("", ".", "..", ".git") for p in parts) and "\0" not in path


def _person(value: Any, default: Mapping[str, str], field_name: str) -> dict[str, str]:
    if value is None:
        return {"name": default["name"], "email": default["email"],
                "date": default.get("date") or _git_date(None)}
    if not isinstance(value, dict) or not isinstance(value.get("name"), str) \
            or not isinstance(value.get("email"), str):
        raise ApiError(422, f"Invalid request.\n\n{field_name} needs name and email.")
    return {"name": value["name"], "email": value["email"], "date": _git_date(value.get("date"))}


def _parse_time(text: str) -> float | None:
    """Epoch seconds of an ISO 8601 date or date-time (UTC when no zone), None if it is not."""
    try:
        stamp = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)
    return stamp.timestamp()


_DAY = 86_400.0


def _created_filter(text: str | None) -> Callable[[float], bool] | None:
    """The `created` filter of the runs listing, in GitHub's search syntax: `>=T`, `>T`, `<=T`,
    `<T`, `A..B` (either side `*`), or a date alone (that whole day); dates or date-times.
    A malformed one is refused with 422 (GitHub does not document its answer to one)."""
    if text is None or not text.strip():
        return None
    text = text.strip()

    def bound(value: str, end: bool) -> float:
        if value == "*":
            return math.inf if end else -math.inf
        at = _parse_time(value)
        if at is None:
            raise validation_failed({"resource": "WorkflowRun", "field": "created",
                                     "code": "invalid"})
        whole_day = "T" not in value
        return at + (_DAY if whole_day and end else 0.0)

    for op in (">=", "<=", ">", "<"):
        if text.startswith(op):
            value = text[len(op):]
            if op == ">=":
                low = bound(value, False)
                return lambda t: t >= low
            if op == ">":
                low = bound(value, True)
                return lambda t: t >= low if "T" not in value else t > low
            if op == "<=":
                high = bound(value, True)
                return lambda t: t < high if "T" not in value else t <= high
            high = bound(value, False)
            return lambda t: t < high
    start, sep, end = text.partition("..")
    low = bound(start, False)
    high = bound(end if sep else start, True)
    if sep and "T" in end:
        return lambda t: low <= t <= high
    return lambda t: low <= t < high


def _mergeable(state: str) -> bool | None:
    """REST `mergeable`: null while GitHub computes it, false on conflicts."""
    return None if state == "unknown" else state != "dirty"


def _server_error(status: int) -> ApiError:
    """5xx the way GitHub's front ends send them: 502/503/504 as an HTML page, 500 as JSON."""
    if status in (502, 503, 504):
        return ApiError(status, "Server Error", headers={"content-type": "text/html"},
                        text="<html><body><h1>Unicorn! This page is taking too long to load."
                             "</h1></body></html>")
    return ApiError(status, "Server Error")


def _graphql_error(name: str, kind: str, message: str) -> Reply:
    error = {"type": kind, "path": [name], "locations": [{"line": 1, "column": 1}],
             "message": message}
    return Reply(200, {"data": {name: None}, "errors": [error]})


class _Handler(BaseHTTPRequestHandler):
    """Reads the whole request, asks the stand-in, writes the reply (keep-alive safe)."""

    protocol_version = "HTTP/1.1"

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        standin: GitHubStandIn = self.server.standin  # type: ignore[attr-defined]
        reply = standin.dispatch(self.command, self.path, dict(self.headers.items()), raw)
        if reply.text is not None:
            payload = reply.text.encode("utf-8")
        elif reply.body is None:
            payload = b""
        else:
            payload = json.dumps(reply.body).encode("utf-8")
        self.send_response(reply.status)
        headers = {"content-type": "application/json; charset=utf-8", **reply.headers}
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        if payload and self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read `server.log` instead."""


if pytest is not None:
    @pytest.fixture
    def github_standin(tmp_path: Path,
                       monkeypatch: pytest.MonkeyPatch) -> Iterator[GitHubStandIn]:
        """A started stand-in with a seeded `acme/config` repository; loopback bypasses any proxy."""
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
        with GitHubStandIn(tmp_path / "github") as server:
            yield server
