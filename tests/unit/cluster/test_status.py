"""The wait-sync rules over objects shaped as the controllers write them (field names, condition
types and reasons from argo-cd types.go, kustomize-controller, helm-controller api/v2,
source-controller api/v1, kubectl's rollout status, kserve v1beta1, argo-rollouts, flagger)."""

from __future__ import annotations

import copy

import pytest

from mlgate.cluster.status import (
    MESSAGE_LIMIT,
    Observation,
    argo_rollout,
    argocd_application,
    deployment,
    flagger_canary,
    flux_gitrepository,
    flux_helmrelease,
    flux_kustomization,
    inference_service,
)

WANT = "5394cb7f48332b2de7c17dd8b8384bbc84b7e738"
CHILD = "a0c14dc8580a23f79bc654faa79c4f62b46c2c22"   # a commit on top of WANT
OLD = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c"     # WANT's parent
ARABIC_FIVE = "\u0665"
T = "2026-07-22T10:15:04Z"
_MISSING = object()


def is_descendant(sha: str, want: str) -> bool:
    return (sha, want) == (CHILD, WANT)


def edit(obj: dict, **changes) -> dict:
    """A deep copy with changes at `__`-separated paths (status__sync__revision); _MISSING
    deletes the key."""
    out = copy.deepcopy(obj)
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = out
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        if isinstance(node, list):
            node[int(last)] = value
        elif value is _MISSING:
            node.pop(last, None)
        else:
            node[last] = value
    return out


# -- Argo CD ---------------------------------------------------------------------------------

APP = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Application",
    "metadata": {"name": "churn-staging", "namespace": "argocd", "generation": 41,
                 "resourceVersion": "918273"},
    "spec": {
        "project": "default",
        "source": {"repoURL": "https://github.com/acme/config.git",
                   "path": "apps/churn/staging", "targetRevision": "main"},
        "destination": {"server": "https://kubernetes.default.svc", "namespace": "churn"},
        "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
    },
    "status": {
        "sync": {"status": "Synced", "revision": WANT,
                 "comparedTo": {"source": {"repoURL": "https://github.com/acme/config.git",
                                           "path": "apps/churn/staging",
                                           "targetRevision": "main"},
                                "destination": {"server": "https://kubernetes.default.svc",
                                                "namespace": "churn"}}},
        "health": {"status": "Healthy", "lastTransitionTime": T},
        "operationState": {
            "operation": {"sync": {"revision": WANT, "prune": True,
                                   "syncStrategy": {"hook": {}}},
                          "initiatedBy": {"automated": True}, "retry": {"limit": 5}},
            "phase": "Succeeded",
            "message": "successfully synced (all tasks run)",
            "syncResult": {
                "resources": [{"group": "apps", "version": "v1", "kind": "Deployment",
                               "namespace": "churn", "name": "churn", "status": "Synced",
                               "message": "deployment.apps/churn configured",
                               "hookPhase": "Running", "syncPhase": "Sync"}],
                "revision": WANT,
                "source": {"repoURL": "https://github.com/acme/config.git",
                           "path": "apps/churn/staging", "targetRevision": "main"}},
            "startedAt": T, "finishedAt": T},
        "reconciledAt": T, "sourceType": "Kustomize",
        "summary": {"images": ["ghcr.io/acme/churn:1.4.0"]},
        "resources": [{"version": "v1", "kind": "Service", "namespace": "churn", "name": "churn",
                       "status": "Synced", "health": {"status": "Healthy"}}],
    },
}
APP_NAME = "Application argocd/churn-staging"
SYNCED_OK = "successfully synced (all tasks run)"
MULTI = edit(APP, status__sync__revision=_MISSING,
             status__sync__revisions=[WANT, "15.4.2", WANT],
             status__operationState__syncResult__revision=_MISSING,
             status__operationState__syncResult__revisions=[WANT, "15.4.2", WANT])
FAILED_OP = {"phase": "Failed", "message": "one or more objects failed to apply, reason: "
             "Deployment.apps \"churn\" is invalid: spec.template.spec.containers[0].image: "
             "Required value",
             "operation": {"sync": {"revision": WANT}, "initiatedBy": {"automated": True}},
             "syncResult": {"revision": WANT, "resources": []}, "startedAt": T}
SYNC_ERROR = [{"type": "SyncError", "message": "Failed sync attempt to "
               f"{WANT}: one or more objects failed to apply", "lastTransitionTime": T}]


def app_obs(state, message, revision=WANT, degraded=False):
    return Observation(APP_NAME, state, revision, message, degraded=degraded)


