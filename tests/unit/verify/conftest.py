"""The real Prometheus fixtures (tests/support/prometheus.py) for every verify test."""

from support.prometheus import (  # noqa: F401  (fixtures)
    bare_prometheus,
    prometheus_stack,
    secured_prometheus,
)
