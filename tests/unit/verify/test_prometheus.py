"""mlgate.verify.prometheus: the real PrometheusClient (requests) against a real Prometheus on
127.0.0.1 (values, NaN, empty answers, the server's own errors, basic auth, TLS, a stopped
server), and against a scripted look-alike for what a real one cannot be made to do (headers
sent, 429 and 5xx, hostile answers). No secret ever reaches a message."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import pytest
from support.prometheus import (
    PASSWORD,
    USER,
    Answer,
    PrometheusServer,
    ScriptedPrometheus,
    Stack,
    failure,
    p95,
    vector,
)

from mlgate.cluster.http_retry import Backoff
from mlgate.errors import BadInput, ServiceError
from mlgate.verify import prometheus as prom
from mlgate.verify.check import BUILTIN_QUERIES
from mlgate.verify.config import PrometheusAccess
from mlgate.verify.prometheus import (
    PrometheusClient,
    QueryAnswer,
    QueryError,
    access_from,
    base_url,
    parse_headers,
)
from mlgate.verify.promql import fill

TOKEN = "prom-token-0123456789abcdef"
ORG = "team-a-secret-org"


@pytest.fixture(autouse=True)
def _loopback_bypasses_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


class Sleeps:
    """An injected sleep: records the waits, never waits."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def client(url: str, backoff: Backoff | None = None, **access: Any) -> PrometheusClient:
    return PrometheusClient(PrometheusAccess(url=url, **access),
                            backoff or Backoff(base=0.01, cap=0.02, max_tries=3))


def failed(call: Any, kind: type[Exception] = QueryError) -> Exception:
    with pytest.raises(kind) as exc:
        call()
    for secret in (TOKEN, ORG, PASSWORD):
        assert secret not in str(exc.value)
    assert "\n" not in str(exc.value)
    return exc.value


# ---------------------------------------------------------------------- a real Prometheus


def test_one_series_with_its_labels(prometheus_stack: Stack) -> None:
    stack = prometheus_stack
    stack.exporter.accuracy("one", "prod", 0.91, model_version="7")
    selector = 'mlgate_model_accuracy{namespace="prod",app="one"}'
    stack.prometheus.wait_for(selector)
    with client(stack.url) as prometheus:
        answer = prometheus.query(selector)
    assert answer.values == (0.91,) and answer.result_type == "vector"
    (labels,) = answer.series
    assert labels["model_version"] == "7" and labels["app"] == "one"
    assert labels["__name__"] == "mlgate_model_accuracy" and labels["job"] == "mlgate-exporter"
    assert answer.timestamp is not None and abs(answer.timestamp - time.time()) < 60
    assert answer.warnings == () and prometheus.calls == 1


def test_several_series_one_value_each(prometheus_stack: Stack) -> None:
    stack = prometheus_stack
    for version, drift in (("1", 0.2), ("2", 0.7), ("3", 0.4)):
        stack.exporter.drift("several", "prod", drift, model_version=version)
    selector = 'mlgate_model_drift_score{app="several"}'
    stack.prometheus.wait_for(selector, lambda vs: len(vs) == 3)
    answer = client(stack.url).query(selector)
    by_version = {s["model_version"]: v for s, v in zip(answer.series, answer.values)}
    assert by_version == {"1": 0.2, "2": 0.7, "3": 0.4}
    assert client(stack.url).query(f"max({selector})").values == (0.7,)


def test_the_builtin_queries_measure_what_the_exporter_serves(prometheus_stack: Stack) -> None:
    """error-rate and p95-latency as check.py writes them, filled as the loop fills them."""
    stack = prometheus_stack
    stack.exporter.traffic("builtin", "prod", error_ratio=0.25, latency=0.32)
    labels = {"app": "builtin", "namespace": "prod"}
    errors = fill(BUILTIN_QUERIES["error-rate"], labels, 2, "error-rate")
    latency = fill(BUILTIN_QUERIES["p95-latency"], labels, 2, "p95-latency")
    stack.prometheus.wait_for(errors, lambda vs: vs and abs(vs[0] - 0.25) < 1e-6)
    stack.prometheus.wait_for(latency, lambda vs: vs and abs(vs[0] - p95(0.32)) < 1e-6)
    with client(stack.url) as prometheus:
        assert prometheus.query(errors).values == pytest.approx((0.25,), rel=1e-6)
        assert prometheus.query(latency).values == pytest.approx((p95(0.32),), rel=1e-6)
        stack.exporter.traffic("builtin", "prod", rps=0)   # no traffic: nothing to judge
        stack.prometheus.wait_for(errors, lambda vs: len(vs) == 1 and math.isnan(vs[0]))
        assert math.isnan(prometheus.query(errors).values[0])


