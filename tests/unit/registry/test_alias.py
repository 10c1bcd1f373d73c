"""Moving an MLflow alias for a promotion and back for a rollback, against a real registry.

The registry is MLflow's own sqlite store (one migrated empty database is built per module and
copied per test: migrating takes seconds, copying milliseconds). Failures of the service are
provoked for real: a closed port, and a loopback HTTP server answering 503/403 the way a broken
proxy or an auth layer in front of MLflow does. The e2e test starts a real ``mlflow server``.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest

from mlgate.errors import BadInput, GateFailed, ServiceError
from mlgate.registry.mlflow_alias import (
    HTTP_RETRY_DEFAULTS,
    TAG_CONFIG_COMMIT,
    TAG_CONFIG_REPO,
    TAG_PROMOTED_ALIAS,
    current_version,
    move_alias,
    restore_alias,
)
from mlgate.registry.result import AliasMove

MODEL = "churn"
ALIAS = "champion"
SRC = str(Path(__file__).resolve().parents[3] / "src")

# MLflow's sqlalchemy store trips a deprecation in SQLAlchemy 2.1 when its mappers load.
pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning")


@pytest.fixture(autouse=True)
def _clean_mlflow_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ambient MLflow configuration leaks in; no telemetry is sent."""
    for name in (
        "MLFLOW_TRACKING_URI",
        "MLFLOW_REGISTRY_URI",
        "MLFLOW_TRACKING_TOKEN",
        "MLFLOW_TRACKING_USERNAME",
        "MLFLOW_TRACKING_PASSWORD",
        *HTTP_RETRY_DEFAULTS,
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")


@pytest.fixture(scope="module")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty registry database with MLflow's schema migrations already applied."""
    import mlflow

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    uri = f"sqlite:///{path}"
    mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri).search_registered_models()
    return path


@dataclass
class Registry:
    uri: str
    client: Any  # mlflow.MlflowClient
    source: str

    def add_version(self, model: str = MODEL) -> str:
        return str(self.client.create_model_version(model, source=self.source, run_id=None).version)

    def alias(self, model: str = MODEL, alias: str = ALIAS) -> str | None:
        aliases = self.client.get_registered_model(model).aliases
        return None if alias not in aliases else str(aliases[alias])

    def tags(self, version: str, model: str = MODEL) -> dict[str, str]:
        return dict(self.client.get_model_version(model, version).tags)


def seed(db: Path, template: Path, source: Path, versions: int) -> Registry:
    """A registry holding MODEL with ``versions`` versions (1..n), no alias."""
    import mlflow

    shutil.copyfile(template, db)
    source.mkdir(exist_ok=True)
    uri = f"sqlite:///{db}"
    registry = Registry(uri, mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri), str(source))
    registry.client.create_registered_model(MODEL)
    for _ in range(versions):
        registry.add_version()
    return registry


@pytest.fixture
def registry(tmp_path: Path, template_db: Path) -> Registry:
    return seed(tmp_path / "mlflow.db", template_db, tmp_path / "model", versions=2)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ----------------------------------------------------------------------------- move


def test_move_when_no_alias_exists(registry: Registry) -> None:
    moved = move_alias(
        MODEL, ALIAS, "1", commit="c0ffee1", config_repo=None, tracking_uri=registry.uri
    )

    assert moved == AliasMove(MODEL, ALIAS, previous_version=None, new_version="1", changed=True)
    assert str(registry.client.get_model_version_by_alias(MODEL, ALIAS).version) == "1"


def test_move_from_v1_to_v2_reports_previous(registry: Registry) -> None:
    move_alias(MODEL, ALIAS, "1", commit="a" * 40, config_repo=None, tracking_uri=registry.uri)

    moved = move_alias(
        MODEL, ALIAS, "2", commit="b" * 40, config_repo=None, tracking_uri=registry.uri
    )

    assert moved == AliasMove(MODEL, ALIAS, previous_version="1", new_version="2", changed=True)
    assert registry.alias() == "2"
    assert current_version(MODEL, ALIAS, tracking_uri=registry.uri) == "2"


def test_rerun_is_idempotent_and_still_tags(registry: Registry) -> None:
    move_alias(MODEL, ALIAS, "2", commit="a" * 40, config_repo=None, tracking_uri=registry.uri)

    again = move_alias(
        MODEL, ALIAS, "2", commit="b" * 40, config_repo=None, tracking_uri=registry.uri
    )

    assert again == AliasMove(MODEL, ALIAS, previous_version="2", new_version="2", changed=False)
    assert registry.alias() == "2"
    assert registry.tags("2")[TAG_CONFIG_COMMIT] == "b" * 40


