"""Prometheus's HTTP API, as `mlgate verify` reads it: one instant query at the server's now,
`GET <url>/api/v1/query?query=...` (a form POST when the query is long).

- The URL is http(s) with a host; a path prefix is kept (Prometheus behind `/prometheus`, an
  external URL or a proxy), credentials never ride in it: they come from environment variables
  (MLGATE_PROMETHEUS_TOKEN, _USERNAME and _PASSWORD, _HEADERS), because an option would show in
  `ps` and in CI logs. None of them is ever part of a message.
- The answer is Prometheus's documented envelope, read through safe_load (strict JSON, bounded
  depth) and bounded in size and time. Only an instant vector or a scalar can be judged; the
  values arrive as strings ("0.5", "NaN", "+Inf") and become floats.
- What retrying cannot change stops the run at once: 401/403 (credentials) and 404 (no
  Prometheus API at this URL) are BadInput (exit 2). What a measurement can survive is a
  QueryError the verify loop records as an Error measurement: the server refused the query
  (400 bad_data, 422 execution, in its own words; a range or string result; an answer over
  MAX_ANSWER: kind "query"), or no usable answer came (kind "unreachable": network errors,
  timeouts, 429 and 5xx once the retries are spent, retried with http_retry's backoff,
  Retry-After honoured up to a minute, no retries of a library's own; at once, a TLS failure or
  an answer that is not Prometheus's envelope). Redirects are not followed: BadInput.

The HTTP is verify/transport.py's (http.client, one kept-alive connection); every request
sent is counted in `calls`.
"""

from __future__ import annotations

import base64
import os
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit

from mlgate import safe_load
from mlgate.cluster.http_retry import (
    Backoff,
    network_reason,
    retry_after_seconds,
    retryable_status,
)
from mlgate.errors import BadInput, MlgateError, ServiceError
from mlgate.escape import one_line, printable
from mlgate.redact import redact_text, secret_fragments
from mlgate.verify.config import PrometheusAccess

TOKEN_VARIABLE = "MLGATE_PROMETHEUS_TOKEN"
USERNAME_VARIABLE = "MLGATE_PROMETHEUS_USERNAME"
PASSWORD_VARIABLE = "MLGATE_PROMETHEUS_PASSWORD"
HEADERS_VARIABLE = "MLGATE_PROMETHEUS_HEADERS"
URL_OPTION = "--prometheus"
CA_OPTION = "--prometheus-ca"
CREDENTIALS = (f"{TOKEN_VARIABLE} (a bearer token), {USERNAME_VARIABLE} and {PASSWORD_VARIABLE} "
               f"(basic auth), or {HEADERS_VARIABLE} (lines `Name: value`)")

API_PATH = "/api/v1/query"
POST_ABOVE = 2000            # characters of the encoded query; longer ones go as a POST form
MAX_ANSWER = 8 * safe_load.MiB   # ~50 000 series; a larger answer is a query to narrow
DETAIL_MAX = 300
CHUNK = 64 * 1024
RETRY_AFTER_MAX = 60.0       # seconds: a proxy's Retry-After of a day must not hang the run

Kind = Literal["query", "unreachable"]

_TOKEN_RE = re.compile(r"[\x21-\x7e]+", re.ASCII)
_HEADER_NAME_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", re.ASCII)   # RFC 9110 token
_HEADER_VALUE_RE = re.compile(r"[\x21-\x7e]([\x20-\x7e\t]*[\x21-\x7e])?", re.ASCII)
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_FRAMING = {"host", "content-length", "content-type", "transfer-encoding", "connection",
            "keep-alive", "te", "trailer", "upgrade", "proxy-connection"}
_HOST_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.\-]*[A-Za-z0-9])?", re.ASCII)
_IPV6_RE = re.compile(r"[0-9A-Fa-f:.]+", re.ASCII)
# Prometheus writes sample values with strconv.FormatFloat(v, 'f', -1, 64): decimals, NaN, ±Inf
_VALUE_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|NaN|[+-]Inf",
                       re.ASCII)


class QueryError(ServiceError):
    """One query gave no value: the server refused it (kind "query") or no usable answer came
    (kind "unreachable"). The verify loop records it as an Error measurement."""

    def __init__(self, message: str, kind: Kind) -> None:
        super().__init__(message)
        self.kind: Kind = kind


