"""mlgate.cluster.kube: the real KubeClient (the official `kubernetes` client) against the
Kubernetes API stand-in on 127.0.0.1 through a kubeconfig it writes — loading the config as
kubectl does from the environment given, reading every kind, Flux's reconcile request, every
refusal with its exit code, retries that are ours alone, and the NS/NAME parsers."""

from __future__ import annotations

import json
import re
import socket
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from standins._loopback import LoopbackServer, Reply
from standins.kube_api import (
    REQUESTED_AT,
    TOKEN,
    KubeApiStandIn,
    condition,
    deployment,
    flux_handles_reconcile_request,
)
from standins.kube_api import kube_api  # noqa: F401  (the fixture)

from mlgate.cluster.http_retry import Backoff
from mlgate.cluster.kube import (
    KINDS,
    KubeClient,
    parse_ref,
    parse_workload,
    rfc3339_now,
)
from mlgate.errors import BadInput, ServiceError


@pytest.fixture(autouse=True)
def _loopback_bypasses_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def quick(**kwargs: Any) -> Backoff:
    return Backoff(base=0.01, cap=0.05, **kwargs)


@pytest.fixture
def kubeconfig(kube_api: KubeApiStandIn, tmp_path: Path) -> Path:  # noqa: F811
    return kube_api.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def kube(kube_api: KubeApiStandIn, kubeconfig: Path) -> KubeClient:  # noqa: F811
    kube_api.put("kustomization", "flux-system", "apps",
                 {"spec": {"interval": "5m", "path": "./apps", "prune": True},
                  "status": {"conditions": [condition("Ready", "True", "ReconciliationSucceeded",
                                                      observed_generation=1)]}})
    kube_api.put("deployment", "models", "model", deployment("model"))
    return KubeClient(environ={"KUBECONFIG": str(kubeconfig)}, backoff=quick())


def refused(call: Any, kind: type[Exception] = BadInput) -> str:
    with pytest.raises(kind) as exc:
        call()
    message = str(exc.value)
    assert TOKEN not in message
    assert exc.value.exit_code == (2 if kind is BadInput else 3)  # type: ignore[attr-defined]
    return message


# ---------------------------------------------------------------------- configuration


def test_kubeconfig_comes_from_the_environ_given_not_os_environ(
        kube_api: KubeApiStandIn, kubeconfig: Path, tmp_path: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "not-this-one"))
    kube_api.put("deployment", "models", "model", deployment("model"))
    kube = KubeClient(environ={"KUBECONFIG": str(kubeconfig)})
    assert (kube.source, kube.context, kube.server) == (
        f"KUBECONFIG {kubeconfig}", "standin", kube_api.url)
    assert kube.get("deployment", "models", "model")["metadata"]["name"] == "model"
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    message = refused(lambda: KubeClient(environ={"HOME": str(tmp_path)}))
    assert message.startswith("~/.kube/config: no kubeconfig file at "
                              f"'{tmp_path / '.kube' / 'config'}'")


def test_the_order_kubeconfig_option_then_KUBECONFIG_then_home(
        kube_api: KubeApiStandIn, kubeconfig: Path, tmp_path: Path) -> None:  # noqa: F811
    environ = {"KUBECONFIG": str(tmp_path / "missing"), "HOME": str(tmp_path)}
    assert KubeClient(kubeconfig=str(kubeconfig), environ=environ).source == \
        f"--kubeconfig {kubeconfig}"
    assert refused(lambda: KubeClient(environ=environ)).startswith("KUBECONFIG: no kubeconfig")
    home = tmp_path / ".kube"
    home.mkdir()
    kube_api.write_kubeconfig(home / "config", context="home")
    kube = KubeClient(environ={"HOME": str(tmp_path)})
    assert (kube.source, kube.context) == (f"~/.kube/config {home / 'config'}", "home")


def test_a_KUBECONFIG_list_is_merged(kube_api: KubeApiStandIn, kubeconfig: Path,  # noqa: F811
                                     tmp_path: Path) -> None:
    listed = f"{tmp_path / 'missing'}:{kubeconfig}"
    assert KubeClient(environ={"KUBECONFIG": listed}).server == kube_api.url


