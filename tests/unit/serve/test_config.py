"""serve-analysis's own inputs: the listen address, the token, the window, the server's checks."""

from __future__ import annotations

import pytest

from mlgate.errors import BadInput
from mlgate.serve.config import analysis_token, listen_address, server_checks, window


@pytest.mark.parametrize("text, expected", [
    ("0.0.0.0:8080", ("0.0.0.0", 8080)), ("127.0.0.1:0", ("127.0.0.1", 0)),
    ("[::]:8080", ("::", 8080)), ("[::1]:65535", ("::1", 65535)),
    ("mlgate-analysis.mlgate.svc:80", ("mlgate-analysis.mlgate.svc", 80)),
])
def test_listen_addresses(text, expected) -> None:
    assert listen_address(text) == expected


@pytest.mark.parametrize("text", ["", "8080", ":8080", "host:", "host:65536", "[::1]8080",
                                  "[zz]:80", "-host:80", "ho st:80", "host:+80", "host:٨٠"])
def test_bad_listen_addresses(text) -> None:
    with pytest.raises(BadInput, match="not HOST:PORT"):
        listen_address(text)


def test_the_token_comes_from_the_environment_only() -> None:
    assert analysis_token({"MLGATE_ANALYSIS_TOKEN": " " + "a" * 16 + "\n"}) == "a" * 16
    for value, words in [("", "not set"), ("a" * 15, "too short"), ("a" * 10 + " " + "b" * 10,
                                                                    "not a bearer token"),
                         ("é" * 20, "not a bearer token")]:
        with pytest.raises(BadInput, match=words):
            analysis_token({"MLGATE_ANALYSIS_TOKEN": value})


def test_windows() -> None:
    assert window("1s", "w") == 1 and window("1h30m", "w") == 5400 and window("24h", "w") == 86400
    for text in ("500ms", "25h", "soon", "-1s"):
        with pytest.raises(BadInput):
            window(text, "w")


def test_server_checks_by_name() -> None:
    checks = server_checks(("error-rate:max=2%", "name=gpu,query=max(gpu{app=\"{app}\"}),max=8e9"),
                           {"error-rate": "sum(x)"})
    assert set(checks) == {"error-rate", "gpu"}
    assert checks["error-rate"].query == "sum(x)" and checks["gpu"].max == 8e9
    with pytest.raises(BadInput, match="reads only Prometheus"):
        server_checks(("replicas-unavailable:max=0",), {})
