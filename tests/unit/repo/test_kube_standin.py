"""The Kubernetes API stand-in (tests/standins/kube_api.py) answers the real `kubernetes` client
as an API server does: objects, merge patch, resourceVersion / generation, the Status errors
(401, 403 with the RBAC wording, 404, 409, 415, 429), the status subresource, and the knobs
(timelines, controller reactions, per-path request counts).

Everything goes through a kubeconfig that `write_kubeconfig` writes and the client loads.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from standins.kube_api import (
    REQUESTED_AT,
    RESOURCES,
    TOKEN,
    USER,
    KubeApiStandIn,
    condition,
    deployment,
    flux_handles_reconcile_request,
)
from standins.kube_api import kube_api  # noqa: F401  (the fixture)

KS = ("kustomize.toolkit.fluxcd.io", "v1", "flux-system", "kustomizations", "apps")
APP = ("argoproj.io", "v1alpha1", "argocd", "applications", "model")


@pytest.fixture
def api(kube_api: KubeApiStandIn, tmp_path: Path) -> Iterator[client.ApiClient]:  # noqa: F811
    kube_api.put("Kustomization", "flux-system", "apps",
                 {"spec": {"interval": "5m", "path": "./apps", "prune": True},
                  "status": {"conditions": [condition("Ready", "Unknown", "Progressing")]}})
    kube_api.put("Application", "argocd", "model", {"spec": {"project": "default"},
                                                      "status": {"sync": {"status": "Synced"}}})
    path = kube_api.write_kubeconfig(tmp_path / "kubeconfig")
    api_client = config.new_client_from_config(config_file=str(path))
    yield api_client
    api_client.close()


def custom(api: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api)


def status_of(exc: pytest.ExceptionInfo[ApiException]) -> dict[str, Any]:
    return json.loads(exc.value.body)


def test_load_kube_config_reads_the_written_kubeconfig(kube_api: KubeApiStandIn,  # noqa: F811
                                                       tmp_path: Path) -> None:
    path = kube_api.write_kubeconfig(tmp_path / "config", namespace="models")
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(path), client_configuration=configuration)
    assert configuration.host == kube_api.url
    assert f"Bearer {TOKEN}" in configuration.api_key.values()
    kube_api.put("Kustomization", "flux-system", "apps", {"spec": {}})
    with client.ApiClient(configuration) as api_client:
        got = custom(api_client).get_namespaced_custom_object(*KS)
    assert got["metadata"]["name"] == "apps"


@pytest.mark.parametrize("kind", sorted(k for k in RESOURCES if k != "deployment"))
def test_every_custom_resource_is_served(kube_api: KubeApiStandIn,  # noqa: F811
                                         api: client.ApiClient, kind: str) -> None:
    res = RESOURCES[kind]
    kube_api.put(kind, "ns1", "obj", {"spec": {"x": 1}})
    got = custom(api).get_namespaced_custom_object(res.group, res.version, "ns1", res.plural, "obj")
    assert got["apiVersion"] == f"{res.group}/{res.version}" and got["kind"] == res.kind
    assert got["metadata"]["name"] == "obj" and got["metadata"]["namespace"] == "ns1"
    assert got["metadata"]["generation"] == 1 and got["metadata"]["uid"]
    assert kube_api.count_object(kind, "ns1", "obj") == 1


def test_an_annotation_patch_bumps_resource_version_not_generation(
        kube_api: KubeApiStandIn, api: client.ApiClient) -> None:  # noqa: F811
    before = custom(api).get_namespaced_custom_object(*KS)
    patch = {"metadata": {"annotations": {REQUESTED_AT: "2026-01-01T00:00:00Z"}}}
    after = custom(api).patch_namespaced_custom_object(*KS, patch)
    assert after["metadata"]["annotations"] == {REQUESTED_AT: "2026-01-01T00:00:00Z"}
    assert after["metadata"]["generation"] == before["metadata"]["generation"] == 1
    assert int(after["metadata"]["resourceVersion"]) > int(before["metadata"]["resourceVersion"])
    assert after["spec"] == before["spec"]
    # the same patch again changes nothing: no new resourceVersion
    again = custom(api).patch_namespaced_custom_object(*KS, patch)
    assert again["metadata"]["resourceVersion"] == after["metadata"]["resourceVersion"]
    calls = kube_api.calls("PATCH", kube_api.path("Kustomization", "flux-system", "apps"))
    assert [c.status for c in calls] == [200, 200]


def test_a_spec_change_bumps_generation(api: client.ApiClient) -> None:
    after = custom(api).patch_namespaced_custom_object(*KS, {"spec": {"suspend": True}})
    assert after["metadata"]["generation"] == 2 and after["spec"]["suspend"] is True
    removed = custom(api).patch_namespaced_custom_object(*KS, {"spec": {"suspend": None}})
    assert "suspend" not in removed["spec"] and removed["metadata"]["generation"] == 3


def test_status_subresource_rules(kube_api: KubeApiStandIn,  # noqa: F811
                                  api: client.ApiClient) -> None:
    # Kustomization has the status subresource: status in a patch of the object is ignored
    ignored = custom(api).patch_namespaced_custom_object(*KS, {"status": {"x": 1}})
    assert "x" not in ignored["status"] and ignored["metadata"]["generation"] == 1
    written = custom(api).patch_namespaced_custom_object_status(*KS, {"status": {"x": 1},
                                                                      "spec": {"path": "./o"}})
    assert written["status"]["x"] == 1 and written["spec"]["path"] == "./apps"
    assert written["metadata"]["generation"] == 1
    assert custom(api).get_namespaced_custom_object_status(*KS)["status"]["x"] == 1
    # a controller's status write does not bump generation either
    kube_api.update("Kustomization", "flux-system", "apps", {"status": {"y": 2}})
    assert kube_api.get("Kustomization", "flux-system", "apps")["metadata"]["generation"] == 1
    # Application has no status subresource (its CRD says `subresources: {}`): status is part
    # of the object, a status change bumps generation, and /status is not served
    app = custom(api).patch_namespaced_custom_object(*APP, {"status": {"sync": {"status": "X"}}})
    assert app["status"]["sync"]["status"] == "X" and app["metadata"]["generation"] == 2
    with pytest.raises(ApiException) as exc:
        custom(api).get_namespaced_custom_object_status(*APP)
    assert exc.value.status == 404
    assert status_of(exc)["message"] == "the server could not find the requested resource"


def test_not_found_is_a_status_body(api: client.ApiClient) -> None:
    with pytest.raises(ApiException) as exc:
        custom(api).get_namespaced_custom_object(*KS[:4], "missing")
    assert exc.value.status == 404
    assert status_of(exc) == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'kustomizations.kustomize.toolkit.fluxcd.io "missing" not found',
        "reason": "NotFound",
        "details": {"name": "missing", "group": "kustomize.toolkit.fluxcd.io",
                    "kind": "kustomizations"},
        "code": 404}


def test_a_resource_not_installed_is_a_different_not_found(api: client.ApiClient) -> None:
    with pytest.raises(ApiException) as exc:
        custom(api).get_namespaced_custom_object("example.io", "v1", "ns", "widgets", "w")
    assert exc.value.status == 404 and status_of(exc)["details"] == {}
    assert status_of(exc)["message"] == "the server could not find the requested resource"


def test_forbidden_uses_the_rbac_wording(kube_api: KubeApiStandIn,  # noqa: F811
                                         api: client.ApiClient) -> None:
    kube_api.forbid("patch", "Kustomization")
    custom(api).get_namespaced_custom_object(*KS)  # get is still allowed
    with pytest.raises(ApiException) as exc:
        custom(api).patch_namespaced_custom_object(*KS, {"metadata": {"labels": {"a": "b"}}})
    assert exc.value.status == 403
    body = status_of(exc)
    assert body["reason"] == "Forbidden" and body["code"] == 403
    assert body["message"] == (
        'kustomizations.kustomize.toolkit.fluxcd.io "apps" is forbidden: User '
        f'"{USER}" cannot patch resource "kustomizations" in API group '
        '"kustomize.toolkit.fluxcd.io" in the namespace "flux-system"')
    assert kube_api.get("Kustomization", "flux-system", "apps")["metadata"].get("labels") is None


def test_forbidden_names_the_subresource_and_the_core_less_deployment_group(
        kube_api: KubeApiStandIn, api: client.ApiClient) -> None:  # noqa: F811
    kube_api.put("Deployment", "models", "model", deployment("model"))
    kube_api.forbid("get", "Deployment", subresource="status")
    apps = client.AppsV1Api(api)
    assert apps.read_namespaced_deployment("model", "models").metadata.name == "model"
    with pytest.raises(ApiException) as exc:
        apps.read_namespaced_deployment_status("model", "models")
    assert status_of(exc)["message"] == (
        f'deployments.apps "model" is forbidden: User "{USER}" cannot get resource '
        '"deployments/status" in API group "apps" in the namespace "models"')


def test_a_revoked_token_is_unauthorized(kube_api: KubeApiStandIn,  # noqa: F811
                                         api: client.ApiClient) -> None:
    kube_api.revoke()
    with pytest.raises(ApiException) as exc:
        custom(api).get_namespaced_custom_object(*KS)
    assert exc.value.status == 401
    assert status_of(exc) == {"kind": "Status", "apiVersion": "v1", "metadata": {},
                              "status": "Failure", "message": "Unauthorized",
                              "reason": "Unauthorized", "code": 401}


def test_an_unknown_token_is_unauthorized_and_no_token_is_anonymous(
        kube_api: KubeApiStandIn, tmp_path: Path) -> None:  # noqa: F811
    kube_api.put("Kustomization", "flux-system", "apps", {"spec": {}})
    wrong = config.new_client_from_config(
        config_file=str(kube_api.write_kubeconfig(tmp_path / "a", token="nope")))
    with pytest.raises(ApiException) as exc:
        custom(wrong).get_namespaced_custom_object(*KS)
    assert exc.value.status == 401
    anonymous = config.new_client_from_config(
        config_file=str(kube_api.write_kubeconfig(tmp_path / "b", token=None)))
    with pytest.raises(ApiException) as exc:
        custom(anonymous).get_namespaced_custom_object(*KS)
    assert exc.value.status == 403 and 'User "system:anonymous" cannot get' in \
        status_of(exc)["message"]


def test_throttling_answers_plain_text_with_retry_after(kube_api: KubeApiStandIn,  # noqa: F811
                                                        api: client.ApiClient) -> None:
    kube_api.throttle(retry_after=0)
    with pytest.raises(ApiException) as exc:  # a PATCH is never retried by urllib3
        custom(api).patch_namespaced_custom_object(*KS, {"metadata": {"labels": {"a": "b"}}})
    assert exc.value.status == 429
    assert exc.value.body == "Too many requests, please try again later.\n"
    assert exc.value.headers["Retry-After"] == "0"
    assert exc.value.headers["Content-Type"].startswith("text/plain")


def test_the_client_retries_a_throttled_get_itself(kube_api: KubeApiStandIn,  # noqa: F811
                                                   api: client.ApiClient) -> None:
    """What a caller of the real client sees: urllib3's default Retry (3) honours Retry-After
    on a GET, so one throttled GET is two requests on the wire; after 3 retries the 429
    surfaces. A caller that counts its own requests must know this."""
    path = kube_api.path("Kustomization", "flux-system", "apps")
    kube_api.throttle(retry_after=0)
    assert custom(api).get_namespaced_custom_object(*KS)["metadata"]["name"] == "apps"
    assert [c.status for c in kube_api.calls("GET", path)] == [429, 200]
    kube_api.clear_log()
    kube_api.throttle(10, retry_after=0)
    with pytest.raises(ApiException) as exc:
        custom(api).get_namespaced_custom_object(*KS)
    assert exc.value.status == 429 and kube_api.count(path, "GET") == 4


def test_throttling_in_the_status_form(kube_api: KubeApiStandIn,  # noqa: F811
                                       api: client.ApiClient) -> None:
    kube_api.fail_next(429, method="PATCH", retry_after=2, status_body=True)
    with pytest.raises(ApiException) as exc:
        custom(api).patch_namespaced_custom_object(*KS, {"metadata": {"labels": {"a": "b"}}})
    body = status_of(exc)
    assert (body["reason"], body["code"], body["details"]) == (
        "TooManyRequests", 429, {"retryAfterSeconds": 2})
    assert exc.value.headers["Retry-After"] == "2"


@pytest.mark.parametrize("code,reason", [(500, "InternalError"), (503, "ServiceUnavailable"),
                                         (403, "Forbidden"), (404, "NotFound"),
                                         (409, "Conflict"), (401, "Unauthorized")])
def test_fail_next_answers_the_servers_body(kube_api: KubeApiStandIn,  # noqa: F811
                                            api: client.ApiClient, code: int,
                                            reason: str) -> None:
    kube_api.fail_next(code, method="PATCH")
    with pytest.raises(ApiException) as exc:
        custom(api).patch_namespaced_custom_object(*KS, {"metadata": {"labels": {"a": "b"}}})
    assert exc.value.status == code and status_of(exc)["reason"] == reason
    # only once: the next request goes through
    assert custom(api).patch_namespaced_custom_object(
        *KS, {"metadata": {"labels": {"a": "b"}}})["metadata"]["labels"] == {"a": "b"}


def test_a_stale_resource_version_is_a_conflict(api: client.ApiClient) -> None:
    current = custom(api).get_namespaced_custom_object(*KS)["metadata"]["resourceVersion"]
    custom(api).patch_namespaced_custom_object(*KS, {"spec": {"suspend": True}})
    with pytest.raises(ApiException) as exc:
        custom(api).patch_namespaced_custom_object(
            *KS, {"metadata": {"resourceVersion": current}, "spec": {"suspend": False}})
    assert exc.value.status == 409 and status_of(exc)["message"] == (
        'Operation cannot be fulfilled on kustomizations.kustomize.toolkit.fluxcd.io "apps": '
        "the object has been modified; please apply your changes to the latest version and "
        "try again")


def test_patch_formats(kube_api: KubeApiStandIn, api: client.ApiClient) -> None:  # noqa: F811
    with pytest.raises(ApiException) as exc:
        custom(api).patch_namespaced_custom_object(
            *KS, {"spec": {"suspend": True}},
            _content_type="application/strategic-merge-patch+json")
    assert exc.value.status == 415 and status_of(exc)["reason"] == "UnsupportedMediaType"
    patched = custom(api).patch_namespaced_custom_object(
        *KS, [{"op": "add", "path": "/metadata/annotations", "value": {"a/b": "1"}},
              {"op": "replace", "path": "/spec/path", "value": "./other"}],
        _content_type="application/json-patch+json")
    assert patched["metadata"]["annotations"] == {"a/b": "1"}
    assert patched["spec"]["path"] == "./other" and patched["metadata"]["generation"] == 2
    with pytest.raises(ApiException) as exc:
        custom(api).patch_namespaced_custom_object(
            *KS, [{"op": "test", "path": "/spec/path", "value": "./apps"}],
            _content_type="application/json-patch+json")
    assert exc.value.status == 422 and status_of(exc)["reason"] == "Invalid"
    dry = custom(api).patch_namespaced_custom_object(*KS, {"spec": {"path": "./dry"}},
                                                     dry_run="All")
    assert dry["spec"]["path"] == "./dry"
    assert kube_api.get("Kustomization", "flux-system", "apps")["spec"]["path"] == "./other"


def test_a_timeline_advances_on_each_get(kube_api: KubeApiStandIn,  # noqa: F811
                                         api: client.ApiClient) -> None:
    kube_api.timeline("Kustomization", "flux-system", "apps", [
        {"status": {"lastAppliedRevision": "main@sha1:aaa"}},
        {"status": {"lastAppliedRevision": "main@sha1:bbb"}},
    ])
    seen = [custom(api).get_namespaced_custom_object(*KS)["status"]["lastAppliedRevision"]
            for _ in range(3)]
    assert seen == ["main@sha1:aaa", "main@sha1:bbb", "main@sha1:bbb"]
    assert kube_api.count_object("Kustomization", "flux-system", "apps") == 3
    # the states were a controller's writes: status, so no generation bump
    assert kube_api.get("Kustomization", "flux-system", "apps")["metadata"]["generation"] == 1


def test_manual_and_timed_timelines(kube_api: KubeApiStandIn,  # noqa: F811
                                    api: client.ApiClient) -> None:
    kube_api.timeline("Kustomization", "flux-system", "apps",
                      [{"status": {"n": 1}}, {"status": {"n": 2}}], advance="manual")
    assert custom(api).get_namespaced_custom_object(*KS)["status"]["n"] == 1
    assert custom(api).get_namespaced_custom_object(*KS)["status"]["n"] == 1
    assert kube_api.advance("Kustomization", "flux-system", "apps")["status"]["n"] == 2
    assert kube_api.advance("Kustomization", "flux-system", "apps") is None
    kube_api.timeline("Application", "argocd", "model",
                      [{"status": {"n": 1}}, {"status": {"n": 2}}], advance=0.2)
    assert custom(api).get_namespaced_custom_object(*APP)["status"]["n"] == 1
    time.sleep(0.25)
    assert custom(api).get_namespaced_custom_object(*APP)["status"]["n"] == 2
    first, second = kube_api.changes_of("Application", "argocd", "model")[-2:]
    assert second.at - first.at == pytest.approx(0.2, abs=0.01)  # the scheduled time


def test_a_controller_reacts_to_a_reconcile_request(kube_api: KubeApiStandIn,  # noqa: F811
                                                    api: client.ApiClient) -> None:
    kube_api.on_patch("Kustomization", "flux-system", "apps", flux_handles_reconcile_request)
    answer = custom(api).patch_namespaced_custom_object(
        *KS, {"metadata": {"annotations": {REQUESTED_AT: "t1"}}})
    assert "lastHandledReconcileAt" not in answer["status"]  # the PATCH answer comes first
    stored = custom(api).get_namespaced_custom_object(*KS)
    assert stored["status"]["lastHandledReconcileAt"] == "t1"
    assert int(stored["metadata"]["resourceVersion"]) > int(answer["metadata"]["resourceVersion"])


def test_deployments_through_apps_v1(kube_api: KubeApiStandIn,  # noqa: F811
                                     api: client.ApiClient) -> None:
    kube_api.put("Deployment", "models", "model", deployment("model", replicas=3))
    kube_api.update("Deployment", "models", "model", {"status": {
        "observedGeneration": 1, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3,
        "conditions": [{"type": "Available", "status": "True",
                        "reason": "MinimumReplicasAvailable"}]}})
    apps = client.AppsV1Api(api)
    got = apps.read_namespaced_deployment("model", "models")
    assert isinstance(got, client.V1Deployment) and got.spec.replicas == 3
    assert got.status.updated_replicas == 3 and got.status.observed_generation == 1
    status = apps.read_namespaced_deployment_status("model", "models")
    assert status.status.available_replicas == 3
    with pytest.raises(ApiException) as exc:
        apps.read_namespaced_deployment("other", "models")
    assert status_of(exc)["message"] == 'deployments.apps "other" not found'


def test_list_and_request_counts(kube_api: KubeApiStandIn,  # noqa: F811
                                 api: client.ApiClient) -> None:
    kube_api.put("Kustomization", "flux-system", "infra", {"spec": {}})
    listed = custom(api).list_namespaced_custom_object(*KS[:4])
    assert listed["kind"] == "KustomizationList"
    assert [i["metadata"]["name"] for i in listed["items"]] == ["apps", "infra"]
    for _ in range(2):
        custom(api).get_namespaced_custom_object(*KS)
    path = kube_api.path("Kustomization", "flux-system", "apps")
    assert kube_api.requests_per_path("GET")[path] == 2
    assert kube_api.max_in_window(path, 10.0) == 2
    assert kube_api.max_in_window(path, 0.0) == 0


def test_max_in_window_counts_a_sliding_window() -> None:
    server = KubeApiStandIn()
    for at in (0.0, 0.5, 1.0, 1.2, 3.0):
        server.record("GET", "/p", {}, 200, at)
    assert server.max_in_window("/p", 0.3) == 2  # 1.0 and 1.2
    assert server.max_in_window("/p", 0.5) == 2  # half open: 0.0 and 0.5 are two windows
    assert server.max_in_window("/p", 1.0) == 3  # 0.5, 1.0, 1.2
    assert server.max_in_window("/p", 1.9) == 4  # 0.0 .. 1.2
    assert server.max_in_window("/p", 5.0) == 5
    assert server.max_in_window("/other", 1.0) == 0