def test_a_scalar_and_the_special_values(bare_prometheus: PrometheusServer) -> None:
    with client(bare_prometheus.url) as prometheus:
        answer = prometheus.query("scalar(vector(2.5))")
        assert answer.values == (2.5,) and answer.series == ({},)
        assert answer.result_type == "scalar"
        (nan,) = prometheus.query("0/0").values
        assert math.isnan(nan)
        assert prometheus.query("1/0").values == (math.inf,)
        assert prometheus.query("-1/0").values == (-math.inf,)
        (vector_nan,) = prometheus.query("vector(0/0)").values
        assert math.isnan(vector_nan)


def test_an_empty_vector_and_absent_series(prometheus_stack: Stack) -> None:
    stack = prometheus_stack
    selector = 'mlgate_model_accuracy{app="gone"}'
    assert client(stack.url).query('mlgate_model_accuracy{app="nothing-here"}') == \
        QueryAnswer((), (), (), "vector", None)   # no sample, so no evaluation time
    stack.exporter.accuracy("gone", "prod", 0.8)
    stack.prometheus.wait_for(selector)
    stack.exporter.remove("gone", "prod")
    stack.prometheus.wait_for(selector, lambda vs: vs == [])   # stale at the next scrape
    assert client(stack.url).query(selector).values == ()


def test_bad_promql_is_a_query_error_in_prometheus_words(
        bare_prometheus: PrometheusServer) -> None:
    error = failed(lambda: client(bare_prometheus.url).query("sum(rate(x[5m]"))
    assert error.kind == "query"
    assert "parse error" in str(error) and "bad_data" in str(error)
    assert "HTTP 400" in str(error)


def test_an_execution_error_is_a_query_error(bare_prometheus: PrometheusServer) -> None:
    error = failed(lambda: client(bare_prometheus.url).query(
        'vector(1) + on() (vector(1) or label_replace(vector(1), "a", "b", "", ""))'))
    assert error.kind == "query"
    assert "many-to-many matching not allowed" in str(error) and "HTTP 422" in str(error)


@pytest.mark.parametrize("query,kind", [("vector(1)[1m:]", "matrix"), ('"text"', "string")])
def test_a_range_or_a_string_is_refused(bare_prometheus: PrometheusServer, query: str,
                                        kind: str) -> None:
    error = failed(lambda: client(bare_prometheus.url).query(query))
    assert error.kind == "query"
    assert f"returned a {kind}" in str(error)
    assert "must return an instant vector or a scalar" in str(error)


def test_a_long_query_goes_as_a_form_post(bare_prometheus: PrometheusServer) -> None:
    query = "vector(1)" + " + 0" * 700
    assert len(query) > prom.POST_ABOVE
    assert client(bare_prometheus.url).query(query).values == (1.0,)
    with ScriptedPrometheus() as scripted:
        client(scripted.url).query(query)
        client(scripted.url).query("vector(1)")
    (long, short) = scripted.seen
    assert (long.method, long.params) == ("POST", {"query": query})
    assert (short.method, short.params) == ("GET", {"query": "vector(1)"})
    assert "time" not in long.params and "time" not in short.params   # the server's now


def test_a_stopped_prometheus_is_unreachable_after_the_retries(
        bare_prometheus: PrometheusServer) -> None:
    sleeps = Sleeps()
    prometheus = client(bare_prometheus.url, Backoff(base=1.0, cap=4.0, max_tries=4,
                                                     sleep=sleeps, rng=lambda: 0.0))
    assert prometheus.query("vector(1)").values == (1.0,)
    bare_prometheus.stop()
    error = failed(lambda: prometheus.query("vector(1)"))
    assert error.kind == "unreachable" and isinstance(error, ServiceError)
    assert str(error) == (f"Prometheus at {bare_prometheus.url} unreachable: Connection refused; "
                          f"gave up after 4 tries")
    assert sleeps.waits == [0.5, 1.0, 2.0] and prometheus.calls == 5


