"""What `mlgate serve-analysis` serves: where it listens, the token callers must show, the
Prometheus it reads, and the checks a request may name.

The checks are verify's: a request names built-in SPECs (`error-rate:max=1%`) or a check the
server was started with (`--check name=gpu-mem,query=...`, named `gpu-mem`). A request never
carries PromQL of its own: the token lets Flagger and Argo Rollouts ask for a verdict, not run
any query they like against Prometheus.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mlgate.errors import BadInput
from mlgate.verify.check import Check
from mlgate.verify.config import PrometheusAccess

TOKEN_VARIABLE = "MLGATE_ANALYSIS_TOKEN"
TOKEN_MIN = 16               # characters: `openssl rand -hex 32` gives 64
MAX_BODY = 64 * 1024         # a Flagger payload is a few hundred bytes
MAX_CHECKS = 20              # per request
WINDOW_MAX = 24 * 3600.0     # a request's {window}: at most a day

_TOKEN_RE = re.compile(r"[\x21-\x7e]+", re.ASCII)      # what an Authorization header carries
_HOST_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.\-]*[A-Za-z0-9])?", re.ASCII)
_IPV6_RE = re.compile(r"[0-9A-Fa-f:.]+", re.ASCII)
_PORT_RE = re.compile(r"[0-9]{1,5}", re.ASCII)


@dataclass(frozen=True)
class ServeConfig:
    host: str
    port: int                          # 0: any free port (the log's first line names it)
    token: str = field(repr=False)
    prometheus: PrometheusAccess = field(repr=False)
    checks: Mapping[str, Check] = field(default_factory=dict)   # the server's, by name
    queries: Mapping[str, str] = field(default_factory=dict)    # built-ins' queries replaced
    evidence_dir: str | None = None    # where a request's `evidence` file is looked up
    window: float = 60.0               # {window} when a request gives none
    timeout: float = 5.0               # seconds a request may spend reading Prometheus
    environment: str | None = None     # {environment} when a request gives none
    max_body: int = MAX_BODY


def listen_address(text: str, what: str = "--listen") -> tuple[str, int]:
    """`HOST:PORT` (`[::1]:8080` for IPv6; `0.0.0.0:8080` for every interface)."""
    value = text.strip()
    if value.startswith("["):
        host, close, rest = value[1:].partition("]")
        ok = bool(close) and rest.startswith(":") and bool(_IPV6_RE.fullmatch(host))
        port = rest[1:]
    else:
        host, colon, port = value.rpartition(":")
        ok = bool(colon) and bool(_HOST_RE.fullmatch(host))
    if not ok or not _PORT_RE.fullmatch(port) or int(port) > 65535:
        raise BadInput(f"{what} {text[:60]!r}: not HOST:PORT (e.g. 0.0.0.0:8080, "
                       "127.0.0.1:8080, [::]:8080)")
    return host, int(port)


def analysis_token(environ: Mapping[str, str]) -> str:
    """The bearer token callers must send, from the environment (a Kubernetes Secret mounted
    as a variable): never an option, which would show in `ps` and in the pod's spec."""
    token = (environ.get(TOKEN_VARIABLE) or "").strip()
    if not token:
        raise BadInput(f"{TOKEN_VARIABLE} is not set: the server answers only callers that "
                       "send it as a bearer token (e.g. `openssl rand -hex 32`)")
    if not _TOKEN_RE.fullmatch(token):
        raise BadInput(f"{TOKEN_VARIABLE} is not a bearer token: it has spaces, line breaks "
                       "or non-ASCII characters")
    if len(token) < TOKEN_MIN:
        raise BadInput(f"{TOKEN_VARIABLE} is too short: at least {TOKEN_MIN} characters "
                       "(e.g. `openssl rand -hex 32`)")
    return token


def server_checks(specs: tuple[str, ...], queries: Mapping[str, str]) -> dict[str, Check]:
    """The checks the server defines, by name: a request names them without limits."""
    from mlgate.verify.check import parse_check

    out: dict[str, Check] = {}
    for spec in specs:
        check = parse_check(spec, dict(queries))
        if check.kube:
            raise BadInput(f"--check {check.name}: serve-analysis reads only Prometheus (it "
                           "holds no Kubernetes credentials); Flagger and Argo Rollouts watch "
                           "the replicas themselves")
        if check.name in out:
            raise BadInput(f"--check {check.name}: given twice")
        out[check.name] = check
    return out


def serve_config(values: Mapping[str, Any], environ: Mapping[str, str]) -> ServeConfig:
    """The command's options and environment, checked: exit 2 before anything listens."""
    import os

    from mlgate.cluster.config import parse_duration
    from mlgate.verify.check import parse_queries
    from mlgate.verify.prometheus import access_from

    host, port = listen_address(values["listen"])
    token = analysis_token(environ)
    queries = parse_queries(values["queries"])
    evidence_dir = values["evidence_dir"]
    if evidence_dir is not None and not os.path.isdir(evidence_dir):
        raise BadInput(f"--evidence-dir {evidence_dir!r}: not a directory")
    timeout = parse_duration(values["timeout"], "--timeout", minimum=0.1)
    return ServeConfig(
        host=host, port=port, token=token,
        prometheus=access_from(values["prometheus"], environ, values["prometheus_ca"],
                               timeout=timeout),
        checks=server_checks(tuple(values["checks"]), queries),
        queries=queries,
        evidence_dir=os.path.realpath(evidence_dir) if evidence_dir else None,
        window=window(values["window"], "--window"),
        timeout=timeout,
        environment=values["environment"] or None,
    )


def window(text: str, what: str) -> float:
    """A {window}: a duration from 1 s to a day (a rate over less than a scrape interval has
    no two samples; over more than a day it hides what the canary just did)."""
    from mlgate.cluster.config import parse_duration

    seconds = parse_duration(text, what, minimum=1.0)
    if seconds > WINDOW_MAX:
        raise BadInput(f"{what} {text[:40]!r}: at most 24h")
    return seconds
