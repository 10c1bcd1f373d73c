"""What serve-analysis refuses, and what its callers make of it: callers without the token,
bodies too large, malformed or naming what the server does not know, paths and methods it
does not serve, and Prometheus gone (never a pass, never a rollback by itself).

A Prometheus with nothing scraped (bare_prometheus) answers the server's own checks
(`vector(1)`), so these tests need no traffic."""

from __future__ import annotations

import json
import os
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from support.analysis import TOKEN, argo_measure, evidence, flagger_call, payload, start

ONE = "name=one,query=vector(1),min=1"
LOW = "name=low,query=vector(0),min=1"


@pytest.fixture
def running(bare_prometheus, tmp_path):
    evidence(tmp_path / "evidence")
    server = start(bare_prometheus.url, checks=(ONE, LOW), timeout="1s",
                   evidence_dir=str(tmp_path / "evidence"))
    yield server
    server.stop()


def raw(running, data: bytes, timeout: float = 5.0) -> bytes:
    """One request as bytes on a fresh connection; what came back until the server closed it
    or went quiet."""
    host, port = running.server.server_address[:2]
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
                if b"\r\n\r\n" in b"".join(chunks) and b"Connection: close" not in \
                        b"".join(chunks):
                    break
        except TimeoutError:
            pass
    return b"".join(chunks)


def measured(running) -> bool:
    """Whether the last decision took a measurement."""
    return "checks" in running.log.decisions()[-1]


# ------------------------------------------------------------------------ the token


def test_a_flagger_call_without_the_token_is_refused_before_anything_is_measured(running):
    call = flagger_call(running, "rollout", payload("app", checks=["one"], token=None))
    assert (call.ok, call.status) == (False, 401)
    answer = running.session.post(f"{running.url}/flagger/rollout",
                                  json=payload("app", checks=["one"], token=None))
    assert answer.headers["WWW-Authenticate"] == 'Bearer realm="mlgate-analysis"'
    assert not measured(running)


@pytest.mark.parametrize("token", ["", "wrong", TOKEN[:-1], TOKEN + "x", TOKEN.upper(),
                                   " " + TOKEN + "\u00e9"])
def test_a_wrong_token_is_refused_in_the_metadata_or_the_header(running, token):
    call = flagger_call(running, "rollout", payload("app", checks=["one"], token=token))
    assert (call.ok, call.status) == (False, 401)
    assert not measured(running)
    m = argo_measure(running, "app", "one", token=token)
    assert (m.phase, m.status) == ("Error", 401)
    answer = running.session.get(f"{running.url}/analysis/app/one",
                                 headers={"Authorization": f"Bearer {token}"})
    assert answer.headers["WWW-Authenticate"] == \
        'Bearer realm="mlgate-analysis", error="invalid_token"'
    # a wrong header is refused even when the body carries the right token
    call = flagger_call(running, "rollout", payload("app", checks=["one"]),
                        headers={"Authorization": f"Bearer {token}"})
    assert call.status == 401


@pytest.mark.parametrize("header", [f"Basic {TOKEN}", TOKEN, f"Token {TOKEN}", "Bearer"])
def test_only_a_bearer_token_counts(running, header):
    answer = running.session.get(f"{running.url}/analysis/app/one",
                                 headers={"Authorization": header})
    assert answer.status_code == 401


def test_the_argo_provider_needs_the_header(running):
    assert argo_measure(running, "app", "one", token=None).status == 401
    # a token in the query string is no token (and no parameter either)
    answer = running.session.get(f"{running.url}/analysis/app/one", params={"token": TOKEN})
    assert answer.status_code == 401


def test_the_token_never_reaches_the_log_even_in_a_path(running):
    running.session.get(f"{running.url}/analysis/{TOKEN}/one")
    flagger_call(running, "rollout", payload("app", checks=[f"bad-{TOKEN}"]))
    assert TOKEN not in running.log.raw and "***" in running.log.raw


def test_the_right_token_in_the_header_serves_flagger_too(running):
    call = flagger_call(running, "rollout", payload("app", checks=["one"], token=None),
                        headers={"Authorization": f"Bearer {TOKEN}"})
    assert (call.ok, call.body["decision"]) == (True, "proceed")


# ------------------------------------------------------------------------ bodies


def test_an_oversized_body_is_refused_unread_and_the_connection_closed(running):
    big = payload("app", checks=["one"])
    big["metadata"]["app"] = "x" * (64 * 1024)
    call = flagger_call(running, "rollout", big)
    assert (call.ok, call.status) == (False, 413)
    assert "at most 65536" in call.body["error"]
    # a Content-Length alone is enough: the server does not wait for 10 MB to arrive
    started = time.monotonic()
    answer = raw(running, b"POST /flagger/rollout HTTP/1.1\r\nHost: x\r\n"
                          b"Content-Type: application/json\r\nContent-Length: 10000000\r\n\r\n{")
    assert answer.startswith(b"HTTP/1.1 413 ") and b"Connection: close" in answer
    assert time.monotonic() - started < 2