def test_the_deadline_ends_the_retries(bare_prometheus: PrometheusServer) -> None:
    bare_prometheus.stop()
    clock = [100.0]
    backoff = Backoff(base=1.0, cap=4.0, max_tries=10, sleep=lambda s: clock.__setitem__(
        0, clock[0] + s), clock=lambda: clock[0], rng=lambda: 0.0)
    error = failed(lambda: client(bare_prometheus.url, backoff).query("vector(1)",
                                                                        deadline=102.0))
    assert error.kind == "unreachable" and "the deadline is reached" in str(error)


def test_a_wrong_path_is_not_a_prometheus_api(bare_prometheus: PrometheusServer) -> None:
    error = failed(lambda: client(bare_prometheus.url + "/prometheus").query("vector(1)"),
                   BadInput)
    assert str(error).startswith(f"--prometheus: {bare_prometheus.url}/prometheus has no "
                                 "Prometheus API (/api/v1/query answered HTTP 404)")


# ---------------------------------------------------------------------- basic auth and TLS


def secured(server: PrometheusServer, **access: Any) -> PrometheusClient:
    access.setdefault("ca_bundle", str(server.tls.ca) if server.tls else None)
    return client(server.url, **access)


def test_basic_auth_and_tls_with_the_ca_bundle(secured_prometheus: PrometheusServer,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The bundle given wins over REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE (CI images set them;
    requests would let them replace a Session's verify)."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/ca.pem")
    monkeypatch.setenv("CURL_CA_BUNDLE", "/nonexistent/ca.pem")
    assert secured_prometheus.url.startswith("https://")
    with secured(secured_prometheus, username=USER, password=PASSWORD) as prometheus:
        assert prometheus.query("vector(3)").values == (3.0,)


def test_a_wrong_password_is_bad_input(secured_prometheus: PrometheusServer) -> None:
    wrong = "not " + PASSWORD
    with pytest.raises(BadInput) as exc:
        secured(secured_prometheus, username=USER, password=wrong).query("vector(1)")
    message = str(exc.value)
    assert wrong not in message and PASSWORD not in message
    assert message.startswith(f"Prometheus at {secured_prometheus.url} refused the credentials "
                              f"from MLGATE_PROMETHEUS_USERNAME/MLGATE_PROMETHEUS_PASSWORD "
                              f"(HTTP 401")


def test_no_credentials_names_the_variables(secured_prometheus: PrometheusServer) -> None:
    message = str(failed(lambda: secured(secured_prometheus).query("vector(1)"), BadInput))
    assert "needs credentials (HTTP 401" in message
    for name in ("MLGATE_PROMETHEUS_TOKEN", "MLGATE_PROMETHEUS_USERNAME",
                 "MLGATE_PROMETHEUS_PASSWORD", "MLGATE_PROMETHEUS_HEADERS"):
        assert name in message


def test_tls_without_the_ca_bundle_is_refused(secured_prometheus: PrometheusServer) -> None:
    sleeps = Sleeps()
    prometheus = secured(secured_prometheus, username=USER, password=PASSWORD, ca_bundle=None)
    prometheus.backoff = Backoff(sleep=sleeps)
    error = failed(lambda: prometheus.query("vector(1)"))
    assert error.kind == "unreachable" and "certificate verify failed" in str(error)
    assert "--prometheus-ca" in str(error)
    assert sleeps.waits == [] and prometheus.calls == 1      # no retry can fix a certificate


def test_plain_http_to_a_tls_port_is_unreachable(secured_prometheus: PrometheusServer) -> None:
    url = secured_prometheus.url.replace("https://", "http://")
    error = failed(lambda: client(url, username=USER, password=PASSWORD).query("vector(1)"))
    assert error.kind == "query" and "HTTP 400" in str(error)   # Go: "client sent HTTP to HTTPS"


# ---------------------------------------------------------------------- the look-alike


def test_the_token_and_extra_headers_are_sent() -> None:
    with ScriptedPrometheus(prefix="/prometheus") as scripted:
        prometheus = client(scripted.url + "/", token=TOKEN,
                            headers={"X-Scope-OrgID": ORG, "X-Other": "1"})
        assert prometheus.url == scripted.url
        assert prometheus.query("up").values == (1.0,)
    (seen,) = scripted.seen
    assert seen.path == "/prometheus/api/v1/query" and seen.params == {"query": "up"}
    assert seen.headers["authorization"] == f"Bearer {TOKEN}"
    assert seen.headers["x-scope-orgid"] == ORG and seen.headers["x-other"] == "1"
    assert seen.headers["accept"] == "application/json"


def test_basic_auth_is_utf8() -> None:
    with ScriptedPrometheus() as scripted:
        client(scripted.url, username="ünï", password="pässwörd").query("up")
    import base64
    (seen,) = scripted.seen
    scheme, _, value = seen.headers["authorization"].partition(" ")
    assert scheme == "Basic" and base64.b64decode(value).decode() == "ünï:pässwörd"


def test_429_waits_as_long_as_retry_after_says() -> None:
    sleeps = Sleeps()
    with ScriptedPrometheus() as scripted:
        scripted.script(Answer(429, b"slow down", {"Retry-After": "7"}))
        prometheus = client(scripted.url, Backoff(sleep=sleeps))
        assert prometheus.query("up").values == (1.0,)
    assert sleeps.waits == [7.0] and prometheus.calls == 2


def test_503_then_success() -> None:
    sleeps = Sleeps()
    with ScriptedPrometheus() as scripted:
        scripted.script(Answer(503, failure("unavailable", "TSDB not ready")),
                        Answer(503, failure("timeout", "query timed out")))
        prometheus = client(scripted.url, Backoff(base=1.0, sleep=sleeps, rng=lambda: 0.0))
        assert prometheus.query("up").values == (1.0,)
    assert sleeps.waits == [0.5, 1.0] and len(scripted.seen) == 3


def test_500_forever_is_unreachable_in_the_servers_words() -> None:
    sleeps = Sleeps()
    with ScriptedPrometheus(default=Answer(500, failure("internal", f"boom {TOKEN}"))) as s:
        prometheus = client(s.url, Backoff(max_tries=5, sleep=sleeps), token=TOKEN)
        error = failed(lambda: prometheus.query("up"))
    assert error.kind == "unreachable" and len(s.seen) == 5 and len(sleeps.waits) == 4
    assert str(error) == (f"Prometheus at {s.url} unreachable: HTTP 500 boom *** (internal); "
                          f"gave up after 5 tries")


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_token_is_bad_input_and_never_shown(status: int) -> None:
    with ScriptedPrometheus(default=Answer(status, f"bad token {TOKEN} for {ORG}".encode(),
                                           {"Content-Type": "text/plain"})) as scripted:
        error = failed(lambda: client(scripted.url, token=TOKEN,
                                      headers={"X-Scope-OrgID": ORG}).query("up"), BadInput)
    assert ("refused the credentials from MLGATE_PROMETHEUS_TOKEN and "
            "MLGATE_PROMETHEUS_HEADERS") in str(error)
    assert "bad token *** for ***" in str(error) and len(scripted.seen) == 1


def test_a_redirect_is_not_followed() -> None:
    with ScriptedPrometheus(default=Answer(302, b"", {"Location": "https://sso.example/login"})
                            ) as scripted:
        error = failed(lambda: client(scripted.url, token=TOKEN).query("up"), BadInput)
    assert "redirects (HTTP 302) to 'https://sso.example/login'" in str(error)
    assert len(scripted.seen) == 1


def test_the_server_warnings_come_along() -> None:
    body = vector(({"app": "a"}, "0.5"), ({"app": "b"}, "+Inf"))
    body["warnings"] = ["PromQL info: \x1b[31mfake\nline", f"tenant {ORG}"]
    with ScriptedPrometheus(default=Answer(body=body)) as scripted:
        answer = client(scripted.url, headers={"X-Scope-OrgID": ORG}).query("up")
    assert answer.values == (0.5, math.inf)
    assert answer.series == ({"app": "a"}, {"app": "b"})
    assert answer.warnings == ("PromQL info: \\x1b[31mfake line", "tenant ***")


# ---------------------------------------------------------------------- hostile answers


def hostile(answer: Answer, **access: Any) -> Exception:
    with ScriptedPrometheus(default=answer) as scripted:
        return failed(lambda: client(scripted.url, Backoff(max_tries=1),
                                     **access).query("up"))


def test_an_answer_that_is_not_json() -> None:
    error = hostile(Answer(200, b"<html>Grafana</html>", {"Content-Type": "text/html"}))
    assert error.kind == "unreachable"
    assert "not Prometheus's query API" in str(error) and "invalid JSON" in str(error)
    assert "is --prometheus Prometheus?" in str(error)


def test_a_huge_answer_is_cut_off() -> None:
    huge = b'{"status":"success","data":{"resultType":"vector","result":[' + \
        b'{"metric":{},"value":[1,"1"]},' * (prom.MAX_ANSWER // 20) + b"]}}"
    started = time.monotonic()
    error = hostile(Answer(body=huge))
    assert error.kind == "query" and "over 8 MiB; narrow the query" in str(error)
    assert time.monotonic() - started < 10


def test_a_gzip_bomb_is_cut_off() -> None:
    import gzip
    bomb = gzip.compress(b" " * (prom.MAX_ANSWER + 1024))
    assert len(bomb) < 100_000
    error = hostile(Answer(body=bomb, headers={"Content-Encoding": "gzip"}))
    assert error.kind == "query" and "over 8 MiB" in str(error)


def test_a_deeply_nested_answer() -> None:
    deep = b'{"status":"success","data":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    error = hostile(Answer(body=deep))
    assert error.kind == "unreachable" and "nested more than 100 levels" in str(error)


@pytest.mark.parametrize("body", [
    {"data": {"resultType": "vector", "result": []}},               # no status
    {"status": "maybe"},
    [],
    "success",
])
def test_an_answer_without_a_status(body: Any) -> None:
    error = hostile(Answer(body=body))
    assert error.kind == "unreachable"
    assert 'no "status": "success" or "error"' in str(error)


@pytest.mark.parametrize("data", [
    None,
    {"resultType": "vector", "result": {}},
    {"resultType": "vector", "result": [{"value": [1, "1"]}]},
    {"resultType": "vector", "result": [{"metric": {"a": 1}, "value": [1, "1"]}]},
    {"resultType": "vector", "result": [{"metric": {}, "value": [1, 1.5]}]},
    {"resultType": "vector", "result": [{"metric": {}, "value": [1, "1_000"]}]},
    {"resultType": "vector", "result": [{"metric": {}, "value": [1, "inf"]}]},
    {"resultType": "vector", "result": [{"metric": {}, "value": [1, "١"]}]},
    {"resultType": "vector", "result": [{"metric": {}, "value": [True, "1"]}]},
    {"resultType": "vector", "result": [{"metric": {}, "value": [1, "1", 2]}]},
    {"resultType": "scalar", "result": "1"},
    {"resultType": "table", "result": []},
])
def test_a_malformed_result(data: Any) -> None:
    error = hostile(Answer(body={"status": "success", "data": data}))
    assert error.kind == "unreachable" and "not Prometheus's query API" in str(error)


def test_an_error_envelope_with_200() -> None:
    error = hostile(Answer(body=failure("execution", "boom")))
    assert error.kind == "query" and str(error) == "Prometheus refused the query: boom (execution)"


def test_native_histograms_are_refused() -> None:
    body = {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {}, "histogram": [1, {"count": "3", "sum": "1", "buckets": []}]}]}}
    error = hostile(Answer(body=body))
    assert error.kind == "query" and "native histograms" in str(error)