def test_an_exec_plugin_supplies_the_token(kube_api: KubeApiStandIn,  # noqa: F811
                                           kubeconfig: Path, tmp_path: Path) -> None:
    plugin = tmp_path / "plugin.py"
    plugin.write_text("import json\nprint(json.dumps({'apiVersion': "
                      "'client.authentication.k8s.io/v1beta1', 'kind': 'ExecCredential', "
                      f"'status': {{'token': '{TOKEN}'}}}}))\n")
    config = json.loads(kubeconfig.read_text())
    config["users"][0]["user"] = {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1beta1", "command": sys.executable,
        "args": [str(plugin)], "interactiveMode": "Never"}}
    kubeconfig.write_text(json.dumps(config))
    kube_api.put("rollout", "models", "model", {"spec": {"replicas": 1}})
    kube = KubeClient(kubeconfig=str(kubeconfig), environ={})
    assert kube.get("rollout", "models", "model")["kind"] == "Rollout"
    plugin.write_text("import sys\nsys.exit(3)\n")
    # the client only logs a failed plugin and goes on without credentials: RBAC then names
    # the anonymous user
    kube = KubeClient(kubeconfig=str(kubeconfig), environ={})
    assert 'User "system:anonymous" cannot get resource "rollouts"' in refused(
        lambda: kube.get("rollout", "models", "model"))


def test_context_is_chosen_and_a_missing_one_is_bad_input(kubeconfig: Path) -> None:
    assert KubeClient(kubeconfig=str(kubeconfig), context="standin",
                      environ={}).context == "standin"
    message = refused(lambda: KubeClient(kubeconfig=str(kubeconfig), context="prod",
                                         environ={}))
    assert message.startswith(f"--kubeconfig '{kubeconfig}' (context 'prod'): cannot load")


@pytest.mark.parametrize("text", ["", "{}", "clusters: [", "- a\n- b\n", "kind: Config\n"])
def test_a_broken_kubeconfig_is_bad_input(tmp_path: Path, text: str) -> None:
    path = tmp_path / "config"
    path.write_text(text)
    assert "cannot load the kubeconfig" in refused(lambda: KubeClient(kubeconfig=str(path),
                                                                      environ={}))


def test_in_cluster_service_account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kubernetes.config import incluster_config

    environ = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    message = refused(lambda: KubeClient(environ=environ))
    assert message.startswith("in-cluster service account (KUBERNETES_SERVICE_HOST is set): ")
    (tmp_path / "token").write_text("sa-token-0123456789")
    (tmp_path / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(tmp_path / "token"))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(tmp_path / "ca.crt"))
    kube = KubeClient(environ=environ)
    assert (kube.server, kube.context) == ("https://10.96.0.1:443", "in-cluster")
    assert kube.configuration.api_key["BearerToken"] == "bearer sa-token-0123456789"


def test_the_configuration_is_private_and_does_not_retry(kube: KubeClient) -> None:
    from kubernetes import client

    assert client.Configuration._default is None or \
        client.Configuration._default.host != kube.server
    retries = kube.configuration.retries
    assert (retries.total, retries.respect_retry_after_header) == (0, False)


def test_without_the_extra_wait_sync_says_what_to_install(
        monkeypatch: pytest.MonkeyPatch, kubeconfig: Path) -> None:
    monkeypatch.setitem(sys.modules, "kubernetes", None)
    monkeypatch.setitem(sys.modules, "kubernetes.client", None)
    assert refused(lambda: KubeClient(kubeconfig=str(kubeconfig), environ={})) == (
        "wait-sync needs the cluster extra: pip install 'mlgate[cluster]'")


# ---------------------------------------------------------------------- reading


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_is_read_as_the_api_sends_it(kube_api: KubeApiStandIn,  # noqa: F811
                                                kube: KubeClient, kind: str) -> None:
    body = deployment("obj") if kind == "deployment" else {
        "spec": {"x": 1}, "status": {"conditions": [condition("Ready", "True", "Succeeded",
                                                              observed_generation=1)]}}
    kube_api.put(kind, "ns1", "obj", body)
    got = kube.get(kind, "ns1", "obj")
    assert got == kube_api.get(kind, "ns1", "obj")
    group, version, plural = KINDS[kind]
    assert got["apiVersion"] == f"{group}/{version}"
    assert kube_api.count(f"/apis/{group}/{version}/namespaces/ns1/{plural}/obj", "GET") == 1
    assert kube.calls == 1


