"""Is this revision applied and healthy? One pure rule per kind of resource, over the JSON object
the controller reports (no I/O: the caller fetches the object and applies the timeouts).

Each rule returns an Observation: ``ready``, ``progressing`` (keep waiting) or ``failed`` (stop
now). The closed loop fails safe: a field that is missing, of the wrong type or of a value not
named here is read as progressing, never as ready. The controllers' sources the rules follow:

- Argo CD Application: argoproj/argo-cd ``pkg/apis/application/v1alpha1/types.go`` (SyncStatus,
  OperationState, SyncOperationResult, ApplicationCondition.IsError: a type ending in "Error")
  and gitops-engine (operation phases Running/Terminating/Failed/Error/Succeeded; health
  Healthy/Progressing/Degraded/Suspended/Missing/Unknown).
- Flux: fluxcd/kustomize-controller ``internal/controller/kustomization_controller.go``,
  fluxcd/helm-controller ``api/v2`` and ``internal/reconcile/release.go`` (summarize),
  fluxcd/source-controller ``api/v1``, fluxcd/pkg ``apis/meta/conditions.go`` (Ready, Stalled,
  Reconciling and the reasons) and ``runtime/conditions/check`` (the generation rules).
- Deployment: kubernetes/kubectl ``pkg/polymorphichelpers/rollout_status.go``
  (DeploymentStatusViewer), with its messages.
- InferenceService: kserve/kserve ``pkg/apis/serving/v1beta1/inference_service_status.go``.
- Rollout: argoproj/argo-rollouts ``utils/rollout/rolloututil.go`` (GetRolloutPhase).
- Canary: fluxcd/flagger ``pkg/apis/flagger/v1beta1/status.go`` and ``pkg/canary/status.go``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from mlgate.cluster.revision import parse_revision, revision_matches

State = Literal["ready", "progressing", "failed"]
IsDescendant = Callable[[str, str], bool]
MESSAGE_LIMIT = 300

READY: State = "ready"
PROGRESSING: State = "progressing"
FAILED: State = "failed"


@dataclass(frozen=True)
class Observation:
    resource: str            # e.g. "Application argocd/churn-staging"
    state: State
    revision: str | None     # what the controller reports as applied (its own text)
    message: str             # one line, at most MESSAGE_LIMIT characters, the controller's words
    degraded: bool = False   # Argo CD health Degraded on this revision (the caller's grace)
    paused: bool = False     # waiting on a person (Rollout paused, Canary awaiting approval)


# -- reading untrusted JSON ------------------------------------------------------------------

def _map(value: Any) -> Mapping:
    return value if isinstance(value, Mapping) else {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _condition(status: Mapping, kind: str) -> Mapping:
    conditions = status.get("conditions")
    for item in conditions if isinstance(conditions, list) else ():
        if isinstance(item, Mapping) and item.get("type") == kind:
            return item
    return {}


def _is_true(condition: Mapping) -> bool:
    return condition.get("status") == "True"


def _line(*parts: Any) -> str:
    """The given texts joined on one line, whitespace collapsed, bounded."""
    text = "; ".join(" ".join(p.split()) for p in parts if isinstance(p, str) and p.strip())
    if len(text) > MESSAGE_LIMIT:
        text = text[:MESSAGE_LIMIT - 1] + "\u2026"
    return text


def _q(text: str) -> str:
    """Go's %q for the names kubectl quotes."""
    return json.dumps(text, ensure_ascii=False)


def _resource(kind: str, obj: Mapping) -> str:
    meta = _map(obj.get("metadata"))
    name = _str(meta.get("name")) or "?"
    namespace = _str(meta.get("namespace"))
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


def _generation(obj: Mapping) -> int | None:
    """metadata.generation; the API server sets it from 1 on, so None (unreadable) otherwise."""
    gen = _int(_map(obj.get("metadata")).get("generation"))
    return gen if gen is not None and gen > 0 else None


def _matches(reported: Any, want: str, is_descendant: IsDescendant) -> bool:
    return isinstance(reported, str) and revision_matches(reported, want, is_descendant)


