"""Benchmark: `mlgate serve-analysis` under its callers' load, against a warm Prometheus.

Issue #18's targets: a webhook answered in p99 <= 50 ms at 200 requests per second on
loopback, and the server's resident memory under 150 MB.

What runs, all on 127.0.0.1:
- a real Prometheus (Debian's `prometheus`, tests/support/prometheus.py) scraping a loopback
  exporter that serves a healthy model's traffic (so every query has series to judge);
- the server as users run it: `python -m mlgate serve-analysis` in its own process, its JSON
  log to a file (as a container runtime collects it);
- an open-loop load generator: requests are due at a fixed rate whatever the answers do, and
  each latency counts from when its request was due, so a server falling behind shows in the
  figures (no coordinated omission). Two callers, as their projects call:
  flagger: POST /flagger/rollout with three checks (error-rate, p95-latency,
    accuracy:max-drop against benchmark evidence: three Prometheus queries per call), a new TCP
    connection per call, as Flagger's controller makes a fresh HTTP client per webhook call;
  argo: GET /analysis/<app>/error-rate:max=1%25 over kept-alive connections, as the web
    provider's client does.
Resident memory is the server's peak (VmHWM from /proc) after the load.

Prints one line per figure with its target; exits 1 if a target is missed. Not a timed test:
`python bench/serve_analysis.py [--rate 200] [--seconds 20] [--caller flagger|argo|both]`
with the dev extra (prometheus-client, requests) and Debian's prometheus.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

import requests  # noqa: E402

from support.analysis import NS, TOKEN, evidence, payload  # noqa: E402
from support.prometheus import JOB, Exporter, PrometheusServer  # noqa: E402

P99_MS = 50.0
RSS_MB = 150.0
APP = "bench-serve"
CHECKS = ("error-rate:max=1%", "p95-latency:max=500ms", "accuracy:max-drop=5%")


def start_server(prometheus: str, workdir: Path) -> tuple[subprocess.Popen, str, Path]:
    log = workdir / "serve-analysis.log"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT / "src"),
           "MLGATE_ANALYSIS_TOKEN": TOKEN, "NO_PROXY": "127.0.0.1"}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mlgate", "serve-analysis", "--listen", "127.0.0.1:0",
             "--prometheus", prometheus, "--evidence-dir", str(workdir / "evidence"),
             "--window", "2s"], env=env, stdout=subprocess.DEVNULL, stderr=out)
    end = time.monotonic() + 30
    while time.monotonic() < end:
        lines = log.read_text().splitlines()
        if lines:
            first = json.loads(lines[0])
            if first.get("event") == "listening":
                return proc, f"http://{first['address']}", log
        if proc.poll() is not None:
            raise SystemExit(f"serve-analysis exited {proc.returncode}: {log.read_text()}")
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("serve-analysis did not start in 30 s")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Caller:
    """One kind of caller: how one request is sent (session: the thread's own)."""

    def __init__(self, kind: str, url: str, checks: int = 3) -> None:
        self.kind = kind
        self.url = url
        self.local = threading.local()
        self.body = json.dumps(payload(APP, checks=CHECKS[:checks], evidence="benchmark.json",
                                       window="2s")).encode()

    def send(self) -> int:
        if self.kind == "flagger":   # a fresh connection per call
            return self._post_once()
        session = getattr(self.local, "session", None)
        if session is None:
            session = self.local.session = requests.Session()
            session.trust_env = False
        return session.get(f"{self.url}/analysis/{APP}/error-rate:max=1%25",
                           params={"namespace": NS, "window": "2s"}, timeout=10,
                           headers={"Authorization": f"Bearer {TOKEN}"}).status_code


    def _post_once(self) -> int:
        """Flagger's call on a new connection, written with a socket: a client library's own
        CPU time (requests needs a few ms a call) would crowd out the server on a small
        machine and measure the load generator instead."""
        host, port = self.url.removeprefix("http://").rsplit(":", 1)
        request = (f"POST /flagger/rollout HTTP/1.1\r\nHost: {host}:{port}\r\n"
                   f"User-Agent: Go-http-client/1.1\r\nContent-Type: application/json\r\n"
                   f"Content-Length: {len(self.body)}\r\nAccept-Encoding: gzip\r\n\r\n"
                   ).encode() + self.body
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(request)
            answer = b""
            while b"\r\n\r\n" not in answer:
                chunk = sock.recv(65536)
                if not chunk:
                    return 0
                answer += chunk
            head, _, body = answer.partition(b"\r\n\r\n")
            length = int(next(line.split(b":", 1)[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:")))
            while len(body) < length:
                chunk = sock.recv(65536)
                if not chunk:
                    return 0
                body += chunk
            return int(head.split(b" ", 2)[1])


def load(caller: Caller, rate: float, seconds: float, workers: int = 48
         ) -> tuple[list[float], list[int], float]:
    """Open loop: request i is due at start + i / rate; latency from when it was due."""
    latencies: list[float] = []
    statuses: list[int] = []
    lock = threading.Lock()

    def one(due: float) -> None:
        try:
            status = caller.send()
        except (requests.RequestException, OSError):
            status = 0
        took = time.perf_counter() - due
        with lock:
            latencies.append(took * 1000)
            statuses.append(status)

    total = int(rate * seconds)
    with ThreadPoolExecutor(workers) as pool:
        start = time.perf_counter() + 0.1
        for i in range(total):
            due = start + i / rate
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            pool.submit(one, due)
    elapsed = time.perf_counter() - start
    return latencies, statuses, total / elapsed


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_ms(log: Path, skip: int) -> list[float]:
    """What the server itself measured per decision (receiving the request to its answer)."""
    lines = log.read_text().splitlines()[1 + skip:]
    return [json.loads(line)["ms"] for line in lines if '"event":"decision"' in line]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--caller", choices=("flagger", "argo", "both"), default="both")
    parser.add_argument("--checks", type=int, choices=(1, 2, 3), default=3,
                        help="checks per webhook call (Prometheus queries per call)")
    args = parser.parse_args()
    failed = False
    with tempfile.TemporaryDirectory(prefix="mlgate-bench-serve-") as tmp:
        workdir = Path(tmp)
        exporter = Exporter()
        exporter.start()
        prometheus = PrometheusServer(workdir / "prometheus", [exporter.address])
        prometheus.start()
        proc = None
        try:
            prometheus.wait_for(f'up{{job="{JOB}"}}', lambda vs: vs == [1.0], timeout=30)
            exporter.traffic(APP, NS, error_ratio=0.0, latency=0.08, rps=100)
            exporter.accuracy(APP, NS, 0.95)
            prometheus.wait_for(f'sum(rate(http_requests_total{{app="{APP}"}}[2s]))',
                                lambda vs: bool(vs) and vs[0] > 0)
            evidence(workdir / "evidence", "benchmark.json", accuracy=0.95)
            proc, url, log = start_server(prometheus.url, workdir)
            assert prometheus._process is not None
            prometheus_pid = prometheus._process.pid
            kinds = ("flagger", "argo") if args.caller == "both" else (args.caller,)
            for kind in kinds:
                caller = Caller(kind, url, args.checks)
                load(caller, args.rate, 2.0)          # warm: connections, caches
                before = len(server_ms(log, 0))
                cpu = cpu_seconds(proc.pid)
                prom_cpu = cpu_seconds(prometheus_pid)
                latencies, statuses, achieved = load(caller, args.rate, args.seconds)
                cpu = cpu_seconds(proc.pid) - cpu
                prom_cpu = cpu_seconds(prometheus_pid) - prom_cpu
                inside = server_ms(log, before)
                ok = sum(1 for s in statuses if s == 200)
                p99 = percentile(latencies, 0.99)
                print(f"{kind}: {len(latencies)} requests at {achieved:.0f}/s, {ok} answered "
                      f"200 ({len(latencies) - ok} other); latency ms p50 "
                      f"{statistics.median(latencies):.1f} p95 {percentile(latencies, 0.95):.1f}"
                      f" p99 {p99:.1f} max {max(latencies):.1f}")
                print(f"  inside the server: ms p50 {statistics.median(inside):.1f} p99 "
                      f"{percentile(inside, 0.99):.1f}; its CPU {cpu / len(latencies) * 1000:.2f}"
                      f" ms per request ({cpu / args.seconds * 100:.0f} % of a core); "
                      f"Prometheus's CPU {prom_cpu / args.seconds * 100:.0f} % of a core")
                verdict = p99 <= P99_MS and ok == len(latencies)
                print(f"  p99 {p99:.1f} ms <= {P99_MS:g} ms, every answer 200: "
                      f"{'PASS' if verdict else 'FAIL'}")
                failed |= not verdict
            rss = peak_rss_mb(proc.pid)
            print(f"server peak resident memory {rss:.1f} MB < {RSS_MB:g} MB: "
                  f"{'PASS' if rss < RSS_MB else 'FAIL'}")
            failed |= not rss < RSS_MB
            records = sum(1 for _ in open(log)) - 1
            print(f"decision log: {records} lines")
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(10)
            prometheus.stop()
            exporter.stop()
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
