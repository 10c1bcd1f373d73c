"""What the Kubernetes and Argo CD stand-ins share: a threaded HTTP server on 127.0.0.1, the
request log tests count from, and RFC 7386 JSON merge patch (how both APIs apply a partial
object).

The server reads each whole request, hands it to `dispatch(method, target, headers, raw)` of the
stand-in, and writes the `Reply` back (keep-alive safe). Every request is logged with the time
it arrived, so a test or a bench can count requests per resource path and per time window.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One HTTP answer: a JSON body, or raw text (`text`), plus headers."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    text: str | None = None


@dataclass(frozen=True)
class LoggedRequest:
    """What the server saw and answered; tests count API calls from these."""

    method: str
    path: str  # without the query string
    query: dict[str, str]
    status: int
    at: float  # time.monotonic() when the request arrived


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge key by key, `null` removes a key, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def header(headers: Mapping[str, str], name: str) -> str:
    """A request header, case-insensitively ("" when absent)."""
    return next((v for k, v in headers.items() if k.lower() == name.lower()), "")


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """The token of `Authorization: Bearer TOKEN`, or None."""
    scheme, _, token = header(headers, "Authorization").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class LoopbackServer:
    """Start/stop, the port and the request log; subclasses implement `dispatch`."""

    thread_name = "standin"

    def __init__(self) -> None:
        self.log: list[LoggedRequest] = []
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None

    # lifecycle

    def __enter__(self) -> Any:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.standin = self  # type: ignore[attr-defined]
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                         name=self.thread_name, daemon=True).start()

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
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # the log

    def record(self, method: str, path: str, query: dict[str, str], status: int,
               at: float) -> None:
        with self._lock:
            self.log.append(LoggedRequest(method, path, query, status, at))

    def calls(self, method: str | None = None, path: str | None = None) -> list[LoggedRequest]:
        """Logged requests, optionally only one method and only paths equal to `path`."""
        with self._lock:
            return [r for r in self.log
                    if (method is None or r.method == method) and (path is None or r.path == path)]

    def count(self, path: str, method: str | None = None) -> int:
        return len(self.calls(method, path))

    def requests_per_path(self, method: str | None = None) -> Counter[str]:
        return Counter(r.path for r in self.calls(method))

    def max_in_window(self, path: str, seconds: float, method: str | None = None) -> int:
        """The most requests to `path` that arrived within any `seconds`-long window (half open:
        two requests exactly `seconds` apart are in different windows). A client that sends at
        most one request per resource per interval I has max_in_window(path, I) <= 1."""
        if seconds <= 0:
            return 0
        times = sorted(r.at for r in self.calls(method, path))
        best, start = 0, 0
        for end, at in enumerate(times):
            while at - times[start] >= seconds:
                start += 1
            best = max(best, end - start + 1)
        return best

    def clear_log(self) -> None:
        with self._lock:
            self.log.clear()

    def dispatch(self, method: str, target: str, headers: Mapping[str, str],
                 raw: bytes) -> Reply:
        raise NotImplementedError


class _Handler(BaseHTTPRequestHandler):
    """Reads the whole request, asks the stand-in, writes the reply."""

    protocol_version = "HTTP/1.1"

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        standin: LoopbackServer = self.server.standin  # type: ignore[attr-defined]
        reply = standin.dispatch(self.command, self.path, dict(self.headers.items()), raw)
        if reply.text is not None:
            payload = reply.text.encode("utf-8")
            content_type = "text/plain; charset=utf-8"
        else:
            payload = b"" if reply.body is None else json.dumps(reply.body).encode("utf-8")
            content_type = "application/json"
        self.send_response(reply.status)
        for key, value in {"Content-Type": content_type, **reply.headers}.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload and self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _handle

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read the stand-in's log instead."""


@dataclass
class Timeline:
    """A scripted series of object states (both API stand-ins' `timeline`): one per GET, one
    per `advance()`, or one every `every` seconds from `started`."""

    pending: list[dict[str, Any]]
    every: float | None  # seconds between states, or None (per GET / manual)
    per_get: bool
    started: float = field(default_factory=time.monotonic)
    applied: int = 0

    @classmethod
    def scripted(cls, states: list[Mapping[str, Any]], advance: str | float) -> Timeline:
        every = float(advance) if isinstance(advance, (int, float)) else None
        if every is None and advance not in ("get", "manual"):
            raise ValueError(f"advance must be 'get', 'manual' or seconds, not {advance!r}")
        return cls([copy.deepcopy(dict(s)) for s in states], every, per_get=advance == "get")

    def next_due(self, now: float) -> float | None:
        """When the next timed state was due, if it is due by `now` (else None)."""
        if self.every is None or not self.pending:
            return None
        at = self.started + self.applied * self.every
        return at if at <= now else None


def now_rfc3339() -> str:
    """Kubernetes' metav1.Time format: seconds, UTC, `Z`."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
