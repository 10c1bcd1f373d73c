"""GitHub's HTTP plumbing, shared by the commit and the pull-request halves of GitHubProvider:
the lazy PyGithub repository, one counted request with retries, the wait budget, and the
translation of GitHub's answers into mlgate's errors.

Why our own retry loop rather than PyGithub's GithubRetry: GithubRetry sleeps inside urllib3
with no overall limit and no view of what was being attempted. Here every wait of one operation
(Retry-After, x-ratelimit-reset, 5xx backoff) draws on one budget (`max_wait`), the schedule is
deterministic under test (sleep, clock and jitter are injectable), every request is counted, and
a failure names what was being done on which repository — never the token.

`import github` happens inside methods only, so `mlgate --help` stays light.
"""

from __future__ import annotations

import email.utils
import functools
import random
import re
import time
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from mlgate.errors import BadInput, ServiceError
from mlgate.promote.types import CallCounter
from mlgate.redact import mask_secrets

if TYPE_CHECKING:
    from github.GithubException import GithubException
    from github.Repository import Repository

T = TypeVar("T")

PUBLIC_API = "https://api.github.com"
SECONDARY_WAIT = 60.0  # GitHub: no Retry-After on a secondary limit means wait at least a minute
RESET_MARGIN = 1.0  # x-ratelimit-reset is in whole epoch seconds and clocks differ
BACKOFF_BASE = 1.0
BACKOFF_CAP = 30.0
PAGE_SIZE = 100
MERGE_METHODS = ("MERGE", "SQUASH", "REBASE")


# --------------------------------------------------------------------------- waiting


class _Budget:
    """One operation's allowance of waiting, shared by rate limits and 5xx backoff."""

    def __init__(self, limit: float, sleep: Callable[[float], None]) -> None:
        self.limit = limit
        self.spent = 0.0
        self._sleep = sleep

    def wait(self, seconds: float, why: str) -> None:
        if self.spent + seconds > self.limit:
            raise ServiceError(f"{why}; giving up: waiting {seconds:.0f}s more would pass the "
                               f"{self.limit:.0f}s limit (already waited {self.spent:.0f}s)")
        self.spent += seconds
        self._sleep(seconds)


# delta-seconds (RFC 9110 allows digits only; a fraction is tolerated), ASCII: str.isdigit() is
# True for "²", which int() then refuses with a traceback
_SECONDS_RE = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,6})?", re.ASCII)


def _retry_after_seconds(value: str | None, now: float) -> float | None:
    """Retry-After is delta-seconds or an HTTP date. Seconds are ASCII digits (float() would
    also take "inf", "nan", "1e9" and Arabic-Indic digits from a proxy's header)."""
    if value is None:
        return None
    value = value.strip()
    if _SECONDS_RE.fullmatch(value):
        return max(0.0, float(value))
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None


def _is_secondary_message(message: str) -> bool:
    text = message.lower()
    return ("secondary rate limit" in text or "abuse" in text
            or text.endswith("please retry your request again later."))


# --------------------------------------------------------------------------- errors


def _error_data(exc: GithubException) -> dict[str, Any]:
    return exc.data if isinstance(exc.data, dict) else {}


def _graphql_error_types(exc: GithubException) -> set[str]:
    errors = _error_data(exc).get("errors")
    if not isinstance(errors, list):
        return set()
    return {str(e.get("type")) for e in errors if isinstance(e, dict) and e.get("type")}


def _detail(exc: GithubException) -> str:
    """GitHub's own words for an error: message plus validation / GraphQL error messages."""
    data = _error_data(exc)
    parts = [str(data["message"])] if data.get("message") else []
    for item in data.get("errors") or []:
        if isinstance(item, dict):
            text = item.get("message") or " ".join(
                str(item[k]) for k in ("resource", "field", "code") if item.get(k))
            parts.append(str(text))
        elif isinstance(item, str):
            parts.append(item)
    if not parts:
        parts.append("server error" if (exc.status or 0) >= 500 else "no details")
    text = "; ".join(parts)
    return text if len(text) <= 300 else text[:297] + "..."


# --------------------------------------------------------------------------- client


