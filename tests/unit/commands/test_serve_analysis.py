"""`mlgate serve-analysis` as a container runs it: the `mlgate` entry point in its own process,
listening until SIGTERM, its log on stderr as JSON lines; and refusing to start (exit 2, one
line naming the input) on what it cannot serve with."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from support.analysis import TOKEN, payload

REPO = Path(__file__).resolve().parents[3]


def env(**extra: str) -> dict[str, str]:
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO / "src"),
            "NO_PROXY": "127.0.0.1", "MLGATE_CI": "local"}
    return {**base, **extra}


def mlgate(*args: str, environ: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "mlgate", "serve-analysis", *args],
                            env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def test_it_serves_until_sigterm_and_logs_json_lines(bare_prometheus) -> None:
    proc = mlgate("--listen", "127.0.0.1:0", "--prometheus", bare_prometheus.url,
                  "--check", "name=one,query=vector(1),min=1",
                  environ=env(MLGATE_ANALYSIS_TOKEN=TOKEN))
    try:
        assert proc.stderr is not None
        first = json.loads(proc.stderr.readline())
        assert first["event"] == "listening" and first["checks"] == ["one"]
        url = f"http://{first['address']}"
        with requests.Session() as session:
            session.trust_env = False
            assert session.get(f"{url}/healthz", timeout=5).status_code == 200
            answer = session.post(f"{url}/flagger/rollout", json=payload("app", checks=["one"]),
                                  timeout=10)
            assert (answer.status_code, answer.json()["decision"]) == (200, "proceed")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 0
    assert out == ""     # the log goes to stderr only
    records = [json.loads(line) for line in err.splitlines()]
    assert [r["event"] for r in records] == ["decision", "stopped"]
    assert records[0]["decision"] == "proceed" and records[0]["canary"] == "serving/app"
    assert TOKEN not in err


@pytest.mark.parametrize("args, environ, words", [
    ((), {}, "MLGATE_ANALYSIS_TOKEN is not set"),
    ((), {"MLGATE_ANALYSIS_TOKEN": "short-token"}, "too short: at least 16"),
    ((), {"MLGATE_ANALYSIS_TOKEN": "two words but long enough"}, "not a bearer token"),
    (("--check", "replicas-unavailable:max=0"), None, "reads only Prometheus"),
    (("--check", "name=x,query=up"), None, "give min=, max="),
    (("--check", "error-rate:max=1%", "--check", "error-rate:max=2%"), None, "given twice"),
    (("--query", "nope=up"), None, "CHECK=PROMQL for a built-in check"),
    (("--window", "0s"), None, "--window '0s': at least 1 s"),
    (("--timeout", "soon"), None, "--timeout 'soon': not a duration"),
    (("--evidence-dir", "/nonexistent/evidence"), None, "not a directory"),
])
def test_it_refuses_to_start_on_what_it_cannot_serve_with(args, environ, words) -> None:
    given = env(**(environ if environ is not None else {"MLGATE_ANALYSIS_TOKEN": TOKEN}))
    proc = mlgate("--listen", "127.0.0.1:0", "--prometheus", "http://127.0.0.1:9", *args,
                  environ=given)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2, err
    assert len(err.strip().splitlines()) == 1 and words in err, err
    assert "Traceback" not in err and TOKEN not in err


@pytest.mark.parametrize("listen", ["8080", "localhost", "127.0.0.1:99999", "127.0.0.1:http",
                                    "[::1:8080", "bad host:80", ":8080"])
def test_a_bad_listen_address_is_exit_2(listen) -> None:
    proc = mlgate("--listen", listen, "--prometheus", "http://127.0.0.1:9",
                  environ=env(MLGATE_ANALYSIS_TOKEN=TOKEN))
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "not HOST:PORT" in err, err


def test_a_port_in_use_is_exit_2() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        proc = mlgate("--listen", f"127.0.0.1:{port}", "--prometheus", "http://127.0.0.1:9",
                      environ=env(MLGATE_ANALYSIS_TOKEN=TOKEN))
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "cannot listen" in err, err
    assert time.monotonic() - started < 30


def test_it_is_listed_as_a_local_command() -> None:
    from mlgate import interface

    assert "serve-analysis" in interface.COMMANDS and "serve-analysis" in interface.LOCAL_ONLY
    proc = subprocess.run([sys.executable, "-m", "mlgate", "--help"], env=env(),
                          capture_output=True, text=True, timeout=30)
    assert "serve-analysis" in proc.stdout