def _all_match(revisions: list, want: str, is_descendant: IsDescendant) -> bool:
    """Multi-source: every source that reports a commit holds `want` (or a descendant); the
    chart versions and OCI digests of other sources are no commit and are not compared; at
    least one source must be a commit."""
    if not all(isinstance(r, str) for r in revisions):
        return False
    commits = [r for r in revisions if parse_revision(r).sha is not None]
    return bool(commits) and all(_matches(r, want, is_descendant) for r in commits)


# -- Argo CD ---------------------------------------------------------------------------------

ARGO_OP_ACTIVE = ("Running", "Terminating")
ARGO_OP_FAILED = ("Failed", "Error")


def _argocd_op_revisions(op: Mapping) -> list:
    """The revisions an operation synced (its result) or was asked to sync (its request)."""
    result = _map(op.get("syncResult"))
    request = _map(_map(op.get("operation")).get("sync"))
    for source in (result, request):
        revisions = source.get("revisions")
        if isinstance(revisions, list) and revisions:
            return revisions
        if _str(source.get("revision")):
            return [source["revision"]]
    return []


def _argocd_errors(status: Mapping) -> list[str]:
    """"Type: message" of the error conditions (a type ending in "Error", as IsError)."""
    conditions = status.get("conditions")
    return [f"{c['type']}: {c.get('message')}"
            for c in (conditions if isinstance(conditions, list) else ())
            if isinstance(c, Mapping) and isinstance(c.get("type"), str)
            and c["type"].endswith("Error") and _str(c.get("message"))]


def argocd_application(obj: Mapping, want: str, is_descendant: IsDescendant) -> Observation:
    """Ready when the synced revision (every commit of a multi-source app's ``revisions``) is
    `want` or a descendant, sync Synced, health Healthy and no operation running or requested.
    Chart versions and OCI digests among ``revisions`` are no commit and are skipped; a source
    from another git repository never matches (its commits are not the config repo's), so such
    an app waits until the timeout: choosing the config repo's sources by
    ``spec.sources[].repoURL`` is the caller's to add.

    Failed at once when the last operation ended Failed or Error *for this revision*: its
    ``syncResult`` revision (else the requested ``operation.sync`` one) is `want` or a
    descendant. A failed operation for an older commit is history, not this promotion: the new
    commit's sync is still to come, so that is progressing (the timeout ends it). An operation
    whose revision cannot be read is not taken as ours either: progressing with its message.
    A failure on a descendant is ours: the only state that holds our change did not apply.
    ``degraded`` is set only when Degraded is the health of this revision; an older revision's
    degradation is no reason to fail the promotion that may fix it.
    """
    status = _map(obj.get("status"))
    sync, health = _map(status.get("sync")), _map(status.get("health"))
    op = _map(status.get("operationState"))
    phase, health_status = _str(op.get("phase")), _str(health.get("status"))
    message = _line(*_argocd_errors(status), op.get("message"), health.get("message"))
    revisions = sync.get("revisions")
    if isinstance(revisions, list) and revisions:
        shown = ", ".join(r for r in revisions if isinstance(r, str))
        matched = _all_match(revisions, want, is_descendant)
    else:
        shown = _str(sync.get("revision"))
        matched = _matches(shown, want, is_descendant)
    resource = _resource("Application", obj)

    def seen(state: State, fallback: str, degraded: bool = False) -> Observation:
        return Observation(resource, state, shown or None, message or _line(fallback),
                           degraded=degraded)

    if phase in ARGO_OP_FAILED and any(
            _matches(r, want, is_descendant) for r in _argocd_op_revisions(op)):
        return seen(FAILED, f"operation {phase}")
    if not matched:
        return seen(PROGRESSING, f"synced revision {shown or 'unknown'}, waiting for {want}")
    degraded = health_status == "Degraded"
    if phase in ARGO_OP_ACTIVE or obj.get("operation"):
        return seen(PROGRESSING, f"operation {phase or 'requested'}", degraded)
    if sync.get("status") != "Synced":
        return seen(PROGRESSING, f"sync status {sync.get('status') or 'unknown'}", degraded)
    if health_status != "Healthy":
        return seen(PROGRESSING, f"health {health_status or 'unknown'}", degraded)
    return seen(READY, "Synced and Healthy")