ARGO_CASES = [
    ("synced-healthy", APP, app_obs("ready", SYNCED_OK)),
    ("descendant-applied", edit(APP, status__sync__revision=CHILD),
     app_obs("ready", SYNCED_OK, CHILD)),
    ("still-old-revision", edit(APP, status__sync__revision=OLD),
     app_obs("progressing", SYNCED_OK, OLD)),
    ("old-revision-no-messages",
     edit(APP, status__sync__revision=OLD, status__operationState=_MISSING),
     app_obs("progressing", f"synced revision {OLD}, waiting for {WANT}", OLD)),
    ("no-revision-yet", edit(APP, status__sync={"status": "OutOfSync"},
                             status__operationState=_MISSING),
     app_obs("progressing", f"synced revision unknown, waiting for {WANT}", None)),
    ("unicode-digit-sha",
     edit(APP, status__sync__revision=WANT.replace("5", ARABIC_FIVE, 1)),
     app_obs("progressing", SYNCED_OK, WANT.replace("5", ARABIC_FIVE, 1))),
    ("revision-not-text", edit(APP, status__sync__revision=5),
     app_obs("progressing", SYNCED_OK, None)),
    ("out-of-sync", edit(APP, status__sync__status="OutOfSync",
                         status__operationState=_MISSING),
     app_obs("progressing", "sync status OutOfSync")),
    ("sync-status-missing", edit(APP, status__sync__status=_MISSING,
                                 status__operationState=_MISSING),
     app_obs("progressing", "sync status unknown")),
    ("operation-running", edit(APP, status__operationState__phase="Running",
                               status__operationState__message="waiting for healthy state of "
                               "apps/Deployment/churn"),
     app_obs("progressing", "waiting for healthy state of apps/Deployment/churn")),
    ("operation-terminating", edit(APP, status__operationState__phase="Terminating",
                                   status__operationState__message=_MISSING),
     app_obs("progressing", "operation Terminating")),
    ("operation-requested", edit(APP, operation={"sync": {"revision": WANT},
                                                 "initiatedBy": {"username": "admin"}},
                                 status__operationState=_MISSING),
     app_obs("progressing", "operation requested")),
    ("health-progressing", edit(APP, status__health={
        "status": "Progressing", "message": "Waiting for rollout to finish: 1 old replicas "
        "are pending termination..."}, status__operationState=_MISSING),
     app_obs("progressing", "Waiting for rollout to finish: 1 old replicas are pending "
             "termination...")),
    ("health-missing", edit(APP, status__health__status="Missing",
                            status__operationState=_MISSING),
     app_obs("progressing", "health Missing")),
    ("health-suspended", edit(APP, status__health__status="Suspended",
                              status__operationState=_MISSING),
     app_obs("progressing", "health Suspended")),
    ("health-unknown-value", edit(APP, status__health__status="Bogus",
                                  status__operationState=_MISSING),
     app_obs("progressing", "health Bogus")),
    ("health-absent", edit(APP, status__health=_MISSING, status__operationState=_MISSING),
     app_obs("progressing", "health unknown")),
    ("degraded-this-revision", edit(APP, status__health={
        "status": "Degraded", "message": "Deployment \"churn\" exceeded its progress deadline"},
        status__operationState=_MISSING),
     app_obs("progressing", "Deployment \"churn\" exceeded its progress deadline",
             degraded=True)),
    ("degraded-while-running", edit(APP, status__health__status="Degraded",
                                    status__operationState__phase="Running"),
     app_obs("progressing", SYNCED_OK, degraded=True)),
    ("degraded-out-of-sync", edit(APP, status__health__status="Degraded",
                                  status__sync__status="OutOfSync"),
     app_obs("progressing", SYNCED_OK, degraded=True)),
    ("degraded-old-revision-is-not-ours",
     edit(APP, status__health__status="Degraded", status__sync__revision=OLD),
     app_obs("progressing", SYNCED_OK, OLD)),
    ("operation-failed-this-revision",
     edit(APP, status__sync__status="OutOfSync", status__operationState=FAILED_OP,
          status__conditions=SYNC_ERROR),
     app_obs("failed", f"SyncError: Failed sync attempt to {WANT}: one or more objects failed "
             "to apply; " + FAILED_OP["message"])),
    ("operation-error-on-descendant",
     edit(APP, status__operationState=edit(FAILED_OP, phase="Error", message=_MISSING,
                                           syncResult__revision=CHILD)),
     app_obs("failed", "operation Error")),
    ("operation-failed-requested-revision-only",
     edit(APP, status__sync__revision=OLD, status__operationState=edit(
         FAILED_OP, syncResult=_MISSING, message="ComparisonError: rpc error")),
     app_obs("failed", "ComparisonError: rpc error", OLD)),
    ("operation-failed-older-revision-while-new-progresses",
     edit(APP, status__sync__revision=OLD, status__sync__status="OutOfSync",
          status__operationState=edit(FAILED_OP, syncResult__revision=OLD,
                                      operation__sync__revision=OLD)),
     app_obs("progressing", FAILED_OP["message"], OLD)),
    ("operation-failed-older-revision-new-one-synced",
     edit(APP, status__operationState=edit(FAILED_OP, syncResult__revision=OLD,
                                           operation__sync__revision=OLD)),
     app_obs("ready", FAILED_OP["message"])),
    ("operation-failed-unreadable-revision",
     edit(APP, status__sync__status="OutOfSync", status__operationState=edit(
         FAILED_OP, syncResult=_MISSING, operation__sync__revision="main")),
     app_obs("progressing", FAILED_OP["message"])),
    ("operation-failed-no-revision-at-all",
     edit(APP, status__sync__status="OutOfSync", status__operationState=edit(
         FAILED_OP, syncResult=_MISSING, operation=_MISSING)),
     app_obs("progressing", FAILED_OP["message"])),
    ("operation-failed-revision-not-text",
     edit(APP, status__sync__status="OutOfSync", status__operationState=edit(
         FAILED_OP, syncResult__revision=None, operation__sync__revision=7)),
     app_obs("progressing", FAILED_OP["message"])),
    ("operation-succeeded-is-no-failure",
     edit(APP, status__operationState__phase="Succeeded", status__sync__status="OutOfSync"),
     app_obs("progressing", SYNCED_OK)),
    ("error-conditions-only", edit(APP, status__operationState=_MISSING, status__conditions=[
        {"type": "ComparisonError", "message": "Failed to load target state: rpc error"},
        {"type": "OrphanedResourceWarning", "message": "1 orphaned resource"},
        {"type": "SyncError"}, {"message": "no type"}, "junk", {"type": 5, "message": "x"},
        {"type": "OperationError", "message": "  spread\n  over lines  "}],
        status__sync__status="Unknown"),
     app_obs("progressing", "ComparisonError: Failed to load target state: rpc error; "
             "OperationError: spread over lines")),
    ("conditions-not-a-list", edit(APP, status__conditions={"type": "SyncError"},
                                   status__operationState=_MISSING),
     app_obs("ready", "Synced and Healthy")),
    ("multi-source-all-synced", MULTI,
     app_obs("ready", SYNCED_OK, f"{WANT}, 15.4.2, {WANT}")),
    ("multi-source-one-behind", edit(MULTI, status__sync__revisions=[WANT, "15.4.2", OLD]),
     app_obs("progressing", SYNCED_OK, f"{WANT}, 15.4.2, {OLD}")),
    ("multi-source-descendant", edit(MULTI, status__sync__revisions=[CHILD, "15.4.2"]),
     app_obs("ready", SYNCED_OK, f"{CHILD}, 15.4.2")),
    ("multi-source-no-commit", edit(MULTI, status__sync__revisions=["15.4.2", "1.0.0"]),
     app_obs("progressing", SYNCED_OK, "15.4.2, 1.0.0")),
    ("multi-source-junk-entry", edit(MULTI, status__sync__revisions=[WANT, None]),
     app_obs("progressing", SYNCED_OK, WANT)),
    ("multi-source-failed-on-one-source",
     edit(MULTI, status__operationState=edit(
         FAILED_OP, syncResult__revisions=[OLD, "15.4.2", WANT]),
         status__sync__revisions=[OLD, "15.4.2", OLD]),
     app_obs("failed", FAILED_OP["message"], f"{OLD}, 15.4.2, {OLD}")),
    ("multi-source-failed-requested",
     edit(MULTI, status__operationState=edit(
         FAILED_OP, syncResult=_MISSING, operation__sync={"revisions": [OLD, WANT]}),
         status__sync__revisions=[OLD, OLD]),
     app_obs("failed", FAILED_OP["message"], f"{OLD}, {OLD}")),
    ("multi-source-failed-older",
     edit(MULTI, status__operationState=edit(
         FAILED_OP, syncResult__revisions=[OLD, "15.4.2"], syncResult__revision=WANT),
         status__sync__revisions=[OLD, OLD]),
     app_obs("progressing", FAILED_OP["message"], f"{OLD}, {OLD}")),
    ("op-revisions-not-a-list", edit(APP, status__operationState=edit(
        FAILED_OP, syncResult__revisions=f"{OLD}"), status__sync__status="OutOfSync"),
     app_obs("failed", FAILED_OP["message"])),
    ("empty-revisions-falls-back", edit(APP, status__sync__revisions=[]),
     app_obs("ready", SYNCED_OK)),
    ("status-missing", edit(APP, status=_MISSING),
     app_obs("progressing", f"synced revision unknown, waiting for {WANT}", None)),
    ("status-not-a-mapping", edit(APP, status=["Synced"]),
     app_obs("progressing", f"synced revision unknown, waiting for {WANT}", None)),
]


@pytest.mark.parametrize(("obj", "expected"), [pytest.param(o, e, id=i) for i, o, e in ARGO_CASES])
def test_argocd_application(obj, expected):
    assert argocd_application(obj, WANT, is_descendant) == expected


def test_argocd_want_is_compared_not_assumed():
    assert argocd_application(APP, OLD, is_descendant).state == "progressing"
    assert argocd_application(edit(APP, status__operationState=FAILED_OP), OLD,
                              is_descendant).state == "progressing"


def test_argocd_resource_name_without_namespace():
    app = edit(APP, metadata={"name": "churn"})
    assert argocd_application(app, WANT, is_descendant).resource == "Application churn"
    assert argocd_application(edit(APP, metadata=_MISSING), WANT,
                              is_descendant).resource == "Application ?"


def test_messages_are_one_bounded_line():
    long = "x" * 200 + "\n" + "y" * 200
    app = edit(APP, status__operationState__message=long, status__health__message="z" * 50)
    message = argocd_application(app, WANT, is_descendant).message
    assert len(message) == MESSAGE_LIMIT
    assert message == ("x" * 200 + " " + "y" * 98 + "\u2026")
    exact = edit(APP, status__operationState__message="m" * MESSAGE_LIMIT)
    assert argocd_application(exact, WANT, is_descendant).message == "m" * MESSAGE_LIMIT


