"""verify/transport.py: one kept-alive connection, a connection the server dropped opened again
without a backoff pause, proxies from the environment, a gzip answer decoded."""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest
from support.prometheus import Answer, ScriptedPrometheus, vector

from mlgate.cluster.http_retry import Backoff
from mlgate.verify.config import PrometheusAccess
from mlgate.verify.prometheus import PrometheusClient
from mlgate.verify.transport import _proxy_for


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                 "ALL_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)


def test_queries_share_one_connection() -> None:
    with ScriptedPrometheus() as scripted:
        with PrometheusClient(PrometheusAccess(scripted.url)) as client:
            for _ in range(5):
                assert client.query("up").values == (1.0,)
    assert len(scripted.ports) == 5 and len(set(scripted.ports)) == 1


def test_a_connection_the_server_dropped_is_opened_again_without_a_pause() -> None:
    sleeps = Sleeps()
    with ScriptedPrometheus() as scripted:
        scripted.script(Answer(body=vector(({}, "1")), hangup=True))
        client = PrometheusClient(PrometheusAccess(scripted.url), Backoff(sleep=sleeps))
        assert client.query("up").values == (1.0,)
        assert client.query("up").values == (1.0,)
        client.close()
    assert sleeps.waits == [] and client.calls == 2
    assert len(scripted.seen) == 2 and len(set(scripted.ports)) == 2


def test_a_gzip_answer_is_decoded() -> None:
    body = gzip.compress(json.dumps(vector(({}, "0.25"))).encode())
    with ScriptedPrometheus() as scripted:
        scripted.script(Answer(body=body, headers={"Content-Encoding": "gzip"}))
        with PrometheusClient(PrometheusAccess(scripted.url)) as client:
            assert client.query("up").values == (0.25,)
        assert scripted.seen[0].headers["accept-encoding"] == "identity"


class _Proxy:
    """A forwarding HTTP proxy on loopback: takes absolute-URI requests, records them."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                outer.seen.append((self.path, self.headers.get("Proxy-Authorization")))
                target = urlsplit(self.path)
                upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=5)
                upstream.request("GET", f"{target.path}?{target.query}")
                answer = upstream.getresponse()
                body = answer.read()
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                upstream.close()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://proxyuser:s%40cret@127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_proxy_from_the_environment_carries_the_queries(monkeypatch) -> None:
    proxy = _Proxy()
    try:
        with ScriptedPrometheus() as scripted:
            monkeypatch.setenv("http_proxy", proxy.url)
            with PrometheusClient(PrometheusAccess(scripted.url)) as client:
                assert client.query("up").values == (1.0,)
            assert len(proxy.seen) == 1
            target, auth = proxy.seen[0]
            assert target.startswith(f"{scripted.url}/api/v1/query?query=up")
            assert auth is not None
            assert base64.b64decode(auth.split()[1]).decode() == "proxyuser:s@cret"
            # no_proxy covering the host: straight to it
            monkeypatch.setenv("NO_PROXY", "127.0.0.1")
            with PrometheusClient(PrometheusAccess(scripted.url)) as client:
                assert client.query("up").values == (1.0,)
            assert len(proxy.seen) == 1 and len(scripted.seen) == 2
    finally:
        proxy.close()


@pytest.mark.parametrize("env,want", [
    ({}, None),
    ({"HTTPS_PROXY": "proxy.corp:3128"}, ("proxy.corp", 3128)),
    ({"https_proxy": "http://low:1", "HTTPS_PROXY": "http://up:2"}, ("low", 1)),
    ({"ALL_PROXY": "http://all:8080"}, ("all", 8080)),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "*"}, None),
    ({"HTTPS_PROXY": "http://p:1", "no_proxy": "example.com"}, None),
    ({"HTTPS_PROXY": "http://p:1", "no_proxy": "other.org"}, ("p", 1)),
    ({"HTTP_PROXY": "http://p:1"}, None),   # another scheme's proxy
])
def test_which_proxy_the_environment_names(env, want):
    found, _auth = _proxy_for("https://prom.example.com/x", "prom.example.com", env)
    assert found == want