def test_a_deployment_keeps_the_apis_keys_and_timestamps(kube: KubeClient) -> None:
    got = kube.get("deployment", "models", "model")
    assert got["spec"]["progressDeadlineSeconds"] == 600
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", got["metadata"]["creationTimestamp"])


@pytest.mark.parametrize("kind,namespace,name,what", [
    ("kustomization", "Flux", "apps", "kustomization: 'Flux' is not a Kubernetes namespace"),
    ("deployment", "models", "../x", "deployment: '../x' is not a Kubernetes object name"),
    ("pod", "models", "x", "unknown kind 'pod'"),
])
def test_a_bad_reference_is_refused_before_any_request(kube_api: KubeApiStandIn,  # noqa: F811
                                                       kube: KubeClient, kind: str,
                                                       namespace: str, name: str,
                                                       what: str) -> None:
    kube_api.clear_log()
    assert refused(lambda: kube.get(kind, namespace, name)).startswith(what)
    assert kube.calls == 0 and kube_api.log == []


# ---------------------------------------------------------------------- reconcile


def test_rfc3339_now_writes_go_rfc3339nano() -> None:
    assert rfc3339_now(0) == "1970-01-01T00:00:00Z"
    assert rfc3339_now(1_500_000_000) == "1970-01-01T00:00:01.5Z"
    assert rfc3339_now(1_700_000_000_123_456_789) == "2023-11-14T22:13:20.123456789Z"
    assert rfc3339_now(1_000) == "1970-01-01T00:00:00.000001Z"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z", rfc3339_now())


def test_request_reconcile_sets_the_annotation_and_not_the_generation(
        kube_api: KubeApiStandIn, kube: KubeClient) -> None:  # noqa: F811
    kube_api.on_patch("kustomization", "flux-system", "apps", flux_handles_reconcile_request)
    before = kube_api.get("kustomization", "flux-system", "apps")
    at = rfc3339_now()
    kube.request_reconcile("kustomization", "flux-system", "apps", at)
    after = kube_api.get("kustomization", "flux-system", "apps")
    assert after["metadata"]["annotations"] == {REQUESTED_AT: at}
    assert after["metadata"]["generation"] == before["metadata"]["generation"]
    assert after["spec"] == before["spec"]
    assert after["status"]["lastHandledReconcileAt"] == at
    assert kube_api.count_object("kustomization", "flux-system", "apps", "PATCH") == 1
    assert kube.calls == 1


def test_request_reconcile_is_for_flux_objects_only(kube: KubeClient) -> None:
    assert "for Flux objects" in refused(
        lambda: kube.request_reconcile("deployment", "models", "model", rfc3339_now()))


def test_request_reconcile_of_a_missing_object(kube: KubeClient) -> None:
    assert refused(lambda: kube.request_reconcile("helmrelease", "flux-system", "gone", "t")) \
        .startswith("helmrelease flux-system/gone not found")


# ---------------------------------------------------------------------- refusals (exit 2)


def test_a_rejected_token_is_bad_input_naming_context_and_server(
        kube_api: KubeApiStandIn, kube: KubeClient) -> None:  # noqa: F811
    kube_api.revoke()
    message = refused(lambda: kube.get("kustomization", "flux-system", "apps"))
    assert message.startswith(f"the Kubernetes API at {kube_api.url} rejected the credentials of "
                              f"context standin from KUBECONFIG ")
    assert "(HTTP 401 Unauthorized)" in message


def test_forbidden_quotes_the_rbac_sentence(kube_api: KubeApiStandIn,  # noqa: F811
                                            kube: KubeClient) -> None:
    kube_api.forbid("patch", "kustomization")
    message = refused(lambda: kube.request_reconcile("kustomization", "flux-system", "apps", "t"))
    assert ('kustomizations.kustomize.toolkit.fluxcd.io "apps" is forbidden: User '
            '"system:serviceaccount:mlgate:wait-sync" cannot patch resource "kustomizations" in '
            'API group "kustomize.toolkit.fluxcd.io" in the namespace "flux-system"') in message
    assert message.endswith("need RBAC `patch` on kustomizations.kustomize.toolkit.fluxcd.io in "
                            "namespace flux-system")