# -- Flux Kustomization ----------------------------------------------------------------------

KS = {
    "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
    "kind": "Kustomization",
    "metadata": {"name": "churn-staging", "namespace": "flux-system", "generation": 3},
    "spec": {"interval": "10m", "path": "./apps/churn/staging", "prune": True,
             "sourceRef": {"kind": "GitRepository", "name": "config"}, "wait": True},
    "status": {
        "conditions": [{"lastTransitionTime": T, "message": f"Applied revision: main@sha1:{WANT}",
                        "observedGeneration": 3, "reason": "ReconciliationSucceeded",
                        "status": "True", "type": "Ready"},
                       {"lastTransitionTime": T, "message": "Health check passed in 8.1s",
                        "observedGeneration": 3, "reason": "Succeeded", "status": "True",
                        "type": "Healthy"}],
        "inventory": {"entries": [{"id": "churn_churn_apps_Deployment", "v": "v1"}]},
        "lastAppliedRevision": f"main@sha1:{WANT}",
        "lastAttemptedRevision": f"main@sha1:{WANT}",
        "observedGeneration": 3,
    },
}
KS_NAME = "Kustomization flux-system/churn-staging"
KS_READY = f"Applied revision: main@sha1:{WANT}"
HEALTH_FAILED = ("health check failed after 5m0s: timeout waiting for: "
                 "[Deployment/churn/churn status: 'InProgress']")


def ks_failed(reason, message=HEALTH_FAILED, attempted=WANT, applied=OLD, retry=True):
    conditions = [{"type": "Ready", "status": "False", "reason": reason, "message": message,
                   "observedGeneration": 3, "lastTransitionTime": T}]
    if retry:
        conditions.append({"type": "Reconciling", "status": "True",
                           "reason": "ProgressingWithRetry", "observedGeneration": 3,
                           "message": f"Detecting drift for revision main@sha1:{attempted}",
                           "lastTransitionTime": T})
    return edit(KS, status__conditions=conditions,
                status__lastAttemptedRevision=f"main@sha1:{attempted}",
                status__lastAppliedRevision=f"main@sha1:{applied}")


def ks_obs(state, message, revision=f"main@sha1:{WANT}"):
    return Observation(KS_NAME, state, revision, message)


KS_CASES = [
    ("ready", KS, ks_obs("ready", KS_READY)),
    ("descendant-applied", edit(KS, status__lastAppliedRevision=f"main@sha1:{CHILD}"),
     ks_obs("ready", KS_READY, f"main@sha1:{CHILD}")),
    ("old-flux-format", edit(KS, status__lastAppliedRevision=f"main/{WANT}"),
     ks_obs("ready", KS_READY, f"main/{WANT}")),
    ("absolute-ref", edit(KS, status__lastAppliedRevision=f"refs/heads/main@sha1:{WANT}"),
     ks_obs("ready", KS_READY, f"refs/heads/main@sha1:{WANT}")),
    ("old-revision-applied", edit(KS, status__lastAppliedRevision=f"main@sha1:{OLD}"),
     ks_obs("progressing", KS_READY, f"main@sha1:{OLD}")),
    ("unicode-digit", edit(KS, status__lastAppliedRevision=f"main@sha1:"
                                                           f"{WANT.replace('5', ARABIC_FIVE)}"),
     ks_obs("progressing", KS_READY, f"main@sha1:{WANT.replace('5', ARABIC_FIVE)}")),
    ("oci-artifact", edit(KS, status__lastAppliedRevision="latest@sha256:" + "ab" * 32),
     ks_obs("progressing", KS_READY, "latest@sha256:" + "ab" * 32)),
    ("stale-generation", edit(KS, metadata__generation=4),
     ks_obs("progressing", KS_READY)),
    ("stale-status-generation-only", edit(KS, status__observedGeneration=2),
     ks_obs("progressing", KS_READY)),
    ("stale-condition-generation-only", edit(KS, status__conditions__0__observedGeneration=2),
     ks_obs("progressing", KS_READY)),
    ("condition-generation-only", edit(KS, status__observedGeneration=_MISSING),
     ks_obs("ready", KS_READY)),
    ("status-generation-only", edit(KS, status__conditions__0__observedGeneration=_MISSING),
     ks_obs("ready", KS_READY)),
    ("no-observed-generation", edit(KS, status__observedGeneration=_MISSING,
                                    status__conditions__0__observedGeneration=_MISSING),
     ks_obs("progressing", KS_READY)),
    ("generation-text", edit(KS, status__observedGeneration="3"),
     ks_obs("progressing", KS_READY)),
    ("generation-bool", edit(KS, metadata__generation=True, status__observedGeneration=True,
                             status__conditions__0__observedGeneration=True),
     ks_obs("progressing", KS_READY)),
    ("generation-zero", edit(KS, metadata__generation=0, status__observedGeneration=0,
                             status__conditions__0__observedGeneration=0),
     ks_obs("progressing", KS_READY)),
    ("ready-unknown", edit(KS, status__conditions=[
        {"type": "Ready", "status": "Unknown", "reason": "Progressing",
         "message": "Reconciliation in progress", "observedGeneration": 3},
        {"type": "Reconciling", "status": "True", "reason": "Progressing",
         "message": f"Building manifests for revision main@sha1:{WANT} with a timeout of 9m30s",
         "observedGeneration": 3}]),
     ks_obs("progressing", "Reconciliation in progress")),
    ("reconciling-message-only", edit(KS, status__conditions=[
        {"type": "Reconciling", "status": "True", "reason": "Progressing",
         "message": "Building manifests", "observedGeneration": 3}]),
     ks_obs("progressing", "Building manifests")),
    ("no-conditions", edit(KS, status__conditions=_MISSING),
     ks_obs("progressing", f"waiting for revision {WANT}")),
    ("health-check-failed-ours", ks_failed("HealthCheckFailed"),
     ks_obs("failed", HEALTH_FAILED, f"main@sha1:{OLD}")),
    ("reconciliation-failed-ours", ks_failed("ReconciliationFailed", "Deployment/churn/churn "
                                             "dry-run failed: field is immutable"),
     ks_obs("failed", "Deployment/churn/churn dry-run failed: field is immutable",
            f"main@sha1:{OLD}")),
    ("build-failed-ours", ks_failed("BuildFailed", "kustomize build failed: accumulating "
                                    "resources", retry=False),
     ks_obs("failed", "kustomize build failed: accumulating resources", f"main@sha1:{OLD}")),
    ("prune-failed-ours", ks_failed("PruneFailed", message=""),
     ks_obs("failed", f"Detecting drift for revision main@sha1:{WANT}", f"main@sha1:{OLD}")),
    ("failed-no-message", ks_failed("BuildFailed", message="", retry=False),
     ks_obs("failed", "BuildFailed", f"main@sha1:{OLD}")),
    ("failed-on-descendant", ks_failed("HealthCheckFailed", attempted=CHILD),
     ks_obs("failed", HEALTH_FAILED, f"main@sha1:{OLD}")),
    ("failed-older-revision-while-ours-waits", ks_failed("HealthCheckFailed", attempted=OLD),
     ks_obs("progressing", HEALTH_FAILED, f"main@sha1:{OLD}")),
    ("failed-but-new-attempt-running", edit(ks_failed("HealthCheckFailed"),
                                            status__conditions__1__reason="Progressing"),
     ks_obs("progressing", HEALTH_FAILED, f"main@sha1:{OLD}")),
    ("failed-reconciling-false", edit(ks_failed("HealthCheckFailed"),
                                      status__conditions__1__status="False",
                                      status__conditions__1__reason="Progressing"),
     ks_obs("failed", HEALTH_FAILED, f"main@sha1:{OLD}")),
    ("artifact-failed-is-transient", ks_failed("ArtifactFailed", "Source artifact not found, "
                                               "retrying in 30s"),
     ks_obs("progressing", "Source artifact not found, retrying in 30s", f"main@sha1:{OLD}")),
    ("dependency-not-ready-is-transient", ks_failed("DependencyNotReady", "dependency "
                                                    "'flux-system/infra' is not ready"),
     ks_obs("progressing", "dependency 'flux-system/infra' is not ready", f"main@sha1:{OLD}")),
    ("health-check-canceled-is-transient", ks_failed("HealthCheckCanceled", "New "
                                                     "reconciliation triggered"),
     ks_obs("progressing", "New reconciliation triggered", f"main@sha1:{OLD}")),
    ("failed-reason-on-true-ready", edit(KS, status__conditions__0__reason="HealthCheckFailed"),
     ks_obs("ready", KS_READY)),
    ("failed-reason-on-unknown-ready", edit(ks_failed("HealthCheckFailed"),
                                            status__conditions__0__status="Unknown"),
     ks_obs("progressing", HEALTH_FAILED, f"main@sha1:{OLD}")),
    ("failed-attempt-unreadable", edit(ks_failed("HealthCheckFailed"),
                                       status__lastAttemptedRevision=None),
     ks_obs("progressing", HEALTH_FAILED, f"main@sha1:{OLD}")),
    ("stalled", edit(KS, status__conditions=[
        {"type": "Ready", "status": "False", "reason": "InvalidCELExpression",
         "message": "terminal error: invalid CEL expression", "observedGeneration": 3},
        {"type": "Stalled", "status": "True", "reason": "InvalidCELExpression",
         "message": "terminal error: invalid CEL expression: undeclared reference",
         "observedGeneration": 3}]),
     ks_obs("failed", "terminal error: invalid CEL expression: undeclared reference")),
    ("stalled-no-message", edit(KS, status__conditions=[
        {"type": "Stalled", "status": "True", "reason": "AccessDenied"}]),
     ks_obs("failed", "Stalled: AccessDenied")),
    ("ready-no-message", edit(KS, status__conditions__0__message=_MISSING),
     ks_obs("ready", "Ready")),
    ("stalled-false", edit(KS, status__conditions=KS["status"]["conditions"] + [
        {"type": "Stalled", "status": "False", "reason": "AccessDenied", "message": "m"}]),
     ks_obs("ready", KS_READY)),
]


