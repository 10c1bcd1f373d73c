"""mlgate.cluster.argocd: the real ArgoCdClient (requests) against the Argo CD API stand-in on
127.0.0.1 — the Application read, refresh, appNamespace and project, every refusal Argo CD
gives with its exit code, retries within the deadline, and no token in any message."""

from __future__ import annotations

import socket
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from standins._loopback import LoopbackServer, Reply
from standins.argocd_api import TOKEN, ArgoCdStandIn, app_status, application
from standins.argocd_api import argocd_api  # noqa: F401  (the fixture)

from mlgate.cluster.argocd import ArgoCdClient, server_url
from mlgate.cluster.http_retry import Backoff
from mlgate.errors import BadInput, ServiceError

SHA = "a" * 40
NEXT = "b" * 40
PATH = "/api/v1/applications/model"


@pytest.fixture(autouse=True)
def _loopback_bypasses_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def quick(**kwargs: Any) -> Backoff:
    """Real sleeps, but short ones."""
    return Backoff(base=0.01, cap=0.05, **kwargs)


def client(server: LoopbackServer, token: str | None = TOKEN, **kwargs: Any) -> ArgoCdClient:
    kwargs.setdefault("backoff", quick())
    return ArgoCdClient(server.url, token, **kwargs)


@pytest.fixture
def argo(argocd_api: ArgoCdStandIn) -> ArgoCdStandIn:  # noqa: F811
    argocd_api.put("model", application("model", SHA))
    return argocd_api


def refused(call: Any, kind: type[Exception] = BadInput) -> str:
    with pytest.raises(kind) as exc:
        call()
    message = str(exc.value)
    assert TOKEN not in message
    return message


# ---------------------------------------------------------------------- server_url


@pytest.mark.parametrize("value,url", [
    ("argocd.example.com", "https://argocd.example.com"),
    ("argocd.example.com:8443", "https://argocd.example.com:8443"),
    ("127.0.0.1:8080", "https://127.0.0.1:8080"),
    ("[::1]:8080", "https://[::1]:8080"),
    ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
    ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
    ("HTTPS://Argo.Example", "https://Argo.Example"),
    ("argocd/", "https://argocd"),
    ("argocd:65535", "https://argocd:65535"),
    ("argocd:1", "https://argocd:1"),
])
def test_server_url_takes_what_the_argocd_cli_takes(value: str, url: str) -> None:
    assert server_url(value) == url


@pytest.mark.parametrize("value,why", [
    ("", "is empty"),
    ("argo cd", "spaces"),
    ("argocd\n", "spaces"),
    ("argo\x1bcd", "control"),
    ("argöcd", "non-ASCII"),
    ("ftp://argocd", "scheme 'ftp'"),
    ("javascript://argocd", "scheme 'javascript'"),
    ("https://argocd/api", "path"),
    ("https://argocd?x=1", "path, query"),
    ("https://argocd#f", "path, query"),
    ("argocd:0", "port outside"),
    ("argocd:65536", "port outside"),
    ("argocd:http", "not host[:port]"),
    ("https://", "not host[:port]"),
    ("-argocd", "not host[:port]"),
    ("argo_cd", "not host[:port]"),
])
def test_server_url_refuses_anything_else(value: str, why: str) -> None:
    with pytest.raises(BadInput) as exc:
        server_url(value)
    assert str(exc.value).startswith("ARGOCD_SERVER (or --argocd-server): ")
    assert why in str(exc.value) and exc.value.exit_code == 2


@pytest.mark.parametrize("value", ["https://admin:s3cret-pass@argocd", "admin:s3cret-pass@argocd",
                                   "https://s3cret-pass@argocd:443"])
def test_server_url_with_credentials_is_refused_without_echoing_them(value: str) -> None:
    message = refused(lambda: server_url(value))
    assert "s3cret" not in message and "user name or password" in message


# ---------------------------------------------------------------------- reading


def test_reads_the_application(argo: ArgoCdStandIn) -> None:
    with client(argo) as argocd:
        app = argocd.application("model")
    assert app["metadata"]["name"] == "model" and "kind" not in app
    assert app["status"]["sync"] == argo.get("model")["status"]["sync"]
    assert argocd.calls == 1 and argo.count_app("model") == 1
    assert argo.calls("GET", PATH)[0].query == {}


