"""A real Prometheus (the `prometheus` binary, Debian's package) on 127.0.0.1, scraping a
loopback exporter whose series the test drives.

The exporter (prometheus_client) serves what mlgate's built-in checks query (verify/check.py),
per (app, namespace):

- `http_requests_total{code="200"|"500"}` and `http_request_duration_seconds` (a histogram):
  traffic at `rps` requests per second, a share `error_ratio` of them answered 500, each taking
  `latency` seconds. The counters grow with the clock, so `traffic(...)` means "from now on":
  once a rate() window has passed, `error-rate` is exactly `error_ratio` and `p95-latency` is
  `p95(latency)` (histogram_quantile interpolates inside the bucket `latency` falls in).
  `rps=0` is no traffic: both built-in queries then give NaN.
- the gauges `mlgate_model_accuracy` and `mlgate_model_drift_score`, set directly;
- `remove(...)` drops series: Prometheus marks them stale at its next scrape (absent).

Prometheus scrapes every 200 ms, but its target discovery sends the first targets only after
~5 s (Prometheus 2.x throttles discovery updates; 2.42 has no flag for it): the scraping
stack (`prometheus_stack`) starts once per test session, so each test gives its own app name
and never stops it. Queries that
need no scraped data (`vector(1)`, `0/0`) work as soon as Prometheus is ready (~0.2 s):
`bare_prometheus` (function scope, stop it mid-test to see "unreachable") and
`secured_prometheus` (basic auth and TLS through --web.config.file).

A missing binary fails the test (never a skip): ./scripts/test installs Debian's `prometheus`;
MLGATE_TEST_PROMETHEUS may name another binary.
"""

from __future__ import annotations

import atexit
import datetime
import ipaddress
import json
import math
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from base64 import b64encode
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

BINARY_ENV = "MLGATE_TEST_PROMETHEUS"
SCRAPE_INTERVAL = "200ms"
JOB = "mlgate-exporter"

# basic auth: Prometheus's web config takes bcrypt hashes only. bcrypt is not a dependency, so
# this is crypt(3)'s $2b$ (cost 5: checked on every request) of USER's PASSWORD.
USER = "verify"
PASSWORD = "correct horse battery"
PASSWORD_BCRYPT = "$2b$05$0dPmTIfjb/kWgKuUqNaXouKAqa3NK/J6.J7oMjd5W01.j.gY/hZdC"

# histogram buckets (upper bounds, seconds), finer than the client library's defaults so that
# p95(latency) stays near latency
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.75, 1.0,
           1.5, 2.0, 3.0, 5.0, 10.0)
BASE = 10_000.0   # every counter starts here, so rate() never extrapolates towards zero
GAUGES = ("mlgate_model_accuracy", "mlgate_model_drift_score")


def prometheus_binary() -> str:
    """The Prometheus binary, or a failed test saying how to get it."""
    given = os.environ.get(BINARY_ENV)
    if given:
        if os.access(given, os.X_OK):
            return given
        pytest.fail(f"{BINARY_ENV}={given} is not an executable", pytrace=False)
    found = shutil.which("prometheus") or ("/usr/bin/prometheus"
                                           if os.access("/usr/bin/prometheus", os.X_OK) else None)
    if found is None:
        pytest.fail("prometheus is not installed (apt-get install prometheus, or set "
                    f"{BINARY_ENV}); ./scripts/test installs it", pytrace=False)
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def p95(latency: float) -> float:
    """What histogram_quantile(0.95, ...) gives when every request takes `latency`: 95 % of
    the way through the bucket holding it (the highest finite bound past the last bucket)."""
    lower = 0.0
    for upper in BUCKETS:
        if latency <= upper:
            return lower + (upper - lower) * 0.95
        lower = upper
    return BUCKETS[-1]


# ---------------------------------------------------------------------- the exporter