@pytest.mark.parametrize(("obj", "expected"), [pytest.param(o, e, id=i) for i, o, e in KS_CASES])
def test_flux_kustomization(obj, expected):
    assert flux_kustomization(obj, WANT, is_descendant) == expected


# -- Flux GitRepository ----------------------------------------------------------------------

GIT = {
    "apiVersion": "source.toolkit.fluxcd.io/v1",
    "kind": "GitRepository",
    "metadata": {"name": "config", "namespace": "flux-system", "generation": 1},
    "spec": {"interval": "1m", "ref": {"branch": "main"},
             "url": "https://github.com/acme/config.git"},
    "status": {
        "artifact": {"digest": "sha256:" + "cd" * 32, "lastUpdateTime": T,
                     "path": "gitrepository/flux-system/config/" + WANT + ".tar.gz",
                     "revision": f"main@sha1:{WANT}", "size": 10412,
                     "url": "http://source-controller.flux-system.svc.cluster.local./"
                            "gitrepository/flux-system/config/" + WANT + ".tar.gz"},
        "conditions": [{"lastTransitionTime": T, "message": f"stored artifact for revision "
                        f"'main@sha1:{WANT}'", "observedGeneration": 1,
                        "reason": "Succeeded", "status": "True", "type": "Ready"},
                       {"lastTransitionTime": T, "message": f"stored artifact for revision "
                        f"'main@sha1:{WANT}'", "observedGeneration": 1,
                        "reason": "Succeeded", "status": "True", "type": "ArtifactInStorage"}],
        "observedGeneration": 1,
    },
}
GIT_NAME = "GitRepository flux-system/config"
GIT_READY = f"stored artifact for revision 'main@sha1:{WANT}'"
FETCH_FAILED = ("failed to checkout and determine revision: unable to clone "
                "'https://github.com/acme/config.git': authentication required")
GIT_FETCH_FAILING = edit(GIT, status__conditions=[
    {"type": "Ready", "status": "False", "reason": "GitOperationFailed", "message": FETCH_FAILED,
     "observedGeneration": 1},
    {"type": "FetchFailed", "status": "True", "reason": "GitOperationFailed",
     "message": FETCH_FAILED, "observedGeneration": 1}])


def git_obs(state, message, revision=f"main@sha1:{WANT}"):
    return Observation(GIT_NAME, state, revision, message)


GIT_CASES = [
    ("ready", GIT, git_obs("ready", GIT_READY)),
    ("descendant", edit(GIT, status__artifact__revision=f"sha1:{CHILD}"),
     git_obs("ready", GIT_READY, f"sha1:{CHILD}")),
    ("tag", edit(GIT, status__artifact__revision=f"v1.0@sha1:{WANT}"),
     git_obs("ready", GIT_READY, f"v1.0@sha1:{WANT}")),
    ("old-artifact", edit(GIT, status__artifact__revision=f"main@sha1:{OLD}"),
     git_obs("progressing", GIT_READY, f"main@sha1:{OLD}")),
    ("no-artifact", edit(GIT, status__artifact=_MISSING, status__conditions=[]),
     git_obs("progressing", f"waiting for revision {WANT}", None)),
    ("stale-generation", edit(GIT, metadata__generation=2), git_obs("progressing", GIT_READY)),
    ("ready-false", edit(GIT, status__conditions__0__status="False"),
     git_obs("progressing", GIT_READY)),
    ("fetch-failed-is-retried", GIT_FETCH_FAILING,
     git_obs("progressing", f"{FETCH_FAILED}; {FETCH_FAILED}")),
    ("fetch-failed-only", edit(GIT_FETCH_FAILING, status__conditions__0__message=_MISSING),
     git_obs("progressing", FETCH_FAILED)),
    ("ready-no-message", edit(GIT, status__conditions__0__message=_MISSING),
     git_obs("ready", "Ready")),
    ("stalled", edit(GIT, status__conditions=[
        {"type": "Stalled", "status": "True", "reason": "URLInvalid",
         "message": "git URL is invalid"}]),
     git_obs("failed", "git URL is invalid")),
    ("stalled-no-message", edit(GIT, status__conditions=[
        {"type": "Stalled", "status": "True", "reason": "InvalidSTSConfiguration"}]),
     git_obs("failed", "Stalled: InvalidSTSConfiguration")),
]


@pytest.mark.parametrize(("obj", "expected"), [pytest.param(o, e, id=i) for i, o, e in GIT_CASES])
def test_flux_gitrepository(obj, expected):
    assert flux_gitrepository(obj, WANT, is_descendant) == expected


# -- Flux HelmRelease ------------------------------------------------------------------------

