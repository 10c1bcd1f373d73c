"""`mlgate canary`'s inputs turned into its typed config: the promotion each step repeats,
the rollback, and the wait and checks built once now (so a bad controller name, check or
placeholder is exit 2 before the first step lands) and again per step with its commit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from mlgate.errors import BadInput

_PROBE = "0" * 40   # a commit for the checks made before any step exists


def canary_config(values: Mapping[str, Any], environ: Mapping[str, str]):
    from mlgate.canary.config import CanaryConfig
    from mlgate.canary.steps import parse_steps
    from mlgate.canary.traffic import parse_field
    from mlgate.cluster.config import parse_duration
    from mlgate.stages.promote import STAGE as PROMOTE
    from mlgate.stages.rollback import STAGE as ROLLBACK
    from mlgate.stages.rollback import check_reason

    if values["resume"] and values["abort"]:
        raise BadInput("--resume and --abort do not go together")
    mode = "resume" if values["resume"] else "abort" if values["abort"] else "start"
    if values["reason"] is not None and mode != "abort":
        raise BadInput("--reason goes with --abort (a failed check writes its own)")
    if mode == "start" and not (values["images"] or values["from_environment"]):
        raise BadInput("give --image REF (or --from-environment ENV): what the canary "
                       "brings in")
    promote = PROMOTE.config_from(values, environ)
    if promote.target.mode != "push":
        raise BadInput("--mode pull-request: a canary's steps must land on the watched branch "
                       "one after another (use --mode push)")
    rollback = ROLLBACK.config_from(dict(values, steps=1, to=None, allow_unknown=False,
                                         of=None), environ)
    fields = tuple(parse_field(t) for t in values["traffic_fields"])
    if sum(1 for f in fields if not f.stable) != 1 and fields:
        raise BadInput("--traffic-field: exactly one field carries the new model's share (the "
                       "others end in =stable)")
    return CanaryConfig(
        promote=promote,
        rollback=rollback,
        steps=parse_steps(values["steps"]),
        pause=parse_duration(values["pause"], "--pause"),
        traffic=fields,
        wait=_wait_factory(values, environ),
        verify=_verify_factory(values, environ, promote.evidence),
        mode=mode,
        max_steps=values["max_steps"],
        reason=check_reason(values["reason"]),
    )


def _wait_factory(values: Mapping[str, Any], environ: Mapping[str, str]):
    """wait-sync for a step's commit, or None when no controller is named."""
    from mlgate.stages.wait_sync import STAGE as WAIT_SYNC

    named = [k for k in ("argocd_app", "flux_kustomization", "flux_helmrelease") if values[k]]
    if not named:
        extra = [k for k in ("workloads", "reconcile", "kube") if values[k]]
        if extra:
            raise BadInput(f"--{extra[0].rstrip('s').replace('_', '-')} needs the controller "
                           "to wait for: --argocd-app, --flux-kustomization or "
                           "--flux-helmrelease")
        return None
    given = dict(values, timeout=values["sync_timeout"], interval=values["sync_interval"])
    probe = WAIT_SYNC.config_from(dict(given, revision=_PROBE), environ)  # refused now
    if probe.controller == "argocd" and not (values["argocd_server"]
                                             or environ.get("ARGOCD_SERVER", "").strip()):
        raise BadInput("--argocd-app needs the Argo CD server: --argocd-server or "
                       "ARGOCD_SERVER (or --kube to read the Application through Kubernetes)")

    def wait(commit: str):
        return WAIT_SYNC.config_from(dict(given, revision=commit), environ)

    return wait


def _verify_factory(values: Mapping[str, Any], environ: Mapping[str, str], evidence):
    """verify for a step's commit, with the placeholders only a canary knows, or None when
    no check is given."""
    from mlgate.stages.verify_inputs import verify_config
    from mlgate.verify.run import prepare

    if not values["checks"]:
        if values["prometheus"]:
            raise BadInput("--prometheus without --check: give the checks each step must pass")
        return None
    if not values["prometheus"]:
        raise BadInput("--check needs --prometheus: the URL the checks query")
    # the gates' results, in --evidence's order: the benchmark's is max-drop's baseline
    path = next((p for p, e in zip(values["evidence"], evidence, strict=True)
                 if e.command == "benchmark"), None)
    given = dict(values, evidence=path, markdown_path=None, junit_path=None,
                 metrics_path=None)

    def checks(commit: str, labels: Mapping[str, str]):
        cfg = verify_config(dict(given, revision=commit), environ)
        return replace(cfg, labels={**cfg.labels, **{k: v for k, v in labels.items() if v}})

    probe = checks(_PROBE, {"canary": "probe", "revision": "probe"})
    # every query filled and every baseline found now: a bad one is exit 2 before step 1
    prepare(probe, lambda _q: [], (lambda: []) if probe.deployment else None)
    return checks
