"""A real OCI registry on 127.0.0.1 for tests, a Trivy DB pushed into it, and a fault-injecting
proxy in front of it that plays a rate-limited or broken mirror.

Why Debian's `docker-registry` (CNCF distribution 2.8) and not a mock: what `--db-repository`
mirrors have to get right lives in the client's registry protocol -- the /v2/ ping and its
https-then-http probe, manifest content negotiation, blob fetches, and how go-containerregistry
(Trivy's registry client) classifies an error response as temporary (move on to the next
mirror) or final (stop). A real registry answers exactly as a production one does; the proxy
only adds what a hosting service or CDN adds in front: 429 with Retry-After, 5xx, and a
request log.

Usage::

    with OciRegistry(tmp / "registry") as registry, FaultProxy(registry.host) as proxy:
        push_trivy_db(registry.host, "trivy-db", "2", cache_dir)   # a cache from build_db()
        proxy.fail("mirror-429/trivy-db", 429, retry_after=30)
        repos = [f"{proxy.host}/mirror-429/trivy-db:2", f"{registry.host}/trivy-db:2"]
        ...                                         # trivy --db-repository ... for each
        assert proxy.requests()[0].repo == "mirror-429/trivy-db"
        assert registry.requests()                  # the registry's own access log

A Trivy DB artifact, as Trivy 0.76 reads it (pkg/db/db.go, pkg/oci/artifact.go): an OCI image
manifest with exactly one layer of media type `application/vnd.aquasec.trivy.db.layer.v1.tar+gzip`
(any other media type: "unacceptable media type"), whose `org.opencontainers.image.title`
annotation names the file Trivy saves it as (`db.tar.gz`, which it then unpacks into
`<cache>/db/`: `trivy.db` and `metadata.json`), and a config blob of media type
`application/vnd.aquasec.trivy.config.v1+json`.

Plain HTTP: go-containerregistry uses http (after trying https) for registries named
`localhost:<port>`, `127.0.0.1[:<port>]`, `*.local[host]`, `[::1]` and RFC 1918 addresses; any
other name needs Trivy's `--insecure`.

Status codes and what Trivy does with them (go-containerregistry's transport.Error.Temporary):
a response with a registry error body (`{"errors": [{"code": ...}]}`) is temporary when every
code is TOOMANYREQUESTS, UNAVAILABLE, UNKNOWN or BLOB_UPLOAD_INVALID; one without such a body
when its status is 408, 500, 502, 503 or 504 -- a bare 429 is *not* temporary. Trivy moves on to
the next `--db-repository` only after a temporary error (or BLOB_UNKNOWN). `FaultProxy.fail`
therefore sends the registry error body real registries send (`body="registry"`, the default);
`body="plain"` sends a text body, as a CDN or load balancer in front of a registry might.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import io
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import tarfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Literal

from support.tools import missing_tool

__all__ = [
    "DB_CONFIG_MEDIA_TYPE",
    "DB_LAYER_MEDIA_TYPE",
    "OCI_MANIFEST_MEDIA_TYPE",
    "FaultProxy",
    "LoggedRequest",
    "OciRegistry",
    "RegistryError",
    "db_archive",
    "push_trivy_db",
    "registry_binary",
    "require_registry_binary",
]

DB_LAYER_MEDIA_TYPE = "application/vnd.aquasec.trivy.db.layer.v1.tar+gzip"
DB_CONFIG_MEDIA_TYPE = "application/vnd.aquasec.trivy.config.v1+json"
OCI_MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
TITLE_ANNOTATION = "org.opencontainers.image.title"

DEFAULT_BINARY = "/usr/bin/docker-registry"  # Debian/Ubuntu package `docker-registry`
_EPOCH = 1_700_000_000
# /v2/<name>/{manifests,blobs,tags}/...: <name> as the distribution spec defines it.
_COMPONENT = r"[a-z0-9]+(?:[._-][a-z0-9]+)*"
_V2_PATH = re.compile(rf"^/v2/(?P<name>{_COMPONENT}(?:/{_COMPONENT})*)"
                      r"/(?P<kind>manifests|blobs|tags)(?:/|$)")
# The registry's access log (Apache combined format on stdout).
_ACCESS = re.compile(r'^\S+ \S+ \S+ \[(?P<time>[^\]]*)\] '
                     r'"(?P<method>[A-Z]+) (?P<target>\S+) [^"]*" (?P<status>\d{3}) ')
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
               "trailer", "transfer-encoding", "upgrade", "proxy-connection"}


class RegistryError(RuntimeError):
    """The test registry could not be started or refused a push."""


def registry_binary() -> str | None:
    """The `docker-registry` binary: $MLGATE_TEST_REGISTRY, PATH, or Debian's path; else None."""
    for candidate in (os.environ.get("MLGATE_TEST_REGISTRY"), shutil.which("docker-registry"),
                      DEFAULT_BINARY):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def require_registry_binary() -> str:
    """registry_binary(), else a failure under ./scripts/test and CI (a skip in a hand run)."""
    return registry_binary() or missing_tool(
        "docker-registry",
        "apt-get install docker-registry, or MLGATE_TEST_REGISTRY=PATH: these tests need a real "
        "OCI registry")


