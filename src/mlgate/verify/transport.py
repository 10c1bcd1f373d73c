"""One kept-alive HTTP(S) connection to Prometheus, on the standard library's http.client.

requests spent about 0.9 ms of CPU on each instant query (its session and adapter layers, and a
scan of the environment per request) where http.client spends about 0.15 ms; serve-analysis
makes three queries per Flagger webhook, hundreds a second, so that was most of its CPU. What
requests gave that matters here is kept: proxies from the environment (HTTPS_PROXY, HTTP_PROXY,
NO_PROXY, read once when the client is made), certifi's CA bundle unless `--prometheus-ca`
names one (REQUESTS_CA_BUNDLE and the like play no part), a gzip answer decoded within the size
cap, and no redirect followed (a 3xx is the caller's to judge).

A connection the server closed while it sat idle is opened again at once, once: that is not a
failure worth a backoff pause. Any other error closes it, and the caller's retry opens a new one.
"""

from __future__ import annotations

import base64
import http.client
import os
import ssl
import time
import urllib.request
import zlib
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

# what a connection idle too long looks like when it is used again: the server closed it
_STALE = (http.client.RemoteDisconnected, http.client.CannotSendRequest, ConnectionResetError,
          BrokenPipeError, ConnectionAbortedError)


class TooBig(Exception):
    """The answer (decoded) is over the limit."""


class Transport:
    def __init__(self, url: str, ca_bundle: str | None,
                 environ: Mapping[str, str] | None = None) -> None:
        parts = urlsplit(url)
        self.https = parts.scheme == "https"
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if self.https else 80)
        self._netloc = parts.netloc
        self._proxy, self._proxy_auth = _proxy_for(url, self.host, environ)
        self._context: ssl.SSLContext | None = None
        if self.https:
            self._context = ssl.create_default_context(cafile=ca_bundle or _certifi())
        self._conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path_and_query: str, body: bytes | None,
                headers: Mapping[str, str], timeout: float, limit: int
                ) -> tuple[int, http.client.HTTPMessage, bytes]:
        """One request; its answer read whole within `timeout` and `limit` bytes (decoded):
        a server that drips bytes or streams without end is cut off, not waited for."""
        started = time.monotonic()
        target = path_and_query
        sent = dict(headers)
        if self._proxy is not None and not self.https:
            target = f"http://{self._netloc}{path_and_query}"   # a proxy takes the whole URL
            if self._proxy_auth:
                sent["Proxy-Authorization"] = self._proxy_auth
        response = self._send(method, target, body, sent, timeout)
        try:
            data = _read(response, limit, started, timeout)
        except BaseException:
            self.close()
            raise
        response.close()   # read whole: the connection is free for the next request
        if response.will_close:
            self.close()
        return response.status, response.msg, data

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _send(self, method: str, target: str, body: bytes | None, headers: dict[str, str],
              timeout: float) -> http.client.HTTPResponse:
        reused = self._conn is not None
        try:
            conn = self._connection(timeout)
            conn.request(method, target, body=body, headers=headers)
            return conn.getresponse()
        except _STALE:
            self.close()
            if not reused:
                raise
        except BaseException:
            self.close()
            raise
        try:   # the kept connection had been closed by the server: once more, on a new one
            conn = self._connection(timeout)
            conn.request(method, target, body=body, headers=headers)
            return conn.getresponse()
        except BaseException:
            self.close()
            raise

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        conn = self._conn
        if conn is None:
            conn = self._conn = self._open(timeout)
        else:
            conn.timeout = timeout
            if conn.sock is not None:
                conn.sock.settimeout(timeout)
        return conn

    def _open(self, timeout: float) -> http.client.HTTPConnection:
        if self._proxy is None:
            if self.https:
                return http.client.HTTPSConnection(self.host, self.port, timeout=timeout,
                                                   context=self._context)
            return http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        proxy_host, proxy_port = self._proxy
        if not self.https:
            return http.client.HTTPConnection(proxy_host, proxy_port, timeout=timeout)
        conn = http.client.HTTPSConnection(proxy_host, proxy_port, timeout=timeout,
                                           context=self._context)
        tunnel = {"Proxy-Authorization": self._proxy_auth} if self._proxy_auth else None
        conn.set_tunnel(self.host, self.port, headers=tunnel)
        return conn


def _read(response: http.client.HTTPResponse, limit: int, started: float,
          timeout: float) -> bytes:
    encoding = (response.getheader("Content-Encoding") or "").strip().lower()
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS) if encoding == "gzip" else None
    chunks: list[bytes] = []
    size = 0
    while True:
        raw = response.read1(64 * 1024)   # at most one socket read: a drip is timed
        if not raw:
            break
        if decoder is not None:
            piece = decoder.decompress(raw, limit - size + 1)
            if decoder.unconsumed_tail:   # more would come out than the limit allows
                raise TooBig
        else:
            piece = raw
        size += len(piece)
        if size > limit:
            raise TooBig
        if time.monotonic() - started > timeout:
            raise TimeoutError("the answer took too long")
        chunks.append(piece)
    return b"".join(chunks)


def _certifi() -> str | None:
    try:
        import certifi
    except ImportError:   # the system's CA store then
        return None
    return certifi.where()


def _proxy_for(url: str, host: str, environ: Mapping[str, str] | None
               ) -> tuple[tuple[str, int] | None, str | None]:
    """The proxy the environment names for this URL's scheme (https_proxy, then all_proxy;
    the lower-case spelling wins, as in curl and urllib), unless no_proxy covers the host;
    with the Proxy-Authorization its URL's credentials make."""
    env = os.environ if environ is None else environ
    found = {k.lower(): v for k, v in env.items() if v}
    found.update({k: v for k, v in env.items() if v and k.islower()})
    scheme = urlsplit(url).scheme
    proxy = found.get(f"{scheme}_proxy") or found.get("all_proxy")
    if not proxy or _bypassed(host, found.get("no_proxy", "")):
        return None, None
    parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    if not parts.hostname:
        return None, None
    auth = None
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        auth = "Basic " + base64.b64encode(pair).decode("ascii")
    return (parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)), auth


def _bypassed(host: str, no_proxy: str) -> bool:
    """NO_PROXY as urllib reads it (`*`, host names and domain suffixes, host:port)."""
    if not no_proxy:
        return False
    return bool(urllib.request.proxy_bypass_environment(host, {"no": no_proxy}))