def test_version_tags_set_and_repo_credentials_stripped(registry: Registry) -> None:
    move_alias(
        MODEL,
        ALIAS,
        "2",
        commit="0123abcd" * 5,
        config_repo="https://ci:glpat-SECRET@gitlab.example.com/org/config.git",
        tracking_uri=registry.uri,
    )

    assert registry.tags("2") == {
        TAG_CONFIG_COMMIT: "0123abcd" * 5,
        TAG_CONFIG_REPO: "https://gitlab.example.com/org/config.git",
        TAG_PROMOTED_ALIAS: ALIAS,
    }
    assert registry.tags("1") == {}


def test_move_without_commit_or_repo_tags_only_the_alias(registry: Registry) -> None:
    move_alias(MODEL, "staging", "1", commit=None, config_repo=None, tracking_uri=registry.uri)

    assert registry.tags("1") == {TAG_PROMOTED_ALIAS: "staging"}
    assert registry.alias(alias="staging") == "1"


def test_version_accepted_as_int_and_normalised(registry: Registry) -> None:
    moved = move_alias(MODEL, ALIAS, 2, commit=None, config_repo=None, tracking_uri=registry.uri)  # type: ignore[arg-type]

    assert moved.new_version == "2"


# ----------------------------------------------------------------------------- restore


def test_restore_to_previous_and_undo_tags(registry: Registry) -> None:
    move_alias(
        MODEL, ALIAS, "1", commit="a" * 40, config_repo="/srv/config", tracking_uri=registry.uri
    )
    moved = move_alias(
        MODEL, ALIAS, "2", commit="b" * 40, config_repo="/srv/config", tracking_uri=registry.uri
    )

    restored = restore_alias(
        MODEL,
        ALIAS,
        moved.previous_version,
        expected_current=moved.new_version,
        tracking_uri=registry.uri,
        commit="c" * 40,
    )

    assert restored == AliasMove(MODEL, ALIAS, previous_version="2", new_version="1", changed=True)
    assert registry.alias() == "1"
    assert registry.tags("2") == {}  # the demoted version no longer claims the alias
    assert registry.tags("1") == {
        TAG_CONFIG_COMMIT: "c" * 40,
        TAG_CONFIG_REPO: "/srv/config",
        TAG_PROMOTED_ALIAS: ALIAS,
    }


def test_restore_rerun_changes_nothing(registry: Registry) -> None:
    move_alias(MODEL, ALIAS, "1", commit=None, config_repo=None, tracking_uri=registry.uri)
    move_alias(MODEL, ALIAS, "2", commit=None, config_repo=None, tracking_uri=registry.uri)
    restore_alias(MODEL, ALIAS, "1", expected_current="2", tracking_uri=registry.uri)

    again = restore_alias(MODEL, ALIAS, "1", expected_current="2", tracking_uri=registry.uri)

    assert again == AliasMove(MODEL, ALIAS, previous_version="1", new_version="1", changed=False)
    assert registry.alias() == "1"


def test_restore_to_none_deletes_the_alias(registry: Registry) -> None:
    moved = move_alias(
        MODEL, ALIAS, "1", commit="a" * 40, config_repo=None, tracking_uri=registry.uri
    )
    assert moved.previous_version is None

    restored = restore_alias(MODEL, ALIAS, None, expected_current="1", tracking_uri=registry.uri)

    assert restored == AliasMove(MODEL, ALIAS, previous_version="1", new_version=None, changed=True)
    assert registry.alias() is None
    assert current_version(MODEL, ALIAS, tracking_uri=registry.uri) is None
    assert registry.tags("1") == {}
    assert (
        restore_alias(MODEL, ALIAS, None, expected_current="1", tracking_uri=registry.uri).changed
        is False
    )


def test_restore_refused_when_someone_moved_the_alias(registry: Registry) -> None:
    move_alias(MODEL, ALIAS, "1", commit=None, config_repo=None, tracking_uri=registry.uri)
    move_alias(MODEL, ALIAS, "2", commit="b" * 40, config_repo=None, tracking_uri=registry.uri)
    third = registry.add_version()
    registry.client.set_registered_model_alias(MODEL, ALIAS, third)  # a later promotion

    with pytest.raises(GateFailed) as refused:
        restore_alias(MODEL, ALIAS, "1", expected_current="2", tracking_uri=registry.uri)

    assert refused.value.exit_code == 1
    assert f"{MODEL}@{ALIAS}" in str(refused.value) and "version 3" in str(refused.value)
    assert registry.alias() == "3"
    assert registry.tags("2")[TAG_CONFIG_COMMIT] == "b" * 40  # nothing written