@dataclass(frozen=True)
class QueryAnswer:
    """An instant query's answer: one value per series (a scalar is one value with no
    labels); NaN and ±Inf stay as floats for the verdict to judge."""

    values: tuple[float, ...]
    series: tuple[dict[str, str], ...]
    warnings: tuple[str, ...] = ()
    result_type: Literal["vector", "scalar"] = "vector"
    timestamp: float | None = None     # the evaluation time Prometheus used (Unix seconds)


# ---------------------------------------------------------------------- configuration


def base_url(value: str, what: str = URL_OPTION) -> str:
    """The URL Prometheus's API hangs off, without a trailing slash: http(s), a host, an
    optional port and path prefix; no credentials, query or fragment."""
    def bad(why: str) -> BadInput:
        return BadInput(f"{what}: {_shown(value)} {why}; give Prometheus's address, e.g. "
                        f"http://prometheus:9090 or https://example.org/prometheus")

    if not isinstance(value, str) or not value.strip():
        raise BadInput(f"{what} is empty; give Prometheus's address, e.g. http://prometheus:9090")
    rest = value.partition("://")[2] if "://" in value else value
    if "@" in re.split(r"[/?#]", rest, maxsplit=1)[0]:
        # checked before anything echoes the value: it would echo the password
        raise BadInput(f"{what} must not carry a user name or password; set {USERNAME_VARIABLE} "
                       f"and {PASSWORD_VARIABLE} (or {TOKEN_VARIABLE}) instead")
    if not value.isascii() or any(c.isspace() or not c.isprintable() for c in value):
        raise bad("has spaces, control or non-ASCII characters")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise bad("has no valid host[:port]") from None
    if parts.scheme.lower() not in ("http", "https") or not value.lower().startswith(
            f"{parts.scheme.lower()}://"):
        raise bad("is not an http:// or https:// URL")
    if "?" in value or "#" in value:
        raise bad("has a query or fragment")
    host = parts.hostname or ""
    if not (_IPV6_RE.fullmatch(host) if ":" in host else _HOST_RE.fullmatch(host)) or port == 0:
        raise bad("has no valid host[:port]")
    path = parts.path.rstrip("/")
    if path.endswith((API_PATH, "/api/v1")):
        raise bad("ends in the API's own path")
    return f"{parts.scheme.lower()}://{parts.netloc}{path}"


def access_from(url: str, environ: Mapping[str, str], ca_bundle: str | None = None, *,
                timeout: float = 10.0) -> PrometheusAccess:
    """Prometheus's address from the option, its credentials from the environment.

    An empty variable counts as unset (CI templates pass every input, set or not)."""
    def var(name: str) -> str | None:
        value = environ.get(name)
        return value if value and value.strip() else None

    token = var(TOKEN_VARIABLE)
    access = PrometheusAccess(url=url, token=token.strip() if token else None,
                              username=var(USERNAME_VARIABLE), password=var(PASSWORD_VARIABLE),
                              headers=parse_headers(var(HEADERS_VARIABLE) or ""),
                              ca_bundle=ca_bundle, timeout=timeout)
    return check_access(access)


def check_access(access: PrometheusAccess) -> PrometheusAccess:
    """The access with its URL normalised, or BadInput naming the variable that is wrong:
    whoever built it, nothing reaches the wire that the HTTP client would refuse or mangle."""
    token, username, password = access.token, access.username, access.password
    if token is not None and not _TOKEN_RE.fullmatch(token):
        raise BadInput(f"{TOKEN_VARIABLE} is not a bearer token: it has spaces, line breaks "
                       f"or non-ASCII characters")
    if (username is None) != (password is None):
        given, missing = ((USERNAME_VARIABLE, PASSWORD_VARIABLE) if password is None
                          else (PASSWORD_VARIABLE, USERNAME_VARIABLE))
        raise BadInput(f"{given} is set but {missing} is not; basic auth needs both")
    if token is not None and username is not None:
        raise BadInput(f"{TOKEN_VARIABLE} and {USERNAME_VARIABLE}/{PASSWORD_VARIABLE} are both "
                       f"set; give one: a bearer token or basic auth")
    if username is not None and (":" in username or _CONTROL_RE.search(username)):
        raise BadInput(f"{USERNAME_VARIABLE} has a ':' or a control character; basic auth "
                       f"cannot carry it")
    if password is not None and _CONTROL_RE.search(password):
        raise BadInput(f"{PASSWORD_VARIABLE} has a line break or a control character")
    for name, value in access.headers.items():
        if not (isinstance(name, str) and _HEADER_NAME_RE.fullmatch(name)
                and isinstance(value, str) and _HEADER_VALUE_RE.fullmatch(value)):
            raise BadInput(f"{HEADERS_VARIABLE}: header {_shown(name, 40)} has a name or value "
                           f"that is not a header's (empty, line breaks, not printable ASCII)")
    if (token or username) and any(k.lower() == "authorization" for k in access.headers):
        raise BadInput(f"{HEADERS_VARIABLE} sets Authorization and so does "
                       f"{TOKEN_VARIABLE if token else USERNAME_VARIABLE}; give one")
    if not access.timeout > 0:
        raise BadInput(f"the Prometheus timeout must be above 0 seconds, not {access.timeout}")
    url = base_url(access.url)
    _check_ca_bundle(access.ca_bundle)
    return access if url == access.url else replace(access, url=url)


