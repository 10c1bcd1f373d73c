"""A Kubernetes API server on 127.0.0.1 for the objects `mlgate wait-sync` reads, driven through
the real `kubernetes` client (a kubeconfig from `write_kubeconfig` points it here).

Why a stand-in: no cluster can run here. It follows the API server's documented behaviour for
the requests the client makes for these objects — paths, `Status` error bodies, resourceVersion
and generation rules, merge patch — so that what works against it works against a cluster.

Served (namespaced objects only, as the client's CustomObjectsApi and AppsV1Api call them):

    GET    /apis/{group}/{version}/namespaces/{ns}/{plural}             (list)
    GET    /apis/{group}/{version}/namespaces/{ns}/{plural}/{name}      (get)
    PATCH  /apis/{group}/{version}/namespaces/{ns}/{plural}/{name}      (patch)
    GET    .../{name}/status   PATCH .../{name}/status                  (the status subresource)

for the resources in RESOURCES: Argo CD Application (argoproj.io/v1alpha1, no status
subresource: its CRD has `subresources: {}`), Argo Rollout, Flux Kustomization
(kustomize.toolkit.fluxcd.io/v1), HelmRelease (helm.toolkit.fluxcd.io/v2), GitRepository
(source.toolkit.fluxcd.io/v1), KServe InferenceService (serving.kserve.io/v1beta1), Flagger
Canary (flagger.app/v1beta1) and Deployment (apps/v1). `register()` adds others.

What the API server does and this does too:
- Authentication: `Authorization: Bearer TOKEN`; an unknown or revoked token answers 401
  `Status` reason Unauthorized, message "Unauthorized". No token at all is the anonymous user
  `system:anonymous` (anonymous auth is on by default), whom RBAC then refuses (403).
- Order of the filters: authentication (401), then flow control (429), then authorization (403),
  then the handler (404, 409, 415, 422).
- 403: `Status` reason Forbidden, message `<plural>.<group> "<name>" is forbidden: User "<user>"
  cannot <verb> resource "<plural>[/status]" in API group "<group>" in the namespace "<ns>"`,
  details {name, group, kind: plural}.
- 404 for an object: `<plural>.<group> "<name>" not found`, reason NotFound, details {name,
  group, kind}; for a path no resource serves (a CRD not installed): "the server could not find
  the requested resource", details {}.
- 429 from API Priority and Fairness / max-in-flight: a *plain-text* body "Too many requests,
  please try again later." with `Retry-After: 1` (k8s.io/apiserver filters/maxinflight.go);
  `fail_next(429, status_body=True)` answers the `Status` form instead (reason TooManyRequests,
  details.retryAfterSeconds), as errors.NewTooManyRequests does.
- metadata.resourceVersion: one counter for the whole store (etcd's revision), bumped on every
  change and not on a no-op write. metadata.generation: bumped when anything outside metadata
  (and outside status, for a resource with the status subresource) changes; an annotation
  patch does not bump it. With the status subresource, writes to the object ignore `status`
  and writes to `/status` change only `status`.
- PATCH: `application/merge-patch+json` (RFC 7386, the client's default for custom objects),
  `application/json-patch+json` (RFC 6902: add, remove, replace, test); a strategic merge
  patch on a custom resource answers 415 UnsupportedMediaType (built-in Deployments accept it,
  applied here as a merge patch). metadata.resourceVersion in a patch is a precondition: a stale
  one answers 409 Conflict "the object has been modified; please apply your changes to the
  latest version and try again". `dryRun=All` answers without storing.

Test knobs: `put` / `update` / `delete` objects (`update` is a controller's write: status too),
`timeline` (states applied one per GET, one per `advance()`, or one every N seconds),
`on_patch` (a controller reacting to a client's patch, e.g. `flux_handles_reconcile_request`),
`fail_next(code)`, `revoke()` a token, `forbid()` a verb on a resource; every request is in
`log` (`count(path)`, `requests_per_path()`, `max_in_window(path, seconds)`), every change in
`changes` with its time.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ._loopback import (
    LoopbackServer,
    Reply,
    Timeline,
    bearer_token,
    header,
    merge_patch,
    now_rfc3339,
)

try:  # only the fixture below needs pytest; a bench imports this module without it
    import pytest
except ImportError:
    pytest = None  # type: ignore[assignment]

TOKEN = "standin-kube-token-0000000000000001"
USER = "system:serviceaccount:mlgate:wait-sync"
ANONYMOUS = "system:anonymous"
REQUESTED_AT = "reconcile.fluxcd.io/requestedAt"
TOO_MANY = "Too many requests, please try again later."
CONFLICT = "the object has been modified; please apply your changes to the latest version and " \
           "try again"
MEDIA_TYPES = "application/json-patch+json, application/merge-patch+json, " \
              "application/apply-patch+yaml"


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    kind: str
    status_subresource: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """`applications.argoproj.io`: how the API server names the resource in messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def path(self, namespace: str, name: str | None = None) -> str:
        root = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        base = f"{root}/namespaces/{namespace}/{self.plural}"
        return base if name is None else f"{base}/{name}"