def test_a_body_needs_a_content_length(running):
    answer = raw(running, b"POST /flagger/rollout HTTP/1.1\r\nHost: x\r\n"
                          b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 411 ")
    two = raw(running, b"POST /flagger/rollout HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                       b"Content-Length: 3\r\n\r\n{}")
    assert two.startswith(b"HTTP/1.1 400 ")


@pytest.mark.parametrize("body", [b"{", b"not json", b"[1, 2", b'{"name": NaN}',
                                  b"\xff\xfe", b"[" * 50 + b"]" * 50])
def test_malformed_json_is_400_with_a_json_error(running, body):
    call = flagger_call(running, "rollout", body,
                        headers={"Authorization": f"Bearer {TOKEN}"})
    assert (call.ok, call.status) == (False, 400)
    assert call.body["error"].startswith("the request body")
    # without a token a malformed body tells the caller nothing but 401
    assert flagger_call(running, "rollout", body).status == 401


@pytest.mark.parametrize("change, words", [
    (lambda p: p.update(name="Not_A_Name"), "not a Kubernetes object name"),
    (lambda p: p.update(namespace="a" * 64), "not a Kubernetes namespace"),
    (lambda p: p.pop("phase"), "phase"),
    (lambda p: p.update(phase="progressing; drop"), "not a Canary phase"),
    (lambda p: p.update(checksum="../x"), "checksum"),
    (lambda p: p.update(metadata=["checks"]), "metadata is not an object"),
    (lambda p: p["metadata"].update(check="one"), "'check' is not one of"),
    (lambda p: p["metadata"].update(window=5), "metadata window: not a string"),
    (lambda p: p["metadata"].update(window="1y"), "not a duration"),
    (lambda p: p["metadata"].update(window="48h"), "at most 24h"),
    (lambda p: p["metadata"].update(app="a b"), "not a Kubernetes label value"),
])
def test_a_payload_flagger_would_not_send_is_400(running, change, words):
    body = payload("app", checks=["one"], token=None)
    change(body)
    call = flagger_call(running, "rollout", body, headers={"Authorization": f"Bearer {TOKEN}"})
    assert (call.ok, call.status) == (False, 400), call
    assert words in call.body["error"]
    assert not measured(running)


@pytest.mark.parametrize("checks, words", [
    ([], "no check named"),
    (["nope"], "unknown check 'nope'"),
    (["error-rate"], "give min=, max="),
    (["name=evil,query=up,min=1"], "'evil' is not a check this server defines (low, one)"),
    (["error-rate:query=up,max=1"], "gives a query= of its own"),
    (["error-rate:max=1,query=vector(0)"], "gives a query= of its own"),
    (["replicas-unavailable:max=0"], "reads the Kubernetes API"),
    (["one", "one"], "one named twice"),
    (["one"] * 21, "at most 20 per request"),
    (["accuracy:max-drop=5%"], "name its file in `evidence`"),
])
def test_checks_the_server_cannot_judge_are_400_for_both_callers(running, checks, words):
    call = flagger_call(running, "rollout", payload("app", checks=checks))
    assert (call.ok, call.status) == (False, 400), call
    assert words in call.body["error"]
    if len(checks) == 1:
        m = argo_measure(running, "app", checks[0], namespace="ns")
        assert (m.phase, m.status) == ("Error", 400)
        assert words in m.body["error"]


@pytest.mark.parametrize("name, words", [
    ("../outside.json", "not a file name below"),
    ("/etc/passwd", "not a file name below"),
    ("missing.json", "no file 'missing.json'"),
    ("escape.json", "leads out of the evidence directory"),
    ("notes.json", "not the JSON of mlgate benchmark"),
    (".hidden.json", "not a file name below"),
])
def test_evidence_is_read_only_below_the_evidence_directory(running, tmp_path, name, words):
    (tmp_path / "outside.json").write_text(json.dumps({"command": "benchmark"}))
    os.symlink(tmp_path / "outside.json", tmp_path / "evidence" / "escape.json")
    (tmp_path / "evidence" / "notes.json").write_text("{}")
    call = flagger_call(running, "rollout", payload("app", checks=["accuracy:max-drop=5%"],
                                                    evidence=name))
    assert (call.status, words in call.body["error"]) == (400, True), call.body
    assert str(tmp_path) not in call.body["error"]     # no server path in the answer


def test_argo_parameters_are_checked(running):
    # Flagger always names the namespace; the web provider's URL may leave it out
    m = argo_measure(running, "app", "error-rate:max=1%")
    assert (m.status, m.body["error"]) == (400, "check error-rate: its query uses {namespace}: "
                                                "give `namespace`")
    for params, words in [({"namespace": "Bad_NS"}, "not a Kubernetes namespace"),
                          ({"nope": "1"}, "'nope' is not one of"),
                          ({"window": "0s"}, "at least 1 s")]:
        m = argo_measure(running, "app", "one", **params)
        assert (m.status, words in m.body["error"]) == (400, True), m.body
    twice = running.session.get(f"{running.url}/analysis/app/one?namespace=a&namespace=b",
                                headers={"Authorization": f"Bearer {TOKEN}"})
    assert twice.status_code == 400 and "2 times" in twice.json()["error"]
    bad_app = argo_measure(running, "-app-", "one")
    assert bad_app.status == 400


# ------------------------------------------------------------------------ paths


def test_unknown_paths_hooks_and_methods(running):
    event = flagger_call(running, "event", payload("app", checks=["one"]))
    assert event.status == 404 and "confirm-rollout" in event.body["error"]
    assert running.session.get(f"{running.url}/metrics").status_code == 404
    wrong = running.session.get(f"{running.url}/flagger/rollout")
    assert (wrong.status_code, wrong.headers["Allow"]) == (405, "POST")
    put = running.session.put(f"{running.url}/analysis/app/one", data=b"{}")
    assert (put.status_code, put.headers["Allow"]) == (405, "GET")
    # the connection goes on after a refusal whose body was left unread
    assert running.session.get(f"{running.url}/healthz").status_code == 200


def test_healthz_needs_no_token_and_is_not_a_decision(running, bare_prometheus):
    bare_prometheus.stop()     # liveness must not depend on Prometheus
    answer = running.session.get(f"{running.url}/healthz")
    assert (answer.status_code, answer.json()) == (200, {"status": "ok"})
    assert running.log.decisions() == []


# ------------------------------------------------------------------------ Prometheus down


def test_prometheus_down_halts_flagger_and_is_an_error_for_argo(running, bare_prometheus):
    assert flagger_call(running, "rollout", payload("app", checks=["one"])).ok
    bare_prometheus.stop()
    started = time.monotonic()
    call = flagger_call(running, "rollout", payload("app", checks=["one"]))
    assert (call.ok, call.status, call.body["decision"]) == (False, 503, "halt")
    assert call.body["phase"] == "Error" and "unreachable" in call.body["message"]
    assert time.monotonic() - started < 5      # --timeout 1s; Flagger's own is 10 s
    # an unread Prometheus is no reason to roll back on the spot either
    rollback = flagger_call(running, "rollback", payload("app", checks=["low"]))
    assert (rollback.ok, rollback.status, rollback.body["decision"]) == (False, 503, "continue")
    m = argo_measure(running, "app", "one")
    assert (m.phase, m.status) == ("Error", 503)
    assert "unreachable" in m.body["error"]
    assert [r["status"] for r in running.log.decisions()][-3:] == [503, 503, 503]


def test_a_check_out_of_range_fails_and_the_rollback_hook_fires(running):
    call = flagger_call(running, "rollout", payload("app", checks=["one", "low"]))
    assert (call.status, call.body["message"]) == (412, "low 0 < 1 (1 of 1 measurements)")
    assert flagger_call(running, "rollback", payload("app", checks=["one", "low"])).ok
    assert argo_measure(running, "app", "low").phase == "Failed"


def test_concurrent_callers_each_get_their_own_verdict(running):
    def one(i: int) -> tuple[int, bool]:
        check = "one" if i % 2 else "low"
        with requests.Session() as session:
            session.trust_env = False
            return i, flagger_call(running, "rollout", payload(f"app{i}", checks=[check]),
                                   session=session).ok

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(64)))
    assert all(ok == bool(i % 2) for i, ok in results)
    assert len(running.log.decisions()) == 64