def parse_headers(text: str, what: str = HEADERS_VARIABLE) -> dict[str, str]:
    """`Name: value` lines (blank lines and `#` comments skipped). A value is never echoed:
    headers often carry API keys."""
    headers: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, colon, value = line.partition(":")
        name, value = name.strip(), value.strip()
        if not colon or not _HEADER_NAME_RE.fullmatch(name):
            raise BadInput(f"{what} line {number}: not `Name: value` (e.g. `X-Scope-OrgID: "
                           f"team-a`)")
        if not _HEADER_VALUE_RE.fullmatch(value):
            raise BadInput(f"{what} line {number}: header {name} has an empty value or "
                           f"characters other than printable ASCII")
        if name.lower() in _FRAMING:
            raise BadInput(f"{what} line {number}: header {name} is set by the HTTP client "
                           f"itself; leave it out")
        if any(k.lower() == name.lower() for k in headers):
            raise BadInput(f"{what} line {number}: header {name} is given twice")
        headers[name] = value
    return headers


def _check_ca_bundle(ca_bundle: str | None) -> None:
    if ca_bundle is not None and not os.path.isfile(ca_bundle):
        raise BadInput(f"{CA_OPTION}: {_shown(ca_bundle)} is not a file")


def _shown(value: object, limit: int = 120) -> str:
    text = printable(one_line(str(value)))
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


# ---------------------------------------------------------------------- the client