RESOURCES: dict[str, Resource] = {r.kind.lower(): r for r in (
    Resource("argoproj.io", "v1alpha1", "applications", "Application", status_subresource=False),
    Resource("argoproj.io", "v1alpha1", "rollouts", "Rollout"),
    Resource("kustomize.toolkit.fluxcd.io", "v1", "kustomizations", "Kustomization"),
    Resource("helm.toolkit.fluxcd.io", "v2", "helmreleases", "HelmRelease"),
    Resource("source.toolkit.fluxcd.io", "v1", "gitrepositories", "GitRepository"),
    Resource("serving.kserve.io", "v1beta1", "inferenceservices", "InferenceService"),
    Resource("flagger.app", "v1beta1", "canaries", "Canary"),
    Resource("apps", "v1", "deployments", "Deployment"),
)}

Key = tuple[Resource, str, str]  # (resource, namespace, name)


def status_body(code: int, reason: str, message: str,
                details: dict[str, Any] | None = None) -> dict[str, Any]:
    """A metav1.Status failure, as the API server writes it."""
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {},
                            "status": "Failure", "message": message, "reason": reason}
    if details is not None:
        body["details"] = details
    body["code"] = code
    return body


class KubeError(Exception):
    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


def _status_error(code: int, reason: str, message: str, details: dict[str, Any] | None = None,
                  headers: dict[str, str] | None = None) -> KubeError:
    return KubeError(Reply(code, status_body(code, reason, message, details), headers or {}))


@dataclass(frozen=True)
class Change:
    """One stored change: which object, its new resourceVersion, when (time.monotonic())."""

    key: Key
    resource_version: str
    at: float
    object: dict[str, Any]


@dataclass
class _Fault:
    status: int
    remaining: int
    method: str | None
    path: str | None
    message: str | None
    retry_after: str
    status_body: bool


@dataclass(frozen=True)
class _Route:
    resource: Resource
    namespace: str
    name: str | None
    subresource: str | None

    @property
    def key(self) -> Key:
        assert self.name is not None
        return (self.resource, self.namespace, self.name)


