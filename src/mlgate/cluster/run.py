"""`mlgate wait-sync` end to end: build the readers for the controller and the workloads, the
rules that judge them, and the ancestry check, then wait."""

from __future__ import annotations

import time
from collections.abc import Callable

from mlgate.cluster.config import WaitSyncConfig
from mlgate.cluster.result import WaitSyncResult
from mlgate.cluster.wait import Clock, Watched, wait
from mlgate.errors import BadInput

# The rule (in mlgate.cluster.status) for each kind of resource read through Kubernetes.
KUBE_RULES = {
    "application": "argocd_application",
    "kustomization": "flux_kustomization",
    "helmrelease": "flux_helmrelease",
    "deployment": "deployment",
    "inferenceservice": "inference_service",
    "rollout": "argo_rollout",
    "canary": "flagger_canary",
}
CONTROLLER_KINDS = {"argocd-kube": "application", "kustomization": "kustomization",
                    "helmrelease": "helmrelease"}
WORKLOAD_KINDS = ("deployment", "inferenceservice", "rollout", "canary")


def wait_sync(cfg: WaitSyncConfig, progress: Callable[[str], None], *,
              clock: Clock | None = None) -> WaitSyncResult:
    from mlgate.cluster import status
    from mlgate.cluster.ancestry import GitAncestry, exact_only

    clock = clock or Clock()
    deadline = time.monotonic() + cfg.timeout
    ancestry = GitAncestry(cfg.repo, cfg.environ) if cfg.repo else None
    is_descendant = ancestry.is_descendant if ancestry else exact_only
    kube = argo = None
    try:
        if cfg.controller != "argocd" or cfg.workloads:
            from mlgate.cluster.kube import KubeClient

            kube = KubeClient(kubeconfig=cfg.kubeconfig, context=cfg.context,
                              environ=cfg.environ)
        if cfg.controller == "argocd":
            argo, read = _argocd_reader(cfg, deadline)
            judge = getattr(status, KUBE_RULES["application"])
        else:
            assert kube is not None
            kind = CONTROLLER_KINDS[cfg.controller]
            if cfg.reconcile and kind != "application":
                from mlgate.cluster.kube import rfc3339_now

                kube.request_reconcile(kind, cfg.namespace, cfg.name, rfc3339_now())
                progress(f"{cfg.label}: reconcile requested")
            read = _kube_reader(kube, kind, cfg.namespace, cfg.name)
            judge = getattr(status, KUBE_RULES[kind])
        controller = Watched(cfg.label, read,
                             lambda obj: judge(obj, cfg.revision, is_descendant), True)
        workloads = []
        for w in cfg.workloads:
            assert kube is not None
            rule = getattr(status, KUBE_RULES[w.kind])
            # KServe's serving revision is kept: a canary's checks name it ({revision})
            workloads.append(Watched(w.label, _kube_reader(kube, w.kind, w.namespace, w.name),
                                     rule, w.kind == "inferenceservice"))
        return wait(cfg, controller, workloads, progress=progress, clock=clock)
    finally:   # the clients' connections, and the config repo's clone
        for opened in (argo, kube, ancestry):
            if opened is not None:
                opened.close()


def _argocd_reader(cfg: WaitSyncConfig, deadline: float):
    from mlgate.cluster.argocd import ArgoCdClient, server_url

    server = cfg.argocd_server or cfg.environ.get("ARGOCD_SERVER", "")
    if not server.strip():
        raise BadInput("--argocd-app needs the Argo CD server: --argocd-server or ARGOCD_SERVER "
                       "(host[:port], or a full URL such as http://127.0.0.1:8080)")
    token = cfg.environ.get("ARGOCD_AUTH_TOKEN", "").strip() or None
    client = ArgoCdClient(server_url(server), token, app_namespace=cfg.namespace or None,
                          project=cfg.argocd_project, deadline=deadline)
    first = [True]

    def read():
        # the first read asks Argo CD to refresh: otherwise it may answer from a status that
        # predates the commit (argocd app wait's blind spot)
        obj = client.application(cfg.name, refresh=first[0])
        first[0] = False
        return obj

    return client, read


def _kube_reader(kube, kind: str, namespace: str, name: str):
    return lambda: kube.get(kind, namespace, name)