# -- Flux ------------------------------------------------------------------------------------

def _flux_current(obj: Mapping, status: Mapping, ready: Mapping) -> bool:
    """The controller has observed this generation: status.observedGeneration and the Ready
    condition's observedGeneration, each where present (at least one), equal
    metadata.generation (fluxcd/pkg runtime/conditions/check FAIL0007/FAIL0008)."""
    gen = _generation(obj)
    seen = [g for g in (status.get("observedGeneration"), ready.get("observedGeneration"))
            if g is not None]
    return gen is not None and bool(seen) and all(_int(g) == gen for g in seen)


# Ready=False reasons the Kustomization controller sets after it set lastAttemptedRevision to
# the revision it then failed on. ArtifactFailed (source or artifact not there yet, requeued),
# DependencyNotReady, HealthCheckCanceled, Progressing and ProgressingWithRetry are transient.
KUSTOMIZATION_FAILED = ("ReconciliationFailed", "HealthCheckFailed", "BuildFailed", "PruneFailed")


def flux_kustomization(obj: Mapping, want: str, is_descendant: IsDescendant) -> Observation:
    """Ready when lastAppliedRevision is `want` (or a descendant) and Ready=True for this
    generation. Failed on Stalled=True, or on Ready=False with a reason of
    KUSTOMIZATION_FAILED when lastAttemptedRevision is `want` (or a descendant) and no new
    attempt is under way (Reconciling=True with reason Progressing; after a failure the
    controller leaves Reconciling=True with reason ProgressingWithRetry, which is no new
    attempt). A failure on an older revision while ours waits is progressing."""
    status = _map(obj.get("status"))
    ready, stalled = _condition(status, "Ready"), _condition(status, "Stalled")
    reconciling = _condition(status, "Reconciling")
    applied = _str(status.get("lastAppliedRevision"))
    resource = _resource("Kustomization", obj)
    if _is_true(stalled):
        return Observation(resource, FAILED, applied, _line(stalled.get("message"))
                           or _line(f"Stalled: {stalled.get('reason')}"))
    message = _line(ready.get("message")) or _line(reconciling.get("message"))
    attempt_running = _is_true(reconciling) and reconciling.get("reason") == "Progressing"
    if (ready.get("status") == "False" and ready.get("reason") in KUSTOMIZATION_FAILED
            and not attempt_running
            and _matches(status.get("lastAttemptedRevision"), want, is_descendant)):
        return Observation(resource, FAILED, applied, message or _line(str(ready["reason"])))
    if (_matches(applied, want, is_descendant) and _is_true(ready)
            and _flux_current(obj, status, ready)):
        return Observation(resource, READY, applied, message or "Ready")
    return Observation(resource, PROGRESSING, applied,
                       message or _line(f"waiting for revision {want}"))


def flux_gitrepository(obj: Mapping, want: str, is_descendant: IsDescendant) -> Observation:
    """Ready when status.artifact.revision is `want` (or a descendant) and Ready=True for this
    generation. Failed only on Stalled=True (an invalid spec: the controller stops retrying);
    a fetch failure (FetchFailed, GitOperationFailed, AuthenticationFailed) is retried by
    source-controller at its interval, so it is progressing with the controller's message and
    the caller's timeout ends it."""
    status = _map(obj.get("status"))
    ready, stalled = _condition(status, "Ready"), _condition(status, "Stalled")
    revision = _str(_map(status.get("artifact")).get("revision"))
    resource = _resource("GitRepository", obj)
    if _is_true(stalled):
        return Observation(resource, FAILED, revision, _line(stalled.get("message"))
                           or _line(f"Stalled: {stalled.get('reason')}"))
    message = _line(ready.get("message"), _condition(status, "FetchFailed").get("message"))
    if (_matches(revision, want, is_descendant) and _is_true(ready)
            and _flux_current(obj, status, ready)):
        return Observation(resource, READY, revision, message or "Ready")
    return Observation(resource, PROGRESSING, revision,
                       message or _line(f"waiting for revision {want}"))