class KubeApiStandIn(LoopbackServer):
    """The server: a context manager that starts it on 127.0.0.1 (a free port) and stops it.

    tokens: bearer token -> user name (default {TOKEN: USER}).
    """

    thread_name = "kube-standin"

    def __init__(self, *, tokens: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self.tokens = dict({TOKEN: USER} if tokens is None else tokens)
        self.resources: dict[str, Resource] = dict(RESOURCES)
        self.objects: dict[Key, dict[str, Any]] = {}
        self.changes: list[Change] = []
        self._revision = itertools.count(1000)
        self._timelines: dict[Key, Timeline] = {}
        self._faults: list[_Fault] = []
        self._revoked: set[str] = set()
        self._denied: list[tuple[str | None, Resource | None, str | None, str | None]] = []
        self._on_patch: dict[Key, Callable[[dict[str, Any]], dict[str, Any] | None]] = {}

    # ------------------------------------------------------------------ objects (test side)

    def resource(self, kind: str | Resource) -> Resource:
        """A resource by kind ("Kustomization", "kustomization") or plural ("kustomizations")."""
        if isinstance(kind, Resource):
            return kind
        found = self.resources.get(kind.lower()) or next(
            (r for r in self.resources.values() if r.plural == kind.lower()), None)
        if found is None:
            raise KeyError(f"unknown kind {kind!r}; register() it first")
        return found

    def register(self, resource: Resource) -> Resource:
        with self._lock:
            self.resources[resource.kind.lower()] = resource
        return resource

    def path(self, kind: str | Resource, namespace: str, name: str | None = None,
             subresource: str | None = None) -> str:
        """The URL path the client requests for an object (what `count` takes)."""
        path = self.resource(kind).path(namespace, name)
        return f"{path}/{subresource}" if subresource else path

    def put(self, kind: str | Resource, namespace: str, name: str,
            obj: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Create or replace an object (a controller's or kubectl's write: everything counts,
        status included). apiVersion, kind, metadata.name/namespace/uid/creationTimestamp are
        filled in; generation starts at 1 and moves by the generation rule after that."""
        resource = self.resource(kind)
        key = (resource, namespace, name)
        with self._lock:
            new = copy.deepcopy(dict(obj or {}))
            return copy.deepcopy(self._store(key, new, mode="controller",
                                             explicit=new.get("metadata") or {}))

    def update(self, kind: str | Resource, namespace: str, name: str,
               patch: Mapping[str, Any]) -> dict[str, Any]:
        """Merge-patch an object as its controller would (status included)."""
        key = (self.resource(kind), namespace, name)
        with self._lock:
            old = self.objects.get(key)
            if old is None:
                raise KeyError(f"{key[0].qualified} {namespace}/{name} does not exist")
            return copy.deepcopy(self._store(key, merge_patch(old, dict(patch)),
                                             mode="controller"))

    def get(self, kind: str | Resource, namespace: str, name: str) -> dict[str, Any] | None:
        """The stored object (a copy), or None."""
        with self._lock:
            found = self.objects.get((self.resource(kind), namespace, name))
            return copy.deepcopy(found)

    def delete(self, kind: str | Resource, namespace: str, name: str) -> None:
        with self._lock:
            self.objects.pop((self.resource(kind), namespace, name), None)

    def timeline(self, kind: str | Resource, namespace: str, name: str,
                 states: list[Mapping[str, Any]], *, advance: str | float = "get") -> None:
        """A scripted series of states, each merge-patched onto the object as its controller's
        write (so an annotation a client set stays unless a state removes it).

        advance="get": the k-th GET of the object (after this call) sees states[k-1]; the last
        state stays. "manual": states[0] now, the next one at each `advance()`. A number N:
        states[0] now, then one every N seconds (applied, at its scheduled time, when the next
        request comes or `advance_due()` is called; `changes` records that time)."""
        key = (self.resource(kind), namespace, name)
        with self._lock:
            line = Timeline.scripted(states, advance)
            self._timelines[key] = line
            if not line.per_get:
                self._apply_next(key, line, time.monotonic())

    def advance(self, kind: str | Resource, namespace: str, name: str) -> dict[str, Any] | None:
        """Apply the object's next timeline state now; returns the object (None: no state
        left)."""
        key = (self.resource(kind), namespace, name)
        with self._lock:
            line = self._timelines.get(key)
            if line is None or not line.pending:
                return None
            return copy.deepcopy(self._apply_next(key, line, time.monotonic()))

    def advance_due(self) -> None:
        """Apply every timed state whose time has come (requests do this too)."""
        with self._lock:
            now = time.monotonic()
            for key, line in self._timelines.items():
                while (at := line.next_due(now)) is not None:
                    self._apply_next(key, line, at)

    def on_patch(self, kind: str | Resource, namespace: str, name: str,
                 react: Callable[[dict[str, Any]], dict[str, Any] | None]) -> None:
        """After each client PATCH of the object, `react(object)` returns a merge patch that its
        controller then writes (or None): Flux handling a reconcile request, say."""
        with self._lock:
            self._on_patch[(self.resource(kind), namespace, name)] = react

    # ------------------------------------------------------------------ faults

    def fail_next(self, status: int = 500, count: int = 1, *, method: str | None = None,
                  path: str | None = None, message: str | None = None, retry_after: int = 1,
                  status_body: bool = False) -> None:
        """The next `count` matching requests (path: a substring) answer `status` with the API
        server's body for it, without doing anything: 401, 403 (the RBAC wording for the
        request), 404 (the object's NotFound), 409, 429 (plain text and Retry-After, or the
        Status form with status_body=True), 500/503 (Status InternalError /
        ServiceUnavailable), 502/504 (a front proxy's plain text)."""
        with self._lock:
            self._faults.append(_Fault(status, count, method, path, message, str(retry_after),
                                       status_body))

    def throttle(self, count: int = 1, *, retry_after: int = 1, path: str | None = None) -> None:
        """API Priority and Fairness rejects the next `count` requests: 429 + Retry-After."""
        self.fail_next(429, count, path=path, retry_after=retry_after)

    def revoke(self, token: str | None = None) -> None:
        """The token (default: every token) is no longer valid: 401 Unauthorized."""
        with self._lock:
            self._revoked |= {token} if token else set(self.tokens)

    def forbid(self, verb: str | None = None, kind: str | Resource | None = None,
               namespace: str | None = None, subresource: str | None = None) -> None:
        """RBAC refuses `verb` (get, list, patch; None: all) on the resource (None: all) in the
        namespace (None: all), for every user."""
        resource = None if kind is None else self.resource(kind)
        with self._lock:
            self._denied.append((verb, resource, namespace, subresource))

    # ------------------------------------------------------------------ observation

    def count_object(self, kind: str | Resource, namespace: str, name: str,
                     method: str | None = "GET", subresource: str | None = None) -> int:
        return self.count(self.path(kind, namespace, name, subresource), method)

    def changes_of(self, kind: str | Resource, namespace: str, name: str) -> list[Change]:
        key = (self.resource(kind), namespace, name)
        with self._lock:
            return [c for c in self.changes if c.key == key]

    def write_kubeconfig(self, path: Path, *, token: str | None = TOKEN,
                         namespace: str = "default", context: str = "standin") -> Path:
        """A kubeconfig whose current context points at this server with a bearer token user:
        `kubernetes.config.load_kube_config(config_file=str(path))` loads it."""
        user: dict[str, Any] = {"token": token} if token is not None else {}
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": {"server": self.url}}],
            "users": [{"name": f"{context}-user", "user": user}],
            "contexts": [{"name": context, "context": {"cluster": context, "namespace": namespace,
                                                       "user": f"{context}-user"}}],
            "current-context": context,
            "preferences": {},
        }
        path.write_text(json.dumps(config, indent=2) + "\n")  # JSON is YAML
        return path

    # ------------------------------------------------------------------ dispatch

    def dispatch(self, method: str, target: str, headers: Mapping[str, str],
                 raw: bytes) -> Reply:
        at = time.monotonic()
        split = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        with self._lock:
            try:
                reply = self._answer(method, split.path, query, headers, raw)
            except KubeError as exc:
                reply = exc.reply
            self.record(method, split.path, query, reply.status, at)
            return reply

    def _answer(self, method: str, path: str, query: dict[str, str],
                headers: Mapping[str, str], raw: bytes) -> Reply:
        self.advance_due()
        user = self._authenticate(headers)
        route = self._route(path)
        verb = _verb(method, route)
        self._check_faults(method, path, route, user, verb)
        self._authorize(user, verb, route)
        if method == "GET" and route.name is None:
            return self._list(route)
        if method == "GET":
            return self._get(route)
        return self._patch(route, query, headers, raw)

    def _authenticate(self, headers: Mapping[str, str]) -> str:
        token = bearer_token(headers)
        if token is None and not header(headers, "Authorization"):
            return ANONYMOUS
        if token is None or token not in self.tokens or token in self._revoked:
            raise _status_error(401, "Unauthorized", "Unauthorized")
        return self.tokens[token]

    def _route(self, path: str) -> _Route:
        match = re.fullmatch(r"/apis/([^/]+)/([^/]+)/namespaces/([^/]+)/([^/]+)"
                             r"(?:/([^/]+)(?:/([^/]+))?)?", path) \
            or re.fullmatch(r"/api/()([^/]+)/namespaces/([^/]+)/([^/]+)"
                            r"(?:/([^/]+)(?:/([^/]+))?)?", path)
        resource = None
        if match:
            group, version, _, plural = match.group(1, 2, 3, 4)
            resource = next((r for r in self.resources.values() if r.group == group
                             and r.version == version and r.plural == plural), None)
        sub = match.group(6) if match else None
        if resource is None or sub not in (None, "status") or (
                sub == "status" and not resource.status_subresource):
            raise _status_error(404, "NotFound", "the server could not find the requested "
                                "resource", {})
        assert match is not None
        return _Route(resource, match.group(3), match.group(5), sub)

    def _check_faults(self, method: str, path: str, route: _Route, user: str,
                      verb: str) -> None:
        for fault in self._faults:
            if fault.remaining > 0 and (fault.method in (None, method)) and (
                    fault.path is None or fault.path in path):
                fault.remaining -= 1
                raise self._fault_error(fault, route, user, verb)

    def _fault_error(self, fault: _Fault, route: _Route, user: str, verb: str) -> KubeError:
        code = fault.status
        if code == 401:
            return _status_error(401, "Unauthorized", fault.message or "Unauthorized")
        if code == 403:
            return _forbidden(user, verb, route)
        if code == 404:
            return _not_found(route)
        if code == 409:
            return _conflict(route)
        if code == 429:
            if fault.status_body:
                return _status_error(429, "TooManyRequests", fault.message or TOO_MANY,
                                     {"retryAfterSeconds": int(fault.retry_after)},
                                     {"Retry-After": fault.retry_after})
            return KubeError(Reply(429, text=(fault.message or TOO_MANY) + "\n",
                                   headers={"Retry-After": fault.retry_after,
                                            "X-Content-Type-Options": "nosniff"}))
        if code == 503:
            return _status_error(503, "ServiceUnavailable",
                                 fault.message or "the server is currently unable to handle "
                                 "the request", {})
        if code in (502, 504):
            return KubeError(Reply(code, text=fault.message or f"{code} from the front proxy\n"))
        message = fault.message or "etcdserver: request timed out"
        return _status_error(code, "InternalError", f"Internal error occurred: {message}",
                             {"causes": [{"message": message}]})

    def _authorize(self, user: str, verb: str, route: _Route) -> None:
        for denied_verb, resource, namespace, subresource in self._denied:
            if (denied_verb in (None, verb) and resource in (None, route.resource)
                    and namespace in (None, route.namespace)
                    and subresource in (None, route.subresource)):
                raise _forbidden(user, verb, route)
        if user == ANONYMOUS:
            raise _forbidden(user, verb, route)

    # ------------------------------------------------------------------ handlers

    def _list(self, route: _Route) -> Reply:
        items = [copy.deepcopy(obj) for (res, ns, _), obj in sorted(
            self.objects.items(), key=lambda kv: kv[0][2])
            if res == route.resource and ns == route.namespace]
        return Reply(200, {"apiVersion": route.resource.api_version,
                           "kind": f"{route.resource.kind}List", "items": items,
                           "metadata": {"resourceVersion": self._current_revision()}})

    def _get(self, route: _Route) -> Reply:
        line = self._timelines.get(route.key)
        if line is not None and line.per_get and line.pending:
            self._apply_next(route.key, line, time.monotonic())
        obj = self.objects.get(route.key)
        if obj is None:
            raise _not_found(route)
        return Reply(200, copy.deepcopy(obj))

    def _patch(self, route: _Route, query: dict[str, str], headers: Mapping[str, str],
               raw: bytes) -> Reply:
        content_type = header(headers, "Content-Type").split(";")[0].strip().lower()
        custom = route.resource.group != "apps"
        if content_type == "application/strategic-merge-patch+json" and custom or \
                content_type not in ("application/merge-patch+json",
                                     "application/json-patch+json",
                                     "application/strategic-merge-patch+json"):
            raise _status_error(415, "UnsupportedMediaType",
                                f"the body of the request was in an unknown format - accepted "
                                f"media types include: {MEDIA_TYPES}", {})
        try:
            patch = json.loads(raw or b"null")
        except ValueError as exc:
            raise _status_error(400, "BadRequest", f"error decoding patch: {exc}", {}) from exc
        old = self.objects.get(route.key)
        if old is None:
            raise _not_found(route)
        if content_type == "application/json-patch+json":
            new = _json_patch(old, patch, route)
        else:
            if not isinstance(patch, dict):
                raise _status_error(400, "BadRequest", "error decoding patch: the patch is "
                                    "not a JSON object", {})
            new = merge_patch(old, patch)
        wanted = (new.get("metadata") or {}).get("resourceVersion")
        if wanted is not None and wanted != old["metadata"]["resourceVersion"]:
            raise _conflict(route)
        mode = "status" if route.subresource == "status" else "client"
        if query.get("dryRun") == "All":
            return Reply(200, self._merged(route.key, old, new, mode))
        stored = self._store(route.key, new, mode=mode)
        react = self._on_patch.get(route.key)
        if react is not None:
            reaction = react(copy.deepcopy(stored))
            if reaction:
                self._store(route.key, merge_patch(stored, reaction), mode="controller")
        return Reply(200, copy.deepcopy(stored))

    # ------------------------------------------------------------------ the store

    def _apply_next(self, key: Key, line: Timeline, at: float) -> dict[str, Any]:
        state = line.pending.pop(0)
        line.applied += 1
        old = self.objects.get(key)
        return self._store(key, merge_patch(old or {}, state), mode="controller", at=at,
                           explicit=state.get("metadata") or {})

    def _merged(self, key: Key, old: dict[str, Any] | None, new: dict[str, Any],
                mode: str) -> dict[str, Any]:
        """What the API server keeps of a write: the subresource rules and server-set fields."""
        resource, namespace, name = key
        if old is not None and resource.status_subresource and mode == "client":
            new = {**new, "status": old.get("status")} if "status" in old else \
                {k: v for k, v in new.items() if k != "status"}
        if old is not None and mode == "status":
            new = {**copy.deepcopy(old), "status": new.get("status")}
            if new["status"] is None:
                del new["status"]
        meta = dict(new.get("metadata") or {})
        base = (old or {}).get("metadata") or {}
        meta.update(name=name, namespace=namespace,
                    uid=base.get("uid") or str(uuid.uuid4()),
                    creationTimestamp=base.get("creationTimestamp") or now_rfc3339())
        meta["resourceVersion"] = base.get("resourceVersion", "0")
        meta["generation"] = base.get("generation", 1)
        for blank in ("annotations", "labels"):
            if blank in meta and not meta[blank]:
                del meta[blank]
        merged = {"apiVersion": resource.api_version, "kind": resource.kind,
                  **{k: v for k, v in new.items() if k not in ("apiVersion", "kind")},
                  "metadata": meta}
        if old is not None and _spec_changed(resource, old, merged):
            meta["generation"] = base.get("generation", 1) + 1
        return merged

    def _store(self, key: Key, new: dict[str, Any], *, mode: str, at: float | None = None,
               explicit: Mapping[str, Any] | None = None) -> dict[str, Any]:
        old = self.objects.get(key)
        merged = self._merged(key, old, new, mode)
        for field_name in ("generation", "resourceVersion"):
            if explicit and field_name in explicit:
                merged["metadata"][field_name] = explicit[field_name]
        if old is not None and merged == old:
            return old
        if not (explicit and "resourceVersion" in explicit):
            merged["metadata"]["resourceVersion"] = str(next(self._revision))
        self.objects[key] = merged
        self.changes.append(Change(key, merged["metadata"]["resourceVersion"],
                                   time.monotonic() if at is None else at,
                                   copy.deepcopy(merged)))
        return merged

    def _current_revision(self) -> str:
        return self.changes[-1].resource_version if self.changes else "1000"