@dataclass(frozen=True)
class LoggedRequest:
    """One HTTP request a server answered (or the proxy answered for it)."""

    method: str
    path: str  # URL path without the query string
    status: int
    repo: str | None  # the repository the /v2/<name>/... path names, None for /v2/ and others
    injected: bool = False  # answered by a FaultProxy fault, never reached the registry
    at: float = 0.0  # wall-clock time.time() of the answer; whole seconds from the access log


def _repo_of(path: str) -> str | None:
    m = _V2_PATH.match(path)
    return m.group("name") if m else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the registry ------------------------------------------------------------------------------


class OciRegistry:
    """Debian's `docker-registry` serving plain HTTP on 127.0.0.1:<free port>, storage in `root`.

    `requests()` reads the registry's own access log, so it shows exactly what reached it.
    """

    def __init__(self, root: str | os.PathLike[str], binary: str | None = None) -> None:
        self.root = Path(root)
        self.binary = binary or registry_binary()
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._access_log = self.root / "access.log"  # stdout: Apache combined format
        self._error_log = self.root / "registry.log"  # stderr: the registry's own logging

    @property
    def host(self) -> str:
        """`127.0.0.1:<port>`, the registry part of a reference."""
        return f"127.0.0.1:{self.port}"

    def url(self, path: str = "/v2/") -> str:
        return f"http://{self.host}{path}"

    def start(self) -> OciRegistry:
        if not self.binary:
            raise RegistryError("docker-registry not found (apt-get install docker-registry)")
        self.root.mkdir(parents=True, exist_ok=True)
        last = ""
        for _ in range(5):  # another process may grab the free port before the registry binds it
            self.port = _free_port()
            config = self.root / "config.yml"
            config.write_text(self._config())
            with open(self._access_log, "wb") as out, open(self._error_log, "wb") as err:
                self._proc = subprocess.Popen(
                    [self.binary, "serve", str(config)], stdout=out, stderr=err,
                    stdin=subprocess.DEVNULL, env={"PATH": os.defpath}, cwd=self.root)
            if self._wait_ready(timeout=30):
                return self
            last = self._error_log.read_text(errors="replace")[-2000:]
            self._stop()
            if "address already in use" not in last:
                break
        raise RegistryError(f"docker-registry did not start:\n{last}")

    def _config(self) -> str:
        data = self.root / "data"
        data.mkdir(exist_ok=True)
        # JSON is YAML: no quoting questions for paths
        return json.dumps({
            "version": 0.1,
            "log": {"level": "info", "formatter": "text", "accesslog": {"disabled": False}},
            "storage": {
                "filesystem": {"rootdirectory": str(data)},
                "delete": {"enabled": True},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": {"addr": f"127.0.0.1:{self.port}", "secret": secrets.token_hex(16)},
            "health": {"storagedriver": {"enabled": False}},
        }, indent=2) + "\n"

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                return False
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/v2/")
                status = conn.getresponse().status
                conn.close()
                if status == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def requests(self) -> list[LoggedRequest]:
        """Requests in the registry's access log (the readiness probe's GET /v2/ included)."""
        out = []
        try:
            text = self._access_log.read_text(errors="replace")
        except FileNotFoundError:
            return out
        for line in text.splitlines():
            m = _ACCESS.match(line)
            if m:
                path = m.group("target").split("?", 1)[0]
                try:
                    at = datetime.strptime(m.group("time"), "%d/%b/%Y:%H:%M:%S %z").timestamp()
                except ValueError:
                    at = 0.0
                out.append(LoggedRequest(m.group("method"), path, int(m.group("status")),
                                         _repo_of(path), False, at))
        return out

    def mark(self) -> int:
        """How many requests are logged so far: `requests()[mark:]` are the ones after it."""
        return len(self.requests())

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self._error_log.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return ""

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

    def close(self) -> None:
        self._stop()

    def __enter__(self) -> OciRegistry:  # noqa: PYI034
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- pushing a Trivy DB --------------------------------------------------------------------------


def db_archive(cache_dir: str | os.PathLike[str]) -> bytes:
    """`db.tar.gz` as Trivy's DB artifact holds it: trivy.db and metadata.json from
    `<cache_dir>/db/` (as written by trivyfix.build_db), at the archive's top level. The same
    files always give the same bytes."""
    db_dir = Path(cache_dir) / "db"
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name in ("trivy.db", "metadata.json"):
                data = (db_dir / name).read_bytes()
                info = tarfile.TarInfo(name)
                info.size, info.mode, info.mtime = len(data), 0o644, _EPOCH
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _call(host: str, method: str, target: str, body: bytes | None = None,
          headers: Mapping[str, str] | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection(host, timeout=30)
    conn.request(method, target, body=body, headers=dict(headers or {}))
    resp = conn.getresponse()
    resp.read()  # the response keeps its headers; the body is not needed
    conn.close()
    return resp


def _push_blob(host: str, repo: str, data: bytes) -> dict[str, object]:
    digest = _digest(data)
    if _call(host, "HEAD", f"/v2/{repo}/blobs/{digest}").status == 200:
        return {"digest": digest, "size": len(data)}
    started = _call(host, "POST", f"/v2/{repo}/blobs/uploads/", b"",
                    {"Content-Length": "0"})
    location = started.getheader("Location")
    if started.status != 202 or not location:
        raise RegistryError(f"POST /v2/{repo}/blobs/uploads/: {started.status}")
    # Location may be absolute (http://host/v2/...) or a path; it may carry a query already
    target = re.sub(r"^https?://[^/]+", "", location)
    target += ("&" if "?" in target else "?") + f"digest={digest}"
    done = _call(host, "PUT", target, data, {"Content-Type": "application/octet-stream",
                                             "Content-Length": str(len(data))})
    if done.status != 201:
        raise RegistryError(f"PUT blob {digest} to {repo}: {done.status}")
    return {"digest": digest, "size": len(data)}


def push_trivy_db(host: str, repo: str, tag: str, cache_dir: str | os.PathLike[str], *,
                  layer_media_type: str = DB_LAYER_MEDIA_TYPE) -> str:
    """Push `<cache_dir>/db/` as a Trivy DB artifact to `<host>/<repo>:<tag>` through the
    registry's HTTP API (monolithic blob uploads, then the manifest); return the manifest's
    digest. `layer_media_type` lets a test push an artifact Trivy must refuse."""
    layer = _push_blob(host, repo, db_archive(cache_dir))
    config = _push_blob(host, repo, b"{}")
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST_MEDIA_TYPE,
        "config": {"mediaType": DB_CONFIG_MEDIA_TYPE, **config},
        "layers": [{"mediaType": layer_media_type, **layer,
                    "annotations": {TITLE_ANNOTATION: "db.tar.gz"}}],
        "annotations": {"org.opencontainers.image.created": "2024-01-01T00:00:00Z"},
    }, separators=(",", ":")).encode()
    resp = _call(host, "PUT", f"/v2/{repo}/manifests/{tag}", manifest,
                 {"Content-Type": OCI_MANIFEST_MEDIA_TYPE,
                  "Content-Length": str(len(manifest))})
    if resp.status != 201:
        raise RegistryError(f"PUT manifest {repo}:{tag}: {resp.status}")
    digest = _digest(manifest)
    if resp.getheader("Docker-Content-Digest") not in (None, digest):
        raise RegistryError(f"registry stored {repo}:{tag} under another digest")
    return digest