# Ready=False reasons of a Helm action that failed for the generation last attempted, and of a
# remediation that undid it (helm-controller summarize: a Remediated condition makes Ready
# False with its reason, RollbackSucceeded or UninstallSucceeded: the release is not ours).
HELMRELEASE_FAILED = ("InstallFailed", "UpgradeFailed", "TestFailed", "RollbackFailed",
                      "UninstallFailed", "RollbackSucceeded", "UninstallSucceeded")


def _latest_snapshot(history: Any) -> Mapping | None:
    """history[] entry with the highest release version (Snapshots.Latest); None if unreadable."""
    if not isinstance(history, list) or not history:
        return None
    if not all(isinstance(s, Mapping) and _int(s.get("version")) is not None for s in history):
        return None
    return max(history, key=lambda s: s["version"])


def flux_helmrelease(obj: Mapping, want: str | None = None,
                     is_descendant: IsDescendant | None = None) -> Observation:
    """A HelmRelease carries no git commit: lastAttemptedRevision and history[].chartVersion
    are the chart's version (``1.2.3``; ``1.2.3+<12 hex>`` for an OCI chart or a chart built at
    a git revision, a prefix only), so `want` is not compared here. The commit is checked on
    the Kustomization that applied the HelmRelease (Flux labels it
    ``kustomize.toolkit.fluxcd.io/name``); this rule says whether helm-controller released
    *this generation* of the object that commit wrote.

    Ready when Ready=True for this generation (status and condition observedGeneration, and
    lastAttemptedGeneration, equal metadata.generation) and the latest release snapshot is
    ``deployed`` with the chart version and config digest of the last attempt
    (lastAttemptedRevision, lastAttemptedConfigDigest). Failed on Stalled=True (retries
    exhausted, no rollback target) or on Ready=False with a reason in HELMRELEASE_FAILED for
    this generation's attempt.
    """
    status = _map(obj.get("status"))
    ready, stalled = _condition(status, "Ready"), _condition(status, "Stalled")
    latest = _latest_snapshot(status.get("history"))
    attempted = _str(status.get("lastAttemptedRevision"))
    chart = (_str(latest.get("chartName")), _str(latest.get("chartVersion"))) if latest else ()
    shown = "@".join(chart) if chart and all(chart) else attempted
    resource = _resource("HelmRelease", obj)
    if _is_true(stalled):
        return Observation(resource, FAILED, shown, _line(stalled.get("message"))
                           or _line(f"Stalled: {stalled.get('reason')}"))
    gen = _generation(obj)
    this_attempt = gen is not None and _int(status.get("lastAttemptedGeneration")) == gen
    message = _line(ready.get("message"))
    if (this_attempt and ready.get("status") == "False"
            and ready.get("reason") in HELMRELEASE_FAILED):
        return Observation(resource, FAILED, shown, message or _line(str(ready["reason"])))
    released = (latest is not None and latest.get("status") == "deployed"
                and attempted is not None and latest.get("chartVersion") == attempted
                and _str(status.get("lastAttemptedConfigDigest")) is not None
                and latest.get("configDigest") == status["lastAttemptedConfigDigest"])
    if this_attempt and _is_true(ready) and _flux_current(obj, status, ready) and released:
        return Observation(resource, READY, shown, message or "Ready")
    return Observation(resource, PROGRESSING, shown,
                       message or _line("waiting for the release of this generation"))


# -- workloads (no revision: they follow the objects the controller applied) -----------------

def _status_count(status: Mapping, key: str) -> int | None:
    """A replica count; absent is 0 (the API omits zero counts, e.g. at 0 replicas)."""
    return _int(status.get(key, 0))


