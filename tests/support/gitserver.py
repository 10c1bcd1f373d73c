"""A git smart-HTTP server on 127.0.0.1 for tests: real `git http-backend` behind basic auth.

Why `git http-backend` and not a mock: what mlgate's promotion has to get right lives in git's own
wire behaviour -- protocol v2 capability negotiation, shallow and partial (`--filter=blob:none`)
clones with lazy blob fetches, gzip-compressed upload-pack requests, chunked pushes larger than
`http.postBuffer`, the 401 -> credential helper/askpass -> retry dance, `git push` rejections
("rejected ... (fetch first)", "remote rejected ... (failed to update ref)") and ref locking when
several pushes race. A mock would encode our own guess of that behaviour and pass whatever we
guessed; `git http-backend` is the CGI that real servers (cgit, Gitolite, Apache/nginx set-ups)
run, so the client sees exactly the bytes, status codes and messages it will see in production.
The only thing this module adds is what a hosting service adds in front of it: basic auth with
read/write rights, a request log, and injected slowness or 4xx/5xx errors (including "git did
the work but the answer was lost") for retry tests.

Usage::

    with GitHttpServer(tmp_path / "srv", users={"writer": ("tok", "write")}) as server:
        server.create_repo("config", {"apps/churn/production/values.yaml": "image: x:1\\n"})
        env = git_client_env(tmp_path / "home", "writer", "tok")
        subprocess.run(["git", "clone", server.url("config"), "c"], env=env, check=True)

Credentials never go into URLs or argv: clients get them through `GIT_ASKPASS` (see
`git_client_env`), and the server's URLs carry none.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import re
import secrets
import shutil
import socket
import stat
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Literal
from urllib.parse import unquote

__all__ = [
    "REALM",
    "GitHttpServer",
    "LoggedRequest",
    "git_client_env",
    "parse_report_status",
    "random_token",
]

REALM = "mlgate-test"
Rights = Literal["read", "write"]

_GIT = shutil.which("git") or "git"
_READ_SIZE = 64 * 1024
# Repository names: path segments of ordinary characters, like GitHub/GitLab project paths.
_REPO_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$")
# Variables of the calling environment that must not leak into the server's git processes.
_SERVER_ENV_KEEP = ("PATH", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")


def _server_git_env() -> dict[str, str]:
    """Environment for server-side git: nothing from the user's or test's git configuration."""
    env = {k: os.environ[k] for k in _SERVER_ENV_KEEP if k in os.environ}
    env.setdefault("PATH", os.defpath)
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    env["GIT_CONFIG_GLOBAL"] = os.devnull
    env["HOME"] = os.devnull
    env["GIT_TERMINAL_PROMPT"] = "0"
    return env


@dataclass(frozen=True)
class LoggedRequest:
    """One HTTP request the server answered."""

    method: str
    path: str  # URL path, e.g. /config.git/info/refs
    query: str  # raw query string, e.g. service=git-upload-pack
    user: str | None  # authenticated user, None when anonymous or refused
    status: int
    repo: str | None  # repository name (without .git) when the path names one
    service: str | None  # git-upload-pack / git-receive-pack / None (dumb or other)
    git_protocol: str | None  # the Git-Protocol header (version=2 for protocol v2)
    content_encoding: str | None  # gzip when git compressed the request body
    chunked: bool  # the request body came with Transfer-Encoding: chunked
    request_bytes: int  # request body bytes as received (after de-chunking, before gunzip)
    duration: float  # seconds
    injected: bool = False  # answered (or delayed) by a fault from fail_next()/delay_next()
    backend_status: int | None = None  # fail_next(lose_response=True): what git really answered
    refs_ok: tuple[str, ...] = ()  # receive-pack POST: refs the push updated
    refs_rejected: tuple[tuple[str, str], ...] = ()  # receive-pack POST: (ref, git's reason)
    stderr: str = ""  # what git http-backend wrote to stderr (for debugging failures)


@dataclass
class _Fault:
    remaining: int
    status: int | None  # None: only delay, then serve normally
    delay: float
    service: str | None
    repo: str | None
    method: str | None
    retry_after: int | None
    lose_response: bool = False

    def matches(self, repo: str | None, service: str | None, method: str) -> bool:
        return (
            (self.service is None or self.service == service)
            and (self.repo is None or self.repo == repo)
            and (self.method is None or self.method == method)
        )


@dataclass
class _Counters:
    pushes: int = 0
    push_attempts: int = 0
    by_repo: dict[str, int] = field(default_factory=dict)


def parse_report_status(body: bytes) -> tuple[list[str], list[tuple[str, str]]]:
    """Parse receive-pack's report-status (plain or inside side-band) into (ok refs, rejected).

    Rejected entries are (ref, reason) with git's reason text, e.g. "failed to update ref".
    Anything unparseable yields what was parsed so far (this only feeds the test log/counters).
    """

    def pkt_lines(data: bytes) -> Iterator[bytes]:
        pos = 0
        while pos + 4 <= len(data):
            try:
                size = int(data[pos : pos + 4], 16)
            except ValueError:
                return
            if size < 4:  # flush (0000), delim (0001), response-end (0002)
                pos += 4
                continue
            yield data[pos + 4 : pos + size]
            pos += size

    packets = list(pkt_lines(body))
    if packets and packets[0][:1] in (b"\x01", b"\x02", b"\x03"):
        inner = b"".join(p[1:] for p in packets if p[:1] == b"\x01")
        packets = list(pkt_lines(inner))
    ok: list[str] = []
    rejected: list[tuple[str, str]] = []
    for packet in packets:
        line = packet.decode("utf-8", "replace").rstrip("\n")
        if line.startswith("ok "):
            ok.append(line[3:])
        elif line.startswith("ng "):
            ref, _, reason = line[3:].partition(" ")
            rejected.append((ref, reason))
    return ok, rejected


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, owner: GitHttpServer) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, chunked responses, Expect: 100-continue
    server_version = "mlgate-test-git"
    timeout = 60  # an idle or stalled connection does not hold a thread (or a push lock) forever
    server: _Server

    # -- plumbing ---------------------------------------------------------------------------

    def setup(self) -> None:
        super().setup()
        self.server.owner._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._track(self.connection, add=False)

    def log_message(self, format: str, *args: object) -> None:
        pass  # the structured request log replaces http.server's stderr lines

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _other(self) -> None:
        self._drain_or_close()
        self._simple(405, "method not allowed\n", {"Allow": "GET, POST"})

    do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _other

    # -- the request ------------------------------------------------------------------------

    def _serve(self) -> None:
        owner = self.server.owner
        started = time.monotonic()
        raw_path, _, query = self.path.partition("?")
        path = unquote(raw_path)
        repo, service = _classify(path, query)
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        info: dict[str, object] = {
            "method": self.command,
            "path": path,
            "query": query,
            "user": None,
            "repo": repo,
            "service": service,
            "git_protocol": self.headers.get("Git-Protocol"),
            "content_encoding": self.headers.get("Content-Encoding"),
            "chunked": chunked,
            "request_bytes": 0,
        }
        status = 500
        try:
            if not path.startswith("/") or ".." in path.split("/") or "\\" in path:
                self._drain_or_close()
                status = self._simple(400, "bad path\n")
                return
            user, rights = owner._authenticate(self.headers.get("Authorization"))
            if user is None:
                self._drain_or_close()
                status = self._simple(
                    401,
                    "authentication required\n",
                    {"WWW-Authenticate": f'Basic realm="{REALM}"'},
                )
                return
            info["user"] = user
            if service == "git-receive-pack" and rights != "write":
                self._drain_or_close()
                status = self._simple(403, f"{user} may not push to this repository\n")
                return
            fault = owner._take_fault(repo, service, self.command)
            fault_headers: dict[str, str] = {}
            if fault is not None:
                info["injected"] = True
                if fault.retry_after is not None:
                    fault_headers["Retry-After"] = str(fault.retry_after)
                if fault.delay:
                    time.sleep(fault.delay)
                if fault.status is not None and not fault.lose_response:
                    self._drain_or_close()
                    status = self._simple(fault.status, "injected failure\n", fault_headers)
                    return
            lose = fault is not None and fault.status is not None and fault.lose_response
            is_push = service == "git-receive-pack" and self.command == "POST"
            lock = owner._push_lock(repo) if is_push and owner.serialize_pushes else None
            if lock is not None:
                lock.acquire()
            try:
                status = self._run_backend(user, path, query, is_push, info, discard=lose)
            finally:
                if lock is not None:
                    lock.release()
            if lose:
                assert fault is not None and fault.status is not None
                info["backend_status"] = status
                status = self._simple(fault.status, "injected failure\n", fault_headers)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True
            status = 499  # client went away (nginx's convention); only seen in the log
        finally:
            info["duration"] = time.monotonic() - started
            owner._record(LoggedRequest(status=status, **info))  # type: ignore[arg-type]

    def _simple(self, status: int, body: str, headers: Mapping[str, str] | None = None) -> int:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        return status

    def _drain_or_close(self) -> None:
        """Before answering without reading the body: the connection must not carry it over."""
        if self.command == "POST" and (
            "Transfer-Encoding" in self.headers or int(self.headers.get("Content-Length") or 0)
        ):
            self.close_connection = True

    def _body_chunks(self) -> Iterator[bytes]:
        """The request body as it arrives: Content-Length framed or Transfer-Encoding: chunked."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    raise ConnectionResetError("eof inside chunked body")
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return
                remaining = size
                while remaining:
                    data = self.rfile.read(min(remaining, _READ_SIZE))
                    if not data:
                        raise ConnectionResetError("eof inside chunk")
                    remaining -= len(data)
                    yield data
                self.rfile.readline(16)  # CRLF after the chunk
        else:
            remaining = int(self.headers.get("Content-Length") or 0)
            while remaining:
                data = self.rfile.read(min(remaining, _READ_SIZE))
                if not data:
                    raise ConnectionResetError("eof inside body")
                remaining -= len(data)
                yield data

    def _run_backend(
        self,
        user: str,
        path: str,
        query: str,
        is_push: bool,
        info: dict[str, object],
        *,
        discard: bool = False,
    ) -> int:
        """Run `git http-backend` for this request; stream its answer (or, `discard`, drop it)."""
        owner = self.server.owner
        env = _server_git_env()
        env.update(
            {
                "GIT_PROJECT_ROOT": str(owner.root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "GATEWAY_INTERFACE": "CGI/1.1",
                "SERVER_PROTOCOL": self.request_version,
                "SERVER_SOFTWARE": self.server_version,
                "SERVER_NAME": "127.0.0.1",
                "SERVER_PORT": str(owner.port),
                "REQUEST_METHOD": self.command,
                "REQUEST_URI": self.path,
                "SCRIPT_NAME": "",
                "PATH_INFO": path,
                "QUERY_STRING": query,
                "REMOTE_USER": user,
                "REMOTE_ADDR": self.client_address[0],
                "AUTH_TYPE": "Basic",
            }
        )
        for header, var in (
            ("Content-Type", "CONTENT_TYPE"),
            ("Content-Encoding", "HTTP_CONTENT_ENCODING"),
            ("Git-Protocol", "HTTP_GIT_PROTOCOL"),
            ("Accept", "HTTP_ACCEPT"),
            ("User-Agent", "HTTP_USER_AGENT"),
        ):
            if self.headers.get(header) is not None:
                env[var] = self.headers[header]
        chunked = bool(info["chunked"])
        has_body = self.command == "POST"
        if has_body and not chunked:
            env["CONTENT_LENGTH"] = str(int(self.headers.get("Content-Length") or 0))
        # Chunked: no CONTENT_LENGTH; http-backend then reads stdin to EOF (RFC 3875 allows it).

        proc = subprocess.Popen(
            [_GIT, "http-backend"],
            stdin=subprocess.PIPE if has_body else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=owner.root,
        )
        owner._track_proc(proc, add=True)
        stderr_buf: list[bytes] = []
        body_state = {"bytes": 0, "complete": not has_body, "error": None}

        def pump_stderr() -> None:
            assert proc.stderr is not None
            stderr_buf.append(proc.stderr.read())

        def pump_stdin() -> None:
            assert proc.stdin is not None
            stdin: IO[bytes] | None = proc.stdin
            try:
                for data in self._body_chunks():
                    body_state["bytes"] += len(data)  # type: ignore[operator]
                    if stdin is not None:
                        try:
                            stdin.write(data)
                        except (BrokenPipeError, OSError):
                            stdin = None  # backend gave up; keep draining the socket
                body_state["complete"] = True
            except Exception as exc:  # noqa: BLE001  (reported through body_state)
                body_state["error"] = exc
            finally:
                try:
                    proc.stdin.close()
                except OSError:
                    pass

        threads = [threading.Thread(target=pump_stderr, daemon=True)]
        if has_body:
            threads.append(threading.Thread(target=pump_stdin, daemon=True))
        for t in threads:
            t.start()
        finished = False
        try:
            assert proc.stdout is not None
            status, reason, headers = _read_cgi_headers(proc.stdout)
            content_length = next(
                (v for k, v in headers if k.lower() == "content-length"), None
            )
            capture = bytearray() if is_push else None
            if discard:  # git does its work; the caller answers with an injected error
                while data := proc.stdout.read1(_READ_SIZE):
                    if capture is not None and len(capture) < 1 << 20:
                        capture += data
                finished = True
                return status
            self.send_response(status, reason)
            for name, value in headers:
                if name.lower() not in ("transfer-encoding", "connection"):
                    self.send_header(name, value)
            use_chunked = content_length is None and self.request_version >= "HTTP/1.1"
            if content_length is None and not use_chunked:
                self.close_connection = True
            if use_chunked:
                self.send_header("Transfer-Encoding", "chunked")
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            while True:
                data = proc.stdout.read1(_READ_SIZE)
                if not data:
                    break
                if capture is not None and len(capture) < 1 << 20:
                    capture += data
                if use_chunked:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                else:
                    self.wfile.write(data)
            if use_chunked:
                self.wfile.write(b"0\r\n\r\n")
            finished = True
        finally:
            if not finished:  # the client went away mid-response: stop the backend
                proc.kill()
            try:
                proc.wait(timeout=30)  # stdout hit EOF: the backend is exiting
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            for t in threads:
                t.join(timeout=self.timeout)
            if any(t.is_alive() for t in threads) or not body_state["complete"]:
                self.close_connection = True
            owner._track_proc(proc, add=False)
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
            info["request_bytes"] = body_state["bytes"]
            info["stderr"] = b"".join(stderr_buf).decode("utf-8", "replace")
            if is_push and finished:
                ok, rejected = parse_report_status(bytes(capture or b""))
                info["refs_ok"] = tuple(ok)
                info["refs_rejected"] = tuple(rejected)
                owner._count_push(info.get("repo"), status, bool(ok))  # type: ignore[arg-type]
        return status


def _read_cgi_headers(stdout: IO[bytes]) -> tuple[int, str | None, list[tuple[str, str]]]:
    status, reason = 200, None
    headers: list[tuple[str, str]] = []
    while True:
        line = stdout.readline(8192)
        if not line:  # backend died before finishing its headers
            return 502, "Bad Gateway", [("Content-Type", "text/plain"), ("Content-Length", "0")]
        line = line.rstrip(b"\r\n")
        if not line:
            break
        name, _, value = line.decode("latin-1").partition(":")
        name, value = name.strip(), value.strip()
        if name.lower() == "status":
            code, _, text = value.partition(" ")
            status, reason = int(code), (text or None)
        else:
            headers.append((name, value))
    return status, reason, headers


def _classify(path: str, query: str) -> tuple[str | None, str | None]:
    """(repository name, git service) of a smart-HTTP URL path."""
    service = None
    if path.endswith(("/git-upload-pack", "/git-receive-pack")):
        service = path.rsplit("/", 1)[1]
    elif path.endswith("/info/refs"):
        for part in query.split("&"):
            key, _, value = part.partition("=")
            if key == "service" and value in ("git-upload-pack", "git-receive-pack"):
                service = value
    repo = None
    idx = path.find(".git/")
    if idx > 1:
        repo = path[1:idx]
    elif path.endswith(".git") and len(path) > 5:
        repo = path[1:-4]
    return repo, service


class GitHttpServer:
    """Serves the bare repositories under `root` over smart HTTP on 127.0.0.1.

    `users` maps a user name to (password or token, "read" | "write"). Every request must
    authenticate (anonymous ones get 401 with `WWW-Authenticate: Basic realm="mlgate-test"`);
    "read" users get 403 on git-receive-pack (advertisement and POST). Pushes to one repository
    are serialised (`serialize_pushes`), like a hosting service does; git's own ref locking and
    old-value check still decide which push wins.
    """

    def __init__(
        self,
        root: Path | str,
        users: Mapping[str, tuple[str, Rights]] | None = None,
        *,
        serialize_pushes: bool = True,
    ) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.serialize_pushes = serialize_pushes
        self._lock = threading.Lock()
        self._users: dict[str, tuple[str, Rights]] = {}
        for name, (secret, rights) in (users or {}).items():
            self.add_user(name, secret, rights)
        self._log: list[LoggedRequest] = []
        self._faults: list[_Fault] = []
        self._counters = _Counters()
        self._push_locks: dict[str | None, threading.Lock] = {}
        self._connections: set[socket.socket] = set()
        self._procs: set[subprocess.Popen[bytes]] = set()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> GitHttpServer:
        if self._httpd is None:
            self._httpd = _Server(self)
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"git-http-{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def close(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        with self._lock:
            conns, procs = list(self._connections), list(self._procs)
        for conn in conns:  # idle keep-alive connections would otherwise linger
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> GitHttpServer:  # noqa: PYI034
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server not started")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- users ----------------------------------------------------------------------------------

    def add_user(self, name: str, secret: str, rights: Rights = "write") -> None:
        if rights not in ("read", "write"):
            raise ValueError(f"rights must be 'read' or 'write', not {rights!r}")
        if not name or ":" in name:
            raise ValueError(f"bad user name {name!r}")
        with self._lock:
            self._users[name] = (secret, rights)

    def remove_user(self, name: str) -> None:
        with self._lock:
            self._users.pop(name, None)

    @property
    def users(self) -> dict[str, tuple[str, Rights]]:
        with self._lock:
            return dict(self._users)

    def token(self, user: str) -> str:
        return self.users[user][0]

    def _authenticate(self, header: str | None) -> tuple[str | None, Rights | None]:
        if not header or header[:6].lower() != "basic ":
            return None, None
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None, None
        name, sep, secret = decoded.partition(":")
        with self._lock:
            entry = self._users.get(name)
        if not sep or entry is None:
            return None, None
        if not hmac.compare_digest(secret.encode(), entry[0].encode()):
            return None, None
        return name, entry[1]

    # -- repositories -----------------------------------------------------------------------

    def url(self, repo_name: str) -> str:
        """http://127.0.0.1:PORT/<name>.git -- never with credentials in it."""
        return f"{self.base_url}/{_check_name(repo_name)}.git"

    def path(self, repo_name: str) -> Path:
        return self.root / f"{_check_name(repo_name)}.git"

    def create_repo(
        self,
        name: str,
        files: Mapping[str, str | bytes] | None = None,
        branch: str = "main",
        *,
        message: str = "initial commit",
    ) -> Path:
        """A bare repository `<root>/<name>.git` with one commit on `branch` holding `files`.

        `files=None` gives a commit with a README.md; `files={}` a commit with an empty tree.
        The repository refuses non-fast-forward pushes, accepts pushes over HTTP and allows
        partial-clone filters (uploadpack.allowFilter) so `--filter=blob:none` works.
        """
        path = self.path(name)
        if path.exists():
            raise FileExistsError(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        env = _server_git_env()
        subprocess.run(
            [_GIT, "init", "--quiet", "--bare", f"--initial-branch={branch}", str(path)],
            env=env,
            check=True,
            capture_output=True,
        )
        for key, value in (
            ("receive.denyNonFastForwards", "true"),
            ("receive.denyDeletes", "false"),
            ("http.receivepack", "true"),
            ("http.uploadpack", "true"),
            ("uploadpack.allowFilter", "true"),
            ("uploadpack.allowAnySHA1InWant", "true"),
            ("core.logAllRefUpdates", "true"),
            ("receive.autogc", "false"),  # no `git gc --auto` after each push (hosts gc apart)
        ):
            self._git_raw(path, "config", key, value)
        if files is None:
            files = {"README.md": f"# {name}\n"}
        self._import_commit(path, branch, files, message)
        return path

    def _import_commit(
        self, path: Path, branch: str, files: Mapping[str, str | bytes], message: str
    ) -> None:
        """One commit through `git fast-import`: fast even for 10,000 files, bytes kept as given."""
        now = int(time.time())
        ident = f"mlgate test <test@mlgate.invalid> {now} +0000"
        msg = message.encode()
        parts = [
            f"commit refs/heads/{branch}\n".encode(),
            f"author {ident}\ncommitter {ident}\n".encode(),
            b"data %d\n%s\n" % (len(msg), msg),
        ]
        for rel, content in sorted(files.items()):
            _check_rel_path(rel)
            data = content.encode() if isinstance(content, str) else bytes(content)
            parts.append(b'M 100644 inline "%s"\n' % _quote_fi(rel))
            parts.append(b"data %d\n%s\n" % (len(data), data))
        parts.append(b"done\n")
        subprocess.run(
            [_GIT, "--git-dir", str(path), "fast-import", "--quiet", "--done"],
            input=b"".join(parts),
            env=_server_git_env(),
            check=True,
            capture_output=True,
        )

    def git(self, repo_name: str, *args: str) -> str:
        """Run git on the bare repository (server side) and return its stdout."""
        return self._git_raw(self.path(repo_name), *args)

    def head(self, repo_name: str, branch: str = "main") -> str:
        return self.git(repo_name, "rev-parse", f"refs/heads/{branch}").strip()

    @staticmethod
    def _git_raw(path: Path, *args: str) -> str:
        proc = subprocess.run(
            [_GIT, "--git-dir", str(path), *args],
            env=_server_git_env(),
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode:
            raise RuntimeError(f"git {' '.join(args)} failed in {path}: {proc.stderr.strip()}")
        return proc.stdout

    # -- observation ----------------------------------------------------------------------------

    @property
    def requests(self) -> list[LoggedRequest]:
        """Every request answered so far, in completion order."""
        with self._lock:
            return list(self._log)

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    @property
    def push_count(self) -> int:
        """Pushes (receive-pack POSTs) that updated at least one ref."""
        with self._lock:
            return self._counters.pushes

    @property
    def push_attempts(self) -> int:
        """receive-pack POSTs that reached git, landed or rejected by git."""
        with self._lock:
            return self._counters.push_attempts

    def pushes_to(self, repo_name: str) -> int:
        with self._lock:
            return self._counters.by_repo.get(repo_name, 0)

    # -- faults -----------------------------------------------------------------------------

    def fail_next(
        self,
        count: int = 1,
        status: int = 503,
        *,
        service: str | None = None,
        repo: str | None = None,
        method: str | None = None,
        delay: float = 0.0,
        retry_after: int | None = None,
        lose_response: bool = False,
    ) -> None:
        """Answer the next `count` matching authenticated requests with `status`.

        Faults apply after authentication, to requests that would otherwise reach git: a 401
        challenge or a 403 does not use one up. Filters: `service` ("git-upload-pack" or
        "git-receive-pack", matching both the info/refs advertisement and the POST), `repo`
        (name), `method` ("GET" for the advertisement, "POST" for the RPC). `retry_after` adds a
        Retry-After header. `lose_response=True` lets git do the work first (a push lands) and
        only then answers `status`: the "did my push land?" case.
        """
        if not 400 <= status <= 599:
            raise ValueError("status must be 4xx or 5xx")
        fault = _Fault(count, status, delay, service, repo, method, retry_after, lose_response)
        with self._lock:
            self._faults.append(fault)

    def delay_next(
        self,
        count: int = 1,
        seconds: float = 1.0,
        *,
        service: str | None = None,
        repo: str | None = None,
        method: str | None = None,
    ) -> None:
        """Hold the next `count` matching authenticated requests for `seconds`, then serve them.

        Before a push takes the repository's push lock, so delayed pushes still race.
        """
        with self._lock:
            self._faults.append(_Fault(count, None, seconds, service, repo, method, None))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    # -- internals ----------------------------------------------------------------------------

    def _take_fault(self, repo: str | None, service: str | None, method: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and fault.matches(repo, service, method):
                    fault.remaining -= 1
                    return fault
        return None

    def _push_lock(self, repo: str | None) -> threading.Lock:
        with self._lock:
            return self._push_locks.setdefault(repo, threading.Lock())

    def _record(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._log.append(entry)

    def _count_push(self, repo: str | None, status: int, landed: bool) -> None:
        with self._lock:
            if status == 200:
                self._counters.push_attempts += 1
            if landed:
                self._counters.pushes += 1
                key = repo or ""
                self._counters.by_repo[key] = self._counters.by_repo.get(key, 0) + 1

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            (self._connections.add if add else self._connections.discard)(conn)

    def _track_proc(self, proc: subprocess.Popen[bytes], *, add: bool) -> None:
        with self._lock:
            (self._procs.add if add else self._procs.discard)(proc)


def _check_name(name: str) -> str:
    name = name.removesuffix(".git")
    if not _REPO_NAME.match(name) or ".." in name.split("/"):
        raise ValueError(f"bad repository name {name!r}")
    return name


def _check_rel_path(rel: str) -> None:
    parts = rel.split("/")
    if not rel or rel.startswith("/") or any(p in ("", ".", "..", ".git") for p in parts):
        raise ValueError(f"bad file path {rel!r}")


def _quote_fi(rel: str) -> bytes:
    """A path as a C-style quoted string for fast-import."""
    out = rel.encode().replace(b"\\", b"\\\\").replace(b'"', b'\\"').replace(b"\n", b"\\n")
    return out


def git_client_env(
    home: Path | str,
    username: str | None = None,
    token: str | None = None,
    *,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Environment for a git client that gets credentials only from GIT_ASKPASS and never prompts.

    Creates `home` with a .gitconfig (no auto maintenance) and an askpass script that answers git's "Username for ..." prompt with
    $TEST_GIT_USER and "Password for ..." with $TEST_GIT_TOKEN. No credentials in URLs or argv.
    Inherited GIT_* variables and credential helpers of the calling user are dropped.
    """
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    askpass = home / "askpass.sh"
    if not askpass.exists():
        askpass.write_text(
            "#!/bin/sh\n"
            'case "$1" in\n'
            "  Username*) printf '%s\\n' \"$TEST_GIT_USER\" ;;\n"
            "  Password*) printf '%s\\n' \"$TEST_GIT_TOKEN\" ;;\n"
            "  *) exit 1 ;;\n"
            "esac\n"
        )
        askpass.chmod(askpass.stat().st_mode | stat.S_IXUSR)
    gitconfig = home / ".gitconfig"
    if not gitconfig.exists():
        # No background/auto maintenance after commit/fetch: fewer processes, nothing left running.
        gitconfig.write_text(
            "[maintenance]\n\tauto = false\n[gc]\n\tauto = 0\n"
            "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
        )
    source = dict(os.environ if base is None else base)
    env = {
        k: v
        for k, v in source.items()
        if not k.startswith("GIT_") and k not in ("SSH_ASKPASS", "XDG_CONFIG_HOME", "HOME")
    }
    env.update(
        {
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": str(askpass),
            "GIT_AUTHOR_NAME": "mlgate test",
            "GIT_AUTHOR_EMAIL": "test@mlgate.invalid",
            "GIT_COMMITTER_NAME": "mlgate test",
            "GIT_COMMITTER_EMAIL": "test@mlgate.invalid",
            "TEST_GIT_USER": username or "",
            "TEST_GIT_TOKEN": token or "",
        }
    )
    return env


def random_token() -> str:
    return secrets.token_urlsafe(24)