def test_a_dripping_server_is_cut_off_at_the_timeout() -> None:
    started = time.monotonic()
    error = hostile(Answer(body=b'{"status":"success"' + b" " * 40, drip=0.05), timeout=0.5)
    assert error.kind == "unreachable" and "timed out; gave up after 1 try" in str(error)
    assert time.monotonic() - started < 2


def test_a_server_message_stays_on_one_line_and_short() -> None:
    text = "line one\nline two \x1b[2J" + "x" * 1000
    error = hostile(Answer(400, failure("bad_data", text)))
    assert error.kind == "query" and "line one line two \\x1b[2J" in str(error)
    assert len(str(error)) < 400


# ---------------------------------------------------------------------- configuration


@pytest.mark.parametrize("url,base", [
    ("http://prometheus:9090", "http://prometheus:9090"),
    ("https://example.org/prometheus/", "https://example.org/prometheus"),
    ("HTTPS://Example.org:443/a/b", "https://Example.org:443/a/b"),
    ("http://[::1]:9090", "http://[::1]:9090"),
    ("http://127.0.0.1:9090/", "http://127.0.0.1:9090"),
])
def test_base_url(url: str, base: str) -> None:
    assert base_url(url) == base


@pytest.mark.parametrize("url,why", [
    ("", "is empty"),
    ("prometheus:9090", "is not an http:// or https:// URL"),
    ("ftp://prometheus", "is not an http:// or https:// URL"),
    ("http://", "has no valid host[:port]"),
    ("http://prometheus:0", "has no valid host[:port]"),
    ("http://prometheus:65536", "has no valid host[:port]"),
    ("http://prom_etheus", "has no valid host[:port]"),
    ("http://prometheus:9090/?x=1", "has a query or fragment"),
    ("http://prometheus:9090#x", "has a query or fragment"),
    ("http://prometheus:9090/api/v1/query", "ends in the API's own path"),
    ("http://prome theus", "has spaces"),
    ("http://prométheus", "non-ASCII"),
])
def test_bad_urls(url: str, why: str) -> None:
    with pytest.raises(BadInput, match="^--prometheus") as exc:
        base_url(url)
    assert why in str(exc.value)