def deployment(obj: Mapping) -> Observation:
    """`kubectl rollout status` (DeploymentStatusViewer) rule by rule, with its messages.
    Stricter where kubectl would read a missing field as done: metadata.generation and
    spec.replicas must be readable (the API server always sets both)."""
    meta, status = _map(obj.get("metadata")), _map(obj.get("status"))
    name = _str(meta.get("name")) or "?"
    resource = _resource("Deployment", obj)
    gen = _generation(obj)
    observed = _status_count(status, "observedGeneration")
    if gen is None or observed is None or gen > observed:
        return Observation(resource, PROGRESSING, None,
                           "Waiting for deployment spec update to be observed...")
    progressing = _condition(status, "Progressing")
    if progressing.get("reason") == "ProgressDeadlineExceeded":
        return Observation(resource, FAILED, None, _line(
            f"deployment {_q(name)} exceeded its progress deadline", progressing.get("message")))
    replicas = _int(_map(obj.get("spec")).get("replicas"))
    counts = [_status_count(status, k)
              for k in ("updatedReplicas", "replicas", "availableReplicas")]
    if replicas is None or None in counts:
        return Observation(resource, PROGRESSING, None,
                           f"cannot read the replica counts of deployment {_q(name)}")
    updated, current, available = counts
    if updated < replicas:
        return Observation(resource, PROGRESSING, None, _line(
            f"Waiting for deployment {_q(name)} rollout to finish: {updated} out of {replicas} "
            "new replicas have been updated..."))
    if current > updated:
        return Observation(resource, PROGRESSING, None, _line(
            f"Waiting for deployment {_q(name)} rollout to finish: {current - updated} old "
            "replicas are pending termination..."))
    if available < updated:
        return Observation(resource, PROGRESSING, None, _line(
            f"Waiting for deployment {_q(name)} rollout to finish: {available} of {updated} "
            "updated replicas are available..."))
    return Observation(resource, READY, None, f"deployment {_q(name)} successfully rolled out")


KNATIVE_MODES = ("Serverless", "Knative")
RAW_MODES = ("RawDeployment", "Standard", "ModelMesh")
ISVC_FAILED_TRANSITIONS = ("BlockedByFailedLoad", "InvalidSpec")


def inference_service(obj: Mapping) -> Observation:
    """Ready when Ready=True and, in Knative mode, the predictor's latestReadyRevision is its
    latestCreatedRevision (the newest revision serves; kserve PropagateModelStatus uses the
    same test before it marks the model Loaded) and the newest revision's traffic is the share
    the spec asks (a canary step applied, not only committed). Raw/Standard and ModelMesh modes
    have no revisions, so Ready=True suffices there; a missing or unknown deploymentMode needs
    the revisions. Failed when modelStatus.states.targetModelState is FailedToLoad or
    transitionStatus is BlockedByFailedLoad or InvalidSpec, with lastFailureInfo's words.
    status.observedGeneration is not compared with metadata.generation: KServe copies it from
    the Knative Service (or the Deployment), whose generation is another object's, so the two
    differ for good after e.g. a canaryTrafficPercent change that leaves the service alone."""
    status = _map(obj.get("status"))
    model = _map(status.get("modelStatus"))
    states, failure = _map(model.get("states")), _map(model.get("lastFailureInfo"))
    predictor = _map(_map(status.get("components")).get("predictor"))
    latest_ready = _str(predictor.get("latestReadyRevision"))
    resource = _resource("InferenceService", obj)
    ready = _condition(status, "Ready")
    if (states.get("targetModelState") == "FailedToLoad"
            or model.get("transitionStatus") in ISVC_FAILED_TRANSITIONS):
        return Observation(resource, FAILED, latest_ready, _line(
            failure.get("reason"), failure.get("message"), ready.get("message"))
            or "the model failed to load")
    message = _line(ready.get("message"), failure.get("message"))
    if not _is_true(ready):
        return Observation(resource, PROGRESSING, latest_ready, message or "not Ready yet")
    if status.get("deploymentMode") in RAW_MODES:
        return Observation(resource, READY, latest_ready, message or "Ready")
    if latest_ready is None or latest_ready != predictor.get("latestCreatedRevision"):
        return Observation(resource, PROGRESSING, latest_ready, _line(
            f"latest created revision {predictor.get('latestCreatedRevision')} is not ready "
            f"yet (latest ready {latest_ready})"))
    share, want = _latest_share(obj, predictor)
    if share != want:
        return Observation(resource, PROGRESSING, latest_ready, _line(
            f"the latest revision has {share} % of the traffic, the spec asks {want} % "
            "(canaryTrafficPercent)"))
    return Observation(resource, READY, latest_ready, message or "Ready")


