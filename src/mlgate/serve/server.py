"""The HTTP server: the standard library's ThreadingHTTPServer (one thread per connection, no
new dependency), HTTP/1.1 keep-alive for the controllers' pooled connections.

    POST /flagger/<hook type>          Flagger's webhooks (flagger.py)
    GET  /analysis/<app>/<check>       Argo Rollouts' web metric provider (webmetric.py)
    GET  /healthz                      liveness and readiness: no token, no Prometheus

Every other request shows the token: `Authorization: Bearer <MLGATE_ANALYSIS_TOKEN>`, or for
Flagger, which sends no header of a webhook's choosing, the webhook's `metadata.token`.
Compared in constant time; a caller without it gets 401 and `WWW-Authenticate`, before its
body is judged. A body needs a Content-Length of at most 64 KiB (411, 413), arrives within
10 s (408) and is strict JSON (400 with a JSON error). A connection idle for 15 s is closed (a
Flagger one right after its answer: Flagger never reuses it), and at most 64 are served at
once. Each answered request is one record for the decision log.
"""

from __future__ import annotations

import hmac
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from mlgate.errors import BadInput
from mlgate.serve import flagger, webmetric
from mlgate.serve.checks import (
    ClientPool,
    EvidenceShelf,
    Round,
    measure_round,
    prometheus_reader,
    resolve,
)
from mlgate.serve.config import ServeConfig, window
from mlgate.serve.reply import Reply, encode, refused
from mlgate.verify.check import Check

Log = Callable[[Mapping[str, Any]], None]

MAX_CONNECTIONS = 64
IDLE_SECONDS = 15.0
BODY_SECONDS = 10.0
QUERY_THREADS = 16
REALM = 'Bearer realm="mlgate-analysis"'
ROUTES = ("POST /flagger/<type> (" + ", ".join(flagger.HOOKS) + "), GET /analysis/<app>/"
          "<check>, GET /healthz")


class AnalysisServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, cfg: ServeConfig, log: Log) -> None:
        from mlgate.redact import secret_fragments

        self.cfg = cfg
        self.log = log
        self.pool = ClientPool(cfg.prometheus)
        self.shelf = EvidenceShelf(cfg.evidence_dir)
        self.token = cfg.token.encode("ascii")
        self.secrets = secret_fragments([cfg.token, *cfg.prometheus.secrets()])
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        # the queries of one request's checks go side by side
        self.queries = ThreadPoolExecutor(QUERY_THREADS, thread_name_prefix="query")
        if ":" in cfg.host:
            self.address_family = socket.AF_INET6
        try:
            super().__init__((cfg.host, cfg.port), _Handler)
        except OSError as exc:
            raise BadInput(f"--listen {cfg.host}:{cfg.port}: cannot listen: "
                           f"{exc.strerror or exc}") from None

    @property
    def address(self) -> str:
        host, port = self.server_address[:2]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            self.log({"time": _now(), "event": "connection-refused", "client": client_address[0],
                      "message": f"{MAX_CONNECTIONS} connections are open already"})
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def server_close(self) -> None:
        super().server_close()
        self.queries.shutdown(wait=False)
        self.pool.close()