def test_restore_refused_when_someone_deleted_the_alias(registry: Registry) -> None:
    move_alias(MODEL, ALIAS, "2", commit=None, config_repo=None, tracking_uri=registry.uri)
    registry.client.delete_registered_model_alias(MODEL, ALIAS)

    with pytest.raises(GateFailed, match="deleted"):
        restore_alias(MODEL, ALIAS, "1", expected_current="2", tracking_uri=registry.uri)
    assert registry.alias() is None


def test_restore_without_expected_current_overwrites(registry: Registry) -> None:
    move_alias(MODEL, ALIAS, "2", commit=None, config_repo=None, tracking_uri=registry.uri)

    restored = restore_alias(MODEL, ALIAS, "1", expected_current=None, tracking_uri=registry.uri)

    assert (restored.previous_version, restored.new_version) == ("2", "1")
    assert registry.alias() == "1"


# ----------------------------------------------------------------------------- bad input


def test_unknown_version_or_model_is_bad_input(registry: Registry) -> None:
    with pytest.raises(BadInput) as missing:
        move_alias(MODEL, ALIAS, "9", commit=None, config_repo=None, tracking_uri=registry.uri)
    message = str(missing.value)
    assert missing.value.exit_code == 2
    assert "'churn'" in message and "version 9" in message and "\n" not in message
    assert registry.alias() is None

    with pytest.raises(BadInput, match="'nosuch'"):
        move_alias("nosuch", ALIAS, "1", commit=None, config_repo=None, tracking_uri=registry.uri)
    with pytest.raises(BadInput, match="'nosuch'"):
        restore_alias("nosuch", ALIAS, None, expected_current=None, tracking_uri=registry.uri)

    move_alias(MODEL, ALIAS, "2", commit=None, config_repo=None, tracking_uri=registry.uri)
    with pytest.raises(BadInput, match="version 7"):
        restore_alias(MODEL, ALIAS, "7", expected_current="2", tracking_uri=registry.uri)
    assert registry.alias() == "2"


@pytest.mark.parametrize(
    ("alias", "version"),
    [("latest", "1"), ("v2", "1"), ("bad alias", "1"), ("", "1"), (ALIAS, "abc"), (ALIAS, "-1")],
)
def test_invalid_alias_or_version_fails_before_any_network_call(alias: str, version: str) -> None:
    unreachable = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()

    with pytest.raises(BadInput):
        move_alias(MODEL, alias, version, commit=None, config_repo=None, tracking_uri=unreachable)

    assert time.monotonic() - started < 1


def test_no_tracking_uri_anywhere_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    with pytest.raises(BadInput, match="MLFLOW_TRACKING_URI"):
        move_alias(MODEL, ALIAS, "1", commit=None, config_repo=None)

    assert not (tmp_path / "mlflow.db").exists()  # MLflow's silent default was not used


def test_tracking_uri_from_environment_is_used(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registry.uri)

    assert move_alias(MODEL, ALIAS, "1", commit=None, config_repo=None).changed
    assert registry.alias() == "1"


# ----------------------------------------------------------------------------- service failures


