"""The Argo CD API stand-in (tests/standins/argocd_api.py) answers plain HTTP clients as Argo
CD's API server does: the Application JSON, grpc-gateway error bodies (401 code 16, 403 code 7
for a missing app unless a project is named, 404 code 5), `refresh` that waits for the
controller, timelines and request counts."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from standins.argocd_api import (
    REFRESH,
    SUCCEEDED,
    TOKEN,
    ArgoCdStandIn,
    app_status,
    application,
    condition,
)
from standins.argocd_api import argocd_api  # noqa: F401  (the fixture)

SHA = "a" * 40
NEXT = "b" * 40


def get(server: ArgoCdStandIn, target: str, token: str | None = TOKEN,
        timeout: float = 10) -> tuple[int, Any]:
    request = urllib.request.Request(server.url + target)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        raw = exc.read().decode()
        try:
            return exc.code, json.loads(raw)
        except ValueError:
            return exc.code, raw


def test_the_application_json(argocd_api: ArgoCdStandIn) -> None:  # noqa: F811
    argocd_api.put("model", application("model", SHA))
    status, app = get(argocd_api, "/api/v1/applications/model")
    assert status == 200
    assert "kind" not in app and "apiVersion" not in app  # the gRPC answer carries neither
    assert app["metadata"]["name"] == "model" and app["metadata"]["namespace"] == "argocd"
    assert app["spec"]["project"] == "default"
    st = app["status"]
    assert st["sync"]["status"] == "Synced" and st["sync"]["revision"] == SHA
    assert st["health"]["status"] == "Healthy"
    assert st["operationState"]["phase"] == "Succeeded"
    assert st["operationState"]["message"] == SUCCEEDED
    assert st["operationState"]["syncResult"]["revision"] == SHA
    assert st["operationState"]["operation"]["sync"]["revision"] == SHA
    assert [h["revision"] for h in st["history"]] == [SHA]


def test_multi_source_and_running_operation_shapes() -> None:
    st = app_status(SHA, revisions=[SHA, NEXT], phase="Running", sync="OutOfSync",
                    health="Progressing",
                    conditions=[condition("SyncError", "boom")])["status"]
    assert st["sync"]["revisions"] == [SHA, NEXT] and "revision" not in st["sync"]
    assert st["operationState"]["operation"]["sync"]["revisions"] == [SHA, NEXT]
    assert "finishedAt" not in st["operationState"] and "syncResult" not in st["operationState"]
    assert st["history"] == [] and st["conditions"][0]["type"] == "SyncError"


@pytest.mark.parametrize("token,message", [
    (None, "no session information"),
    ("wrong", "invalid session: token signature is invalid: signature is invalid"),
])
def test_authentication(argocd_api: ArgoCdStandIn, token: str | None,  # noqa: F811
                        message: str) -> None:
    argocd_api.put("model")
    assert get(argocd_api, "/api/v1/applications/model", token) == (
        401, {"error": message, "code": 16, "message": message})


def test_an_expired_token(argocd_api: ArgoCdStandIn) -> None:  # noqa: F811
    argocd_api.put("model")
    argocd_api.expire()
    status, body = get(argocd_api, "/api/v1/applications/model")
    assert status == 401 and body["code"] == 16
    assert body["message"] == "invalid session: token has invalid claims: token is expired"


def test_a_missing_app_is_permission_denied_unless_a_project_is_named(
        argocd_api: ArgoCdStandIn) -> None:  # noqa: F811
    denied = {"error": "permission denied", "code": 7, "message": "permission denied"}
    assert get(argocd_api, "/api/v1/applications/nope") == (403, denied)
    not_found = 'applications.argoproj.io "nope" not found'
    assert get(argocd_api, "/api/v1/applications/nope?project=default") == (
        404, {"error": not_found, "code": 5, "message": not_found})
    argocd_api.put("model", application("model", SHA, project="ml"))
    assert get(argocd_api, "/api/v1/applications/model?project=default")[0] == 404
    assert get(argocd_api, "/api/v1/applications/model?project=ml")[0] == 200
    status, body = get(argocd_api, "/api/v1/applications/model?project=ml&project=x")
    assert status == 400 and body["code"] == 3
    argocd_api.deny("model")
    assert get(argocd_api, "/api/v1/applications/model") == (403, denied)
    assert get(argocd_api, "/api/v1/applications/model?project=ml")[0] == 404


def test_app_namespace(argocd_api: ArgoCdStandIn) -> None:  # noqa: F811
    argocd_api.put("model", namespace="team-a")
    assert get(argocd_api, "/api/v1/applications/model")[0] == 403
    status, app = get(argocd_api, "/api/v1/applications/model?appNamespace=team-a")
    assert status == 200 and app["metadata"]["namespace"] == "team-a"


def test_refresh_waits_for_the_controller_and_clears_the_annotation(
        argocd_api: ArgoCdStandIn) -> None:  # noqa: F811
    before = argocd_api.put("model", application("model", SHA))
    status, app = get(argocd_api, "/api/v1/applications/model?refresh=normal")
    assert status == 200 and REFRESH not in (app["metadata"].get("annotations") or {})
    versions = [c.resource_version for c in argocd_api.changes]
    assert int(app["metadata"]["resourceVersion"]) > int(before["metadata"]["resourceVersion"])
    annotated, refreshed = argocd_api.changes[-2:]
    assert annotated.object["metadata"]["annotations"] == {REFRESH: "normal"}
    assert refreshed.resource_version == app["metadata"]["resourceVersion"] == versions[-1]
    status, hard = get(argocd_api, "/api/v1/applications/model?refresh=hard")
    assert status == 200 and argocd_api.changes[-2].object["metadata"]["annotations"] == {
        REFRESH: "hard"}


def test_a_stalled_controller_holds_the_refresh_until_the_next_change(
        argocd_api: ArgoCdStandIn) -> None:  # noqa: F811
    argocd_api.put("model", application("model", SHA))
    argocd_api.stall_controller()
    done: list[Any] = []
    thread = threading.Thread(target=lambda: done.append(
        get(argocd_api, "/api/v1/applications/model?refresh=normal")))
    thread.start()
    time.sleep(0.3)
    assert not done  # still waiting
    argocd_api.update("model", app_status(NEXT, sync="OutOfSync"))
    thread.join(5)
    status, app = done[0]
    assert status == 200 and app["status"]["sync"]["revision"] == NEXT
    assert REFRESH not in (app["metadata"].get("annotations") or {})


def test_a_refresh_nobody_answers_ends_at_the_hang_limit() -> None:
    with ArgoCdStandIn(refresh_hang_limit=0.3) as server:
        server.put("model")
        server.stall_controller()
        started = time.monotonic()
        status, body = get(server, "/api/v1/applications/model?refresh=normal")
        assert status == 504 and time.monotonic() - started >= 0.3


def test_a_timeline_moves_one_state_per_get_refresh_included(
        argocd_api: ArgoCdStandIn) -> None:  # noqa: F811
    argocd_api.put("model", application("model", SHA))
    argocd_api.timeline("model", [
        app_status(NEXT, sync="OutOfSync", health="Healthy", phase=None, deployed=[SHA]),
        app_status(NEXT, sync="Synced", health="Progressing", phase="Running"),
        app_status(NEXT, deployed=[SHA, NEXT]),
    ])
    seen = []
    for query in ("?refresh=normal", "", "", ""):
        status, app = get(argocd_api, f"/api/v1/applications/model{query}")
        st = app["status"]
        seen.append((st["sync"]["status"], st["health"]["status"],
                     (st.get("operationState") or {}).get("phase")))
    # states merge: the first one names no operation, so the last one (on SHA) stays, as Argo
    # CD keeps operationState until the next operation starts
    assert seen == [("OutOfSync", "Healthy", "Succeeded"), ("Synced", "Progressing", "Running"),
                    ("Synced", "Healthy", "Succeeded"), ("Synced", "Healthy", "Succeeded")]
    assert argocd_api.count_app("model") == 4


def test_manual_and_timed_timelines(argocd_api: ArgoCdStandIn) -> None:  # noqa: F811
    argocd_api.put("model", application("model", SHA))
    argocd_api.timeline("model", [app_status(SHA, health="Degraded"), app_status(SHA)],
                        advance="manual")
    assert get(argocd_api, "/api/v1/applications/model")[1]["status"]["health"]["status"] == \
        "Degraded"
    argocd_api.advance("model")
    assert get(argocd_api, "/api/v1/applications/model")[1]["status"]["health"]["status"] == \
        "Healthy"
    assert argocd_api.advance("model") is None
    argocd_api.timeline("model", [app_status(SHA, health="Progressing"), app_status(SHA)],
                        advance=0.2)
    assert get(argocd_api, "/api/v1/applications/model")[1]["status"]["health"]["status"] == \
        "Progressing"
    time.sleep(0.25)
    assert get(argocd_api, "/api/v1/applications/model")[1]["status"]["health"]["status"] == \
        "Healthy"


def test_generation_and_resource_version(argocd_api: ArgoCdStandIn) -> None:  # noqa: F811
    first = argocd_api.put("model", application("model", SHA))
    assert first["metadata"]["generation"] == 1
    same = argocd_api.update("model", {"metadata": {"labels": {"x": "y"}}})
    assert same["metadata"]["generation"] == 1  # metadata only
    assert int(same["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])
    # no status subresource on Application: a status change bumps generation
    moved = argocd_api.update("model", {"status": {"health": {"status": "Degraded"}}})
    assert moved["metadata"]["generation"] == 2
    unchanged = argocd_api.update("model", {"status": {"health": {"status": "Degraded"}}})
    assert unchanged["metadata"]["resourceVersion"] == moved["metadata"]["resourceVersion"]


@pytest.mark.parametrize("code,expected", [
    (500, (500, 2)), (503, (503, 14)), (403, (403, 7)), (404, (404, 5)), (401, (401, 16))])
def test_fail_next(argocd_api: ArgoCdStandIn, code: int,  # noqa: F811
                   expected: tuple[int, int]) -> None:
    argocd_api.put("model")
    argocd_api.fail_next(code)
    status, body = get(argocd_api, "/api/v1/applications/model")
    assert (status, body["code"]) == expected and body["error"] == body["message"]
    assert get(argocd_api, "/api/v1/applications/model")[0] == 200


def test_a_front_proxy_error_is_plain_text(argocd_api: ArgoCdStandIn) -> None:  # noqa: F811
    argocd_api.put("model")
    argocd_api.fail_next(502, 2)
    assert get(argocd_api, "/api/v1/applications/model")[0] == 502
    assert get(argocd_api, "/api/v1/applications/model")[0] == 502
    assert get(argocd_api, "/api/v1/applications/model")[0] == 200
    assert [c.status for c in argocd_api.calls("GET", "/api/v1/applications/model")] == [
        502, 502, 200]
    assert argocd_api.max_in_window("/api/v1/applications/model", 60) == 3


def test_unknown_paths(argocd_api: ArgoCdStandIn) -> None:  # noqa: F811
    assert get(argocd_api, "/api/v1/projects/x") == (404, "Not Found\n")