# ---------------------------------------------------------------------- errors and helpers


def _verb(method: str, route: _Route) -> str:
    if method == "GET":
        return "list" if route.name is None else "get"
    if method == "PATCH" and route.name is not None:
        return "patch"
    raise _status_error(405, "MethodNotAllowed", "the server does not allow this method on "
                        "the requested resource", {})


def _details(route: _Route) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if route.name is not None:
        details["name"] = route.name
    if route.resource.group:
        details["group"] = route.resource.group
    details["kind"] = route.resource.plural
    return details


def _forbidden(user: str, verb: str, route: _Route) -> KubeError:
    plural = route.resource.plural + (f"/{route.subresource}" if route.subresource else "")
    subject = route.resource.qualified + (f' "{route.name}"' if route.name else "")
    message = (f'{subject} is forbidden: User "{user}" cannot {verb} resource "{plural}" in API '
               f'group "{route.resource.group}" in the namespace "{route.namespace}"')
    return _status_error(403, "Forbidden", message, _details(route))


def _not_found(route: _Route) -> KubeError:
    return _status_error(404, "NotFound", f'{route.resource.qualified} "{route.name}" not found',
                         _details(route))


def _conflict(route: _Route) -> KubeError:
    return _status_error(409, "Conflict", f'Operation cannot be fulfilled on '
                         f'{route.resource.qualified} "{route.name}": {CONFLICT}',
                         _details(route))