CONFIG = "sha256:" + "e3" * 32
HR = {
    "apiVersion": "helm.toolkit.fluxcd.io/v2",
    "kind": "HelmRelease",
    "metadata": {"name": "churn", "namespace": "churn", "generation": 7,
                 "labels": {"kustomize.toolkit.fluxcd.io/name": "churn-staging",
                            "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}},
    "spec": {"interval": "5m", "chart": {"spec": {"chart": "churn", "version": "1.4.x",
                                                  "sourceRef": {"kind": "HelmRepository",
                                                                "name": "acme"}}},
             "values": {"image": {"tag": "1.4.0"}}},
    "status": {
        "conditions": [{"lastTransitionTime": T, "message": "Helm upgrade succeeded for release "
                        "churn/churn.v5 with chart churn@1.4.2", "observedGeneration": 7,
                        "reason": "UpgradeSucceeded", "status": "True", "type": "Ready"},
                       {"lastTransitionTime": T, "message": "Helm upgrade succeeded for release "
                        "churn/churn.v5 with chart churn@1.4.2", "observedGeneration": 7,
                        "reason": "UpgradeSucceeded", "status": "True", "type": "Released"}],
        "helmChart": "churn/churn-churn",
        "history": [
            {"apiVersion": "v2", "appVersion": "1.4.0", "chartName": "churn",
             "chartVersion": "1.4.2", "configDigest": CONFIG, "digest": "sha256:" + "01" * 32,
             "firstDeployed": T, "lastDeployed": T, "name": "churn", "namespace": "churn",
             "status": "deployed", "version": 5, "action": "upgrade"},
            {"apiVersion": "v2", "appVersion": "1.3.0", "chartName": "churn",
             "chartVersion": "1.4.1", "configDigest": "sha256:" + "aa" * 32,
             "digest": "sha256:" + "02" * 32, "firstDeployed": T, "lastDeployed": T,
             "name": "churn", "namespace": "churn", "status": "superseded", "version": 4}],
        "lastAttemptedConfigDigest": CONFIG,
        "lastAttemptedGeneration": 7,
        "lastAttemptedReleaseAction": "upgrade",
        "lastAttemptedRevision": "1.4.2",
        "observedGeneration": 7,
        "storageNamespace": "churn",
    },
}
HR_NAME = "HelmRelease churn/churn"
HR_READY = "Helm upgrade succeeded for release churn/churn.v5 with chart churn@1.4.2"
UPGRADE_FAILED = ("Helm upgrade failed for release churn/churn with chart churn@1.4.2: "
                  "context deadline exceeded")
HR_FAILED = edit(HR, status__conditions=[
    {"type": "Ready", "status": "False", "reason": "UpgradeFailed", "message": UPGRADE_FAILED,
     "observedGeneration": 7},
    {"type": "Released", "status": "False", "reason": "UpgradeFailed",
     "message": UPGRADE_FAILED, "observedGeneration": 7}],
    status__history__0__status="failed", status__observedGeneration=6)
NEW_CONFIG = "sha256:" + "f0" * 32


def hr_obs(state, message, revision="churn@1.4.2"):
    return Observation(HR_NAME, state, revision, message)


HR_CASES = [
    ("released", HR, hr_obs("ready", HR_READY)),
    ("ready-no-message", edit(HR, status__conditions__0__message=""), hr_obs("ready", "Ready")),
    ("history-out-of-order", edit(HR, status__history=list(reversed(HR["status"]["history"]))),
     hr_obs("ready", HR_READY)),
    ("generation-not-observed", edit(HR, metadata__generation=8),
     hr_obs("progressing", HR_READY)),
    ("condition-generation-stale", edit(HR, status__conditions__0__observedGeneration=6),
     hr_obs("progressing", HR_READY)),
    ("not-attempted-yet", edit(HR, status__lastAttemptedGeneration=6),
     hr_obs("progressing", HR_READY)),
    ("attempt-generation-missing", edit(HR, status__lastAttemptedGeneration=_MISSING),
     hr_obs("progressing", HR_READY)),
    ("latest-not-deployed", edit(HR, status__history__0__status="pending-upgrade"),
     hr_obs("progressing", HR_READY)),
    ("deployed-other-values", edit(HR, status__lastAttemptedConfigDigest=NEW_CONFIG),
     hr_obs("progressing", HR_READY)),
    ("config-digest-missing", edit(HR, status__lastAttemptedConfigDigest=_MISSING,
                                   status__history__0__configDigest=None),
     hr_obs("progressing", HR_READY)),
    ("deployed-other-chart", edit(HR, status__lastAttemptedRevision="1.4.3"),
     hr_obs("progressing", HR_READY)),
    ("attempted-revision-missing", edit(HR, status__lastAttemptedRevision=_MISSING,
                                        status__history__0__chartVersion=None),
     hr_obs("progressing", HR_READY, None)),
    ("chart-name-missing", edit(HR, status__history__0__chartName=_MISSING),
     hr_obs("ready", HR_READY, "1.4.2")),
    ("chart-name-empty", edit(HR, status__history__0__chartName=""),
     hr_obs("ready", HR_READY, "1.4.2")),
    ("no-history", edit(HR, status__history=[], status__conditions=[]),
     hr_obs("progressing", "waiting for the release of this generation", "1.4.2")),
    ("history-unreadable", edit(HR, status__history=[{"version": "5"}]),
     hr_obs("progressing", HR_READY, "1.4.2")),
    ("history-not-a-list", edit(HR, status__history={"version": 5}),
     hr_obs("progressing", HR_READY, "1.4.2")),
    ("history-entry-not-a-mapping", edit(HR, status__history=[HR["status"]["history"][0], 5]),
     hr_obs("progressing", HR_READY, "1.4.2")),
    ("ready-unknown", edit(HR, status__conditions__0__status="Unknown",
                           status__conditions__0__reason="Progressing",
                           status__conditions__0__message="Fulfilling prerequisites"),
     hr_obs("progressing", "Fulfilling prerequisites")),
    ("upgrade-failed", HR_FAILED, hr_obs("failed", UPGRADE_FAILED)),
    ("upgrade-failed-no-message", edit(HR_FAILED, status__conditions__0__message=_MISSING),
     hr_obs("failed", "UpgradeFailed")),
    ("install-failed", edit(HR_FAILED, status__conditions__0__reason="InstallFailed"),
     hr_obs("failed", UPGRADE_FAILED)),
    ("test-failed", edit(HR_FAILED, status__conditions__0__reason="TestFailed"),
     hr_obs("failed", UPGRADE_FAILED)),
    ("rolled-back", edit(HR_FAILED, status__conditions__0__reason="RollbackSucceeded",
                         status__conditions__0__message="Helm rollback to previous release "
                         "churn/churn.v4 with chart churn@1.4.1 succeeded"),
     hr_obs("failed", "Helm rollback to previous release churn/churn.v4 with chart churn@1.4.1 "
            "succeeded")),
    ("rollback-failed", edit(HR_FAILED, status__conditions__0__reason="RollbackFailed"),
     hr_obs("failed", UPGRADE_FAILED)),
    ("uninstall-failed", edit(HR_FAILED, status__conditions__0__reason="UninstallFailed"),
     hr_obs("failed", UPGRADE_FAILED)),
    ("uninstalled", edit(HR_FAILED, status__conditions__0__reason="UninstallSucceeded"),
     hr_obs("failed", UPGRADE_FAILED)),
    ("failed-previous-generation", edit(HR_FAILED, metadata__generation=8),
     hr_obs("progressing", UPGRADE_FAILED)),
    ("failed-reason-transient", edit(HR_FAILED, status__conditions__0__reason="ArtifactFailed"),
     hr_obs("progressing", UPGRADE_FAILED)),
    ("failed-reason-with-ready-true", edit(HR, status__conditions__0__reason="UpgradeFailed"),
     hr_obs("ready", HR_READY)),
    ("stalled", edit(HR_FAILED, status__conditions=HR_FAILED["status"]["conditions"] + [
        {"type": "Stalled", "status": "True", "reason": "RetriesExceeded",
         "message": "Failed to upgrade after 4 attempt(s)"}]),
     hr_obs("failed", "Failed to upgrade after 4 attempt(s)")),
    ("stalled-no-message", edit(HR, status__conditions=[
        {"type": "Stalled", "status": "True", "reason": "MissingRollbackTarget"}]),
     hr_obs("failed", "Stalled: MissingRollbackTarget")),
]


@pytest.mark.parametrize(("obj", "expected"), [pytest.param(o, e, id=i) for i, o, e in HR_CASES])
def test_flux_helmrelease(obj, expected):
    assert flux_helmrelease(obj, WANT, is_descendant) == expected
    assert flux_helmrelease(obj) == expected     # no commit is compared on a HelmRelease


# -- Deployment (kubectl rollout status) -----------------------------------------------------

DEPLOY = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "churn", "namespace": "churn", "generation": 4,
                 "annotations": {"deployment.kubernetes.io/revision": "4"}},
    "spec": {"replicas": 3, "progressDeadlineSeconds": 600,
             "selector": {"matchLabels": {"app": "churn"}},
             "strategy": {"type": "RollingUpdate",
                          "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}},
    "status": {
        "availableReplicas": 3, "observedGeneration": 4, "readyReplicas": 3, "replicas": 3,
        "updatedReplicas": 3,
        "conditions": [
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
             "message": "Deployment has minimum availability.", "lastTransitionTime": T,
             "lastUpdateTime": T},
            {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
             "message": "ReplicaSet \"churn-7d9f8b6c5d\" has successfully progressed.",
             "lastTransitionTime": T, "lastUpdateTime": T}],
    },
}
DEPLOY_NAME = "Deployment churn/churn"
ROLLED_OUT = 'deployment "churn" successfully rolled out'
WAIT_PREFIX = 'Waiting for deployment "churn" rollout to finish: '
NOT_OBSERVED = "Waiting for deployment spec update to be observed..."
UNREADABLE = 'cannot read the replica counts of deployment "churn"'
SCALED_TO_ZERO = edit(DEPLOY, spec__replicas=0, status={"observedGeneration": 4, "conditions":
                                                         DEPLOY["status"]["conditions"]})


def dep_obs(state, message):
    return Observation(DEPLOY_NAME, state, None, message)


DEPLOY_CASES = [
    ("rolled-out", DEPLOY, dep_obs("ready", ROLLED_OUT)),
    ("scaled-to-zero", SCALED_TO_ZERO, dep_obs("ready", ROLLED_OUT)),
    ("observed-newer", edit(DEPLOY, status__observedGeneration=5), dep_obs("ready", ROLLED_OUT)),
    ("spec-not-observed", edit(DEPLOY, metadata__generation=5),
     dep_obs("progressing", NOT_OBSERVED)),
    ("observed-missing", edit(DEPLOY, status__observedGeneration=_MISSING),
     dep_obs("progressing", NOT_OBSERVED)),
    ("generation-missing", edit(DEPLOY, metadata__generation=_MISSING),
     dep_obs("progressing", NOT_OBSERVED)),
    ("observed-text", edit(DEPLOY, status__observedGeneration="4"),
     dep_obs("progressing", NOT_OBSERVED)),
    ("deadline-exceeded", edit(DEPLOY, status__updatedReplicas=1, status__conditions__1={
        "type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
        "message": "ReplicaSet \"churn-5b7c\" has timed out progressing."}),
     dep_obs("failed", 'deployment "churn" exceeded its progress deadline; ReplicaSet '
             '"churn-5b7c" has timed out progressing.')),
    ("deadline-exceeded-not-observed", edit(DEPLOY, metadata__generation=5,
                                            status__conditions__1__reason=
                                            "ProgressDeadlineExceeded"),
     dep_obs("progressing", NOT_OBSERVED)),
    ("updating", edit(DEPLOY, status__updatedReplicas=1, status__replicas=4),
     dep_obs("progressing", WAIT_PREFIX + "1 out of 3 new replicas have been updated...")),
    ("updating-none-yet", edit(DEPLOY, status__updatedReplicas=_MISSING),
     dep_obs("progressing", WAIT_PREFIX + "0 out of 3 new replicas have been updated...")),
    ("old-replicas-pending-termination", edit(DEPLOY, status__replicas=4),
     dep_obs("progressing", WAIT_PREFIX + "1 old replicas are pending termination...")),
    ("updated-not-available", edit(DEPLOY, status__availableReplicas=2),
     dep_obs("progressing", WAIT_PREFIX + "2 of 3 updated replicas are available...")),
    ("surge-above-desired", edit(DEPLOY, status__updatedReplicas=4, status__replicas=4,
                                 status__availableReplicas=4), dep_obs("ready", ROLLED_OUT)),
    ("name-missing", edit(DEPLOY, metadata={"generation": 4}),
     Observation("Deployment ?", "ready", None, 'deployment "?" successfully rolled out')),
    ("name-quoted-as-go-does", edit(DEPLOY, metadata__name="mod\u00e8le\"x"),
     Observation('Deployment churn/mod\u00e8le"x', "ready", None,
                 'deployment "mod\u00e8le\\"x" successfully rolled out')),
    ("replicas-missing-in-spec", edit(DEPLOY, spec__replicas=_MISSING),
     dep_obs("progressing", UNREADABLE)),
    ("replicas-text", edit(DEPLOY, status__availableReplicas="3"),
     dep_obs("progressing", UNREADABLE)),
    ("replicas-bool", edit(DEPLOY, status__replicas=True), dep_obs("progressing", UNREADABLE)),
    ("updated-text", edit(DEPLOY, status__updatedReplicas="3"),
     dep_obs("progressing", UNREADABLE)),
]


@pytest.mark.parametrize(("obj", "expected"),
                         [pytest.param(o, e, id=i) for i, o, e in DEPLOY_CASES])
def test_deployment(obj, expected):
    assert deployment(obj) == expected


# -- KServe InferenceService -----------------------------------------------------------------

ISVC = {
    "apiVersion": "serving.kserve.io/v1beta1",
    "kind": "InferenceService",
    "metadata": {"name": "churn", "namespace": "churn", "generation": 2},
    "spec": {"predictor": {"model": {"modelFormat": {"name": "sklearn"},
                                     "storageUri": "gs://acme-models/churn/1.4.0"}}},
    "status": {
        "address": {"url": "http://churn.churn.svc.cluster.local"},
        "components": {"predictor": {
            "address": {"url": "http://churn-predictor.churn.svc.cluster.local"},
            "latestCreatedRevision": "churn-predictor-00002",
            "latestReadyRevision": "churn-predictor-00002",
            "latestRolledoutRevision": "churn-predictor-00002",
            "previousRolledoutRevision": "churn-predictor-00001",
            "traffic": [{"latestRevision": True, "percent": 100,
                         "revisionName": "churn-predictor-00002"}],
            "url": "http://churn-predictor.churn.example.com"}},
        "conditions": [
            {"lastTransitionTime": T, "status": "True", "type": "IngressReady"},
            {"lastTransitionTime": T, "severity": "Info", "status": "True",
             "type": "LatestDeploymentReady"},
            {"lastTransitionTime": T, "severity": "Info", "status": "True",
             "type": "PredictorConfigurationReady"},
            {"lastTransitionTime": T, "status": "True", "type": "PredictorReady"},
            {"lastTransitionTime": T, "status": "True", "type": "Ready"}],
        "deploymentMode": "Serverless",
        "modelStatus": {"copies": {"failedCopies": 0, "totalCopies": 1},
                        "states": {"activeModelState": "Loaded", "targetModelState": "Loaded"},
                        "transitionStatus": "UpToDate"},
        "url": "http://churn.churn.example.com",
    },
}
ISVC_NAME = "InferenceService churn/churn"
REV2 = "churn-predictor-00002"
LOAD_FAILED = edit(ISVC, status__modelStatus={
    "states": {"activeModelState": "Loaded", "targetModelState": "FailedToLoad"},
    "transitionStatus": "BlockedByFailedLoad",
    "lastFailureInfo": {"reason": "ModelLoadFailed", "exitCode": 1,
                        "message": "ValueError: no model found in /mnt/models",
                        "location": "churn-predictor-00003-deployment-7f9c"}},
    status__components__predictor__latestCreatedRevision="churn-predictor-00003")


# a canary at 10 %: the newest revision 10, the one rolled out before it 90 (kserve's ksvc
# reconciler: canaryTrafficPercent once a revision has rolled out)
CANARY = edit(ISVC, spec__predictor__canaryTrafficPercent=10,
              status__components__predictor__latestRolledoutRevision="churn-predictor-00001",
              status__components__predictor__traffic=[
                  {"latestRevision": True, "percent": 10, "revisionName": REV2},
                  {"latestRevision": False, "percent": 90, "revisionName":
                   "churn-predictor-00001", "tag": "prev"}])


def isvc_obs(state, message, revision=REV2):
    return Observation(ISVC_NAME, state, revision, message)


ISVC_CASES = [
    ("ready", ISVC, isvc_obs("ready", "Ready")),
    ("knative-mode", edit(ISVC, status__deploymentMode="Knative"), isvc_obs("ready", "Ready")),
    ("new-revision-not-ready", edit(ISVC, status__components__predictor__latestCreatedRevision=
                                    "churn-predictor-00003",
                                    status__modelStatus__states__targetModelState="Loading",
                                    status__modelStatus__transitionStatus="InProgress"),
     isvc_obs("progressing", "latest created revision churn-predictor-00003 is not ready yet "
              f"(latest ready {REV2})")),
    ("no-revisions-serverless", edit(ISVC, status__components=_MISSING),
     isvc_obs("progressing", "latest created revision None is not ready yet (latest ready "
              "None)", None)),
    ("no-revisions-mode-unknown", edit(ISVC, status__components=_MISSING,
                                       status__deploymentMode=_MISSING),
     isvc_obs("progressing", "latest created revision None is not ready yet (latest ready "
              "None)", None)),
    ("created-missing", edit(ISVC, status__components__predictor__latestCreatedRevision=
                             _MISSING),
     isvc_obs("progressing", f"latest created revision None is not ready yet (latest ready "
              f"{REV2})")),
    ("raw-deployment", edit(ISVC, status__components__predictor={}, status__deploymentMode=
                            "RawDeployment"), isvc_obs("ready", "Ready", None)),
    ("standard", edit(ISVC, status__components=_MISSING, status__deploymentMode="Standard"),
     isvc_obs("ready", "Ready", None)),
    ("modelmesh", edit(ISVC, status__components=_MISSING, status__deploymentMode="ModelMesh"),
     isvc_obs("ready", "Ready", None)),
    ("ready-false", edit(ISVC, status__conditions__4={
        "type": "Ready", "status": "False", "reason": "RevisionMissing",
        "message": "Configuration \"churn-predictor\" is waiting for a Revision to become ready."}),
     isvc_obs("progressing", "Configuration \"churn-predictor\" is waiting for a Revision to "
              "become ready.")),
    ("ready-missing", edit(ISVC, status__conditions=[]), isvc_obs("progressing", "not Ready yet")),
    ("failed-to-load", LOAD_FAILED,
     isvc_obs("failed", "ModelLoadFailed; ValueError: no model found in /mnt/models")),
    ("blocked-by-failed-load", edit(LOAD_FAILED, status__modelStatus__states=_MISSING),
     isvc_obs("failed", "ModelLoadFailed; ValueError: no model found in /mnt/models")),
    ("invalid-spec", edit(ISVC, status__modelStatus={"transitionStatus": "InvalidSpec"},
                          status__conditions__4={
                              "type": "Ready", "status": "False", "reason": "InvalidSpec",
                              "message": "specified runtime does not support model format"}),
     isvc_obs("failed", "specified runtime does not support model format")),
    ("failed-no-words", edit(ISVC, status__modelStatus={"states": {"targetModelState":
                                                                    "FailedToLoad"}}),
     isvc_obs("failed", "the model failed to load")),
    ("earlier-failure-recorded", edit(ISVC, status__modelStatus__lastFailureInfo={
        "reason": "ModelLoadFailed", "message": "OOMKilled"}),
     isvc_obs("ready", "OOMKilled")),
    # KServe copies the Knative Service's observedGeneration: another object's, so it is not
    # compared with the InferenceService's generation (it may differ for good)
    ("observed-generation-other-objects", edit(ISVC, status__observedGeneration=1),
     isvc_obs("ready", "Ready")),
    ("observed-generation-no-generation", edit(ISVC, status__observedGeneration=2,
                                               metadata__generation=_MISSING),
     isvc_obs("ready", "Ready")),
    # a canary step: the newest revision's share must be what the spec asks
    ("canary-applied", CANARY, isvc_obs("ready", "Ready")),
    ("canary-not-applied-yet", edit(CANARY, spec__predictor__canaryTrafficPercent=25),
     isvc_obs("progressing", "the latest revision has 10 % of the traffic, the spec asks 25 % "
              "(canaryTrafficPercent)")),
    ("canary-zero", edit(CANARY, spec__predictor__canaryTrafficPercent=0,
                         status__components__predictor__traffic__0__percent=0,
                         status__components__predictor__traffic__1__percent=100),
     isvc_obs("ready", "Ready")),
    ("canary-zero-not-applied", edit(CANARY, spec__predictor__canaryTrafficPercent=0),
     isvc_obs("progressing", "the latest revision has 10 % of the traffic, the spec asks 0 % "
              "(canaryTrafficPercent)")),
    ("canary-removed-not-applied", edit(CANARY, spec__predictor__canaryTrafficPercent=_MISSING),
     isvc_obs("progressing", "the latest revision has 10 % of the traffic, the spec asks 100 % "
              "(canaryTrafficPercent)")),
    ("canary-before-any-rollout", edit(CANARY, status__components__predictor__latestRolledoutRevision=
                                       _MISSING),
     isvc_obs("progressing", "the latest revision has 10 % of the traffic, the spec asks 100 % "
              "(canaryTrafficPercent)")),
    ("canary-first-revision-takes-all", edit(
        ISVC, spec__predictor__canaryTrafficPercent=10,
        status__components__predictor__latestRolledoutRevision=_MISSING),
     isvc_obs("ready", "Ready")),
    ("canary-text-percent", edit(CANARY, spec__predictor__canaryTrafficPercent="10"),
     isvc_obs("progressing", "the latest revision has 10 % of the traffic, the spec asks 100 % "
              "(canaryTrafficPercent)")),
    ("traffic-without-latest-flag", edit(CANARY, spec__predictor__canaryTrafficPercent=50,
                                         status__components__predictor__traffic=[
                                             {"revisionName": REV2, "percent": 100}]),
     isvc_obs("ready", "Ready")),
    ("traffic-not-a-list", edit(CANARY, spec__predictor__canaryTrafficPercent=50,
                                status__components__predictor__traffic="all"),
     isvc_obs("ready", "Ready")),
    ("raw-ignores-traffic", edit(CANARY, spec__predictor__canaryTrafficPercent=50,
                                 status__deploymentMode="RawDeployment"),
     isvc_obs("ready", "Ready")),
]


@pytest.mark.parametrize(("obj", "expected"), [pytest.param(o, e, id=i) for i, o, e in ISVC_CASES])
def test_inference_service(obj, expected):
    assert inference_service(obj) == expected


# -- Argo Rollout ----------------------------------------------------------------------------

ROLLOUT = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Rollout",
    "metadata": {"name": "churn", "namespace": "churn", "generation": 9},
    "spec": {"replicas": 4, "strategy": {"canary": {"steps": [{"setWeight": 20},
                                                              {"pause": {}}]}}},
    "status": {"HPAReplicas": 4, "availableReplicas": 4, "blueGreen": {},
               "canary": {"stablePodHash": "6d9f5b7c8"}, "currentPodHash": "6d9f5b7c8",
               "currentStepIndex": 2, "observedGeneration": "9", "phase": "Healthy",
               "readyReplicas": 4, "replicas": 4, "stableRS": "6d9f5b7c8",
               "updatedReplicas": 4,
               "conditions": [{"type": "Healthy", "status": "True",
                               "reason": "AllReplicasUpdated", "message": "Rollout is healthy"}]},
}
RO_NAME = "Rollout churn/churn"
RO_NOT_OBSERVED = "waiting for rollout spec update to be observed"