# --- the fault-injecting proxy ------------------------------------------------------------------


@dataclass
class _Fault:
    repo: str  # the repository name, or a prefix of it ending in "/"
    status: int
    retry_after: int | None
    body: Literal["registry", "plain"]
    remaining: int | None  # None: every matching request

    def matches(self, repo: str | None) -> bool:
        if repo is None:
            return False
        return repo == self.repo or (self.repo.endswith("/") and repo.startswith(self.repo))


_ERROR_CODES = {429: "TOOMANYREQUESTS", 503: "UNAVAILABLE", 500: "UNKNOWN", 401: "UNAUTHORIZED",
                403: "DENIED", 404: "NAME_UNKNOWN"}


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, owner: FaultProxy) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _ProxyHandler)


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mlgate-test-registry-proxy"
    timeout = 60
    server: _ProxyServer

    def setup(self) -> None:
        super().setup()
        self.server.owner._connected()

    def log_message(self, format: str, *args: object) -> None:
        pass  # the structured log replaces http.server's stderr lines

    def do_GET(self) -> None:
        self._handle()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _handle(self) -> None:
        owner = self.server.owner
        path = self.path.split("?", 1)[0]
        repo = _repo_of(path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        fault = owner._take_fault(repo)
        if fault is not None:
            self._answer_fault(fault)
            owner._record(LoggedRequest(self.command, path, fault.status, repo, True,
                                        time.time()))
            return
        status = self._forward(body)
        owner._record(LoggedRequest(self.command, path, status, repo, False, time.time()))

    def _answer_fault(self, fault: _Fault) -> None:
        if fault.body == "registry":
            code = _ERROR_CODES.get(fault.status, "UNKNOWN")
            payload = json.dumps({"errors": [{"code": code, "message": f"injected {fault.status}",
                                              "detail": None}]}).encode()
            ctype = "application/json; charset=utf-8"
        else:
            payload = f"{fault.status} injected by the test proxy\n".encode()
            ctype = "text/plain; charset=utf-8"
        self.send_response(fault.status)
        self.send_header("Content-Type", ctype)
        self.send_header("Docker-Distribution-API-Version", "registry/2.0")
        if fault.retry_after is not None:
            self.send_header("Retry-After", str(fault.retry_after))
        self.send_header("Content-Length", "0" if self.command == "HEAD" else str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _forward(self, body: bytes) -> int:
        owner = self.server.owner
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        # Host stays the proxy's, so the registry's Location headers point back at the proxy
        try:
            conn = http.client.HTTPConnection(owner.upstream, timeout=60)
            conn.request(self.command, self.path, body=body if body or self.command in
                         ("POST", "PUT", "PATCH") else None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            conn.close()
        except OSError as exc:
            msg = f"upstream {owner.upstream}: {exc}\n".encode()
            self.send_response(502)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(msg)))
            self.end_headers()
            self.wfile.write(msg)
            return 502
        self.send_response(resp.status, resp.reason)
        for key, value in resp.getheaders():
            if key.lower() not in _HOP_BY_HOP and key.lower() != "content-length":
                self.send_header(key, value)
        self.send_header("Content-Length", str(int(resp.getheader("Content-Length") or 0)
                                               if self.command == "HEAD" else len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        return resp.status


class FaultProxy:
    """A reverse proxy on 127.0.0.1:<port> in front of `upstream` (`host:port`), which answers
    chosen repositories with 429 / 5xx and passes everything else (the /v2/ ping included)
    through. `requests()` logs every request in arrival order; `connections` counts TCP
    connections, HTTP or not (go-containerregistry's https probe is one)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self._server: _ProxyServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._log: list[LoggedRequest] = []
        self._faults: list[_Fault] = []
        self.connections = 0

    @property
    def host(self) -> str:
        if self._server is None:
            raise RuntimeError("FaultProxy not started")
        return f"127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FaultProxy:
        self._server = _ProxyServer(self)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="registry-fault-proxy", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> FaultProxy:  # noqa: PYI034
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fail(self, repo: str, status: int = 503, *, retry_after: int | None = None,
             body: Literal["registry", "plain"] = "registry", count: int | None = None) -> None:
        """Answer requests for repository `repo` (a name, or a prefix ending in "/") with
        `status`: every one (a mirror that stays down), or the next `count`. `body="registry"`
        sends the registry spec's error JSON (TOOMANYREQUESTS for 429, UNAVAILABLE for 503,
        UNKNOWN for 500), `body="plain"` a text body. `retry_after` adds a Retry-After header.
        Requests for a faulted repository never reach the registry."""
        if not 400 <= status <= 599:
            raise ValueError("status must be 4xx or 5xx")
        with self._lock:
            self._faults.append(_Fault(repo, status, retry_after, body, count))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def requests(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._log)

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()
            self.connections = 0

    def _take_fault(self, repo: str | None) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(repo) and fault.remaining != 0:
                    if fault.remaining is not None:
                        fault.remaining -= 1
                    return fault
        return None

    def _record(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._log.append(entry)

    def _connected(self) -> None:
        with self._lock:
            self.connections += 1
