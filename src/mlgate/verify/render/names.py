"""Durations and object names as the controllers' CRDs validate them, checked before they are
written: a manifest the API server refuses would only fail later, in the cluster."""

from __future__ import annotations

from mlgate.cluster.names import check_name
from mlgate.errors import BadInput


def go_duration(seconds: float, what: str) -> str:
    """A whole number of seconds as Go spells it and Flagger's schema takes (`^[0-9]+(m|s)`):
    `30s`, `5m`. Flagger and Argo Rollouts schedule in whole seconds, so a fraction is refused
    rather than rounded into another schedule."""
    whole = round(seconds)
    if whole < 1 or abs(seconds - whole) > 1e-9:
        raise BadInput(f"{what}: {seconds:g} s; the controllers take whole seconds (e.g. 30s, "
                       "1m)")
    return f"{whole // 60}m" if whole % 60 == 0 else f"{whole}s"


def resource_name(text: str, what: str) -> str:
    """A Kubernetes object name (DNS-1123 subdomain), or BadInput naming the input it came
    from (--name, or --app that it defaults to)."""
    if not text:
        raise BadInput(f"{what}: empty")
    return check_name(text, what)