def ro_obs(state, message, paused=False):
    return Observation(RO_NAME, state, None, message, paused=paused)


RO_CASES = [
    ("healthy", ROLLOUT, ro_obs("ready", "Healthy")),
    ("healthy-with-message", edit(ROLLOUT, status__message="all good"),
     ro_obs("ready", "all good")),
    ("observed-generation-int", edit(ROLLOUT, status__observedGeneration=9),
     ro_obs("ready", "Healthy")),
    ("not-observed", edit(ROLLOUT, status__observedGeneration="8"),
     ro_obs("progressing", RO_NOT_OBSERVED)),
    ("observed-hash", edit(ROLLOUT, status__observedGeneration="6d9f5b7c8"),
     ro_obs("progressing", RO_NOT_OBSERVED)),
    ("observed-unicode-digit", edit(ROLLOUT, status__observedGeneration="\u0669"),
     ro_obs("progressing", RO_NOT_OBSERVED)),
    ("observed-missing", edit(ROLLOUT, status__observedGeneration=_MISSING),
     ro_obs("progressing", RO_NOT_OBSERVED)),
    ("generation-missing", edit(ROLLOUT, metadata__generation=_MISSING),
     ro_obs("progressing", RO_NOT_OBSERVED)),
    ("unpausing", edit(ROLLOUT, status__controllerPause=True, status__pauseConditions=[]),
     ro_obs("progressing", "waiting for rollout to unpause")),
    ("controller-paused", edit(ROLLOUT, status__phase="Paused", status__controllerPause=True,
                               status__message="CanaryPauseStep", status__pauseConditions=[
                                   {"reason": "CanaryPauseStep", "startTime": T}]),
     ro_obs("progressing", "CanaryPauseStep", paused=True)),
    ("paused-no-message", edit(ROLLOUT, status__phase="Paused"),
     ro_obs("progressing", "phase Paused", paused=True)),
    ("progressing", edit(ROLLOUT, status__phase="Progressing",
                         status__message="more replicas need to be updated"),
     ro_obs("progressing", "more replicas need to be updated")),
    ("degraded", edit(ROLLOUT, status__phase="Degraded", status__message="RolloutAborted: "
                      "Rollout aborted update to revision 3: Metric \"error-rate\" assessed "
                      "Failed due to failed (3) > failureLimit (2)"),
     ro_obs("failed", "RolloutAborted: Rollout aborted update to revision 3: Metric "
            "\"error-rate\" assessed Failed due to failed (3) > failureLimit (2)")),
    ("degraded-no-message", edit(ROLLOUT, status__phase="Degraded"), ro_obs("failed", "Degraded")),
    ("phase-missing", edit(ROLLOUT, status__phase=_MISSING), ro_obs("progressing", "phase None")),
]