class PrometheusClient:
    """One Prometheus and one set of credentials; one kept-alive connection for every query
    (verify/transport.py)."""

    def __init__(self, access: PrometheusAccess, backoff: Backoff | None = None) -> None:
        from mlgate.verify.transport import Transport

        self.access = access = check_access(access)
        self.url = access.url
        self.backoff = backoff or Backoff()
        self.calls = 0
        self._path = (urlsplit(self.url).path.rstrip("/") or "") + API_PATH
        self._secrets = secret_fragments(access.secrets())
        self._transport = Transport(self.url, access.ca_bundle)
        # an instant query's answer is a few hundred bytes: gzip costs both sides more CPU than
        # it saves on the wire (serve-analysis makes hundreds of these a second)
        self._headers = {"Accept": "application/json", "Accept-Encoding": "identity",
                         "User-Agent": "mlgate", **self._authorization()}

    def query(self, promql: str, deadline: float | None = None) -> QueryAnswer:
        """The value(s) of `promql` now. deadline: a time.monotonic() after which no retry
        starts (None: only the backoff's tries bound the retries)."""
        import http.client
        import ssl

        from mlgate.verify.transport import TooBig

        if not isinstance(promql, str) or not promql.strip():
            raise QueryError("the query is empty", "query")
        form = {"query": promql}
        post = len(urlencode(form)) > POST_ABOVE
        failures = 0
        while True:
            timeout = self.backoff.timeout(self.access.timeout, deadline)
            self.calls += 1
            try:
                status, headers, body = self._send(form, post, timeout)
            except TooBig:
                raise QueryError(f"Prometheus's answer is over {MAX_ANSWER // safe_load.MiB} "
                                 f"MiB; narrow the query (aggregate with sum, max, topk)",
                                 "query") from None
            except ssl.SSLError as exc:
                raise QueryError(self._scrub(
                    f"Prometheus at {self.url}: the TLS connection failed ({_tls_reason(exc)}); "
                    f"give {CA_OPTION} with the CA that signed its certificate, or check "
                    f"{URL_OPTION}"), "unreachable") from None
            except (http.client.HTTPException, zlib.error, OSError) as exc:
                # OSError: TimeoutError, and a socket's own errors
                failures += 1
                self._pause(failures, None, deadline,
                            f"Prometheus at {self.url} unreachable: {network_reason(exc)}")
                continue
            if retryable_status(status):
                failures += 1
                wait = retry_after_seconds(headers.get("Retry-After"))
                self._pause(failures, None if wait is None else min(wait, RETRY_AFTER_MAX),
                            deadline,
                            f"Prometheus at {self.url} unreachable: HTTP {status} "
                            f"{_detail(body)}")
                continue
            return self._answer(status, headers, body)

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> PrometheusClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ plumbing

    def _send(self, form: Mapping[str, str], post: bool, timeout: float
              ) -> tuple[int, Mapping[str, str], bytes]:
        """One request, its whole body read within `timeout` and MAX_ANSWER bytes."""
        encoded = urlencode(form)
        if post:
            headers = {**self._headers, "Content-Type": "application/x-www-form-urlencoded"}
            return self._transport.request("POST", self._path, encoded.encode(), headers,
                                           timeout, MAX_ANSWER)
        return self._transport.request("GET", f"{self._path}?{encoded}", None, self._headers,
                                       timeout, MAX_ANSWER)

    def _authorization(self) -> dict[str, str]:
        """The extra headers, then the credentials (which win over a header of that name)."""
        access = self.access
        headers = dict(access.headers)
        if access.token:
            headers["Authorization"] = f"Bearer {access.token}"
        elif access.username is not None:
            pair = f"{access.username}:{access.password or ''}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        return headers

    def _pause(self, failures: int, retry_after: float | None, deadline: float | None,
               why: str) -> None:
        try:
            self.backoff.pause(failures, retry_after, deadline, self._scrub(why))
        except QueryError:
            raise
        except ServiceError as exc:
            raise QueryError(self._scrub(str(exc)), "unreachable") from None

    def _answer(self, status: int, headers: Mapping[str, str], body: bytes) -> QueryAnswer:
        if 200 <= status <= 299:
            return self._parse(body)
        detail = _detail(body)
        if status in (401, 403):
            given = self._credentials()
            if not given:
                raise BadInput(self._scrub(
                    f"Prometheus at {self.url} needs credentials (HTTP {status}: {detail}); set "
                    f"{CREDENTIALS}"))
            raise BadInput(self._scrub(
                f"Prometheus at {self.url} refused the credentials from {given} (HTTP {status}: "
                f"{detail}); check them, or set {CREDENTIALS}"))
        if status == 404:
            raise BadInput(self._scrub(
                f"{URL_OPTION}: {self.url} has no Prometheus API ({API_PATH} answered HTTP 404); "
                f"give the address Prometheus answers on, with its path prefix if it has one"))
        if 300 <= status <= 399:
            location = headers.get("Location") or "elsewhere"
            raise BadInput(self._scrub(
                f"{URL_OPTION}: Prometheus at {self.url} redirects (HTTP {status}) to "
                f"{_shown(location)}; give the address it redirects to"))
        raise QueryError(self._scrub(f"Prometheus refused the query (HTTP {status}): {detail}"),
                         "query")

    def _credentials(self) -> str:
        access = self.access
        names = []
        if access.token:
            names.append(TOKEN_VARIABLE)
        if access.username is not None:
            names.append(f"{USERNAME_VARIABLE}/{PASSWORD_VARIABLE}")
        if access.headers:
            names.append(HEADERS_VARIABLE)
        return " and ".join(names)

    def _parse(self, body: bytes) -> QueryAnswer:
        """The documented envelope: {"status": "success", "data": {"resultType", "result"},
        "warnings": [...]}, or {"status": "error", "errorType", "error"}."""
        not_prometheus = (f"Prometheus at {self.url} answered with something that is not "
                          f"Prometheus's query API")
        try:
            doc = safe_load.parse_json(body, "Prometheus's answer", error=ServiceError)
        except MlgateError as exc:
            raise QueryError(self._scrub(f"{not_prometheus} ({exc}); is {URL_OPTION} "
                                         f"Prometheus?"), "unreachable") from None
        if not isinstance(doc, dict) or doc.get("status") not in ("success", "error"):
            raise QueryError(self._scrub(f"{not_prometheus} (no \"status\": \"success\" or "
                                         f"\"error\"); is {URL_OPTION} Prometheus?"),
                             "unreachable")
        if doc["status"] == "error":
            raise QueryError(self._scrub(f"Prometheus refused the query: {_words(doc)}"),
                             "query")
        try:
            answer = _result(doc)
        except _Malformed as exc:
            raise QueryError(self._scrub(f"{not_prometheus}: {exc}"), "unreachable") from None
        if answer.warnings:   # shown in reports: no secret either
            answer = replace(answer, warnings=tuple(map(self._scrub, answer.warnings)))
        return answer

    def _scrub(self, text: str) -> str:
        """No message leaves with a secret in it, whatever a server or proxy echoed."""
        return redact_text(text, self._secrets)