class GitHubClient:
    """One GitHub repository reached over PyGithub: what both halves of GitHubProvider share."""

    def __init__(
        self,
        full_name: str,
        token: str,
        api_url: str = PUBLIC_API,
        *,
        max_wait: float = 60.0,
        retries: int = 4,
        merge_method: str = "MERGE",
        timeout: int = 30,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
    ) -> None:
        if not token:
            raise BadInput("a GitHub token is required to promote through the GitHub API")
        if merge_method.upper() not in MERGE_METHODS:
            raise BadInput(f"merge method must be one of {', '.join(MERGE_METHODS)}")
        self.full_name = full_name
        self.owner = full_name.split("/", 1)[0]
        self.api_url = api_url.rstrip("/")
        self.counter = CallCounter()
        self._token = token
        self._max_wait = max_wait
        self._retries = retries
        self._merge_method = merge_method.upper()
        self._timeout = timeout
        self._sleep, self._clock, self._rng = sleep, clock, rng
        self._repo: Repository | None = None

    @property
    def repo(self) -> Repository:
        """A lazy Repository: building it makes no request (each call then makes exactly one)."""
        if self._repo is None:
            self._repo = self._connect()
        return self._repo

    def _connect(self) -> Repository:
        from github import Auth, Github

        options: dict[str, Any] = {
            "auth": Auth.Token(self._token), "base_url": self.api_url, "timeout": self._timeout,
            "retry": None, "per_page": PAGE_SIZE, "user_agent": "mlgate",
            "seconds_between_requests": None, "seconds_between_writes": None,
        }
        try:
            return Github(**options, lazy=True).get_repo(self.full_name)
        except TypeError:  # PyGithub < 2.6 has no lazy client; its get_repo(lazy=True) is the same
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                return Github(**options).get_repo(self.full_name, lazy=True)

    def _budget(self) -> _Budget:
        return _Budget(self._max_wait, self._sleep)

    def _call(self, kind: str, action: str, request: Callable[[], T], budget: _Budget,
              passthrough: frozenset[int] = frozenset(),
              landed: Callable[[], Any] | None = None) -> T:
        """Run one request, counted; wait out rate limits and retry 5xx/network errors within
        the budget. Statuses in passthrough are re-raised for the caller to interpret; any other
        error becomes a ServiceError naming the action.

        `landed`, for a write that is not idempotent: asked before each retry after a 5xx or a
        network error (the write may have landed and only the answer been lost); a value other
        than None is returned instead of writing again."""
        import requests
        from github import GithubException

        failures = limited = 0
        while True:
            if failures and landed is not None and (done := landed()) is not None:
                return done  # type: ignore[no-any-return]
            self.counter.add(kind)
            try:
                return request()
            except GithubException as exc:
                status = exc.status or 0
                wait = self._rate_limit_wait(exc, limited)
                if wait is not None:
                    limited += 1
                    budget.wait(wait, self._scrub(f"GitHub rate limit (HTTP {status}) while trying "
                                                  f"to {action} on {self.full_name}"))
                    continue
                if status >= 500:
                    failures += 1
                    self._backoff(failures, budget, f"GitHub answered HTTP {status} while trying "
                                                    f"to {action} on {self.full_name}")
                    continue
                if status in passthrough:
                    raise
                raise self._service_error(exc, action, budget) from None
            except requests.exceptions.RequestException as exc:
                failures += 1
                self._backoff(failures, budget, f"could not reach GitHub at {self.api_url} "
                                                f"({type(exc).__name__}) while trying to {action} "
                                                f"on {self.full_name}")

    def _backoff(self, failures: int, budget: _Budget, why: str) -> None:
        """Exponential backoff with jitter (half fixed, half random) for 5xx and network errors."""
        why = self._scrub(why)
        if failures > self._retries:
            raise ServiceError(f"{why}; gave up after {failures} attempts")
        delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (failures - 1))
        budget.wait(delay * (0.5 + 0.5 * self._rng()), why)

    def _rate_limit_wait(self, exc: GithubException, earlier: int) -> float | None:
        """Seconds GitHub asks us to wait, or None when the error is not a rate limit.

        Retry-After first (secondary limits), then x-ratelimit-remaining: 0 with
        x-ratelimit-reset (primary), then a minute, doubling, for a 429 or a secondary-limit
        message without headers. A 403 with none of these is a permission error.
        """
        headers = {str(k).lower(): str(v) for k, v in (exc.headers or {}).items()}
        graphql_limited = "RATE_LIMITED" in _graphql_error_types(exc)
        if exc.status not in (403, 429) and not graphql_limited:
            return None
        retry_after = _retry_after_seconds(headers.get("retry-after"), self._clock())
        if retry_after is not None:
            return retry_after
        reset = headers.get("x-ratelimit-reset")
        if headers.get("x-ratelimit-remaining") == "0" and reset and _SECONDS_RE.fullmatch(reset):
            return max(0.0, float(reset) - self._clock()) + RESET_MARGIN
        message = str(_error_data(exc).get("message") or "")
        if exc.status == 429 or graphql_limited or _is_secondary_message(message):
            return SECONDARY_WAIT * 2 ** earlier
        return None

    def _service_error(self, exc: GithubException, action: str, budget: _Budget) -> ServiceError:
        """A non-retryable answer as one line a user can act on."""
        status, detail = exc.status, _detail(exc)
        if status == 401:
            return self._error(f"GitHub rejected the token (HTTP 401: {detail}) while trying to "
                               f"{action} on {self.full_name}; check that it is valid and "
                               "unexpired")
        if status == 403:
            return self._error(f"token lacks permission to {action} on {self.full_name} "
                               f"(HTTP 403: {detail})")
        if status == 404 and self._repo_missing(budget):
            return self._error(f"repository {self.full_name} not found or token cannot see it "
                               f"(HTTP 404 from {self.api_url} while trying to {action})")
        return self._error(f"could not {action} on {self.full_name} (HTTP {status}: {detail})")

    def _repo_missing(self, budget: _Budget) -> bool:
        """After a 404, ask for the repository itself: is it the repo or the object that's gone?"""
        from github import GithubException

        try:
            self._call("get_repo", "read the repository", self.repo.update, budget,
                       passthrough=frozenset({404}))
        except GithubException:
            return True
        return False

    def _all_pages(self, kind: str, action: str, listing: Any, budget: _Budget) -> list[Any]:
        """Every item of a paginated listing, one counted request per page of 100."""
        items: list[Any] = []
        for page in range(10_000):
            batch = self._call(kind, action, functools.partial(listing.get_page, page), budget)
            items += batch
            if len(batch) < PAGE_SIZE:
                break
        return items

    def _error(self, message: str) -> ServiceError:
        return ServiceError(self._scrub(message))

    def _scrub(self, text: str) -> str:
        """Belt and braces: no message leaves with the token in it, whatever a server echoed."""
        return mask_secrets(text, (self._token,))
