"""Which module holds each stage. Modules load only when their stage is asked for, so
`mlgate --help` and a rewrite never import a gate's libraries."""

from __future__ import annotations

import importlib

from mlgate.errors import BadInput
from mlgate.interface import STAGES
from mlgate.stages.stage import Stage

MODULES: dict[str, str] = {
    "rewrite": "mlgate.stages.rewrite",
    "promote": "mlgate.stages.promote",
    "rollback": "mlgate.stages.rollback",
    "sync-aliases": "mlgate.stages.sync_aliases",
    "scan": "mlgate.stages.scan",
    "validate": "mlgate.stages.validate",
    "benchmark": "mlgate.stages.benchmark",
    "comply": "mlgate.stages.comply",
    "wait-sync": "mlgate.stages.wait_sync",
    "verify": "mlgate.stages.verify",
    "canary": "mlgate.stages.canary",
    "render-analysis": "mlgate.stages.render_analysis",
    "history": "mlgate.stages.history",
    "status": "mlgate.stages.status",
    "audit": "mlgate.stages.audit",
    "metrics": "mlgate.stages.metrics",
}
assert tuple(MODULES) == STAGES, "a stage is registered here and listed in mlgate.interface"


def stage(name: str) -> Stage:
    """The stage named `name` (each module exposes it as STAGE)."""
    if name not in MODULES:
        raise BadInput(f"unknown stage {name!r} (stages: {', '.join(MODULES)})")
    return importlib.import_module(MODULES[name]).STAGE