@dataclass
class _Traffic:
    rps: float
    error_ratio: float
    latency: float
    since: float
    ok: float = BASE
    errors: float = BASE
    counts: list[float] = field(default_factory=lambda: [BASE] * (len(BUCKETS) + 1))
    total: float = BASE * (len(BUCKETS) + 1)   # the histogram's sum

    def advance(self, now: float) -> None:
        requests = self.rps * max(0.0, now - self.since)
        self.since = now
        self.errors += requests * self.error_ratio
        self.ok += requests * (1 - self.error_ratio)
        index = next((i for i, bound in enumerate(BUCKETS) if self.latency <= bound),
                     len(BUCKETS))
        self.counts[index] += requests
        self.total += requests * self.latency


class Exporter:
    """The loopback target Prometheus scrapes; every setter takes effect from now on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._traffic: dict[tuple[str, str], _Traffic] = {}
        self._gauges: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        self._server: Any = None
        self.scrapes = 0

    # what the test drives

    def traffic(self, app: str, namespace: str, *, error_ratio: float | None = None,
                latency: float | None = None, rps: float | None = None) -> None:
        """Requests of `app` in `namespace` from now on (new: 50 rps, no errors, 100 ms)."""
        now = time.monotonic()
        with self._lock:
            current = self._traffic.get((app, namespace))
            if current is None:
                current = self._traffic[(app, namespace)] = _Traffic(50.0, 0.0, 0.1, now)
            current.advance(now)
            if rps is not None:
                current.rps = rps
            if error_ratio is not None:
                current.error_ratio = error_ratio
            if latency is not None:
                current.latency = latency

    def gauge(self, name: str, value: float, *, app: str, namespace: str,
              **labels: str) -> None:
        """Set a gauge (NaN allowed) for app/namespace, with any further labels."""
        key = (name, tuple(sorted({"app": app, "namespace": namespace, **labels}.items())))
        with self._lock:
            self._gauges[key] = float(value)

    def accuracy(self, app: str, namespace: str, value: float, **labels: str) -> None:
        self.gauge("mlgate_model_accuracy", value, app=app, namespace=namespace, **labels)

    def drift(self, app: str, namespace: str, value: float, **labels: str) -> None:
        self.gauge("mlgate_model_drift_score", value, app=app, namespace=namespace, **labels)

    def remove(self, app: str, namespace: str, metric: str | None = None) -> None:
        """Stop serving app/namespace's series: all, the traffic ("http"), or one gauge."""
        with self._lock:
            if metric in (None, "http"):
                self._traffic.pop((app, namespace), None)
            for key in list(self._gauges):
                labels = dict(key[1])
                if (labels.get("app"), labels.get("namespace")) == (app, namespace) and \
                        metric in (None, key[0]):
                    del self._gauges[key]

    # serving

    def start(self) -> None:
        try:
            from prometheus_client import CollectorRegistry, start_http_server
        except ImportError:
            pytest.fail("prometheus-client is not installed (the dev extra has it: uv sync "
                        "--extra dev); ./scripts/test installs it", pytrace=False)
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self)  # type: ignore[arg-type]
        self._server, _ = start_http_server(0, addr="127.0.0.1", registry=registry)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def address(self) -> str:
        assert self._server is not None, "exporter not started"
        return f"127.0.0.1:{self._server.server_address[1]}"

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        """The series as of now, built on each scrape."""
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        now = time.monotonic()
        with self._lock:
            self.scrapes += 1
            requests = CounterMetricFamily("http_requests", "Requests served",
                                           labels=["namespace", "app", "code"])
            seconds = HistogramMetricFamily("http_request_duration_seconds", "Request latency",
                                            labels=["namespace", "app"])
            for (app, namespace), traffic in sorted(self._traffic.items()):
                traffic.advance(now)
                requests.add_metric([namespace, app, "200"], traffic.ok)
                requests.add_metric([namespace, app, "500"], traffic.errors)
                cumulative, buckets = 0.0, []
                for bound, count in zip([*map(_le, BUCKETS), "+Inf"], traffic.counts):
                    cumulative += count
                    buckets.append((bound, cumulative))
                seconds.add_metric([namespace, app], buckets, traffic.total)
            gauges: dict[tuple[str, tuple[str, ...]], GaugeMetricFamily] = {}
            for (name, labels), value in sorted(self._gauges.items()):
                names = tuple(k for k, _ in labels)
                family = gauges.setdefault((name, names), GaugeMetricFamily(
                    name, "set by the test", labels=list(names)))
                family.add_metric([v for _, v in labels], value)
        yield requests
        yield seconds
        yield from gauges.values()


