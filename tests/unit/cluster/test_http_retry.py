"""mlgate.cluster.http_retry: the backoff schedule, Retry-After parsing, the deadline, and the
few words a network error is reduced to."""

from __future__ import annotations

import socket

import pytest
import requests
import urllib3

from mlgate.cluster.http_retry import (
    Backoff,
    network_reason,
    retry_after_seconds,
    retryable_status,
)
from mlgate.errors import ServiceError


@pytest.mark.parametrize("value,seconds", [
    ("0", 0.0), ("1", 1.0), (" 120 ", 120.0), ("999999999", 999999999.0),
])
def test_retry_after_seconds(value: str, seconds: float) -> None:
    assert retry_after_seconds(value) == seconds


@pytest.mark.parametrize("value", [
    None, 3, "", "-1", "1.5", "1e3", "inf", "nan", "٣", "²", "1 2", "0x10", "1000000000",
    "Wed, 21 Oct 2015 07:28:00 GMT",
])
def test_retry_after_that_is_not_ascii_seconds_is_ignored(value: object) -> None:
    assert retry_after_seconds(value) is None


@pytest.mark.parametrize("status,retry", [
    (429, True), (500, True), (502, True), (503, True), (504, True), (599, True),
    (200, False), (400, False), (401, False), (403, False), (404, False), (409, False),
    (428, False), (430, False), (499, False), (600, False),
])
def test_retryable_status(status: int, retry: bool) -> None:
    assert retryable_status(status) is retry


def test_the_schedule_doubles_up_to_the_cap_with_jitter() -> None:
    low = Backoff(base=1.0, cap=5.0, rng=lambda: 0.0)
    mid = Backoff(base=1.0, cap=5.0, rng=lambda: 0.5)
    assert [low.delay(k) for k in range(1, 6)] == [0.5, 1.0, 2.0, 2.5, 2.5]
    assert [mid.delay(k) for k in range(1, 6)] == [0.75, 1.5, 3.0, 3.75, 3.75]
    assert low.delay(3, retry_after=7.0) == 7.0 and low.delay(3, retry_after=0.0) == 0.0


def test_pause_sleeps_then_gives_up_after_max_tries() -> None:
    waits: list[float] = []
    backoff = Backoff(base=1.0, max_tries=3, sleep=waits.append, rng=lambda: 0.0)
    backoff.pause(1, None, None, "x")
    backoff.pause(2, 4.0, None, "x")
    assert waits == [0.5, 4.0]
    with pytest.raises(ServiceError) as exc:
        backoff.pause(3, None, None, "Argo CD at A unreachable: HTTP 503")
    assert str(exc.value) == "Argo CD at A unreachable: HTTP 503; gave up after 3 tries"
    with pytest.raises(ServiceError, match="gave up after 1 try$"):
        Backoff(max_tries=1).pause(1, None, None, "x")


def test_pause_never_waits_past_the_deadline() -> None:
    now = [100.0]
    waits: list[float] = []
    backoff = Backoff(base=1.0, sleep=waits.append, clock=lambda: now[0], rng=lambda: 0.0)
    backoff.pause(1, None, 100.6, "x")  # 0.5 s, ends before the deadline
    with pytest.raises(ServiceError) as exc:
        backoff.pause(1, None, 100.5, "why")  # would end exactly at it
    assert str(exc.value) == "why; gave up after 1 try: the deadline is reached"
    with pytest.raises(ServiceError, match="gave up after 2 tries: the deadline"):
        backoff.pause(2, 30.0, 120.0, "why")  # a Retry-After beyond the deadline
    assert waits == [0.5]


def test_a_requests_timeout_is_bounded_by_the_deadline() -> None:
    backoff = Backoff(clock=lambda: 10.0)
    assert backoff.timeout(5.0, None) == 5.0
    assert backoff.timeout(5.0, 20.0) == 5.0
    assert backoff.timeout(5.0, 12.0) == 2.0
    assert backoff.timeout(5.0, 10.1) == 0.2 and backoff.timeout(5.0, 9.0, floor=0.5) == 0.5


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_network_reason_of_real_errors() -> None:
    url = f"http://127.0.0.1:{closed_port()}/x"
    with pytest.raises(requests.exceptions.ConnectionError) as exc:
        requests.get(url, timeout=2)
    assert network_reason(exc.value) == "Connection refused"
    with pytest.raises(urllib3.exceptions.HTTPError) as raw:
        urllib3.PoolManager(retries=urllib3.util.Retry(0)).request("GET", url)
    assert network_reason(raw.value) == "Connection refused"
    assert network_reason(requests.exceptions.ReadTimeout("x")) == "timed out"
    assert network_reason(urllib3.exceptions.ReadTimeoutError(None, "/", "read timed out")) == \
        "timed out"
    assert network_reason(ValueError("odd")) == "ValueError"
    wrapped = urllib3.exceptions.MaxRetryError(
        None, "/", urllib3.exceptions.ReadTimeoutError(None, "/", "read timed out"))
    assert network_reason(wrapped) == "timed out"  # only its .reason says so


def test_network_reason_follows_every_branch_of_the_chain_up_to_twenty() -> None:
    chained = RuntimeError("outer")
    chained.__cause__ = TimeoutError()
    chained.__context__ = ValueError("inner")
    assert network_reason(chained) == "timed out"
    errors = [RuntimeError(f"e{k}") for k in range(20)] + [TimeoutError()]
    for outer, inner in zip(errors, errors[1:]):
        outer.__cause__ = inner
    assert network_reason(errors[0]) == "RuntimeError"  # the 21st is not looked at
    assert network_reason(errors[1]) == "timed out"
    two = OSError("[Errno 111] Connection refused\nmore")
    assert network_reason(RuntimeError("no errno", two)) == "Connection refused"