def _latest_share(obj: Mapping, predictor: Mapping) -> tuple[int | None, int | None]:
    """(the traffic the newest revision has, the traffic the spec gives it), as kserve's ksvc
    reconciler routes it: canaryTrafficPercent once a revision has rolled out, else 100. Both
    None when the status lists no traffic with latestRevision (nothing to compare)."""
    traffic = predictor.get("traffic")
    if not isinstance(traffic, list):
        return None, None
    latest = [t for t in traffic if isinstance(t, Mapping) and t.get("latestRevision") is True]
    if not latest:
        return None, None
    share = sum(_int(t.get("percent")) or 0 for t in latest)
    spec = _map(_map(obj.get("spec")).get("predictor")).get("canaryTrafficPercent")
    rolled_out = _str(predictor.get("latestRolledoutRevision"))
    want = _int(spec) if _int(spec) is not None and rolled_out else 100
    return share, want


def _decimal(value: Any) -> int | None:
    """Argo Rollouts writes observedGeneration as a string of ASCII digits ("3")."""
    if _int(value) is not None:
        return value
    if isinstance(value, str) and value.isascii() and value.isdecimal():
        return int(value)
    return None


def argo_rollout(obj: Mapping) -> Observation:
    """Argo Rollouts' GetRolloutPhase: while status.observedGeneration (a decimal string) is not
    metadata.generation, or the rollout is unpausing (controllerPause with no
    pauseConditions), progressing; then status.phase: Healthy ready, Degraded failed (aborted or
    past its progress deadline), Paused progressing with paused=True, anything else
    progressing. Stricter than GetRolloutPhase, which trusts a non-numeric observedGeneration
    (a v0.9 hash) and computes the phase itself when status.phase is empty (v0.10 and older):
    both are progressing here."""
    status = _map(obj.get("status"))
    resource = _resource("Rollout", obj)
    phase, message = _str(status.get("phase")), _line(status.get("message"))
    gen = _generation(obj)
    if gen is None or _decimal(status.get("observedGeneration")) != gen:
        return Observation(resource, PROGRESSING, None,
                           "waiting for rollout spec update to be observed")
    if status.get("controllerPause") is True and not status.get("pauseConditions"):
        return Observation(resource, PROGRESSING, None, "waiting for rollout to unpause")
    if phase == "Healthy":
        return Observation(resource, READY, None, message or "Healthy")
    if phase == "Degraded":
        return Observation(resource, FAILED, None, message or "Degraded")
    return Observation(resource, PROGRESSING, None, message or _line(f"phase {phase}"),
                       paused=phase == "Paused")


CANARY_WAITING = ("Waiting", "WaitingPromotion")


def flagger_canary(obj: Mapping) -> Observation:
    """Flagger's phase, as its Promoted condition reads it (pkg/canary/status.go): Succeeded
    and Initialized are promoted (the primary runs the target's spec: lastPromotedSpec is set
    to lastAppliedSpec) and ready, provided lastPromotedSpec equals lastAppliedSpec; Failed
    is failed; Waiting and WaitingPromotion wait for an approval gate (paused=True);
    Initializing, Progressing, Promoting, Finalising, Terminating and Terminated progressing.
    Flagger notices a changed target only at its next analysis tick; until then the phase and
    lastAppliedSpec are the previous rollout's, which no rule can tell from this object alone
    (the caller waits at least one analysis interval, or for lastAppliedSpec to change)."""
    status = _map(obj.get("status"))
    resource = _resource("Canary", obj)
    phase = _str(status.get("phase"))
    message = _line(_condition(status, "Promoted").get("message"))
    if phase == "Failed":
        return Observation(resource, FAILED, None, message or _line(
            f"canary analysis failed after {status.get('failedChecks')} failed checks"))
    applied = _str(status.get("lastAppliedSpec"))
    if phase in ("Succeeded", "Initialized") and applied is not None \
            and applied == status.get("lastPromotedSpec"):
        return Observation(resource, READY, None, message or _line(f"phase {phase}"))
    return Observation(resource, PROGRESSING, None, message or _line(f"phase {phase}"),
                       paused=phase in CANARY_WAITING)