def _le(bound: float) -> str:
    return repr(float(bound))


# ---------------------------------------------------------------------- TLS


@dataclass(frozen=True)
class Tls:
    ca: Path      # the CA bundle a client trusts
    cert: Path    # the server's certificate (127.0.0.1 and localhost), signed by the CA
    key: Path


def make_tls(directory: Path) -> Tls:
    """A private CA and a server certificate for 127.0.0.1, made with `cryptography`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mlgate test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                       False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    directory.mkdir(parents=True, exist_ok=True)
    tls = Tls(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    tls.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    tls.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    tls.key.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return tls


# ---------------------------------------------------------------------- Prometheus


class PrometheusServer:
    """One Prometheus process with its own data directory and port.

    targets: `host:port` of exporters to scrape (job mlgate-exporter). users: user -> bcrypt
    hash for basic auth, tls: serve HTTPS; both go into --web.config.file."""

    def __init__(self, workdir: Path, targets: Sequence[str] = (), *,
                 users: Mapping[str, str] | None = None, tls: Tls | None = None,
                 scrape_interval: str = SCRAPE_INTERVAL) -> None:
        self.workdir = workdir
        self.targets = tuple(targets)
        self.users = dict(users or {})
        self.tls = tls
        self.scrape_interval = scrape_interval
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._credentials: tuple[str, str] | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def log(self) -> str:
        path = self.workdir / "prometheus.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self, timeout: float = 30.0) -> None:
        binary = prometheus_binary()
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = {"global": {"scrape_interval": self.scrape_interval,
                             "scrape_timeout": self.scrape_interval,
                             "evaluation_interval": "1s"},
                  "scrape_configs": [{"job_name": JOB,
                                      "static_configs": [{"targets": list(self.targets)}]}]
                  if self.targets else []}
        (self.workdir / "prometheus.yml").write_text(json.dumps(config))  # JSON is YAML
        args = [binary, f"--config.file={self.workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.workdir / 'data'}", "--log.level=warn"]
        if self.users or self.tls:
            web: dict[str, Any] = {}
            if self.users:
                web["basic_auth_users"] = self.users
            if self.tls:
                web["tls_server_config"] = {"cert_file": str(self.tls.cert),
                                            "key_file": str(self.tls.key)}
            (self.workdir / "web.yml").write_text(json.dumps(web))
            args.append(f"--web.config.file={self.workdir / 'web.yml'}")
        for _ in range(3):  # a port taken between free_port() and the bind: another one
            self.port = free_port()
            with open(self.workdir / "prometheus.log", "ab") as log:
                self._process = subprocess.Popen(
                    [*args, f"--web.listen-address=127.0.0.1:{self.port}"],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
            _running.add(self)
            if self._wait_ready(timeout):
                return
            if "address already in use" not in self.log:
                break
        self.stop()
        raise RuntimeError(f"Prometheus did not get ready in {timeout:g} s; its log:\n"
                           f"{self.log[-3000:]}")

    def stop(self) -> None:
        """Ends the process (the data directory stays); the port then refuses connections."""
        process, self._process = self._process, None
        _running.discard(self)
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> PrometheusServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # reading it (the harness's own client: urllib, not the code under test)

    def login(self, user: str, password: str) -> None:
        """The credentials the harness itself uses (a server with users needs them)."""
        self._credentials = (user, password)

    def get(self, path: str, params: Mapping[str, str] | None = None,
            timeout: float = 5.0) -> tuple[int, bytes]:
        url = self.url + path + ("?" + urllib.parse.urlencode(params) if params else "")
        request = urllib.request.Request(url)
        if self._credentials:
            pair = ":".join(self._credentials).encode()
            request.add_header("Authorization", "Basic " + b64encode(pair).decode())
        handlers: list[Any] = [urllib.request.ProxyHandler({})]
        if self.tls:
            handlers.append(urllib.request.HTTPSHandler(
                context=ssl.create_default_context(cafile=str(self.tls.ca))))
        try:
            with urllib.request.build_opener(*handlers).open(request, timeout=timeout) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def query(self, promql: str) -> dict[str, Any]:
        """The API's whole answer to an instant query."""
        _, body = self.get("/api/v1/query", {"query": promql})
        return json.loads(body)

    def values(self, promql: str) -> list[float]:
        """One float per series (a scalar: one); [] when the answer is empty or an error."""
        doc = self.query(promql)
        data = doc.get("data") or {}
        if data.get("resultType") == "scalar":
            return [float(data["result"][1])]
        return [float(s["value"][1]) for s in data.get("result") or []]

    def wait_for(self, promql: str, until: Callable[[list[float]], bool] | None = None,
                 timeout: float = 20.0) -> list[float]:
        """Poll until `until(values)` holds (default: some series, none NaN); the values."""
        until = until or (lambda vs: bool(vs) and not any(math.isnan(v) for v in vs))
        end = time.monotonic() + timeout
        values: list[float] = []
        while time.monotonic() < end:
            values = self.values(promql)
            if until(values):
                return values
            time.sleep(0.1)
        raise AssertionError(f"Prometheus: {promql} did not reach the awaited value in "
                             f"{timeout:g} s (last: {values})")

    def _wait_ready(self, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self._process is None or self._process.poll() is not None:
                return False
            try:
                status, _ = self.get("/-/ready", timeout=1.0)
                if status == 200 or (self.users and not self._credentials and status == 401):
                    return True
            except (OSError, ssl.SSLError):
                pass
            time.sleep(0.05)
        return False


_running: set[PrometheusServer] = set()


@atexit.register
def _stop_all() -> None:
    """A run cut short (Ctrl-C, a crash in a fixture) leaves no Prometheus behind."""
    for server in list(_running):
        server.stop()


@dataclass
class Stack:
    """A Prometheus scraping one exporter."""

    prometheus: PrometheusServer
    exporter: Exporter

    @property
    def url(self) -> str:
        return self.prometheus.url


# ---------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def prometheus_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Prometheus scraping the exporter every 200 ms, its first scrape done (~5 s, once per
    session: give each test its own app name, and do not stop it)."""
    exporter = Exporter()
    exporter.start()
    prometheus = PrometheusServer(tmp_path_factory.mktemp("prometheus"), [exporter.address])
    try:
        prometheus.start()
        prometheus.wait_for(f'up{{job="{JOB}"}}', lambda vs: vs == [1.0], timeout=30)
        yield Stack(prometheus, exporter)
    finally:
        prometheus.stop()
        exporter.stop()


@pytest.fixture
def bare_prometheus(tmp_path: Path) -> Iterator[PrometheusServer]:
    """Prometheus with nothing to scrape (ready in well under a second), for queries that need
    no data and for stopping it mid-test."""
    with PrometheusServer(tmp_path / "prometheus") as prometheus:
        yield prometheus


@pytest.fixture(scope="module")
def secured_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    """Prometheus over HTTPS (a private CA: `.tls.ca` is the bundle) with basic auth (USER,
    PASSWORD)."""
    workdir = tmp_path_factory.mktemp("prometheus-secured")
    prometheus = PrometheusServer(workdir, users={USER: PASSWORD_BCRYPT},
                                  tls=make_tls(workdir / "tls"))
    prometheus.login(USER, PASSWORD)
    with prometheus:
        yield prometheus


# ---------------------------------------------------------------------- a scripted look-alike


@dataclass
class Answer:
    """One scripted answer: a status, a body (bytes as they are, anything else as JSON),
    headers, and `drip` seconds between the body's bytes (a server that trickles)."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    drip: float = 0.0
    hangup: bool = False   # close the connection after answering, without saying so