@pytest.mark.parametrize(("obj", "expected"), [pytest.param(o, e, id=i) for i, o, e in RO_CASES])
def test_argo_rollout(obj, expected):
    assert argo_rollout(obj) == expected


# -- Flagger Canary --------------------------------------------------------------------------

CANARY = {
    "apiVersion": "flagger.app/v1beta1",
    "kind": "Canary",
    "metadata": {"name": "churn", "namespace": "churn", "generation": 1},
    "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "churn"},
             "analysis": {"interval": "1m", "threshold": 5, "maxWeight": 50, "stepWeight": 10}},
    "status": {"canaryWeight": 0, "failedChecks": 0, "iterations": 0,
               "lastAppliedSpec": "5f8c9d7b6", "lastPromotedSpec": "5f8c9d7b6",
               "lastTransitionTime": T, "phase": "Succeeded",
               "conditions": [{"type": "Promoted", "status": "True", "reason": "Succeeded",
                               "message": "Canary analysis completed successfully, promotion "
                                          "finished.", "lastTransitionTime": T,
                               "lastUpdateTime": T}]},
}
CANARY_NAME = "Canary churn/churn"
PROMOTED = "Canary analysis completed successfully, promotion finished."


def canary_obs(state, message, paused=False):
    return Observation(CANARY_NAME, state, None, message, paused=paused)