@pytest.mark.parametrize("url", ["http://user:hunter2-secret@prometheus",
                                 "user:hunter2-secret@prometheus:9090",
                                 "http://user:hunter2 secret@prometheus"])
def test_a_url_with_credentials_is_refused_without_echo(url: str) -> None:
    with pytest.raises(BadInput) as exc:
        base_url(url)
    assert "hunter2" not in str(exc.value) and "MLGATE_PROMETHEUS_USERNAME" in str(exc.value)


def test_access_from_the_environment(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("x")
    access = access_from("http://p:9090/", {
        "MLGATE_PROMETHEUS_TOKEN": f" {TOKEN}\n",
        "MLGATE_PROMETHEUS_HEADERS": f"# tenant\nX-Scope-OrgID: {ORG}\n\n  X-A :  b c \n",
        "MLGATE_PROMETHEUS_USERNAME": "", "MLGATE_PROMETHEUS_PASSWORD": "",
    }, str(bundle))
    assert access == PrometheusAccess(url="http://p:9090", token=TOKEN,
                                      headers={"X-Scope-OrgID": ORG, "X-A": "b c"},
                                      ca_bundle=str(bundle))
    basic = access_from("http://p", {"MLGATE_PROMETHEUS_USERNAME": "u",
                                      "MLGATE_PROMETHEUS_PASSWORD": " p w "})
    assert (basic.username, basic.password, basic.token) == ("u", " p w ", None)
    assert access_from("http://p", {}) == PrometheusAccess(url="http://p")


@pytest.mark.parametrize("environ,message", [
    ({"MLGATE_PROMETHEUS_USERNAME": "u"},
     "MLGATE_PROMETHEUS_USERNAME is set but MLGATE_PROMETHEUS_PASSWORD is not"),
    ({"MLGATE_PROMETHEUS_PASSWORD": PASSWORD},
     "MLGATE_PROMETHEUS_PASSWORD is set but MLGATE_PROMETHEUS_USERNAME is not"),
    ({"MLGATE_PROMETHEUS_TOKEN": TOKEN, "MLGATE_PROMETHEUS_USERNAME": "u",
      "MLGATE_PROMETHEUS_PASSWORD": PASSWORD}, "are both set"),
    ({"MLGATE_PROMETHEUS_TOKEN": "two words"}, "MLGATE_PROMETHEUS_TOKEN is not a bearer token"),
    ({"MLGATE_PROMETHEUS_TOKEN": "tökén"}, "MLGATE_PROMETHEUS_TOKEN is not a bearer token"),
    ({"MLGATE_PROMETHEUS_USERNAME": "a:b", "MLGATE_PROMETHEUS_PASSWORD": PASSWORD},
     "MLGATE_PROMETHEUS_USERNAME has a ':'"),
    ({"MLGATE_PROMETHEUS_USERNAME": "u", "MLGATE_PROMETHEUS_PASSWORD": f"{PASSWORD}\nx"},
     "MLGATE_PROMETHEUS_PASSWORD has a line break"),
    ({"MLGATE_PROMETHEUS_TOKEN": TOKEN, "MLGATE_PROMETHEUS_HEADERS": f"Authorization: {ORG}"},
     "MLGATE_PROMETHEUS_HEADERS sets Authorization and so does MLGATE_PROMETHEUS_TOKEN"),
])
def test_access_refusals(environ: dict[str, str], message: str) -> None:
    error = failed(lambda: access_from("http://p", environ), BadInput)
    assert message in str(error)


@pytest.mark.parametrize("text,message", [
    (f"X-Scope-OrgID {ORG}", "line 1: not `Name: value`"),
    (f"ok: 1\nBad Name: {ORG}", "line 2: not `Name: value`"),
    ("X-Empty:", "line 1: header X-Empty has an empty value"),
    (f"X-Tab: {ORG}\x00", "header X-Tab has an empty value or characters other than printable"),
    (f"X-U: {ORG}é", "characters other than printable ASCII"),
    (f"Host: {ORG}", "header Host is set by the HTTP client itself"),
    (f"x-a: 1\nX-A: {ORG}", "line 2: header X-A is given twice"),
])
def test_bad_header_lines_name_the_variable_and_never_the_value(text: str,
                                                                message: str) -> None:
    error = failed(lambda: parse_headers(text), BadInput)
    assert str(error).startswith("MLGATE_PROMETHEUS_HEADERS ") and message in str(error)


def test_a_missing_ca_bundle(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="^--prometheus-ca: .* is not a file"):
        access_from("https://p", {}, str(tmp_path / "nope.pem"))
    with pytest.raises(BadInput, match="^--prometheus-ca"):
        PrometheusClient(PrometheusAccess(url="https://p", ca_bundle=str(tmp_path)))


def test_an_empty_query_is_a_query_error() -> None:
    error = failed(lambda: client("http://127.0.0.1:9").query("  "))
    assert error.kind == "query"


@pytest.mark.parametrize("access,message", [
    ({"headers": {"X-A": f"{ORG}\r\nX-Injected: 1"}}, "header 'X-A' has a name or value"),
    ({"headers": {"X A": ORG}}, "header 'X A' has a name or value"),
    ({"token": f"{TOKEN}\n"}, "MLGATE_PROMETHEUS_TOKEN is not a bearer token"),
    ({"username": "u"}, "MLGATE_PROMETHEUS_USERNAME is set but MLGATE_PROMETHEUS_PASSWORD"),
    ({"timeout": 0.0}, "timeout must be above 0"),
    ({"url": "http://u:p@h"}, "must not carry a user name or password"),
])
def test_an_access_built_by_hand_is_checked_too(access: dict[str, Any], message: str) -> None:
    """The client checks the access whoever built it: nothing the HTTP client would refuse
    (and retry as a network error) or mangle reaches the wire."""
    fields = {"url": "http://127.0.0.1:9", **access}
    error = failed(lambda: PrometheusClient(PrometheusAccess(**fields)), BadInput)
    assert message in str(error)


def test_a_retry_after_of_a_day_waits_a_minute_at_most() -> None:
    sleeps = Sleeps()
    with ScriptedPrometheus() as scripted:
        scripted.script(Answer(429, b"", {"Retry-After": "86400"}))
        assert client(scripted.url, Backoff(sleep=sleeps)).query("up").values == (1.0,)
    assert sleeps.waits == [prom.RETRY_AFTER_MAX]


def test_an_empty_5xx_answer() -> None:
    with ScriptedPrometheus(default=Answer(502, b"")) as scripted:
        error = failed(lambda: client(scripted.url, Backoff(max_tries=1)).query("up"))
    assert str(error) == (f"Prometheus at {scripted.url} unreachable: HTTP 502 (no details); "
                          f"gave up after 1 try")