def test_a_body_dribbled_in_is_cut_off(running, monkeypatch):
    import mlgate.serve.server as server

    monkeypatch.setattr(server, "BODY_SECONDS", 0.5)
    host, port = running.server.server_address[:2]
    started = time.monotonic()
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(b"POST /flagger/rollout HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
                     b"Authorization: Bearer " + TOKEN.encode() + b"\r\n\r\n{")
        answer = b""
        for _ in range(30):
            time.sleep(0.1)
            try:
                sock.sendall(b" ")
            except OSError:
                break
            sock.settimeout(0.01)
            try:
                answer += sock.recv(65536)
            except TimeoutError:
                continue
            if answer:
                break
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert time.monotonic() - started < 3


def test_flagger_connections_are_closed_after_the_answer(running):
    """Flagger never reuses a connection (a new client per call): it must not hold a thread."""
    answer = running.session.post(f"{running.url}/flagger/rollout",
                                  json=payload("app", checks=["one"]))
    assert answer.status_code == 200 and answer.headers["Connection"] == "close"
    argo = running.session.get(f"{running.url}/analysis/app/one",
                               headers={"Authorization": f"Bearer {TOKEN}"})
    assert argo.status_code == 200 and "Connection" not in argo.headers   # kept alive


def test_connections_beyond_the_limit_are_closed_not_queued(running):
    import threading

    running.server.slots = threading.BoundedSemaphore(2)
    host, port = running.server.server_address[:2]
    idle = [socket.create_connection((host, port), timeout=5) for _ in range(2)]
    try:
        time.sleep(0.2)     # both accepted, each holding its thread
        third = raw(running, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", timeout=2)
        assert third == b""
        assert running.log.records[-1]["event"] == "connection-refused"
    finally:
        for sock in idle:
            sock.close()
    time.sleep(0.3)         # their threads see the end of the connection and give back a slot
    assert raw(running, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").startswith(
        b"HTTP/1.1 200 ")
