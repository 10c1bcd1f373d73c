"""`mlgate verify` end to end: fill the checks from the evidence and the labels, measure them
through Prometheus (and the Kubernetes API for replicas), judge the run, and act on a failure."""

from __future__ import annotations

import time
from collections.abc import Callable

from mlgate.cluster.wait import Clock
from mlgate.errors import BadInput
from mlgate.verify.config import VerifyConfig
from mlgate.verify.measure import MeasureError, Prepared, measure
from mlgate.verify.promql import fill
from mlgate.verify.result import VerifyResult


def prepare(cfg: VerifyConfig, query: Callable[[str], list[float]],
            replicas: Callable[[], list[float]] | None) -> list[Prepared]:
    """Each check with its query filled and its range final; BadInput (before anything is
    measured) for a placeholder without a value or a max-drop without evidence."""
    from mlgate.verify.evidence import drop_floor

    window = cfg.window if cfg.window is not None else cfg.interval
    out = []
    for check in cfg.checks:
        what = f"--check {check.name}"
        low, high, baseline = check.min, check.max, None
        if check.max_drop is not None:
            if check.name not in cfg.baselines:
                raise BadInput(f"{what}: max-drop needs the benchmark evidence's {check.name} "
                               "score: give --evidence (the JSON of mlgate benchmark that "
                               "promoted this model)" if not cfg.evidence else
                               f"{what}: --evidence {cfg.evidence} holds no {check.name} "
                               "score for the candidate")
            baseline = cfg.baselines[check.name]
            floor = drop_floor(baseline, check.max_drop, check.drop_relative)
            low = floor if low is None else max(low, floor)
        if check.kube:
            if replicas is None:
                raise BadInput(f"{what}: needs the Deployment: --deployment NS/NAME, or "
                               "--namespace and --app")
            assert cfg.deployment is not None
            query_text, read = f"deployment {'/'.join(cfg.deployment)}", replicas
        else:
            query_text = fill(check.query, dict(cfg.labels), window, what)
            read = (lambda q: (lambda: query(q)))(query_text)
        out.append(Prepared(check, query_text, low, high, read, baseline))
    return out


def verify(cfg: VerifyConfig, progress: Callable[[str], None], *,
           clock: Clock | None = None, wall: Callable[[], int] | None = None,
           started: float | None = None) -> VerifyResult:
    """The run, its schedule counted from `started` (the clock's time when verify began, so
    the setup here is part of the initial delay; default: when measuring begins)."""
    client = kube = None
    try:
        needs_prometheus = any(not c.kube for c in cfg.checks)
        if needs_prometheus:
            from mlgate.verify.prometheus import PrometheusClient

            client = PrometheusClient(cfg.prometheus)
        replicas = None
        if any(c.kube for c in cfg.checks) and cfg.deployment:
            from mlgate.cluster.kube import KubeClient

            kube = KubeClient(kubeconfig=cfg.kubeconfig, context=cfg.context,
                              environ=cfg.environ)
            replicas = _replicas_reader(kube, *cfg.deployment, cfg.interval)
        prepared = prepare(cfg, _query_reader(client, cfg.interval), replicas)
        checks, seconds = measure(prepared, cfg.limits, cfg.interval, cfg.initial_delay,
                                  progress, clock, wall, started)
    finally:
        for opened in (client, kube):
            if opened is not None:
                opened.close()
    from mlgate.verify.analysis import run_phase

    phase = run_phase([c.phase for c in checks])
    bad = [c for c in checks if c.phase == phase and c.reason]
    message = bad[0].reason if phase != "Successful" and bad else (
        f"all {len(checks)} check(s) passed ({sum(len(c.measurements) for c in checks)} "
        "measurements)")
    result = VerifyResult(phase, checks, seconds, message, (), cfg.evidence,
                          dict(cfg.labels))
    from dataclasses import replace

    if phase == "Failed":
        from mlgate.verify.act import act

        result = replace(result, actions=act(cfg, result, progress))
    elif phase == "Successful":
        from mlgate.verify.act import confirm

        moved = confirm(cfg, progress)
        if moved is not None:
            result = replace(result, actions=(moved,))
    return result


def _query_reader(client, interval: float) -> Callable[[str], list[float]]:
    def read(promql: str) -> list[float]:
        from mlgate.verify.prometheus import QueryError

        assert client is not None
        try:
            # a measurement may take at most one interval: the next one is due then
            answer = client.query(promql, deadline=time.monotonic() + max(interval, 1.0))
        except QueryError as exc:
            raise MeasureError(str(exc)) from None
        return list(answer.values)
    return read


def _replicas_reader(kube, namespace: str, name: str, interval: float):
    """Unavailable replicas of a Deployment, as `kubectl rollout status` counts them: the
    desired replicas minus the available ones (status.unavailableReplicas when given)."""
    from mlgate.errors import ServiceError

    def read() -> list[float]:
        try:
            obj = kube.get("deployment", namespace, name,
                           deadline=time.monotonic() + max(interval, 1.0))
        except ServiceError as exc:
            raise MeasureError(str(exc)) from None
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        unavailable = status.get("unavailableReplicas")
        if isinstance(unavailable, int) and not isinstance(unavailable, bool):
            return [float(unavailable)]
        desired = spec.get("replicas", 1)
        available = status.get("availableReplicas", 0)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (desired, available)):
            return []
        return [float(max(0, desired - available))]
    return read
