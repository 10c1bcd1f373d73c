"""Argo CD's REST API (the `GET /api/v1/applications/{name}` that `mlgate wait-sync` polls) on
127.0.0.1, plain HTTP, with a simulated application controller behind it.

Why a stand-in: no Argo CD can run here. It follows argo-cd's server/application/application.go
(`Server.Get`, `getAppEnforceRBAC`) and the grpc-gateway v1 error shape the API server answers
with, so that a client that works against it works against Argo CD:

- Errors are `{"error": MSG, "code": GRPC_CODE, "message": MSG}` (grpc-gateway v1 marshalled with
  encoding/json: `details` is left out when empty) with the HTTP status grpc-gateway maps the
  code to: 3 InvalidArgument 400, 5 NotFound 404, 7 PermissionDenied 403, 16 Unauthenticated
  401, 2 Unknown 500, 14 Unavailable 503.
- Authentication: `Authorization: Bearer TOKEN`. No token: 401 "no session information"; an
  unknown token: 401 "invalid session: token signature is invalid: signature is invalid"; an
  expired one (`expire()`): 401 "invalid session: token has invalid claims: token is expired".
- An application that does not exist, or that RBAC does not let the token get, answers 403
  "permission denied" (code 7) — Argo CD hides whether it exists (CVE-2022-41354). Only with
  `?project=P` does a missing app (or one in another project, or one the token may not get)
  answer 404 `applications.argoproj.io "NAME" not found` (code 5). Two projects: 400.
- `appNamespace` picks the namespace (default: the control plane's, "argocd").
- `?refresh=normal|hard` sets the annotation `argocd.argoproj.io/refresh` and the request then
  *waits* for the controller's next change of the app with the annotation gone, and answers
  that (Server.Get watches for it). The simulated controller does that change after
  `refresh_delay` seconds, clearing the annotation and setting status.reconciledAt; with
  `stall_controller()` it does not, and the request waits for the test's next state change
  (`advance`, `update`), at most `refresh_hang_limit` seconds, then answers 504 as a front
  proxy that gave up would.
- The Application JSON is the API's: metadata, spec, status (sync, health, operationState,
  conditions, history, reconciledAt, sourceType, summary, resources), without kind/apiVersion
  (the gRPC answer carries none). `application()` and `app_status()` build them.

Test knobs: `put`, `update`, `timeline` (states merged in one per GET, per `advance()`, or one
every N seconds), `stall_controller`, `fail_next(code)`, `expire()` a token, `deny()` an app
to the token; every request is in `log` (`count(path)`, `max_in_window`), every change in
`changes`.
"""

from __future__ import annotations

import copy
import itertools
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ._loopback import (
    LoopbackServer,
    Reply,
    Timeline,
    bearer_token,
    merge_patch,
    now_rfc3339,
)

try:  # only the fixture below needs pytest; a bench imports this module without it
    import pytest
except ImportError:
    pytest = None  # type: ignore[assignment]

TOKEN = "standin-argocd-token-000000000000001"
SUBJECT = "mlgate"
REFRESH = "argocd.argoproj.io/refresh"
NAMESPACE = "argocd"
REPO_URL = "https://git.example/acme/config.git"
HTTP_STATUS = {2: 500, 3: 400, 5: 404, 7: 403, 13: 500, 14: 503, 16: 401}
GRPC_CODE = {400: 3, 401: 16, 403: 7, 404: 5, 500: 2, 503: 14}
SUCCEEDED = "successfully synced (all tasks run)"


def grpc_error(code: int, message: str) -> Reply:
    """The grpc-gateway v1 error body and the HTTP status it maps the gRPC code to."""
    return Reply(HTTP_STATUS[code], {"error": message, "code": code, "message": message})


class ArgoError(Exception):
    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


def _not_found(name: str) -> ArgoError:
    return ArgoError(grpc_error(5, f'applications.argoproj.io "{name}" not found'))


PERMISSION_DENIED = 7


@dataclass(frozen=True)
class Change:
    """One change of an application: (namespace, name), its resourceVersion, when."""

    key: tuple[str, str]
    resource_version: str
    at: float
    object: dict[str, Any]


