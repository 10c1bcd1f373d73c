"""How mlgate finds, installs and runs Trivy, and every way Trivy can fail.

The happy paths run the real Trivy binary (test_scan_trivy*.py); here small stand-in programs
play a Trivy that is missing, old, crashing, printing invalid JSON or hanging, because those
failures cannot be provoked in the real binary on demand."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import os
import tarfile
import threading
from pathlib import Path

import pytest

from mlgate.cli import main

VERSION_OK = 'if [ "$1" = "--version" ]; then echo "Version: 0.76.0"; exit 0; fi\n'


def fake_trivy(tmp_path: Path, body: str, version: str = VERSION_OK) -> Path:
    path = tmp_path / "trivy"
    path.write_text("#!/bin/sh\n" + version + body)
    path.chmod(0o755)
    return path


def run_scan(tmp_path, *args, env=None):
    (tmp_path / "k8s").mkdir(exist_ok=True)
    out = tmp_path / "r.json"
    code = main(["scan", "--config", str(tmp_path / "k8s"), "--cache-dir", str(tmp_path / "c"),
                 "--json", str(out), *args],
                environ={"PATH": "/usr/bin:/bin", **(env or {})})
    return code, (json.loads(out.read_text()) if out.exists() else {})


def test_trivy_missing_is_exit_2(tmp_path, capsys):
    code, _ = run_scan(tmp_path, env={"PATH": str(tmp_path / "empty")})
    assert code == 2
    assert "trivy not found" in capsys.readouterr().err


def test_trivy_too_old_is_exit_2(tmp_path, capsys):
    trivy = fake_trivy(tmp_path, "exit 0\n", 'echo "Version: 0.30.1"; exit 0\n')
    code, _ = run_scan(tmp_path, "--trivy", str(trivy))
    assert code == 2
    assert "older than" in capsys.readouterr().err


def test_trivy_crashing_is_exit_3(tmp_path, capsys):
    trivy = fake_trivy(tmp_path, 'echo "panic: runtime error: nil pointer" >&2; kill -SEGV $$\n')
    code, data = run_scan(tmp_path, "--trivy", str(trivy))
    assert code == 3
    assert "trivy crashed" in capsys.readouterr().err
    assert data["exit_code"] == 3


def test_trivy_printing_invalid_json_is_exit_3(tmp_path, capsys):
    body = ('while [ $# -gt 0 ]; do [ "$1" = "--output" ] && out="$2"; shift; done\n'
            'printf "{not json" > "$out"\n')
    code, _ = run_scan(tmp_path, "--trivy", str(fake_trivy(tmp_path, body)))
    assert code == 3
    assert "invalid JSON" in capsys.readouterr().err


def test_trivy_db_unavailable_is_exit_3(tmp_path, capsys):
    body = 'echo "FATAL Fatal error: init error: DB error: failed to download vulnerability DB: 429" >&2; exit 1\n'
    code, _ = run_scan(tmp_path, "--trivy", str(fake_trivy(tmp_path, body)))
    assert code == 3
    assert "no vulnerability DB" in capsys.readouterr().err


def test_trivy_hanging_hits_the_timeout(tmp_path, capsys):
    trivy = fake_trivy(tmp_path, "sleep 60\n")
    code, _ = run_scan(tmp_path, "--trivy", str(trivy), "--timeout", "1s")
    assert code == 3
    assert "did not finish" in capsys.readouterr().err


@pytest.mark.parametrize("args, needle", [
    (["--timeout", "ten minutes"], "--timeout"),
    (["--max-cvss", "11"], "--max-cvss"),
    (["--scanners", "vuln,viruses"], "--scanners"),
    (["--db-repository", "ghcr.io/x;rm -rf /"], "--db-repository"),
])
def test_bad_options_are_exit_2(tmp_path, capsys, args, needle):
    code, _ = run_scan(tmp_path, "--trivy", str(fake_trivy(tmp_path, "exit 0\n")), *args)
    assert code == 2
    assert needle in capsys.readouterr().err


def test_exactly_one_target(tmp_path, capsys):
    code = main(["scan", "--fs", str(tmp_path), "--config", str(tmp_path)],
                environ={"PATH": "/usr/bin:/bin"})
    assert code == 2


class _Release(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}

    def do_GET(self):  # noqa: N802
        body = self.files.get(self.path.rsplit("/", 1)[-1])
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *args):
        pass


def release(tmp_path, tamper=False):
    script = ("#!/bin/sh\n" + VERSION_OK +
              'while [ $# -gt 0 ]; do [ "$1" = "--output" ] && out="$2"; shift; done\n'
              'printf \'{"SchemaVersion": 2, "Results": []}\' > "$out"\n').encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("trivy")
        info.size, info.mode = len(script), 0o755
        tar.addfile(info, io.BytesIO(script))
    archive = buf.getvalue()
    name = "trivy_0.76.0_Linux-64bit.tar.gz"
    digest = hashlib.sha256(archive + (b"x" if tamper else b"")).hexdigest()
    _Release.files = {name: archive,
                      "trivy_0.76.0_checksums.txt": f"{digest}  {name}\n".encode()}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Release)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.skipif(os.uname().machine not in ("x86_64", "amd64"), reason="fixture is x86_64")
def test_install_trivy_verifies_the_checksum(tmp_path, capsys):
    server = release(tmp_path)
    try:
        env = {"MLGATE_TRIVY_DOWNLOAD_URL": f"http://127.0.0.1:{server.server_port}/v{{version}}"}
        code, data = run_scan(tmp_path, "--install-trivy", "0.76.0", env=env)
        assert code == 0, capsys.readouterr().err
        installed = tmp_path / "c" / "bin" / "0.76.0" / "trivy"
        assert data["result"]["trivy_path"] == str(installed) and os.access(installed, os.X_OK)
    finally:
        server.shutdown()


@pytest.mark.skipif(os.uname().machine not in ("x86_64", "amd64"), reason="fixture is x86_64")
def test_install_trivy_refuses_a_bad_checksum(tmp_path, capsys):
    server = release(tmp_path, tamper=True)
    try:
        env = {"MLGATE_TRIVY_DOWNLOAD_URL": f"http://127.0.0.1:{server.server_port}/v{{version}}"}
        code, _ = run_scan(tmp_path, "--install-trivy", "0.76.0", env=env)
        assert code == 3
        assert "refusing it" in capsys.readouterr().err
        assert not (tmp_path / "c" / "bin" / "0.76.0" / "trivy").exists()
    finally:
        server.shutdown()


@pytest.mark.skipif(os.uname().machine not in ("x86_64", "amd64"), reason="fixture is x86_64")
def test_auto_install_when_trivy_is_missing(tmp_path, capsys):
    """The actions set MLGATE_TRIVY_AUTO_INSTALL: a runner without Trivy gets the pinned,
    verified release rather than a failure; without it a missing Trivy stays exit 2."""
    server = release(tmp_path)
    try:
        env = {"PATH": str(tmp_path / "empty"), "MLGATE_TRIVY_AUTO_INSTALL": "0.76.0",
               "MLGATE_TRIVY_DOWNLOAD_URL": f"http://127.0.0.1:{server.server_port}/v{{version}}"}
        code, data = run_scan(tmp_path, env=env)
        assert code == 0, capsys.readouterr().err
        assert data["result"]["trivy_path"].endswith("/bin/0.76.0/trivy")
    finally:
        server.shutdown()