def test_refresh_asks_for_a_normal_refresh_and_gets_the_refreshed_app(
        argo: ArgoCdStandIn) -> None:
    argo.timeline("model", [app_status(NEXT)])
    app = client(argo).application("model", refresh=True)
    assert argo.calls("GET", PATH)[-1].query == {"refresh": "normal"}
    assert app["status"]["sync"]["revision"] == NEXT
    assert "argocd.argoproj.io/refresh" not in app["metadata"].get("annotations", {})


def test_app_namespace_and_project_are_passed(argocd_api: ArgoCdStandIn) -> None:  # noqa: F811
    argocd_api.put("model", application("model", SHA, namespace="team-a", project="models"),
                   namespace="team-a")
    app = client(argocd_api, app_namespace="team-a", project="models").application(
        "model", refresh=True)
    assert app["metadata"]["namespace"] == "team-a"
    assert argocd_api.calls("GET", PATH)[-1].query == {
        "refresh": "normal", "appNamespace": "team-a", "project": "models"}


def test_the_token_goes_as_a_bearer_header_even_with_a_netrc(
        argo: ArgoCdStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """requests would replace the Authorization header with ~/.netrc's basic auth."""
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login admin password hunter2hunter2\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    assert client(argo).application("model")["metadata"]["name"] == "model"


# ---------------------------------------------------------------------- refusals (exit 2)


def test_no_token_says_which_variable_to_set(argo: ArgoCdStandIn) -> None:
    message = refused(lambda: client(argo, token=None).application("model"))
    assert "needs a token: set ARGOCD_AUTH_TOKEN" in message and "no session information" in message


def test_a_rejected_token_is_bad_input_with_a_hint_and_without_the_token(
        argo: ArgoCdStandIn) -> None:
    wrong = "wrong-token-000000000000000000000000"
    message = refused(lambda: client(argo, token=wrong).application("model"))
    assert message.startswith("Argo CD rejected the token (ARGOCD_AUTH_TOKEN): invalid session: "
                              "token signature is invalid")
    assert "`applications, get, */model`" in message and wrong not in message
    argo.expire()
    message = refused(lambda: client(argo).application("model"))
    assert "token is expired" in message


def test_a_server_echoing_the_token_never_gets_it_into_a_message(argo: ArgoCdStandIn) -> None:
    argo.fail_next(401, message=f"invalid session for Bearer {TOKEN}")
    assert "***" in refused(lambda: client(argo).application("model"))
    argo.fail_next(500, count=100, message=f"upstream said {TOKEN}")
    message = refused(lambda: client(argo, backoff=quick(max_tries=2)).application("model"),
                      ServiceError)
    assert "upstream said ***" in message


def test_a_missing_app_is_403_and_the_message_says_why(argo: ArgoCdStandIn) -> None:
    message = refused(lambda: client(argo).application("gone"))
    assert message.startswith("application gone: not found or not allowed for this token (Argo "
                              "CD answers the same for both); give --argocd-project")
    argo.deny("model")
    assert refused(lambda: client(argo).application("model")).startswith(
        "application model: not found or not allowed")


def test_with_a_project_a_missing_app_is_404(argo: ArgoCdStandIn) -> None:
    message = refused(lambda: client(argo, project="default").application("gone"))
    assert message.startswith("application gone not found in project default")
    assert 'applications.argoproj.io "gone" not found' in message
    message = refused(lambda: client(argo, project="other").application("model"))
    assert message.startswith("application model not found in project other")


def test_with_a_project_a_403_is_permission_denied(argo: ArgoCdStandIn) -> None:
    argo.fail_next(403)
    message = refused(lambda: client(argo, project="default", app_namespace="argocd")
                      .application("model"))
    assert message == ("application model in namespace argocd in project default: permission "
                       "denied for this token; its role needs `applications, get, "
                       "default/argocd/model` (permission denied)")


def test_a_400_carries_the_servers_message(argo: ArgoCdStandIn) -> None:
    argo.fail_next(400, message="multiple projects specified")
    message = refused(lambda: client(argo).application("model"))
    assert message == ("Argo CD refused to read application model (HTTP 400): multiple projects "
                       "specified")


@pytest.mark.parametrize("name", ["../x", "Model", "a/b", "", "mödel", "x" * 254, "model\n"])
def test_a_bad_app_name_is_refused_before_any_request(argo: ArgoCdStandIn, name: str) -> None:
    argocd = client(argo)
    assert refused(lambda: argocd.application(name)).startswith("--argocd-app: ")
    assert argocd.calls == 0 and argo.log == []


def test_bad_options_are_refused(argo: ArgoCdStandIn, tmp_path: Path) -> None:
    for token in ("two words", "tök", "a\nb"):
        assert "not a bearer token" in refused(lambda: client(argo, token=token))
    assert "--argocd-app-namespace" in refused(lambda: client(argo, app_namespace="Team_A"))
    assert "--argocd-project" in refused(lambda: client(argo, project="../p"))
    assert "is not a file" in refused(lambda: client(argo, ca_bundle=str(tmp_path / "none")))
    assert "exclude each other" in refused(lambda: client(argo, ca_bundle=__file__,
                                                          insecure=True))
    assert client(argo, token=f"  {TOKEN}\n").application("model")  # a token file's newline


class _Odd(LoopbackServer):
    """Not Argo CD: answers every request with the reply given."""

    def __init__(self, reply: Reply) -> None:
        super().__init__()
        self.reply = reply

    def dispatch(self, method: str, target: str, headers: Mapping[str, str],
                 raw: bytes) -> Reply:
        self.record(method, target, {}, self.reply.status, time.monotonic())
        return self.reply


@pytest.mark.parametrize("reply", [Reply(200, [1, 2]), Reply(200, text="<html>login</html>"),
                                   Reply(200, "a string")])
def test_an_answer_that_is_not_an_object_is_a_service_error(reply: Reply) -> None:
    with _Odd(reply) as odd:
        message = refused(lambda: client(odd).application("model"), ServiceError)
    assert "not a JSON object" in message


def test_a_redirect_is_not_followed() -> None:
    with _Odd(Reply(307, headers={"Location": "https://argocd.example/api"})) as odd:
        message = refused(lambda: client(odd).application("model"))
        assert odd.count("/api/v1/applications/model") == 1
    assert "redirects (HTTP 307) to 'https://argocd.example/api'" in message


def test_a_404_without_argo_cds_body_asks_whether_this_is_argo_cd() -> None:
    with _Odd(Reply(404, text="404 page not found\n")) as odd:
        message = refused(lambda: client(odd).application("model"))
    assert "answered HTTP 404 for the Application API (404 page not found); is ARGOCD_SERVER" \
        in message


# ---------------------------------------------------------------------- retries (exit 3)


def test_a_429_is_retried_then_succeeds(argo: ArgoCdStandIn) -> None:
    argo.fail_next(429)
    argocd = client(argo)
    assert argocd.application("model")["metadata"]["name"] == "model"
    assert [r.status for r in argo.calls("GET", PATH)] == [429, 200] and argocd.calls == 2


def test_503_twice_then_success(argo: ArgoCdStandIn) -> None:
    argo.fail_next(503, count=2)
    argocd = client(argo)
    assert argocd.application("model")["metadata"]["name"] == "model"
    assert [r.status for r in argo.calls("GET", PATH)] == [503, 503, 200] and argocd.calls == 3


def test_retry_after_is_honoured() -> None:
    waits: list[float] = []
    with _Odd(Reply(429, text="slow down\n", headers={"Retry-After": "7"})) as odd:
        url = odd.url
        message = refused(lambda: client(odd, backoff=Backoff(max_tries=3, sleep=waits.append))
                          .application("model"), ServiceError)
    assert waits == [7.0, 7.0]
    assert message == (f"Argo CD at {url} unreachable: HTTP 429 slow down; gave up after 3 "
                       f"tries")


def test_a_server_error_that_lasts_is_a_service_error(argo: ArgoCdStandIn) -> None:
    argo.fail_next(500, count=100)
    argocd = client(argo, backoff=quick(max_tries=4))
    message = refused(lambda: argocd.application("model"), ServiceError)
    assert message.startswith(f"Argo CD at {argo.url} unreachable: HTTP 500 error getting "
                              f"application: etcdserver: request timed out; gave up after 4")
    assert argocd.calls == 4 == argo.count_app("model")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_is_a_service_error_within_the_deadline() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    started = time.monotonic()
    argocd = ArgoCdClient(url, TOKEN, deadline=started + 1.0, backoff=Backoff(max_tries=100))
    with pytest.raises(ServiceError) as exc:
        argocd.application("model")
    assert time.monotonic() - started < 1.3
    assert exc.value.exit_code == 3 and argocd.calls >= 2
    assert str(exc.value).startswith(f"Argo CD at {url} unreachable: Connection refused; gave up "
                                     f"after")
    assert str(exc.value).endswith("the deadline is reached")


def test_a_refresh_the_controller_never_answers_is_read_again_without_refresh(
        argocd_api: ArgoCdStandIn) -> None:  # noqa: F811
    """A front proxy gives up on the blocked refresh (504): the annotation is set, so the retry
    reads the app without waiting for the controller again."""
    argocd_api.refresh_hang_limit = 0.2
    argocd_api.put("model", application("model", SHA))
    argocd_api.stall_controller()
    app = client(argocd_api).application("model", refresh=True)
    assert [(r.status, r.query) for r in argocd_api.calls("GET", PATH)] == [
        (504, {"refresh": "normal"}), (200, {})]
    assert app["metadata"]["annotations"]["argocd.argoproj.io/refresh"] == "normal"


def test_a_refresh_that_outlasts_the_timeout_is_read_again_without_refresh(
        argocd_api: ArgoCdStandIn) -> None:  # noqa: F811
    argocd_api.refresh_hang_limit = 1.0
    argocd_api.put("model", application("model", SHA))
    argocd_api.stall_controller()
    app = client(argocd_api, timeout=0.3).application("model", refresh=True)
    assert app["metadata"]["name"] == "model"
    give_up = time.monotonic() + 3
    while len(argocd_api.calls("GET", PATH)) < 2 and time.monotonic() < give_up:
        time.sleep(0.05)  # the stand-in logs the abandoned refresh when it gives up on it
    calls = sorted(argocd_api.calls("GET", PATH), key=lambda r: r.at)
    assert [r.query for r in calls] == [{"refresh": "normal"}, {}]


# ---------------------------------------------------------------------- the finer points


def test_server_url_messages_in_full() -> None:
    with pytest.raises(BadInput) as exc:
        server_url("argo:99999")
    assert str(exc.value) == ("ARGOCD_SERVER (or --argocd-server): 'argo:99999' has a port "
                              "outside 1-65535; give host[:port] (HTTPS) or a URL such as "
                              "http://127.0.0.1:8080")
    with pytest.raises(BadInput) as exc:
        server_url("http://a b", what="--argocd-server")
    assert str(exc.value) == ("--argocd-server: 'http://a b' has spaces, control or non-ASCII "
                              "characters; give host[:port] (HTTPS) or a URL such as "
                              "http://127.0.0.1:8080")
    for value, why in (("https://a/b", "has a path, query or fragment; give only the scheme, "
                                       "host and port"), ("a:b:c", "is not host[:port]")):
        with pytest.raises(BadInput) as exc:
            server_url(value)
        assert str(exc.value).startswith(f"ARGOCD_SERVER (or --argocd-server): {value!r} {why}; ")


def test_option_messages_in_full(argo: ArgoCdStandIn) -> None:
    with pytest.raises(BadInput) as exc:
        client(argo, app_namespace="Team")
    assert str(exc.value).startswith("--argocd-app-namespace: 'Team' is not a Kubernetes "
                                     "namespace name")
    with pytest.raises(BadInput) as exc:
        client(argo, ca_bundle=__file__, insecure=True)
    assert str(exc.value) == "--argocd-ca-bundle and --argocd-insecure exclude each other"


def test_tls_verification_follows_the_options(argo: ArgoCdStandIn, monkeypatch) -> None:
    """What reaches the transport: requests lets REQUESTS_CA_BUNDLE override a Session's own
    `verify`, so the options must win over the environment on every request."""
    import requests.adapters

    seen: list[object] = []
    send = requests.adapters.HTTPAdapter.send

    def spy(self, request, **kwargs):
        seen.append(kwargs.get("verify"))
        return send(self, request, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", spy)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/ca.pem")
    monkeypatch.setenv("CURL_CA_BUNDLE", "/nonexistent/ca.pem")
    assert client(argo, insecure=True).application("model")["metadata"]["name"] == "model"
    client(argo, ca_bundle=__file__).application("model")
    assert seen == [False, __file__]


@pytest.mark.parametrize("reply,detail", [
    (Reply(400, {"error": "only error", "code": 3}), "only error"),
    (Reply(400, {"message": "", "error": "", "code": 3}), "Bad Request"),
    (Reply(400, text=""), "Bad Request"),
    (Reply(400, {"message": "m" * 400}), "m" * 297 + "..."),
    (Reply(400, {"message": "m" * 300}), "m" * 300),
    (Reply(400, {"message": "two\nlines\x1b[31m"}), "two lines\\x1b[31m"),
])
def test_the_servers_words_are_one_short_line(reply: Reply, detail: str) -> None:
    with _Odd(reply) as odd:
        message = refused(lambda: client(odd).application("model"))
    assert message == f"Argo CD refused to read application model (HTTP 400): {detail}"


def test_a_404_is_not_found_only_with_grpc_code_5() -> None:
    with _Odd(Reply(404, {"error": "x", "code": 5, "message": "gone"})) as odd:
        assert refused(lambda: client(odd).application("model")) == (
            "application model not found (or this token may not get it): gone")
    with _Odd(Reply(404, {"error": "x", "code": "5", "message": "gone"})) as odd:
        assert "is ARGOCD_SERVER Argo CD's API server?" in refused(
            lambda: client(odd).application("model"))


def test_the_rbac_hint_names_the_app_namespace(argocd_api: ArgoCdStandIn) -> None:  # noqa: F811
    message = refused(lambda: client(argocd_api, app_namespace="team-a").application("model"))
    assert message.endswith("check that the token's role allows `applications, get, "
                            "*/team-a/model`")
    assert message.startswith("application model in namespace team-a: not found or not allowed")


def test_a_long_redirect_target_is_cut() -> None:
    target = "https://argocd.example/" + "p" * 90  # 113 characters: shown whole
    with _Odd(Reply(302, headers={"Location": target})) as odd:
        assert f"to {target!r}; give that address" in refused(
            lambda: client(odd).application("model"))


def test_a_deadline_given_to_the_call_wins(argo: ArgoCdStandIn) -> None:
    argocd = ArgoCdClient(f"http://127.0.0.1:{closed_port()}", TOKEN,
                          backoff=Backoff(max_tries=100))
    started = time.monotonic()
    with pytest.raises(ServiceError, match="gave up after 1 try: the deadline is reached"):
        argocd.application("model", deadline=started + 0.1)
    assert argocd.calls == 1 and time.monotonic() - started < 0.5


def test_a_request_never_outlasts_the_deadline(argocd_api: ArgoCdStandIn) -> None:  # noqa: F811
    argocd_api.refresh_hang_limit = 1.5
    argocd_api.put("model", application("model", SHA))
    argocd_api.stall_controller()
    started = time.monotonic()
    argocd = client(argocd_api, timeout=10.0, deadline=started + 0.4,
                    backoff=Backoff(max_tries=100))
    with pytest.raises(ServiceError, match="unreachable: timed out; gave up after 1 try"):
        argocd.application("model", refresh=True)
    assert time.monotonic() - started < 0.9


def test_server_errors_stop_at_the_deadline(argo: ArgoCdStandIn) -> None:
    argo.fail_next(503, count=1000)
    started = time.monotonic()
    argocd = client(argo, deadline=started + 0.5, backoff=Backoff(base=0.05, max_tries=1000))
    with pytest.raises(ServiceError, match="the deadline is reached$"):
        argocd.application("model")
    assert time.monotonic() - started < 0.9


class _Slow(LoopbackServer):
    """Answers the first `slow` requests after `delay` seconds, then an application."""

    def __init__(self, slow: int, delay: float) -> None:
        super().__init__()
        self.slow, self.delay = slow, delay

    def start(self) -> None:
        super().start()
        assert self._server is not None  # the client hung up on the late answers: quiet
        self._server.handle_error = lambda request, address: None  # type: ignore[method-assign]

    def dispatch(self, method: str, target: str, headers: Mapping[str, str],
                 raw: bytes) -> Reply:
        with self._lock:
            self.slow -= 1
            late = self.slow >= 0
        if late:
            time.sleep(self.delay)
        self.record(method, target, {}, 200, time.monotonic())
        return Reply(200, application("model", SHA))


def test_timeouts_and_504s_in_a_row_after_a_refresh(argo: ArgoCdStandIn) -> None:
    with _Slow(2, 0.5) as slow:
        assert client(slow, timeout=0.2).application("model", refresh=True)
    argo.fail_next(504, count=2)
    client(argo).application("model", refresh=True)
    assert [r.query for r in argo.calls("GET", PATH)] == [{"refresh": "normal"}, {}, {}]