@dataclass
class _Fault:
    status: int
    remaining: int
    path: str | None
    message: str | None


class ArgoCdStandIn(LoopbackServer):
    """The server; a context manager that starts it on 127.0.0.1 (a free port) and stops it.

    tokens: bearer token -> subject (default {TOKEN: SUBJECT}).
    """

    thread_name = "argocd-standin"

    def __init__(self, *, tokens: Mapping[str, str] | None = None, namespace: str = NAMESPACE,
                 refresh_delay: float = 0.0, refresh_hang_limit: float = 10.0) -> None:
        super().__init__()
        self.tokens = dict({TOKEN: SUBJECT} if tokens is None else tokens)
        self.namespace = namespace
        self.refresh_delay = refresh_delay
        self.refresh_hang_limit = refresh_hang_limit
        self.apps: dict[tuple[str, str], dict[str, Any]] = {}
        self.changes: list[Change] = []
        self._revision = itertools.count(5000)
        self._timelines: dict[tuple[str, str], Timeline] = {}
        self._faults: list[_Fault] = []
        self._expired: set[str] = set()
        self._denied: set[tuple[str, str]] = set()
        self._stalled = False
        self._changed = threading.Condition(self._lock)

    # ------------------------------------------------------------------ test side

    def _key(self, name: str, namespace: str | None) -> tuple[str, str]:
        return (namespace or self.namespace, name)

    def put(self, name: str, app: Mapping[str, Any] | None = None, *,
            namespace: str | None = None) -> dict[str, Any]:
        """Create or replace an application (default: `application(name)`, synced and
        healthy)."""
        key = self._key(name, namespace)
        with self._lock:
            body = copy.deepcopy(dict(app or application(name, namespace=key[0])))
            return copy.deepcopy(self._store(key, body))

    def update(self, name: str, patch: Mapping[str, Any], *,
               namespace: str | None = None) -> dict[str, Any]:
        """Merge-patch the application as the controller would (this is a state change: it
        clears a pending refresh annotation)."""
        key = self._key(name, namespace)
        with self._lock:
            return copy.deepcopy(self._controller_write(key, dict(patch)))

    def get(self, name: str, *, namespace: str | None = None) -> dict[str, Any] | None:
        with self._lock:
            return copy.deepcopy(self.apps.get(self._key(name, namespace)))

    def timeline(self, name: str, states: list[Mapping[str, Any]], *,
                 advance: str | float = "get", namespace: str | None = None) -> None:
        """States merged onto the app one after another (each a controller change that clears
        a pending refresh). advance="get": the k-th GET sees states[k-1] (with `refresh`, the
        change that answers it); "manual": states[0] now, then one per `advance()`; a number N:
        states[0] now, then one every N seconds."""
        key = self._key(name, namespace)
        with self._lock:
            line = Timeline.scripted(states, advance)
            self._timelines[key] = line
            if not line.per_get:
                self._apply_next(key, line, time.monotonic())

    def advance(self, name: str, *, namespace: str | None = None) -> dict[str, Any] | None:
        key = self._key(name, namespace)
        with self._lock:
            line = self._timelines.get(key)
            if line is None or not line.pending:
                return None
            return copy.deepcopy(self._apply_next(key, line, time.monotonic()))

    def advance_due(self) -> None:
        with self._lock:
            now = time.monotonic()
            for key, line in self._timelines.items():
                while (at := line.next_due(now)) is not None:
                    self._apply_next(key, line, at)

    def stall_controller(self, stalled: bool = True) -> None:
        """The controller stops processing refresh requests (a busy or stuck controller)."""
        with self._lock:
            self._stalled = stalled

    def fail_next(self, status: int = 500, count: int = 1, *, path: str | None = None,
                  message: str | None = None) -> None:
        """The next `count` matching requests (path: a substring) answer `status` with Argo CD's
        body for it: 401 (expired token), 403 (permission denied), 404 (not found), 500 / 503
        (gRPC Unknown / Unavailable), 502 / 504 / 429 (a front proxy's plain text)."""
        with self._lock:
            self._faults.append(_Fault(status, count, path, message))

    def expire(self, token: str | None = None) -> None:
        """The token (default: all) has expired: 401 "invalid session: ... token is expired"."""
        with self._lock:
            self._expired |= {token} if token else set(self.tokens)

    def deny(self, name: str, *, namespace: str | None = None) -> None:
        """RBAC does not let any token get this application."""
        with self._lock:
            self._denied.add(self._key(name, namespace))

    def app_path(self, name: str) -> str:
        return f"/api/v1/applications/{name}"

    def count_app(self, name: str) -> int:
        return self.count(self.app_path(name), "GET")

    # ------------------------------------------------------------------ dispatch

    def dispatch(self, method: str, target: str, headers: Mapping[str, str],
                 raw: bytes) -> Reply:
        at = time.monotonic()
        split = urlsplit(target)
        multi = parse_qs(split.query, keep_blank_values=True)
        query = {k: v[-1] for k, v in multi.items()}
        with self._lock:
            try:
                reply = self._answer(method, split.path, multi, headers)
            except ArgoError as exc:
                reply = exc.reply
            self.record(method, split.path, query, reply.status, at)
            return reply

    def _answer(self, method: str, path: str, query: dict[str, list[str]],
                headers: Mapping[str, str]) -> Reply:
        self.advance_due()
        prefix = "/api/v1/applications/"
        name = path[len(prefix):] if path.startswith(prefix) else ""
        if not name or "/" in name or method != "GET":
            return Reply(404, text="Not Found\n")
        self._authenticate(headers)
        self._check_faults(path, name)
        projects = query.get("project", []) + query.get("projects", [])
        if len(projects) > 1:
            raise ArgoError(grpc_error(3, "multiple projects specified - the get endpoint "
                                          "accepts either zero or one project"))
        key = self._key(name, (query.get("appNamespace") or [""])[-1] or None)
        self._enforce(key, projects[0] if projects else "")
        refresh = (query.get("refresh") or [None])[-1]
        if refresh is None:
            line = self._timelines.get(key)
            if line is not None and line.per_get and line.pending:
                self._apply_next(key, line, time.monotonic())
            return Reply(200, copy.deepcopy(self.apps[key]))
        return self._refresh(key, "hard" if refresh == "hard" else "normal")

    def _authenticate(self, headers: Mapping[str, str]) -> str:
        token = bearer_token(headers)
        if token is None:
            raise ArgoError(grpc_error(16, "no session information"))
        if token in self._expired:
            raise ArgoError(grpc_error(16, "invalid session: token has invalid claims: token is "
                                           "expired"))
        if token not in self.tokens:
            raise ArgoError(grpc_error(16, "invalid session: token signature is invalid: "
                                           "signature is invalid"))
        return self.tokens[token]

    def _check_faults(self, path: str, name: str) -> None:
        for fault in self._faults:
            if fault.remaining > 0 and (fault.path is None or fault.path in path):
                fault.remaining -= 1
                raise ArgoError(self._fault_reply(fault, name))

    def _fault_reply(self, fault: _Fault, name: str) -> Reply:
        if fault.status == 401:
            return grpc_error(16, fault.message or "invalid session: token has invalid claims: "
                                                   "token is expired")
        if fault.status == 403:
            return grpc_error(7, fault.message or "permission denied")
        if fault.status == 404:
            return _not_found(name).reply
        if fault.status in (500, 503):
            return grpc_error(GRPC_CODE[fault.status], fault.message or (
                "error getting application: etcdserver: request timed out"
                if fault.status == 500 else "connection error: desc = \"transport: Error while "
                "dialing: dial tcp: connect: connection refused\""))
        return Reply(fault.status, text=fault.message or f"{fault.status} from the front proxy\n")

    def _enforce(self, key: tuple[str, str], project: str) -> None:
        """getAppEnforceRBAC: 403 unless a project was named, then 404."""
        app = self.apps.get(key)
        denied = key in self._denied
        if app is None or denied:
            if project:
                raise _not_found(key[1])
            raise ArgoError(grpc_error(PERMISSION_DENIED, "permission denied"))
        effective = (app.get("spec") or {}).get("project") or "default"
        if project and effective != project:
            raise _not_found(key[1])

    def _refresh(self, key: tuple[str, str], kind: str) -> Reply:
        """Server.Get with refresh: annotate, then wait for the controller's next change."""
        app = self.apps[key]
        annotated = merge_patch(app, {"metadata": {"annotations": {REFRESH: kind}}})
        marked = self._store(key, annotated)
        since = int(marked["metadata"]["resourceVersion"])
        deadline = time.monotonic() + self.refresh_hang_limit
        if not self._stalled:
            if self.refresh_delay > 0:
                self._changed.wait(self.refresh_delay)
            if not self._stalled and int(self.apps[key]["metadata"]["resourceVersion"]) == since:
                line = self._timelines.get(key)
                state = {}
                if line is not None and line.per_get and line.pending:
                    state = line.pending.pop(0)
                    line.applied += 1
                self._controller_write(key, state)
        while True:
            current = self.apps[key]
            annotations = current["metadata"].get("annotations") or {}
            if int(current["metadata"]["resourceVersion"]) > since and REFRESH not in annotations:
                return Reply(200, copy.deepcopy(current))
            left = deadline - time.monotonic()
            if left <= 0:
                return Reply(504, text="upstream request timeout\n")
            self._changed.wait(left)

    # ------------------------------------------------------------------ the store

    def _apply_next(self, key: tuple[str, str], line: Timeline, at: float) -> dict[str, Any]:
        state = line.pending.pop(0)
        line.applied += 1
        return self._controller_write(key, state, at=at)

    def _controller_write(self, key: tuple[str, str], patch: dict[str, Any],
                          at: float | None = None) -> dict[str, Any]:
        """A controller's change: the patch, the refresh annotation gone, reconciledAt now."""
        old = self.apps.get(key) or {}
        new = merge_patch(old, patch)
        annotations = (new.get("metadata") or {}).get("annotations") or {}
        if REFRESH in annotations:
            del annotations[REFRESH]
            if not annotations:
                del new["metadata"]["annotations"]
            new.setdefault("status", {})["reconciledAt"] = now_rfc3339()
        return self._store(key, new, at=at)

    def _store(self, key: tuple[str, str], new: dict[str, Any],
               at: float | None = None) -> dict[str, Any]:
        namespace, name = key
        old = self.apps.get(key)
        base = (old or {}).get("metadata") or {}
        meta = new.setdefault("metadata", {})
        meta.update(name=name, namespace=namespace, uid=base.get("uid") or str(uuid.uuid4()),
                    creationTimestamp=base.get("creationTimestamp") or now_rfc3339())
        meta["resourceVersion"] = base.get("resourceVersion", "0")
        # the Application CRD has no status subresource: any change outside metadata counts
        generation = base.get("generation", 1)
        if old is not None and any(old.get(k) != new.get(k)
                                   for k in (set(old) | set(new)) - {"metadata"}):
            generation += 1
        meta["generation"] = generation
        if old is not None and new == old:
            return old
        meta["resourceVersion"] = str(next(self._revision))
        self.apps[key] = new
        self.changes.append(Change(key, meta["resourceVersion"],
                                   time.monotonic() if at is None else at, copy.deepcopy(new)))
        self._changed.notify_all()
        return new