CANARY_CASES = [
    ("succeeded", CANARY, canary_obs("ready", PROMOTED)),
    ("initialized", edit(CANARY, status__phase="Initialized", status__conditions__0__message=
                         "Deployment initialization completed."),
     canary_obs("ready", "Deployment initialization completed.")),
    ("succeeded-no-condition", edit(CANARY, status__conditions=[]),
     canary_obs("ready", "phase Succeeded")),
    ("new-spec-not-promoted", edit(CANARY, status__lastAppliedSpec="7a1b2c3d4"),
     canary_obs("progressing", PROMOTED)),
    ("specs-missing", edit(CANARY, status__lastAppliedSpec=_MISSING,
                           status__lastPromotedSpec=_MISSING),
     canary_obs("progressing", PROMOTED)),
    ("progressing", edit(CANARY, status__phase="Progressing", status__canaryWeight=20,
                         status__conditions__0__status="Unknown",
                         status__conditions__0__message="New revision detected, progressing "
                         "canary analysis."),
     canary_obs("progressing", "New revision detected, progressing canary analysis.")),
    ("promoting", edit(CANARY, status__phase="Promoting", status__conditions=[]),
     canary_obs("progressing", "phase Promoting")),
    ("finalising", edit(CANARY, status__phase="Finalising", status__conditions=[]),
     canary_obs("progressing", "phase Finalising")),
    ("initializing", edit(CANARY, status__phase="Initializing", status__conditions=[]),
     canary_obs("progressing", "phase Initializing")),
    ("terminated", edit(CANARY, status__phase="Terminated", status__conditions=[]),
     canary_obs("progressing", "phase Terminated")),
    ("waiting", edit(CANARY, status__phase="Waiting", status__conditions__0__message=
                     "Waiting for approval."),
     canary_obs("progressing", "Waiting for approval.", paused=True)),
    ("waiting-promotion", edit(CANARY, status__phase="WaitingPromotion",
                               status__conditions=[]),
     canary_obs("progressing", "phase WaitingPromotion", paused=True)),
    ("failed", edit(CANARY, status__phase="Failed", status__failedChecks=5,
                    status__conditions__0__status="False",
                    status__conditions__0__message="Canary analysis failed, Deployment scaled "
                    "to zero."),
     canary_obs("failed", "Canary analysis failed, Deployment scaled to zero.")),
    ("failed-no-condition", edit(CANARY, status__phase="Failed", status__failedChecks=5,
                                 status__conditions=[]),
     canary_obs("failed", "canary analysis failed after 5 failed checks")),
    ("no-status", edit(CANARY, status=_MISSING), canary_obs("progressing", "phase None")),
]


@pytest.mark.parametrize(("obj", "expected"),
                         [pytest.param(o, e, id=i) for i, o, e in CANARY_CASES])
def test_flagger_canary(obj, expected):
    assert flagger_canary(obj) == expected
