"""Argo CD's REST API, as `mlgate wait-sync` reads it: `GET /api/v1/applications/{name}`.

- The server is given as the argocd CLI takes ARGOCD_SERVER: `host[:port]` means HTTPS, a full
  `http://` or `https://` URL (no path) is kept; `server_url` checks it.
- The token (ARGOCD_AUTH_TOKEN) goes as `Authorization: Bearer`; it is never part of a message.
- Argo CD answers 403 "permission denied" both for an app that does not exist and for one the
  token may not get (argo-cd server/application/application.go, getAppEnforceRBAC); only when a
  project is named (`?project=`) does a missing app answer 404. The messages say so.
- `refresh=True` asks for `?refresh=normal`: Argo CD sets the refresh annotation and answers
  once its controller has refreshed the app (the request blocks until then). A retry after that
  request timed out (or a proxy gave up with 504) reads without refresh: the annotation is set.
- 429, 5xx, connection errors and timeouts are retried with jittered backoff (http_retry) until
  the deadline or the tries run out, then ServiceError (exit 3). Redirects are not followed.

Every request sent is counted in `calls`. `requests` is imported inside the methods.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from mlgate import safe_load
from mlgate.cluster.http_retry import (
    Backoff,
    network_reason,
    retry_after_seconds,
    retryable_status,
)
from mlgate.cluster.names import check_name, check_namespace, shown
from mlgate.errors import BadInput, MlgateError, ServiceError
from mlgate.escape import one_line, printable
from mlgate.redact import redact_text, secret_fragments

if TYPE_CHECKING:
    import requests

SERVER_VARIABLE = "ARGOCD_SERVER"
TOKEN_VARIABLE = "ARGOCD_AUTH_TOKEN"
NOT_FOUND_CODE = 5  # gRPC NotFound, in grpc-gateway's error body
DETAIL_MAX = 300

_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*)://(.*)", re.ASCII | re.DOTALL)
_HOST_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?"
_HOST = rf"{_HOST_LABEL}(?:\.{_HOST_LABEL})*\.?|\[[0-9A-Fa-f:.]+\]"  # a name, IPv4, [IPv6]
_AUTHORITY_RE = re.compile(rf"(?P<host>{_HOST})(?::(?P<port>[0-9]{{1,5}}))?", re.ASCII)
_TOKEN_RE = re.compile(r"[\x21-\x7e]+", re.ASCII)


def server_url(value: str, what: str = f"{SERVER_VARIABLE} (or --argocd-server)") -> str:
    """The base URL of the Argo CD API server from ARGOCD_SERVER as the argocd CLI takes it.

    `host[:port]` -> `https://host[:port]`; `http://host[:port]` or `https://host[:port]`
    (optionally ending in "/") is kept without the slash. Anything else is BadInput naming
    `what`: spaces, control or non-ASCII characters, a user name or password, another scheme,
    a path, query or fragment, a port outside 1-65535."""
    def bad(why: str, echo: bool = True) -> BadInput:
        return BadInput(f"{what}: {shown(value) + ' ' if echo else ''}{why}; give host[:port] "
                        f"(HTTPS) or a URL such as http://127.0.0.1:8080")

    if not isinstance(value, str) or not value:
        raise bad("is empty")
    if not value.isascii() or any(c.isspace() or not c.isprintable() for c in value):
        raise bad("has spaces, control or non-ASCII characters")
    scheme, rest = "https", value
    match = _SCHEME_RE.fullmatch(value)
    if match:
        scheme, rest = match.group(1).lower(), match.group(2)
        if scheme not in ("http", "https"):
            raise bad(f"has the scheme {scheme!r}; Argo CD is reached over http or https")
    authority, slash, tail = rest.partition("/")
    if "@" in authority:
        raise BadInput(f"{what} must not carry a user name or password; give the token in "
                       f"{TOKEN_VARIABLE}")
    if (slash and tail) or "?" in authority or "#" in authority:
        raise bad("has a path, query or fragment; give only the scheme, host and port")
    found = _AUTHORITY_RE.fullmatch(authority)
    if found is None:
        raise bad("is not host[:port]")
    port = found.group("port")
    if port is not None and not 1 <= int(port) <= 65535:
        raise bad("has a port outside 1-65535")
    return f"{scheme}://{authority}"


def _detail(response: requests.Response) -> tuple[str, int | None]:
    """Argo CD's own words for an error (grpc-gateway's {"error", "code", "message"}, or a
    proxy's text) on one line, and the gRPC code when there is one."""
    code = None
    try:   # the shared loader: strict JSON, bounded depth
        body: Any = safe_load.parse_json(response.content, "Argo CD's answer",
                                         error=ServiceError)
    except MlgateError:
        body = None
    if isinstance(body, dict):
        text = body.get("message") or body.get("error") or ""
        code = body.get("code") if isinstance(body.get("code"), int) else None
    else:
        text = response.text or ""
    text = printable(one_line(str(text))) or (response.reason or "no details")
    return (text if len(text) <= DETAIL_MAX else text[: DETAIL_MAX - 3] + "..."), code