class _Malformed(Exception):
    pass


def _result(doc: dict[str, Any]) -> QueryAnswer:
    data = doc.get("data")
    if not isinstance(data, dict):
        raise _Malformed('"data" is not an object')
    kind, result = data.get("resultType"), data.get("result")
    warnings = doc.get("warnings") or []
    if not isinstance(warnings, list):
        raise _Malformed('"warnings" is not a list')
    notes = tuple(_clip(printable(one_line(str(w)))) for w in warnings)
    if kind in ("matrix", "string"):
        raise QueryError(f"the query returned a {kind}; it must return an instant vector or a "
                         f"scalar (drop the [range], or wrap it in a function such as rate())",
                         "query")
    if kind == "scalar":
        stamp, value = _sample(result)
        return QueryAnswer((value,), ({},), notes, "scalar", stamp)
    if kind != "vector" or not isinstance(result, list):
        raise _Malformed(f'resultType {_shown(kind, 20)} with a "result" Prometheus does not '
                         f'send')
    values: list[float] = []
    series: list[dict[str, str]] = []
    stamp = None
    for item in result:
        if not isinstance(item, dict) or not isinstance(item.get("metric"), dict):
            raise _Malformed('a series without "metric" labels')
        labels = item["metric"]
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
            raise _Malformed("a label that is not a string")
        if "value" not in item and "histogram" in item:
            raise QueryError("the query returned native histograms; judge a number (e.g. "
                             "histogram_quantile(0.95, ...) or histogram_count(...))", "query")
        stamp, value = _sample(item.get("value"))
        values.append(value)
        series.append(dict(labels))
    return QueryAnswer(tuple(values), tuple(series), notes, "vector", stamp)


def _sample(pair: object) -> tuple[float, float]:
    """[unix_time, "value"]."""
    if (not isinstance(pair, list) or len(pair) != 2 or isinstance(pair[0], bool)
            or not isinstance(pair[0], (int, float)) or not isinstance(pair[1], str)
            or not _VALUE_RE.fullmatch(pair[1])):
        raise _Malformed('a sample that is not [time, "value"]')
    return float(pair[0]), float(pair[1])


def _words(doc: dict[str, Any]) -> str:
    """Prometheus's own words for an error: `error` (and its errorType)."""
    error, kind = doc.get("error"), doc.get("errorType")
    text = printable(one_line(str(error))) if isinstance(error, str) and error.strip() \
        else "no details"
    if isinstance(kind, str) and kind.strip():
        text = f"{text} ({printable(one_line(kind))[:40]})"
    return _clip(text)


def _detail(body: bytes) -> str:
    """An error answer in one line: Prometheus's envelope, else a proxy's text."""
    try:
        doc = safe_load.parse_json(body, "Prometheus's answer", error=ServiceError)
    except MlgateError:
        doc = None
    if isinstance(doc, dict) and ("error" in doc or "errorType" in doc):
        return _words(doc)
    text = printable(one_line(body[:DETAIL_MAX * 4].decode("utf-8", "replace")))
    return _clip(text) or "(no details)"


def _tls_reason(exc: BaseException) -> str:
    found = re.search(r"certificate verify failed[^'\")\]]*|wrong version number|"
                      r"hostname mismatch[^'\")\]]*", str(exc), re.IGNORECASE)
    return found.group(0).strip(" :") if found else network_reason(exc)


def _clip(text: str) -> str:
    return text if len(text) <= DETAIL_MAX else text[: DETAIL_MAX - 3] + "..."