# ---------------------------------------------------------------------- Application JSON


def app_status(revision: str, *, sync: str = "Synced", health: str = "Healthy",
               phase: str | None = "Succeeded", message: str | None = None,
               revisions: list[str] | None = None, health_message: str | None = None,
               conditions: list[dict[str, Any]] | None = None, repo_url: str = REPO_URL,
               path: str = "apps/model", deployed: list[str] | None = None) -> dict[str, Any]:
    """`{"status": ...}` as Argo CD reports it, to put() or merge in a timeline.

    revision: what status.sync.revision says (the revision the controller compared against);
    revisions: the multi-source form (status.sync.revisions) instead; phase: operationState's
    (Running, Succeeded, Failed, Error, Terminating; None: no operation yet); message: the
    operation's message (Argo CD's wording by default); deployed: the history's revisions,
    oldest first (default: [revision] once the operation succeeded, else [])."""
    now = now_rfc3339()
    source = {"repoURL": repo_url, "path": path, "targetRevision": "HEAD"}
    sync_status: dict[str, Any] = {"status": sync, "comparedTo": {
        "destination": {"server": "https://kubernetes.default.svc", "namespace": "models"}}}
    if revisions is not None:
        sync_status["revisions"] = list(revisions)
        sync_status["comparedTo"]["sources"] = [dict(source) for _ in revisions]
    else:
        sync_status["revision"] = revision
        sync_status["comparedTo"]["source"] = dict(source)
    health_status: dict[str, Any] = {"status": health, "lastTransitionTime": now}
    if health_message:
        health_status["message"] = health_message
    status: dict[str, Any] = {
        "sync": sync_status,
        "health": health_status,
        "reconciledAt": now,
        "sourceType": "Kustomize",
        "summary": {"images": ["registry.example/model-server:1"]},
        "controllerNamespace": NAMESPACE,
        "resources": [{"group": "apps", "version": "v1", "kind": "Deployment",
                       "namespace": "models", "name": "model", "status": sync,
                       "health": {"status": health}}],
    }
    if phase is not None:
        sync_op: dict[str, Any] = {"syncStrategy": {"hook": {}}}
        result: dict[str, Any] = {"resources": [{
            "group": "apps", "version": "v1", "kind": "Deployment", "namespace": "models",
            "name": "model", "status": "Synced" if phase != "Failed" else "SyncFailed",
            "message": "deployment.apps/model configured", "hookPhase": phase,
            "syncPhase": "Sync"}]}
        if revisions is not None:
            sync_op["revisions"] = list(revisions)
            result.update(revisions=list(revisions), sources=[dict(source) for _ in revisions])
        else:
            sync_op["revision"] = revision
            result.update(revision=revision, source=dict(source))
        default_message = {
            "Running": "one or more tasks are running",
            "Succeeded": SUCCEEDED,
            "Failed": "one or more objects failed to apply, reason: Deployment.apps \"model\" is "
                      "invalid: spec.template.spec.containers[0].image: Required value",
            "Error": "ComparisonError: Failed to load target state: failed to generate "
                     "manifest for source 1 of 1: rpc error: code = Unknown",
            "Terminating": "operation is terminating",
        }.get(phase, "")
        op: dict[str, Any] = {
            "operation": {"sync": sync_op, "initiatedBy": {"automated": True},
                          "retry": {"limit": 5}},
            "phase": phase, "message": message or default_message, "startedAt": now}
        if phase != "Running":
            op["finishedAt"] = now
            op["syncResult"] = result
        status["operationState"] = op
    if deployed is None:
        deployed = [revision] if phase == "Succeeded" else []
    status["history"] = [{"id": i, "revision": rev, "deployedAt": now, "deployStartedAt": now,
                          "source": dict(source), "initiatedBy": {"automated": True}}
                         for i, rev in enumerate(deployed)]
    if conditions:
        status["conditions"] = conditions
    return {"status": status}


def application(name: str, revision: str = "0" * 40, *, namespace: str = NAMESPACE,
                project: str = "default", **status: Any) -> dict[str, Any]:
    """A whole Application as GET /api/v1/applications/{name} returns it (app_status's
    keywords pass through)."""
    body = app_status(revision, **status)
    return {
        "metadata": {"name": name, "namespace": namespace,
                     "labels": {"app.kubernetes.io/instance": name}},
        "spec": {
            "project": project,
            "source": {"repoURL": status.get("repo_url", REPO_URL),
                       "path": status.get("path", "apps/model"), "targetRevision": "HEAD"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "models"},
            "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
        },
        **body,
    }


def condition(type_: str, message: str) -> dict[str, Any]:
    """An Application condition (SyncError, ComparisonError, InvalidSpecError,
    OrphanedResourceWarning, ...)."""
    return {"type": type_, "message": message, "lastTransitionTime": now_rfc3339()}


if pytest is not None:
    @pytest.fixture
    def argocd_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[ArgoCdStandIn]:
        """A started stand-in; loopback bypasses any proxy."""
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
        with ArgoCdStandIn() as server:
            yield server