class _Refused(Exception):
    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.body.get("error", ""))
        self.reply = reply


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mlgate-serve-analysis"
    sys_version = ""
    timeout = IDLE_SECONDS
    # the answer leaves in one write when the request is done (http.server flushes then), and
    # without Nagle's wait: headers and body in two small writes would meet the client's
    # delayed ACK, 40 ms on Linux for every answer
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True
    server: AnalysisServer

    def handle_expect_100(self) -> bool:
        sent = super().handle_expect_100()
        self.wfile.flush()      # the client waits for it before sending the body
        return sent

    def version_string(self) -> str:
        return self.server_version

    def do_GET(self) -> None:   # noqa: N802 (http.server's names)
        self._serve("GET")

    def do_POST(self) -> None:   # noqa: N802
        self._serve("POST")

    def do_PUT(self) -> None:   # noqa: N802
        self._serve("PUT")

    def do_PATCH(self) -> None:   # noqa: N802
        self._serve("PATCH")

    def do_DELETE(self) -> None:   # noqa: N802
        self._serve("DELETE")

    def log_message(self, format: str, *args: Any) -> None:   # noqa: A002
        """Nothing per request here: the decision record says it all."""

    def log_error(self, format: str, *args: Any) -> None:   # noqa: A002
        self.server.log({"time": _now(), "event": "http-error", "client": self.client_address[0],
                         "message": (format % args)[:300]})

    # ------------------------------------------------------------------ one request

    def _serve(self, method: str) -> None:
        started = time.perf_counter()
        self._body_read = False
        record: dict[str, Any] = {"time": _now(), "event": "decision", "method": method,
                                  "path": self.path[:200]}
        try:
            reply = self._route(method, record)
        except _Refused as exc:
            reply = exc.reply
        except BadInput as exc:
            reply = refused(400, str(exc))
        except (TimeoutError, ConnectionError):
            raise      # http.server closes the connection and logs it
        except Exception as exc:    # a bug: the caller halts (non-2xx); the log says what
            reply = Reply(500, {"error": "internal error; see the server's log"}, "error")
            record["exception"] = f"{type(exc).__name__}: {exc}"[:300]
        if self._unread():
            self.close_connection = True     # what is left of the body is no next request
        # the record is written before the answer leaves: a caller holding the answer can
        # read the record of it
        if record.get("event") != "health":
            record.update(status=reply.status, decision=reply.decision,
                          ms=round((time.perf_counter() - started) * 1000, 2),
                          client=self.client_address[0])
            if reply.status >= 400 and "error" in reply.body and "message" not in record:
                record["message"] = reply.body["error"]
            self.server.log(record)
        self._send(reply)

    def _route(self, method: str, record: dict[str, Any]) -> Reply:
        path, _, query = self.path.partition("?")
        parts = path.split("/")
        if path == "/healthz":
            allowed = "GET"
            if method == allowed:
                record["event"] = "health"
                return Reply(200, {"status": "ok"}, "health")
        elif len(parts) == 3 and parts[1] == "flagger":
            allowed = "POST"
            if method == allowed:
                return self._flagger(parts[2], record)
        elif len(parts) == 4 and parts[1] == "analysis":
            allowed = "GET"
            if method == allowed:
                return self._web(parts[2], parts[3], query, record)
        else:
            return refused(404, f"no such path; this server answers {ROUTES}")
        return refused(405, f"{path[:80]} takes {allowed} only", {"Allow": allowed})

    def _flagger(self, hook: str, record: dict[str, Any]) -> Reply:
        record.update(source="flagger", hook=hook[:40])
        # Flagger makes a new HTTP client for every call and never reuses its connection:
        # kept open, it would only hold a thread here until the idle timeout
        self.close_connection = True
        if hook not in flagger.HOOKS:
            return refused(404, f"no webhook type {hook[:40]!r}: one of "
                                f"{', '.join(flagger.HOOKS)}")
        bearer = self._bearer()
        if bearer is not None and not self._valid(bearer):
            return self._unauthorized(True)
        body = self._body()
        from mlgate.safe_load import parse_json

        try:
            doc = parse_json(body, "the request body", max_depth=8)
        except BadInput:
            if bearer is None:    # no token found: the caller learns nothing about its body
                return self._unauthorized(False)
            raise
        if bearer is None:
            token = flagger.token_of(doc)
            if token is None or not self._valid(token):
                return self._unauthorized(token is not None)
        hook_call = flagger.parse_payload(hook, doc)
        record.update(canary=hook_call.canary, canary_phase=hook_call.phase)
        found = None
        if hook_call.judged:
            meta = hook_call.metadata
            checks = resolve(flagger.checks_of(hook_call), self.server.cfg.checks,
                             self.server.cfg.queries, "metadata checks")
            labels = {"app": webmetric.check_app(meta.get("app") or hook_call.name,
                                                    "metadata app"),
                      "namespace": hook_call.namespace,
                      "environment": meta.get("environment"),
                      "model_version": meta.get("model-version")}
            found = self._measure(checks, labels, meta.get("window"), meta.get("evidence"),
                                  "metadata", record)
        return flagger.decide(hook_call, found)

    def _web(self, app: str, check: str, query: str, record: dict[str, Any]) -> Reply:
        record["source"] = "argo-rollouts"
        bearer = self._bearer()
        if bearer is None or not self._valid(bearer):
            return self._unauthorized(bearer is not None)
        request = webmetric.parse_request(app, check, query)
        checks = resolve([request.check], self.server.cfg.checks, self.server.cfg.queries,
                         "the check")
        given = request.parameters
        labels = {"app": request.app, "namespace": given.get("namespace"),
                  "environment": given.get("environment"),
                  "model_version": given.get("model-version")}
        found = self._measure(checks, labels, given.get("window"), given.get("evidence"),
                              "query parameter", record)
        return webmetric.answer(request, found)

    def _measure(self, checks: Sequence[Check], labels: dict[str, str | None],
                 window_text: str | None, evidence: str | None, where: str,
                 record: dict[str, Any]) -> Round:
        cfg = self.server.cfg
        record["app"] = labels["app"]
        seconds = window(window_text, f"{where} window") if window_text else cfg.window
        baselines = self.server.shelf.baselines(evidence, f"{where} evidence") \
            if evidence else None
        if not labels["environment"]:
            labels["environment"] = cfg.environment
        if not labels["model_version"] and baselines is not None:
            labels["model_version"] = baselines.model_version
        given = {k: v for k, v in labels.items() if v}
        deadline = time.monotonic() + cfg.timeout
        found = measure_round(checks, given, seconds, baselines, evidence,
                              prometheus_reader(self.server.pool, deadline),
                              self.server.queries.map if len(checks) > 1 else None)
        record.update(phase=found.phase, message=found.message,
                      checks=[{"name": a.name, "phase": a.phase, "value": a.value}
                              for a in found.checks])
        return found

    # ------------------------------------------------------------------ plumbing

    def _bearer(self) -> str | None:
        """The bearer token sent; None without an Authorization header, "" for one that
        carries no bearer token (never valid)."""
        given = self.headers.get_all("Authorization") or []
        if not given:
            return None
        scheme, _, value = given[0].strip().partition(" ")
        if len(given) > 1 or scheme.lower() != "bearer":
            return ""
        return value.strip()

    def _valid(self, token: str) -> bool:
        return hmac.compare_digest(token.encode("utf-8", "replace"), self.server.token)

    def _unauthorized(self, presented: bool) -> Reply:
        challenge = REALM + (', error="invalid_token"' if presented else "")
        return refused(401, "the token is wrong" if presented else
                       "a bearer token is needed (Authorization: Bearer <token>; Flagger: "
                       "the webhook's metadata.token)", {"WWW-Authenticate": challenge})

    def _body(self) -> bytes:
        limit = self.server.cfg.max_body
        if self.headers.get("Transfer-Encoding"):
            raise _Refused(refused(411, "send the body with a Content-Length, not chunked"))
        lengths = self.headers.get_all("Content-Length") or []
        if not lengths:
            raise _Refused(refused(411, "a Content-Length is needed"))
        text = lengths[0].strip()
        if len(lengths) > 1 or not (text.isascii() and text.isdigit()):
            raise _Refused(refused(400, "the Content-Length is not one number"))
        size = int(text)
        if size > limit:
            raise _Refused(refused(413, f"the body is {size} bytes; at most {limit}"))
        # the socket's timeout bounds each wait; this bounds the whole body, so a caller
        # sending a byte now and then cannot hold a connection for minutes
        deadline = time.monotonic() + BODY_SECONDS
        chunks: list[bytes] = []
        left = size
        while left > 0:
            chunk = self.rfile.read1(min(left, 65536))
            if not chunk:
                raise _Refused(refused(400, "the body ended before its Content-Length"))
            chunks.append(chunk)
            left -= len(chunk)
            if left and time.monotonic() > deadline:
                raise _Refused(refused(408, f"the body took over {BODY_SECONDS:g} s"))
        self._body_read = True
        return b"".join(chunks)

    def _unread(self) -> bool:
        """A body was announced that this request did not read."""
        if self._body_read:
            return False
        length = (self.headers.get("Content-Length") or "0").strip()
        return bool(self.headers.get("Transfer-Encoding")) or length not in ("", "0")

    def _send(self, reply: Reply) -> None:
        from mlgate.redact import redact_value

        body = encode(redact_value(reply.body, self.server.secrets))
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)


def _now() -> str:
    from mlgate.cluster.kube import rfc3339_now

    return rfc3339_now()
