"""KServe's InferenceService controller in Serverless (Knative) mode, as far as `mlgate canary`
and `mlgate wait-sync` see it: the status an InferenceService reports while a config repo's
branch walks `spec.predictor.canaryTrafficPercent` through its steps.

Why: no cluster runs here, and the canary's correctness rests on what KServe does with each
commit: which revision takes which share, when the new one counts as ready, what a model that
cannot load looks like. The rules follow kserve/kserve: the ksvc traffic of
``reconcilers/knative/ksvc_reconciler.go`` (the latest revision takes P %, the last rolled-out
one, tagged ``prev``, the rest; no split before anything rolled out or when P is absent), the
roll-out bookkeeping of ``InferenceServiceStatus.PropagateStatus`` and the model states of
``PropagateModelStatus`` / ``UpdateModelRevisionStates`` in
``pkg/apis/serving/v1beta1/inference_service_status.go``; and Knative's: any change of the
revision template (here: the predictor without canaryTrafficPercent, the labels and annotations)
makes a new revision ``<name>-predictor-0000N``, and a ``latestRevision`` target serves the
latest *ready* revision, so a new one takes no traffic until it is ready.

A thread polls `head()` every `poll` seconds; `delay` seconds after the branch moved it applies
the InferenceService it finds in `read(sha, path)` (a YAML stream: a file from `git_show`, or an
overlay rendered by `kustomize`) to the Kubernetes API stand-in, then reconciles. A new revision
becomes ready `ready_delay` seconds later (None: only when `finish()` is called), or fails to
load if `fail_next()` armed it. `seen` is the last applied commit: hand `lambda: isvc.seen` to
argocd_controller.Controller so the Application reports a commit synced only after its spec is
in the API, as Argo CD does.

Not modelled: transformer/explainer components, Raw and ModelMesh modes, scale to zero, the
`serving.kserve.io/canary*` multi-predictor canaries, model copies.
"""

from __future__ import annotations

import copy
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from ._loopback import now_rfc3339
from .kube_api import KubeApiStandIn

KIND = "InferenceService"
TAG_ROUTING = "serving.kserve.io/enable-tag-routing"
NOT_TEMPLATE = ("kubectl.kubernetes.io/last-applied-configuration", TAG_ROUTING)


def git_show(bare: Path) -> Callable[[str, str], str]:
    """`read` for a file: `git show SHA:PATH` in the (bare) repository."""
    return lambda sha, path: subprocess.run(
        ["git", "-C", str(bare), "show", f"{sha}:{path}"], capture_output=True, text=True,
        check=True).stdout


def kustomize(bare: Path) -> Callable[[str, str], str]:
    """`read` for an overlay folder: `kubectl kustomize` of the tree at SHA, as Argo CD renders
    it (so an `images:` newTag reaches the predictor's container)."""
    def render(sha: str, folder: str) -> str:
        tar = subprocess.run(["git", "-C", str(bare), "archive", sha], capture_output=True,
                             check=True).stdout
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["tar", "-x", "-C", tmp], input=tar, check=True)
            return subprocess.run(["kubectl", "kustomize", str(Path(tmp, folder))],
                                  capture_output=True, text=True, check=True).stdout
    return render


def _condition(type_: str, status: str, reason: str = "", message: str = "") -> dict[str, Any]:
    """A knative apis.Condition (reason and message omitted when empty)."""
    cond = {"type": type_, "status": status, "reason": reason, "message": message}
    return {k: v for k, v in cond.items() if v}


def _per_revision(traffic: list[dict[str, Any]]) -> dict[str, int]:
    shares: Counter[str] = Counter()
    for target in traffic:
        shares[target["revisionName"]] += target["percent"]
    return dict(shares)


