"""Retrying one read of a cluster API: jittered exponential backoff on 429, 5xx and network
errors, Retry-After honoured, bounded by a number of tries and by the caller's deadline.

Both cluster clients (argocd.py over requests, kube.py over the kubernetes client) retry with
this one policy, and neither library retries by itself: wait-sync promises at most one request
per resource per interval, and a library's hidden retries would break that count and the
deadline. Sleep, clock and jitter are injectable so a test can check the schedule exactly.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from mlgate.errors import ServiceError

# delta-seconds, ASCII digits only: float() would also take "inf", "nan", "1e9" or Arabic-Indic
# digits from a proxy's header. An HTTP-date Retry-After is not honoured (the API servers send
# seconds); the backoff schedule applies instead.
_SECONDS_RE = re.compile(r"[0-9]{1,9}", re.ASCII)


def retry_after_seconds(value: object) -> float | None:
    """The seconds of a Retry-After header value, or None when it is absent or not seconds."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    return float(value) if _SECONDS_RE.fullmatch(value) else None


_ERRNO_RE = re.compile(r"\[Errno -?[0-9]+\] ([^'\")\]\n]+)")


def network_reason(exc: BaseException) -> str:
    """What went wrong on the wire, in a few words and without the URL a library wraps
    around it: "timed out", the socket error's text ("Connection refused"), or the error's
    type."""
    seen: list[BaseException] = []
    todo: list[object] = [exc]
    while todo and len(seen) < 20:
        item = todo.pop()
        if not isinstance(item, BaseException) or item in seen:
            continue
        seen.append(item)
        todo += [getattr(item, "reason", None), item.__cause__, item.__context__, *item.args]
    if any(isinstance(e, TimeoutError) or "Timeout" in type(e).__name__ for e in seen):
        return "timed out"
    for error in reversed(seen):  # the root cause first: outer messages quote it
        found = _ERRNO_RE.search(str(error))
        if found:
            return found.group(1).strip()
    return type(exc).__name__


def retryable_status(status: int) -> bool:
    """429 (rate limited) and 5xx (the server or a proxy in front of it failed) are retried;
    any other answer is the server's final word."""
    return status == 429 or 500 <= status <= 599


def _tries(count: int) -> str:
    return f"{count} try" if count == 1 else f"{count} tries"


@dataclass
class Backoff:
    """The retry policy of one client: how long to wait before the next try, and when to stop.

    The k-th retry waits min(cap, base * 2**(k-1)), scaled by a jitter in [0.5, 1) so that many
    clients do not retry in step; a Retry-After from the server replaces that wait.
    """

    base: float = 0.5
    cap: float = 8.0
    max_tries: int = 8
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    rng: Callable[[], float] = field(default=random.random, repr=False)

    def delay(self, failures: int, retry_after: float | None = None) -> float:
        """Seconds to wait after the `failures`-th failed try."""
        if retry_after is not None:
            return retry_after
        step = min(self.cap, self.base * 2 ** (failures - 1))
        return step * (0.5 + 0.5 * self.rng())

    def pause(self, failures: int, retry_after: float | None, deadline: float | None,
              why: str) -> None:
        """Wait before the next try, or raise ServiceError(`why` and why we stop) when the
        tries are used up or the wait would end past `deadline` (a `clock()` time)."""
        if failures >= self.max_tries:
            raise ServiceError(f"{why}; gave up after {_tries(failures)}")
        wait = self.delay(failures, retry_after)
        if deadline is not None and self.clock() + wait >= deadline:
            raise ServiceError(f"{why}; gave up after {_tries(failures)}: the deadline is "
                               f"reached")
        self.sleep(wait)

    def timeout(self, limit: float, deadline: float | None, floor: float = 0.2) -> float:
        """A request's timeout: `limit`, shortened to what is left before `deadline` (never
        below `floor`, so a last try still has a chance to connect)."""
        if deadline is None:
            return limit
        return max(floor, min(limit, deadline - self.clock()))
