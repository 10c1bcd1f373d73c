"""`mlgate serve-analysis` on 127.0.0.1 for tests and the benchmark, and its two callers as
their projects document them.

- `Running`: the real server (mlgate.serve.server.AnalysisServer, built by the command's own
  config code) in a thread of this process, its JSON log lines collected.
- `flagger_call`: Flagger's controller calling a webhook (pkg/controller/webhook.go): a POST
  of {name, namespace, phase, checksum, metadata} with Content-Type application/json and no
  other header; a status above 202, or no answer, is a failed call.
- `argo_measure`: Argo Rollouts' web metric provider (metricproviders/webmetric): a GET with
  the template's headers; a status outside 2xx is an Error measurement, else `jsonPath`
  `{$.phase}` picks `result` and successCondition `result == "Successful"` /
  failureCondition `result == "Failed"` decide (neither: Inconclusive), as an AnalysisTemplate
  written for mlgate does.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

TOKEN = "s3rve-analysis-t0ken-0123456789abcdef"
NS = "serving"


class Lines:
    """A stream the JSON log writer writes to: its records, parsed."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self._lock = threading.Lock()

    def write(self, text: str) -> None:
        with self._lock:
            self.text.append(text)

    def flush(self) -> None:
        pass

    @property
    def raw(self) -> str:
        with self._lock:
            return "".join(self.text)

    @property
    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.raw.splitlines()]

    def decisions(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r.get("event") == "decision"]


def values(prometheus: str, **over: Any) -> dict[str, Any]:
    """The command's option values (as click hands them to the command)."""
    base: dict[str, Any] = {"listen": "127.0.0.1:0", "prometheus": prometheus,
                            "prometheus_ca": None, "checks": (), "queries": (),
                            "evidence_dir": None, "window": "1s", "timeout": "2s",
                            "environment": None}
    base.update(over)
    return base


@dataclass
class Running:
    server: Any
    log: Lines
    thread: threading.Thread
    session: requests.Session = field(default_factory=requests.Session)

    @property
    def url(self) -> str:
        return f"http://{self.server.address}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)
        self.session.close()


def start(prometheus: str, environ: Mapping[str, str] | None = None, **over: Any) -> Running:
    from mlgate.ci.jsonlog import json_line_writer
    from mlgate.serve.config import serve_config
    from mlgate.serve.server import AnalysisServer

    env = {"MLGATE_ANALYSIS_TOKEN": TOKEN, **(environ or {})}
    cfg = serve_config(values(prometheus, **over), env)
    lines = Lines()
    server = AnalysisServer(cfg, json_line_writer(env, [cfg.token], out=lines))
    server.pool.warm()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              daemon=True)
    thread.start()
    running = Running(server, lines, thread)
    running.session.trust_env = False     # no proxy between the test and loopback
    return running


def payload(name: str, *, namespace: str = NS, phase: str = "Progressing",
            checks: Iterable[str] = (), token: str | None = TOKEN, **metadata: str
            ) -> dict[str, Any]:
    """What Flagger sends: CanaryWebhookPayload with the webhook's metadata (strings)."""
    meta = {k.replace("_", "-"): v for k, v in metadata.items()}
    if checks:
        meta["checks"] = "\n".join(checks) + "\n"
    if token is not None:
        meta["token"] = token
    checksum = hashlib.sha256(f"{namespace}/{name}".encode()).hexdigest()[:10]
    return {"name": name, "namespace": namespace, "phase": phase, "checksum": checksum,
            "metadata": meta}


@dataclass(frozen=True)
class Call:
    ok: bool             # what Flagger makes of it: status <= 202
    status: int
    body: dict[str, Any]


def flagger_call(running: Running, hook: str, body: Any, *, timeout: float = 10.0,
                 headers: Mapping[str, str] | None = None,
                 session: requests.Session | None = None) -> Call:
    """One webhook call (`session`: one per thread when calling from several)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    answer = (session or running.session).post(f"{running.url}/flagger/{hook}", data=data, timeout=timeout,
                                  headers={"Content-Type": "application/json",
                                           **(headers or {})})
    return Call(answer.status_code <= 202, answer.status_code, _json(answer))


@dataclass(frozen=True)
class Measurement:
    phase: str           # Argo's: Successful, Failed, Inconclusive, Error
    status: int
    body: dict[str, Any]


def argo_measure(running: Running, app: str, check: str, *, token: str | None = TOKEN,
                 timeout: float = 10.0, **parameters: str) -> Measurement:
    from urllib.parse import quote

    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    answer = running.session.get(
        f"{running.url}/analysis/{quote(app, safe='')}/{quote(check, safe=':=,')}",
        params={k.replace("_", "-"): v for k, v in parameters.items()}, headers=headers,
        timeout=timeout)
    body = _json(answer)
    if not 200 <= answer.status_code < 300:
        return Measurement("Error", answer.status_code, body)
    result = body.get("phase")
    phase = ("Successful" if result == "Successful" else "Failed" if result == "Failed"
             else "Inconclusive")
    return Measurement(phase, answer.status_code, body)


def _json(answer: requests.Response) -> dict[str, Any]:
    try:
        doc = json.loads(answer.content)
    except ValueError:
        return {"raw": answer.text}
    return doc if isinstance(doc, dict) else {"raw": doc}


def evidence(directory: Path, name: str = "benchmark.json", accuracy: float = 0.95,
             version: str = "7") -> Path:
    """The JSON of `mlgate benchmark` (what verify's evidence reader takes)."""
    doc = {"command": "benchmark", "exit_code": 0, "verdict": "passed",
           "result": {"candidate": {"name": "churn", "version": version},
                      "metrics": [{"name": "accuracy", "candidate": accuracy,
                                   "champion": 0.9}]}}
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path
