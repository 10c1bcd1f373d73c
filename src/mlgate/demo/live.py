"""The demo's live model: a loopback exporter that serves what a model server would (request
counts by status code, a latency histogram, a live accuracy gauge, a drift score), scraped by a
real Prometheus, so `mlgate verify` measures real PromQL answers, not canned values.

The exporter's figures are set per (namespace, app), the way the demo's story needs them:
staging healthy, production's accuracy falling after the promotion. Counters grow with time at
the set request rate, so `rate()` over a window gives the set figures back.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from mlgate.errors import ServiceError

BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
SCRAPE_INTERVAL = "250ms"


@dataclass
class Serving:
    """What one model server does now: requests per second, the share answered 5xx, how
    long a request takes, how accurate the live predictions are, how far inputs drifted."""

    rps: float = 50.0
    error_ratio: float = 0.001
    latency: float = 0.08
    accuracy: float = 0.95
    drift: float = 0.05


class _Series:
    def __init__(self, serving: Serving) -> None:
        self.serving = serving
        self.requests = self.errors = self.latency_sum = 0.0
        self.buckets = [0.0] * len(BUCKETS)
        self.at = time.monotonic()

    def advance(self, now: float) -> None:
        n = self.serving.rps * max(0.0, now - self.at)
        self.at = now
        self.requests += n
        self.errors += n * self.serving.error_ratio
        self.latency_sum += n * self.serving.latency
        for i, le in enumerate(BUCKETS):
            if self.serving.latency <= le:
                self.buckets[i] += n


class Exporter:
    """Prometheus text exposition on http://127.0.0.1:PORT/metrics."""

    def __init__(self) -> None:
        self._series: dict[tuple[str, str], _Series] = {}
        self._lock = threading.Lock()
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                body = exporter.render().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    def set(self, namespace: str, app: str, **figures: float) -> None:
        with self._lock:
            series = self._series.get((namespace, app))
            if series is None:
                self._series[(namespace, app)] = _Series(Serving(**figures))
                return
            series.advance(time.monotonic())
            for key, value in figures.items():
                setattr(series.serving, key, value)

    def render(self) -> str:
        lines = ["# TYPE http_requests_total counter",
                 "# TYPE http_request_duration_seconds histogram",
                 "# TYPE mlgate_model_accuracy gauge", "# TYPE mlgate_model_drift_score gauge"]
        with self._lock:
            now = time.monotonic()
            for (ns, app), s in sorted(self._series.items()):
                s.advance(now)
                sel = f'namespace="{ns}",app="{app}"'
                lines.append(f'http_requests_total{{{sel},code="200"}} '
                             f"{s.requests - s.errors:.3f}")
                lines.append(f'http_requests_total{{{sel},code="500"}} {s.errors:.3f}')
                for le, count in zip(BUCKETS, s.buckets):
                    lines.append(f'http_request_duration_seconds_bucket{{{sel},le="{le}"}} '
                                 f"{count:.3f}")
                lines.append(f'http_request_duration_seconds_bucket{{{sel},le="+Inf"}} '
                             f"{s.requests:.3f}")
                lines.append(f"http_request_duration_seconds_sum{{{sel}}} {s.latency_sum:.3f}")
                lines.append(f"http_request_duration_seconds_count{{{sel}}} {s.requests:.3f}")
                lines.append(f"mlgate_model_accuracy{{{sel}}} {s.serving.accuracy}")
                lines.append(f"mlgate_model_drift_score{{{sel}}} {s.serving.drift}")
        return "\n".join(lines) + "\n"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Prometheus:
    """A real Prometheus server on loopback scraping the exporter, with its data in `folder`."""

    def __init__(self, binary: str, folder: Path, target: str, log: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        config = folder / "prometheus.yml"
        config.write_text(
            "global:\n"
            f"  scrape_interval: {SCRAPE_INTERVAL}\n"
            f"  scrape_timeout: {SCRAPE_INTERVAL}\n"
            "scrape_configs:\n"
            "  - job_name: model-server\n"
            f"    static_configs: [{{targets: ['{target}']}}]\n", encoding="utf-8")
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = log.open("wb")
        self._proc = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={folder / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def wait_ready(self, timeout: float = 30.0) -> None:
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise ServiceError(f"prometheus exited with {self._proc.returncode} at start")
            try:
                if requests.get(self.url + "/-/ready", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise ServiceError(f"prometheus not ready at {self.url} after {timeout:g} s")

    def wait_for_traffic(self, timeout: float = 30.0) -> None:
        """Until a rate over the exporter's counters has a value: Prometheus 2.x hands its
        first targets to the scraper only after about 5 s, and a rate needs two scrapes."""
        import requests

        from mlgate import safe_load
        from mlgate.errors import BadInput

        deadline = time.monotonic() + timeout
        query = "sum(rate(http_requests_total[1s]))"
        while time.monotonic() < deadline:
            try:
                answer = requests.get(self.url + "/api/v1/query", params={"query": query},
                                      timeout=2)
                doc = safe_load.parse_json(answer.content, "prometheus")
            except (requests.RequestException, BadInput):
                doc = None
            data = doc.get("data") if isinstance(doc, dict) else None
            if isinstance(data, dict) and data.get("result"):
                return
            time.sleep(0.25)
        raise ServiceError(f"prometheus at {self.url} scraped no traffic within "
                           f"{timeout:g} s")

    def close(self) -> None:
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._log.close()


def find_prometheus(environ) -> str | None:
    """The prometheus binary: $PROMETHEUS, else on PATH (Debian's package puts it there)."""
    given = environ.get("PROMETHEUS")
    if given:
        return given if Path(given).is_file() else None
    return shutil.which("prometheus", path=environ.get("PATH"))