def _spec_changed(resource: Resource, old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """The generation rule: anything but metadata (and status, with the status subresource)."""
    skip = {"metadata", "status"} if resource.status_subresource else {"metadata"}
    keys = (set(old) | set(new)) - skip
    return any(old.get(k) != new.get(k) for k in keys)


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ValueError(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _json_patch(doc: dict[str, Any], ops: Any, route: _Route) -> dict[str, Any]:
    """RFC 6902 add / remove / replace / test on a copy of `doc`."""
    result = copy.deepcopy(doc)
    try:
        if not isinstance(ops, list):
            raise ValueError("a JSON patch is a list of operations")
        for op in ops:
            parts = _pointer(op["path"])
            parent: Any = result
            for part in parts[:-1]:
                parent = parent[int(part)] if isinstance(parent, list) else parent[part]
            last = parts[-1] if parts else None
            if last is None:
                raise ValueError("the whole document cannot be patched")
            kind = op["op"]
            if kind == "test":
                current = parent[int(last)] if isinstance(parent, list) else parent[last]
                if current != op["value"]:
                    raise ValueError(f"testing value {op['path']} failed")
            elif kind == "remove":
                del parent[int(last) if isinstance(parent, list) else last]
            elif kind in ("add", "replace"):
                if isinstance(parent, list):
                    index = len(parent) if last == "-" else int(last)
                    if kind == "add":
                        parent.insert(index, copy.deepcopy(op["value"]))
                    else:
                        parent[index] = copy.deepcopy(op["value"])
                else:
                    if kind == "replace" and last not in parent:
                        raise ValueError(f"replace operation does not apply: doc is missing key: "
                                         f"{op['path']}")
                    parent[last] = copy.deepcopy(op["value"])
            else:
                raise ValueError(f"unknown operation {kind!r}")
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise _status_error(422, "Invalid", f'{route.resource.qualified} "{route.name}" is '
                            f'invalid: the JSON patch could not be applied: {exc}',
                            _details(route)) from exc
    return result


# ---------------------------------------------------------------------- objects for tests


def condition(type_: str, status: str, reason: str, message: str = "", *,
              observed_generation: int | None = None,
              last_transition_time: str | None = None) -> dict[str, Any]:
    """A metav1.Condition (Flux, KServe use this shape; Flux always sets observedGeneration)."""
    cond: dict[str, Any] = {"type": type_, "status": status, "reason": reason,
                            "message": message,
                            "lastTransitionTime": last_transition_time or now_rfc3339()}
    if observed_generation is not None:
        cond["observedGeneration"] = observed_generation
    return cond


def deployment(name: str, *, replicas: int = 1, image: str = "registry.example/model:1",
               labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A Deployment object that the typed client (V1Deployment) accepts: selector, template."""
    match = dict(labels or {"app": name})
    return {
        "metadata": {"name": name, "labels": dict(match)},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": match},
            "strategy": {"type": "RollingUpdate",
                         "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "progressDeadlineSeconds": 600,
            "revisionHistoryLimit": 10,
            "template": {"metadata": {"labels": dict(match)},
                         "spec": {"containers": [{"name": name, "image": image}]}},
        },
    }


def flux_handles_reconcile_request(obj: dict[str, Any]) -> dict[str, Any] | None:
    """What a Flux controller writes once it handled `flux reconcile`'s annotation:
    status.lastHandledReconcileAt = the requestedAt value (fluxcd/pkg/apis/meta)."""
    requested = ((obj.get("metadata") or {}).get("annotations") or {}).get(REQUESTED_AT)
    if requested is None:
        return None
    return {"status": {"lastHandledReconcileAt": requested}}


if pytest is not None:
    @pytest.fixture
    def kube_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[KubeApiStandIn]:
        """A started stand-in; loopback bypasses any proxy."""
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
        with KubeApiStandIn() as server:
            yield server