@dataclass(frozen=True)
class Seen:
    """A request the look-alike received."""

    method: str
    path: str
    params: dict[str, str]    # the query string's, or a POST form's
    headers: dict[str, str]   # names lower-cased


def vector(*samples: tuple[Mapping[str, str], str]) -> dict[str, Any]:
    """Prometheus's answer with an instant vector of (labels, value) samples."""
    now = round(time.time(), 3)
    return {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": dict(labels), "value": [now, value]} for labels, value in samples]}}


def scalar(value: str) -> dict[str, Any]:
    return {"status": "success", "data": {"resultType": "scalar",
                                          "result": [round(time.time(), 3), value]}}


def failure(error_type: str, message: str) -> dict[str, Any]:
    """Prometheus's error envelope (with 400 bad_data, 422 execution, 503 timeout, ...)."""
    return {"status": "error", "errorType": error_type, "error": message}


class ScriptedPrometheus:
    """A loopback HTTP server answering `<prefix>/api/v1/query` with scripted answers (in
    order, then `default`) and 404 "page not found" elsewhere, as Prometheus does; it records
    every request with its headers. For what a real Prometheus cannot be made to do: check
    the headers sent, rate-limit, fail, or answer garbage."""

    def __init__(self, prefix: str = "", default: Answer | None = None) -> None:
        self.prefix = prefix.rstrip("/")
        self.default = default or Answer(body=vector(({}, "1")))
        self.pending: list[Answer] = []
        self.seen: list[Seen] = []
        self.ports: list[int] = []   # each request's client port: one per TCP connection
        self._lock = threading.Lock()
        self._server: Any = None

    def script(self, *answers: Answer) -> None:
        with self._lock:
            self.pending.extend(answers)

    @property
    def url(self) -> str:
        assert self._server is not None, "not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.prefix}"

    def __enter__(self) -> ScriptedPrometheus:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _ScriptedHandler)
        self._server.daemon_threads = True
        self._server.scripted = self  # type: ignore[attr-defined]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, method: str, target: str, headers: Mapping[str, str],
                raw: bytes) -> Answer:
        path, _, query = target.partition("?")
        params = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        if method == "POST":
            params.update(urllib.parse.parse_qsl(raw.decode("utf-8", "replace"),
                                                 keep_blank_values=True))
        with self._lock:
            self.seen.append(Seen(method, path, params,
                                  {k.lower(): v for k, v in headers.items()}))
            if path != f"{self.prefix}/api/v1/query":
                return Answer(404, b"404 page not found\n")
            return self.pending.pop(0) if self.pending else self.default


class _ScriptedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        scripted: ScriptedPrometheus = self.server.scripted  # type: ignore[attr-defined]
        scripted.ports.append(self.client_address[1])
        answer = scripted._answer(self.command, self.path, dict(self.headers.items()), raw)
        body = answer.body if isinstance(answer.body, bytes) else (
            b"" if answer.body is None else json.dumps(answer.body).encode())
        self.send_response(answer.status)
        headers = {"Content-Type": "application/json", **answer.headers}
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            if answer.drip:
                for i in range(len(body)):
                    self.wfile.write(body[i:i + 1])
                    self.wfile.flush()
                    time.sleep(answer.drip)
            else:
                self.wfile.write(body)
        except OSError:
            self.close_connection = True   # the client stopped reading (a body too large)
        if answer.hangup:
            self.close_connection = True   # as a server closing an idle kept-alive connection

    do_GET = do_POST = _handle

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read `seen`."""