def test_not_found_names_the_object(kube: KubeClient) -> None:
    assert refused(lambda: kube.get("kustomization", "flux-system", "gone")) == (
        'kustomization flux-system/gone not found (kustomizations.kustomize.toolkit.fluxcd.io '
        '"gone" not found)')


def test_a_resource_type_not_served_asks_for_the_controller(
        kube_api: KubeApiStandIn, kube: KubeClient) -> None:  # noqa: F811
    del kube_api.resources["canary"]
    assert refused(lambda: kube.get("canary", "models", "model")) == (
        f"canary models/model: is the controller installed? (flagger.app/v1beta1 canaries not "
        f"served by the Kubernetes API at {kube_api.url}: the server could not find the "
        f"requested resource)")


def test_a_server_echoing_the_token_never_gets_it_into_a_message(
        kube_api: KubeApiStandIn, kube: KubeClient) -> None:  # noqa: F811
    kube_api.fail_next(403, message=None)
    kube_api.fail_next(500, count=10, message=f"token {TOKEN} refused")
    refused(lambda: kube.get("kustomization", "flux-system", "apps"))
    kube.backoff = quick(max_tries=2)
    assert "token *** refused" in refused(lambda: kube.get("kustomization", "flux-system", "apps"),
                                          ServiceError)


# ---------------------------------------------------------------------- retries (exit 3)


def test_a_throttled_get_is_retried_by_us_once_per_try(kube_api: KubeApiStandIn,  # noqa: F811
                                                      kube: KubeClient) -> None:
    path = kube_api.path("kustomization", "flux-system", "apps")
    kube_api.throttle(retry_after=0)
    assert kube.get("kustomization", "flux-system", "apps")["metadata"]["name"] == "apps"
    assert [c.status for c in kube_api.calls("GET", path)] == [429, 200] and kube.calls == 2
    kube_api.clear_log()
    kube_api.throttle(10, retry_after=0)
    kube.backoff = quick(max_tries=2)
    message = refused(lambda: kube.get("kustomization", "flux-system", "apps"), ServiceError)
    assert kube_api.count(path, "GET") == 2  # urllib3's own Retry would have sent 4
    assert message == (f"the Kubernetes API at {kube_api.url} unreachable: HTTP 429 Too many "
                       f"requests, please try again later. (reading kustomization "
                       f"flux-system/apps); gave up after 2 tries")


def test_retry_after_is_honoured_from_the_header_or_the_status(
        kube_api: KubeApiStandIn, kube: KubeClient) -> None:  # noqa: F811
    waits: list[float] = []
    kube.backoff = Backoff(sleep=waits.append)
    kube_api.throttle(retry_after=3)
    kube_api.fail_next(429, status_body=True, retry_after=2, method="PATCH")
    kube.get("kustomization", "flux-system", "apps")
    kube.request_reconcile("kustomization", "flux-system", "apps", "t")
    assert waits == [3.0, 2.0]


def test_503_twice_then_success(kube_api: KubeApiStandIn, kube: KubeClient) -> None:  # noqa: F811
    kube_api.fail_next(503, count=2)
    assert kube.get("deployment", "models", "model")["kind"] == "Deployment"
    assert [c.status for c in kube_api.calls("GET")] == [503, 503, 200] and kube.calls == 3


def test_a_server_error_that_lasts_is_a_service_error(kube_api: KubeApiStandIn,  # noqa: F811
                                                      kube: KubeClient) -> None:
    kube_api.fail_next(500, count=100)
    kube.backoff = quick(max_tries=3)
    message = refused(lambda: kube.get("deployment", "models", "model"), ServiceError)
    assert message == (f"the Kubernetes API at {kube_api.url} unreachable: HTTP 500 Internal "
                       f"error occurred: etcdserver: request timed out (reading deployment "
                       f"models/model); gave up after 3 tries")
    assert kube.calls == 3


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_is_a_service_error_within_the_deadline(tmp_path: Path) -> None:
    path = tmp_path / "config"
    server = f"http://127.0.0.1:{closed_port()}"
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "gone",
        "clusters": [{"name": "gone", "cluster": {"server": server}}],
        "users": [{"name": "u", "user": {"token": TOKEN}}],
        "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "u"}}]}))
    started = time.monotonic()
    kube = KubeClient(kubeconfig=str(path), environ={}, deadline=started + 1.0,
                      backoff=Backoff(max_tries=100))
    message = refused(lambda: kube.get("kustomization", "flux-system", "apps"), ServiceError)
    assert time.monotonic() - started < 1.3 and kube.calls >= 2
    assert message.startswith(f"the Kubernetes API at {server} unreachable: Connection refused; "
                              f"gave up after ")
    assert message.endswith("the deadline is reached")


