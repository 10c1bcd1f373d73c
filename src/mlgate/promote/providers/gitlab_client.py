"""GitLab's HTTP plumbing, shared by the commit and the merge-request halves of GitLabProvider:
the python-gitlab client, the wait budget of one call, and GitLab's answers turned into mlgate's
errors.

python-gitlab does the retrying (``retry_transient_errors`` for 5xx and connection errors,
``obey_rate_limit`` on 429, ``max_retries``). A response hook on its ``requests`` session counts
every request in :attr:`counter`, decides each wait and bounds the total sleep of one call to
``max_wait``: a wait that would exceed it ends the call at once with a ServiceError instead of
sleeping through a long ``Retry-After``. A 429 is waited out for ``Retry-After``, else until
``RateLimit-Reset`` (epoch seconds) or ``RateLimit-ResetTime`` (HTTP date), else for GitLab's
documented window of a minute -- GitLab's application limits (notes, users) send no
``Retry-After``, and python-gitlab's own 0.1 * 2**n backoff would spend four retries in 1.5 s.
The budget and the counter's current kind are per-call state: use one provider per thread.

A CI/CD job token authenticates only a few read endpoints (not commits, not merge requests):
GitLab answers 401, and mlgate says to use a project access token. No message carries the token.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from mlgate.errors import BadInput, ServiceError
from mlgate.promote.types import CallCounter, Conflict
from mlgate.redact import mask_secrets

if TYPE_CHECKING:
    import gitlab
    import requests
    from gitlab.v4.objects import Project

T = TypeVar("T")

TOKEN_KINDS = ("private", "job", "oauth")
_TRANSIENT = frozenset([500, 502, 503, 504, *range(520, 531)])  # python-gitlab's list
# GitLab's documented rate-limit windows are a minute (notes: "Access to the endpoint is allowed
# after one minute"; users API and the authenticated API throttle: per minute): a 429 that says
# nothing about when to come back is waited out for that long.
RATE_LIMIT_WINDOW = 60.0
_JOB_TOKEN_DOCS = "https://docs.gitlab.com/ci/jobs/ci_job_token/#job-token-access"
_USE_ACCESS_TOKEN = ("put a project access token (api scope, Developer role) in GITLAB_TOKEN or "
                     "MLGATE_GIT_TOKEN")


class _WaitBudgetExceeded(Exception):
    """Raised from the response hook: the next wait would cross max_wait."""

    def __init__(self, status: int, wait: float, hinted: bool = True) -> None:
        super().__init__(f"{status}, next wait {wait:.0f}s")
        self.status = status
        self.wait = wait
        self.hinted = hinted


class GitLabClient:
    """One GitLab project reached with python-gitlab: what both halves of GitLabProvider share
    (``import gitlab`` happens in here only). The state the commit and merge-request halves keep
    about the last call is set up here too, so a provider starts with all of it."""

    def __init__(self, api_url: str, project_path: str, token: str, *,
                 token_kind: str = "private", max_wait: float = 60.0, retries: int = 4,
                 timeout: float = 30.0) -> None:
        if not token:
            raise BadInput("no GitLab token: set GITLAB_TOKEN (or MLGATE_GIT_TOKEN)")
        if token_kind not in TOKEN_KINDS:
            raise BadInput(f"GitLab token kind must be one of {', '.join(TOKEN_KINDS)}")
        self.api_url = api_url.rstrip("/")
        self.project_path = project_path
        self.max_wait = max_wait
        self.retries = retries
        self.counter = CallCounter()
        self.last_parent: str | None = None  # actual parent of the last commit made
        self.auto_merge_problem: str | None = None  # why auto-merge was not enabled
        self.notes_made: list[str] = []  # what the user should read about the last request
        self._last_merge: Any = None
        self._merged = False  # the last request was merged at once
        self._token = token
        self._token_kind = token_kind
        self._transient_seen = False  # a 5xx was answered during the current call
        self._kind = "request"
        self._waited = 0.0
        self._retries_done = 0
        self._retry_pending = False
        self._user_ids: dict[str, int] = {}
        self._gl = self._client(token, token_kind, timeout)
        self._project_obj: Project | None = None

    def _client(self, token: str, token_kind: str, timeout: float) -> gitlab.Gitlab:
        import gitlab
        import requests

        session = requests.Session()
        session.hooks["response"].append(self._on_response)
        auth = {"private": "private_token", "job": "job_token", "oauth": "oauth_token"}
        return gitlab.Gitlab(self.api_url, session=session, timeout=timeout,
                             retry_transient_errors=True, user_agent="mlgate",
                             **{auth[token_kind]: token})

    def _project(self) -> Project:
        """A lazy project object: no request until a call needs one (a commit is one call)."""
        if self._project_obj is None:
            self._project_obj = self._gl.projects.get(self.project_path, lazy=True)
        return self._project_obj

    def _on_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        """Count each request; keep python-gitlab's next sleep inside the max_wait budget."""
        self.counter.add("retry" if self._retry_pending else self._kind)
        self._retry_pending = False
        status = response.status_code
        if status in _TRANSIENT:
            self._transient_seen = True
        if (status != 429 and status not in _TRANSIENT) or self._retries_done >= self.retries:
            return  # served, or python-gitlab gives up on this answer and raises
        wait, hinted = self._planned_wait(response)
        if self._waited + wait > self.max_wait:
            response.close()
            raise _WaitBudgetExceeded(status, wait, hinted or status != 429)
        if hinted or status == 429:
            # python-gitlab sleeps int(Retry-After) (else int(RateLimit-Reset) - now, which can
            # go negative, else 0.1 * 2**n): hand it the whole seconds this budget accounted for.
            response.headers["Retry-After"] = str(math.ceil(wait))
        self._waited += wait
        self._retries_done += 1
        self._retry_pending = True

    def _planned_wait(self, response: requests.Response) -> tuple[float, bool]:
        """(the sleep before the retry, whether the server hinted it) -- Retry-After in seconds
        or as an HTTP date, else RateLimit-Reset (epoch seconds), else RateLimit-ResetTime (an
        HTTP date); unhinted, a 429 waits RATE_LIMIT_WINDOW and a 5xx python-gitlab's own
        0.1 * 2**n backoff. A 429 always waits at least a second (a reset already past means
        the clocks differ, not that hammering helps)."""
        headers = response.headers
        floor = 1.0 if response.status_code == 429 else 0.0
        retry_after = headers.get("Retry-After", "").strip()
        # ASCII digits only: "²".isdigit() is True and int("²") raises (a traceback, not exit 3)
        if retry_after.isascii() and retry_after.isdigit():
            return float(retry_after), True
        if retry_after:
            return max(floor, _seconds_until(retry_after, default=1.0)), True
        reset = headers.get("RateLimit-Reset", "").strip()
        if reset.isascii() and reset.isdigit():
            return max(floor, float(math.ceil(int(reset) - time.time()))), True
        reset_time = headers.get("RateLimit-ResetTime", "").strip()
        if reset_time:
            return max(floor, _seconds_until(reset_time, default=RATE_LIMIT_WINDOW)), True
        if response.status_code == 429:
            return RATE_LIMIT_WINDOW, False
        return 0.1 * 2**self._retries_done, False

    def _api(self, kind: str, what: str, call: Callable[[], T],
             conflict: Callable[[int, str], bool] | None = None,
             bad_input: Callable[[int, str], str | None] | None = None) -> T:
        """One logical API call: counted under kind, errors turned into mlgate's (conflict
        picks the answers that mean "someone else changed it first"; bad_input names the
        refusals that are the caller's configuration, exit 2)."""
        import gitlab
        import requests

        self._kind, self._waited, self._retries_done, self._retry_pending = kind, 0.0, 0, False
        self._transient_seen = False
        try:
            return call()
        except _WaitBudgetExceeded as exc:
            raise ServiceError(self._scrub(self._budget_message(exc, what))) from None
        except gitlab.exceptions.GitlabError as exc:
            code = exc.response_code or 0
            message = self._message(exc)
            if conflict is not None and conflict(code, message):
                raise Conflict(self._scrub(f"{what}: {message}")) from None
            refusal = bad_input(code, message) if bad_input is not None else None
            if refusal is not None:
                raise BadInput(self._scrub(refusal)) from None
            if code == 401 and self._is_job_token():
                raise BadInput(self._scrub(
                    f"GitLab does not accept a CI/CD job token (CI_JOB_TOKEN) to {what} (401): "
                    f"job tokens reach only the endpoints listed at {_JOB_TOKEN_DOCS}; "
                    f"{_USE_ACCESS_TOKEN}")) from None
            raise self._service_error(code, message, what) from None
        except requests.RequestException as exc:
            raise ServiceError(self._scrub(
                f"cannot reach GitLab at {self.api_url} ({what}): {type(exc).__name__}")) from None

    def _budget_message(self, exc: _WaitBudgetExceeded, what: str) -> str:
        if exc.hinted:
            return (f"GitLab answered {exc.status} to {what} in {self.project_path} and asked to "
                    f"wait {exc.wait:.0f}s more, beyond the {self.max_wait:.0f}s budget")
        return (f"GitLab kept rate-limiting (429) the request to {what} in {self.project_path} "
                f"without saying when to retry; waiting out its {exc.wait:.0f}s window again "
                f"would pass the {self.max_wait:.0f}s budget: run again in a minute")

    def _is_job_token(self) -> bool:
        """A CI/CD job token: sent as one, or recognisable by GitLab's glcbt- prefix."""
        return self._token_kind == "job" or self._token.startswith("glcbt-")

    def _message(self, exc: Exception) -> str:
        raw = getattr(exc, "error_message", "") or ""
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        return self._scrub(" ".join(text.split()))[:300]

    def _service_error(self, code: int, message: str, what: str) -> ServiceError:
        where = self.project_path
        if code == 401:
            text = (f"GitLab refused the token (401) while trying to {what}: it is unknown, "
                    "expired or revoked -- or a CI/CD job token (CI_JOB_TOKEN), which cannot "
                    f"create commits or merge requests: {_USE_ACCESS_TOKEN}")
        elif code == 403:
            text = (f"the GitLab token may not {what} in {where} (403): it needs the api scope "
                    "and at least Developer access (and push rights on protected branches)")
        elif code == 404:
            text = (f"GitLab project {where!r} not found or token cannot see it "
                    f"(404 while trying to {what})")
        elif code == 429:
            text = f"GitLab kept rate-limiting ({code}) the request to {what} in {where}"
        elif code in _TRANSIENT:
            text = f"GitLab kept failing ({code}) to {what} in {where} after {self.retries} retries"
        else:
            text = f"GitLab refused to {what} in {where} ({code}): {message}"
        return ServiceError(self._scrub(text))

    def _scrub(self, text: str) -> str:
        """No message ever carries the token, raw or URL-encoded."""
        return mask_secrets(text, {self._token, quote(self._token, safe="")})

    def _call_opts(self) -> dict[str, Any]:
        return {"max_retries": self.retries, "obey_rate_limit": True}


def _seconds_until(http_date: str, default: float) -> float:
    """Whole seconds from now until an HTTP date (0 if past); default if it is no date."""
    try:
        when = parsedate_to_datetime(http_date).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return default
    return float(max(0, math.ceil(when - time.time())))