class KServeController:
    """One InferenceService, reconciled whenever the branch moves. A context manager."""

    def __init__(self, kube: KubeApiStandIn, head: Callable[[], str],
                 read: Callable[[str, str], str], *, path: str, namespace: str | None = None,
                 delay: float = 0.1, ready_delay: float | None = 0.3, poll: float = 0.05,
                 domain: str = "example.com", mode: str = "Serverless") -> None:
        self.kube, self.head, self.read, self.path = kube, head, read, path
        self.namespace, self.delay, self.ready_delay, self.poll = namespace, delay, ready_delay, poll
        self.domain, self.mode = domain, mode
        self.applied: list[tuple[str, int | None]] = []
        self.errors: list[tuple[str, str]] = []
        self.name = ""
        self._revisions: list[dict[str, Any]] = []  # {name, template, state, at}
        self._ksvc: dict[str, Any] = {}             # the Knative Service's spec
        self._ksvc_generation = 0
        self._rolled = {"latestRolledoutRevision": "", "previousRolledoutRevision": ""}
        self._conditions: dict[str, dict[str, Any]] = {}
        self._model: dict[str, Any] = {"states": {"activeModelState": ""}}
        self._failure: dict[str, Any] | None = None
        self._traffic: list[dict[str, Any]] = []
        self._lock = threading.RLock()
        self._stop = threading.Event()
        first = head()
        self.seen = ""
        self._apply(first)
        self.finish()  # the cluster already serves the branch's current state
        self._moved = (first, time.monotonic())
        self._thread = threading.Thread(target=self._run, name="kserve-controller", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ test side

    def fail_next(self, message: str = "model file not found", exit_code: int = 1) -> None:
        """The next revision does not load: KServe's FailedToLoad with ModelLoadFailed."""
        with self._lock:
            self._failure = {"reason": "ModelLoadFailed", "message": message,
                             "exitCode": exit_code}

    def finish(self) -> None:
        """The newest revision, if still loading, ends loading now: ready, or failed."""
        with self._lock:
            rev = self._revisions[-1] if self._revisions else None
            if rev is None or rev["state"] != "loading":
                return
            failure, self._failure = self._failure, None
            rev["state"] = "failed" if failure else "ready"
            if failure:  # what PropagateModelStatus reads off the failed container
                self._model["lastFailureInfo"] = failure
            self._reconcile()

    def split(self) -> dict[str, int]:
        """{revision: percent} that the InferenceService reports serving now."""
        obj = self.kube.get(KIND, self._ns(), self.name) or {}
        traffic = obj.get("status", {}).get("components", {}).get("predictor", {}).get("traffic")
        return _per_revision(traffic or [])

    @property
    def revisions(self) -> list[str]:
        return [r["name"] for r in self._revisions]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def __enter__(self) -> KServeController:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ the loop

    def _run(self) -> None:
        while not self._stop.wait(self.poll):
            now, head = time.monotonic(), self.head()
            if head != self._moved[0]:
                self._moved = (head, now)
            if head != self.seen and now - self._moved[1] >= self.delay:
                self._apply(head)
            rev = self._revisions[-1] if self._revisions else None
            if (self.ready_delay is not None and rev and rev["state"] == "loading"
                    and now - rev["at"] >= self.ready_delay):
                self.finish()

    def _ns(self) -> str:
        return self.namespace or "default"

    def _apply(self, sha: str) -> None:
        """What Argo CD's apply and then KServe's reconcile do with the commit's object."""
        try:
            docs = list(yaml.safe_load_all(self.read(sha, self.path)))
            manifest = next(d for d in docs if isinstance(d, dict) and d.get("kind") == KIND)
        except (subprocess.CalledProcessError, yaml.YAMLError, StopIteration) as exc:
            self.errors.append((sha, f"{type(exc).__name__}: {exc}"))
            self.seen = sha
            return
        with self._lock:
            meta = manifest.get("metadata") or {}
            self.name = meta["name"]
            self.namespace = self.namespace or meta.get("namespace")
            old = self.kube.get(KIND, self._ns(), self.name) or {}
            self._put({**manifest, **({"status": old["status"]} if "status" in old else {})})
            percent = (manifest.get("spec") or {}).get("predictor", {}).get(
                "canaryTrafficPercent")
            self.applied.append((sha, percent))
            self.seen = sha
            self._reconcile()

    # ------------------------------------------------------------------ KServe + Knative

    def _reconcile(self) -> None:
        """KServe's reconcile, repeated as its own status update requeues it, until the ksvc
        it wants stays the same (the roll-out bookkeeping feeds the next traffic)."""
        obj = self.kube.get(KIND, self._ns(), self.name)
        assert obj is not None
        meta, predictor = obj["metadata"], dict(obj["spec"]["predictor"])
        percent = predictor.pop("canaryTrafficPercent", None)
        annotations = meta.get("annotations") or {}
        template = {"predictor": predictor, "labels": meta.get("labels") or {},
                    "annotations": {k: v for k, v in annotations.items() if k not in NOT_TEMPLATE}}
        for _ in range(3):
            ksvc = {"template": template, "traffic": self._traffic_spec(percent, annotations)}
            if ksvc != self._ksvc:  # one ksvc update: its generation moves
                if ksvc["template"] != self._ksvc.get("template"):
                    name = f"{self.name}-predictor-{len(self._revisions) + 1:05d}"
                    self._revisions.append({"name": name, "template": copy.deepcopy(template),
                                            "state": "loading", "at": time.monotonic()})
                self._ksvc, self._ksvc_generation = ksvc, self._ksvc_generation + 1
            before = dict(self._rolled)
            self._propagate(self._route_traffic())
            if self._rolled == before:
                break
        self._put({**obj, "status": self._status()})

    def _put(self, obj: dict[str, Any]) -> None:
        """Write the whole object; the API server sets resourceVersion and generation."""
        meta = {k: v for k, v in (obj.get("metadata") or {}).items()
                if k not in ("resourceVersion", "generation")}
        self.kube.put(KIND, self._ns(), self.name, {**obj, "metadata": meta})

    def _traffic_spec(self, percent: int | None, annotations: dict[str, str]) -> list[dict]:
        """ksvc_reconciler: spec.traffic of the predictor's Knative Service."""
        rolled = self._rolled["latestRolledoutRevision"]
        latest: dict[str, Any] = {"latestRevision": True,
                                  "percent": 100 if percent is None or not rolled else percent}
        if annotations.get(TAG_ROUTING) == "true":
            latest["tag"] = "latest"
        if percent is None or not rolled or percent >= 100:
            return [latest]
        return [latest, {"revisionName": rolled, "latestRevision": False,
                         "percent": 100 - percent, "tag": "prev"}]

    def _latest_ready(self) -> str:
        return next((r["name"] for r in reversed(self._revisions) if r["state"] == "ready"), "")

    def _route_traffic(self) -> list[dict[str, Any]]:
        """Knative's Route status: a latestRevision target resolved to the latest ready
        revision, a tagged one given its URL; nothing before any revision is ready."""
        ready = self._latest_ready()
        if not ready:
            return []
        out = []
        for target in self._ksvc["traffic"]:
            resolved = {**target, "revisionName": target.get("revisionName") or ready}
            if "tag" in target:
                resolved["url"] = f"http://{target['tag']}-{self.name}-predictor." \
                                  f"{self._ns()}.{self.domain}"
            out.append(resolved)
        return out

    def _propagate(self, traffic: list[dict[str, Any]]) -> None:
        """PropagateStatus: a latest revision at 100 % becomes latestRolledoutRevision; the same
        revision holding all traffic under a split rolls back to previousRolledoutRevision."""
        ready, created = self._latest_ready(), self._revisions[-1]["name"]
        per_revision, rolled = _per_revision(traffic), self._rolled
        for target in traffic:
            if target["revisionName"] != ready or not target["latestRevision"]:
                continue
            if rolled["latestRolledoutRevision"] != ready:
                if target["percent"] == 100:
                    rolled["previousRolledoutRevision"] = rolled["latestRolledoutRevision"]
                    rolled["latestRolledoutRevision"] = ready
            elif (ready == created and target["percent"] < 100
                  and per_revision[ready] == 100 and rolled["previousRolledoutRevision"]):
                rolled["latestRolledoutRevision"] = rolled["previousRolledoutRevision"]
        self._traffic = traffic

    def _status(self) -> dict[str, Any]:
        latest = self._revisions[-1]
        ready = self._latest_ready()
        ksvc = f"{self.name}-predictor"
        if latest["state"] == "failed":
            config = _condition("PredictorConfigurationReady", "False", "RevisionFailed",
                                f'Revision "{latest["name"]}" failed with message: '
                                f'{self._model["lastFailureInfo"]["message"]}.')
        else:
            config = _condition("PredictorConfigurationReady",
                                "True" if latest["state"] == "ready" else "Unknown")
        route = _condition("PredictorRouteReady", "True") if ready else _condition(
            "PredictorRouteReady", "False" if latest["state"] == "failed" else "Unknown",
            "RevisionMissing", f'Configuration "{ksvc}" is waiting for a Revision to become '
            "ready.")
        worst = next((c for c in (config, route) if c["status"] == "False"), None) or next(
            (c for c in (config, route) if c["status"] == "Unknown"), route)
        predictor = {**worst, "type": "PredictorReady"}
        ingress = _condition("IngressReady", "True") if ready else _condition(  # once routable
            "IngressReady", predictor["status"], "Predictor ingress not created")
        top = next((c for c in (predictor, ingress) if c["status"] == "False"), None) or next(
            (c for c in (predictor, ingress) if c["status"] == "Unknown"), ingress)
        conditions = [config, route, predictor, ingress, {**top, "type": "Ready"},
                      {**config, "type": "LatestDeploymentReady"},
                      {**route, "type": "RoutesReady"}]
        for cond in conditions:
            old = self._conditions.get(cond["type"], {})
            same = {k: v for k, v in old.items() if k != "lastTransitionTime"} == cond
            cond["lastTransitionTime"] = old["lastTransitionTime"] if same else now_rfc3339()
            self._conditions[cond["type"]] = cond
        state = {"ready": "Loaded", "failed": "FailedToLoad"}.get(latest["state"], "Pending")
        self._model["states"]["targetModelState"] = state
        self._model["transitionStatus"] = {"Loaded": "UpToDate", "FailedToLoad":
                                           "BlockedByFailedLoad"}.get(state, "InProgress")
        if state == "Loaded":
            self._model["states"]["activeModelState"] = "Loaded"
        component: dict[str, Any] = {
            "latestCreatedRevision": latest["name"], "latestReadyRevision": ready,
            **self._rolled, "traffic": self._traffic}
        status: dict[str, Any] = {
            "observedGeneration": self._ksvc_generation,  # the ksvc's: PropagateStatus copies it
            "conditions": sorted(self._conditions.values(), key=lambda c: c["type"]),
            "components": {"predictor": component},
            "modelStatus": copy.deepcopy(self._model), "deploymentMode": self.mode}
        if ready:  # the URLs appear with the first ready revision and stay
            component["url"] = f"http://{ksvc}.{self._ns()}.{self.domain}"
            component["address"] = {"url": f"http://{ksvc}.{self._ns()}.svc.cluster.local"}
            status["url"] = f"http://{self.name}.{self._ns()}.{self.domain}"
            status["address"] = {"url": f"http://{self.name}.{self._ns()}.svc.cluster.local"}
        status["components"]["predictor"] = {k: v for k, v in component.items() if v}
        return status