def test_unreachable_server_is_service_error_without_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = free_port()  # nothing listens there
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok-Very-Secret-123")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")  # an operator's value wins
    started = time.monotonic()

    with pytest.raises(ServiceError) as failed:
        move_alias(
            MODEL,
            ALIAS,
            "1",
            commit=None,
            config_repo=None,
            tracking_uri=f"http://user:secret@127.0.0.1:{port}",
        )

    elapsed = time.monotonic() - started
    message = str(failed.value)
    assert failed.value.exit_code == 3
    assert elapsed < 5, elapsed
    assert f"http://127.0.0.1:{port}" in message
    assert "secret" not in message and "user:" not in message and "tok-Very" not in message
    assert "\n" not in message
    assert failed.value.__cause__ is None and failed.value.__context__ is None  # no URL inside
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "1"
    for name in ("MLFLOW_HTTP_REQUEST_TIMEOUT", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"):
        assert name not in os.environ  # mlgate's defaults applied for the call only


class _Stub(http.server.BaseHTTPRequestHandler):
    """Answers every request with one status; echoes the Authorization header it received,
    as a careless proxy might, so the test can check mlgate masks it."""

    status = 503
    hits: ClassVar[list[dict[str, str | None]]] = []

    def _answer(self) -> None:
        type(self).hits.append(
            {
                "auth": self.headers.get("Authorization"),
                "timeout": os.environ.get("MLFLOW_HTTP_REQUEST_TIMEOUT"),
            }
        )
        if self.status == 403:
            body = json.dumps(
                {
                    "error_code": "PERMISSION_DENIED",
                    "message": f"token {self.headers.get('Authorization')} may not read models",
                }
            )
        else:
            body = f"<html>upstream unavailable for {self.headers.get('Authorization')}</html>"
        data = body.encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json" if self.status == 403 else "text/html")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_DELETE = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def stub_server() -> Iterator[tuple[type[_Stub], int]]:
    handler = type("Stub", (_Stub,), {"hits": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield handler, int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def test_5xx_after_retries_is_service_error(
    stub_server: tuple[type[_Stub], int], monkeypatch: pytest.MonkeyPatch
) -> None:
    handler, port = stub_server
    handler.status = 503
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok-Very-Secret-123")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")

    with pytest.raises(ServiceError) as failed:
        move_alias(
            MODEL,
            ALIAS,
            "1",
            commit=None,
            config_repo=None,
            tracking_uri=f"http://127.0.0.1:{port}",
        )

    assert len(handler.hits) == 3  # the first try and MLflow's 2 retries
    assert handler.hits[0]["timeout"] == HTTP_RETRY_DEFAULTS["MLFLOW_HTTP_REQUEST_TIMEOUT"]
    assert handler.hits[0]["auth"] == "Bearer tok-Very-Secret-123"
    assert "503" in str(failed.value) and "tok-Very" not in str(failed.value)


def test_permission_denied_is_service_error_and_masks_the_token(
    stub_server: tuple[type[_Stub], int], monkeypatch: pytest.MonkeyPatch
) -> None:
    handler, port = stub_server
    handler.status = 403
    uri = f"http://robot:p%40ss-Word-9@127.0.0.1:{port}"

    with pytest.raises(ServiceError) as failed:
        move_alias(MODEL, ALIAS, "1", commit=None, config_repo=None, tracking_uri=uri)

    message = str(failed.value)
    assert len(handler.hits) == 1  # 403 is not retried
    assert handler.hits[0]["auth"] is not None and handler.hits[0]["auth"].startswith("Basic ")
    assert "credentials" in message and "may not read models" in message
    assert handler.hits[0]["auth"].split()[1] not in message  # the echoed Basic blob is masked
    assert "ss-Word" not in message and "robot" not in message


# ----------------------------------------------------------------------------- import rule


def test_module_does_not_import_mlflow_at_import_time() -> None:
    code = (
        "import sys, mlgate.registry, mlgate.registry.mlflow_alias; "
        "sys.exit(1 if 'mlflow' in sys.modules else 0)"
    )
    env = {**os.environ, "PYTHONPATH": SRC}
    assert (
        subprocess.run([sys.executable, "-c", code], check=False, env=env, timeout=60).returncode
        == 0
    )


# ----------------------------------------------------------------------------- real server


@pytest.mark.e2e
def test_alias_moves_over_http_against_a_real_mlflow_server(
    tmp_path: Path, template_db: Path
) -> None:
    """``mlflow server`` (uvicorn, one worker, job runner off) on loopback, sqlite behind it.

    Versions are registered through the sqlite store before the server starts: over REST,
    MLflow 3 accepts a local ``source`` only inside a run's artifact directory.
    """
    seed(tmp_path / "server.db", template_db, tmp_path / "model", versions=2)
    port = free_port()
    env = {
        **os.environ,
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",  # else 7 huey workers start too
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            f"sqlite:///{tmp_path / 'server.db'}",
            "--artifacts-destination",
            str(tmp_path / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: uvicorn is a child of the CLI
    )
    try:
        uri = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90  # ~15 s idle; far more on a loaded 2-CPU box
        while True:
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                log.flush()
                tail = (tmp_path / "server.log").read_text(errors="replace")[-2000:]
                pytest.fail(f"mlflow server did not come up (exit {server.poll()}):\n{tail}")
            time.sleep(0.2)

        first = move_alias(MODEL, ALIAS, "1", commit="a" * 40, config_repo=None, tracking_uri=uri)
        second = move_alias(
            MODEL,
            ALIAS,
            "2",
            commit="b" * 40,
            config_repo="https://git.example/c.git",
            tracking_uri=uri,
        )
        with pytest.raises(BadInput, match="version 9"):
            move_alias(MODEL, ALIAS, "9", commit=None, config_repo=None, tracking_uri=uri)
        back = restore_alias(
            MODEL, ALIAS, second.previous_version, expected_current="2", tracking_uri=uri
        )

        assert (first.previous_version, first.new_version, first.changed) == (None, "1", True)
        assert (second.previous_version, second.new_version) == ("1", "2")
        assert (back.previous_version, back.new_version, back.changed) == ("2", "1", True)
        assert current_version(MODEL, ALIAS, tracking_uri=uri) == "1"
    finally:
        _stop_group(server)
        log.close()


def _stop_group(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, SIGKILL whatever is left of it after 15 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        server.poll()
        try:
            os.killpg(server.pid, 0)  # anyone left in the group?
        except ProcessLookupError:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGKILL)
    server.wait(timeout=5)