class _Odd(LoopbackServer):
    def __init__(self, reply: Reply) -> None:
        super().__init__()
        self.reply = reply

    def dispatch(self, method: str, target: str, headers: Mapping[str, str],
                 raw: bytes) -> Reply:
        return self.reply


@pytest.mark.parametrize("reply", [Reply(200, [1]), Reply(200, text="<html>")])
def test_an_answer_that_is_not_an_object_is_a_service_error(tmp_path: Path,
                                                            reply: Reply) -> None:
    with _Odd(reply) as odd:
        path = KubeApiStandIn.write_kubeconfig(odd, tmp_path / "config")  # type: ignore[arg-type]
        kube = KubeClient(kubeconfig=str(path), environ={})
        assert "not a JSON object" in refused(lambda: kube.get("rollout", "models", "model"),
                                              ServiceError)


# ---------------------------------------------------------------------- parse_ref / workload


def test_parse_ref() -> None:
    assert parse_ref("flux-system/apps", "--flux-kustomization", None) == ("flux-system", "apps")
    assert parse_ref("apps", "--flux-kustomization", "flux-system") == ("flux-system", "apps")
    assert parse_ref("a/b.c-d", "--x", None) == ("a", "b.c-d")
    assert parse_ref("n/" + "x" * 253, "--x", None)[1] == "x" * 253
    assert parse_ref("n" * 63 + "/x", "--x", None)[0] == "n" * 63


@pytest.mark.parametrize("text", [
    "../x", "a/../x", "./x", "a/b/c/d", "a/b/c", "Flux/apps", "flux/Apps", "flüx/apps",
    "flux/аpps",  # Cyrillic а
    "", "/", "a/", "/b", "apps", "n/" + "x" * 254, "n" * 64 + "/x", "a/b\n", "a /b", "a/-b",
    "a/b-", "a/b..c", "a\x00/b", "a/b%2fc", "a/b_c", "a.b/c",
])
def test_parse_ref_refuses(text: str) -> None:
    with pytest.raises(BadInput) as exc:
        parse_ref(text, "--flux-kustomization", None)
    assert str(exc.value).startswith("--flux-kustomization: ") and exc.value.exit_code == 2
    assert "\n" not in str(exc.value) and "\x00" not in str(exc.value)


def test_a_long_or_odd_input_is_shown_cut_and_on_one_line() -> None:
    for size, shown in ((80, "'" + "x" * 80 + "'"), (81, "'" + "x" * 77 + "...'")):
        with pytest.raises(BadInput) as exc:
            parse_ref("x" * size, "--x", None)
        assert str(exc.value) == f"--x: {shown} is not NS/NAME"
    with pytest.raises(BadInput) as exc:
        parse_ref("a\x1b[31m\nb/c", "--x", None)
    assert str(exc.value).startswith("--x: 'a\\\\x1b[31m b' is not a Kubernetes namespace")


def test_parse_workload() -> None:
    assert parse_workload("deployment/models/model") == ("deployment", "models", "model")
    assert parse_workload("Rollout/models/model") == ("rollout", "models", "model")
    assert parse_workload("canary/model", "models") == ("canary", "models", "model")
    assert parse_workload("inferenceservice/kserve/sklearn-iris") == (
        "inferenceservice", "kserve", "sklearn-iris")


@pytest.mark.parametrize("text", [
    "deployment/model", "pod/models/model", "kustomization/flux-system/apps", "models/model",
    "deployment/../x", "deployment/a/b/c/d", "DEPLOYMENT/Models/model", "deploymenṫ/a/b",
    "", "deployment", "deployment//x", "deployment/a/" + "x" * 254,
])
def test_parse_workload_refuses(text: str) -> None:
    with pytest.raises(BadInput) as exc:
        parse_workload(text)
    assert str(exc.value).startswith("--workload: ")