class ArgoCdClient:
    """One Argo CD API server and one token; one requests Session for all reads.

    deadline: a time.monotonic() after which no retry starts (None: only `backoff.max_tries`
    bounds the retries); it may be set again between calls. timeout: seconds per request.
    """

    def __init__(self, server: str, token: str | None, *, app_namespace: str | None = None,
                 project: str | None = None, timeout: float = 10.0,
                 deadline: float | None = None, ca_bundle: str | None = None,
                 insecure: bool = False, backoff: Backoff | None = None) -> None:
        import requests

        self.server = server_url(server)
        token = token.strip() if token else None
        if token and not _TOKEN_RE.fullmatch(token):
            raise BadInput(f"{TOKEN_VARIABLE} is not a bearer token: it has spaces, line breaks "
                           f"or non-ASCII characters")
        self._token = token or None
        self._secrets = secret_fragments([token] if token else [])
        self.app_namespace = None if app_namespace is None else check_namespace(
            app_namespace, "--argocd-app-namespace")
        self.project = None if project is None else check_name(project, "--argocd-project")
        if ca_bundle is not None and insecure:
            raise BadInput("--argocd-ca-bundle and --argocd-insecure exclude each other")
        if ca_bundle is not None and not os.path.isfile(ca_bundle):
            raise BadInput(f"--argocd-ca-bundle: {shown(ca_bundle)} is not a file")
        self.timeout = timeout
        self.deadline = deadline
        self.backoff = backoff or Backoff()
        self.calls = 0
        self._insecure = insecure
        self._session = requests.Session()
        # passed with every request: requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE in the
        # environment override a Session's own `verify`, which would ignore --argocd-ca-bundle
        # and --argocd-insecure wherever a runner sets them
        self._verify: bool | str = False if insecure else (ca_bundle or True)
        self._session.headers["Accept"] = "application/json"

    # ------------------------------------------------------------------ public

    def application(self, name: str, *, refresh: bool = False,
                    deadline: float | None = None) -> dict[str, Any]:
        """The Application as Argo CD's API answers it (metadata, spec, status).

        refresh: ask for `?refresh=normal` (the answer comes once the controller refreshed).
        deadline: overrides the client's for this call."""
        import requests

        check_name(name, "--argocd-app")
        deadline = self.deadline if deadline is None else deadline
        url = f"{self.server}/api/v1/applications/{quote(name, safe='')}"
        params: dict[str, str] = {}
        if refresh:
            params["refresh"] = "normal"
        if self.app_namespace:
            params["appNamespace"] = self.app_namespace
        if self.project:
            params["project"] = self.project
        failures = 0
        while True:
            timeout = self.backoff.timeout(self.timeout, deadline)
            self.calls += 1
            try:
                response = self._get(url, params, timeout)
            except requests.exceptions.SSLError as exc:
                raise ServiceError(self._scrub(
                    f"Argo CD at {self.server}: the TLS connection failed "
                    f"({network_reason(exc)}); give --argocd-ca-bundle with the server's CA, or "
                    f"check {SERVER_VARIABLE}")) from None
            except requests.exceptions.RequestException as exc:
                failures += 1
                if isinstance(exc, requests.exceptions.ReadTimeout):
                    params.pop("refresh", None)  # the annotation is set; read without waiting
                self.backoff.pause(failures, None, deadline, self._scrub(
                    f"Argo CD at {self.server} unreachable: {network_reason(exc)}"))
                continue
            if retryable_status(response.status_code):
                failures += 1
                if response.status_code == 504:
                    params.pop("refresh", None)
                detail, _ = _detail(response)
                self.backoff.pause(
                    failures, retry_after_seconds(response.headers.get("Retry-After")), deadline,
                    self._scrub(f"Argo CD at {self.server} unreachable: HTTP "
                                f"{response.status_code} {detail}"))
                continue
            return self._answer(response, name)

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> ArgoCdClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ plumbing

    def _get(self, url: str, params: Mapping[str, str], timeout: float) -> requests.Response:
        """One request. The token is added by an auth callable: requests then skips ~/.netrc,
        which would otherwise replace the Authorization header."""
        with warnings.catch_warnings():
            if self._insecure:
                warnings.simplefilter("ignore")  # urllib3's InsecureRequestWarning, every call
            return self._session.get(url, params=dict(params), timeout=timeout,
                                     allow_redirects=False, auth=self._authorize,
                                     verify=self._verify)

    def _authorize(self, request: Any) -> Any:
        if self._token:
            request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def _answer(self, response: requests.Response, name: str) -> dict[str, Any]:
        status = response.status_code
        if 200 <= status <= 299:
            try:
                body = safe_load.parse_json(response.content, f"application {name}",
                                            error=ServiceError)
            except MlgateError:
                body = None
            if not isinstance(body, dict):
                raise ServiceError(f"Argo CD at {self.server} answered application {name} with "
                                   f"something that is not a JSON object; is {SERVER_VARIABLE} "
                                   f"Argo CD's API server?")
            return body
        detail, code = _detail(response)
        raise BadInput(self._scrub(self._refusal(status, code, detail, name, response)))

    def _refusal(self, status: int, code: int | None, detail: str, name: str,
                 response: requests.Response) -> str:
        """The one line for an answer that retrying cannot change."""
        where = f" in namespace {self.app_namespace}" if self.app_namespace else ""
        rbac = f"{self.project or '*'}/{name}" if not self.app_namespace else \
            f"{self.project or '*'}/{self.app_namespace}/{name}"
        if status == 401:
            if not self._token:
                return (f"Argo CD at {self.server} needs a token: set {TOKEN_VARIABLE} to a token "
                        f"of an account or project role allowed `applications, get` ({detail})")
            return (f"Argo CD rejected the token ({TOKEN_VARIABLE}): {detail}; it must be a "
                    f"valid, unexpired token of an account or project role allowed "
                    f"`applications, get, {rbac}` (argocd account generate-token, or argocd "
                    f"proj role create-token)")
        if status == 403:
            if self.project:
                return (f"application {name}{where} in project {self.project}: permission "
                        f"denied for this token; its role needs `applications, get, {rbac}` "
                        f"({detail})")
            return (f"application {name}{where}: not found or not allowed for this token (Argo "
                    f"CD answers the same for both); give --argocd-project to tell them apart, "
                    f"and check that the token's role allows `applications, get, {rbac}`")
        if status == 404 and code == NOT_FOUND_CODE:
            project = f" in project {self.project}" if self.project else ""
            return (f"application {name}{where} not found{project} (or this token may not get "
                    f"it): {detail}")
        if 300 <= status <= 399:
            location = response.headers.get("Location") or "elsewhere"
            return (f"Argo CD at {self.server} redirects (HTTP {status}) to "
                    f"{shown(location, 120)}; give that address in {SERVER_VARIABLE}")
        if status == 404:
            return (f"{self.server} answered HTTP 404 for the Application API ({detail}); is "
                    f"{SERVER_VARIABLE} Argo CD's API server?")
        return f"Argo CD refused to read application {name}{where} (HTTP {status}): {detail}"

    def _scrub(self, text: str) -> str:
        """No message leaves with the token in it, whatever a server or proxy echoed."""
        return redact_text(text, self._secrets)
