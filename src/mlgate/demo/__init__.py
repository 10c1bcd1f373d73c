"""`mlgate demo`: the whole pipeline end to end on the bundled example, with nothing to set up.

In one work directory (a new temporary one by default) and with no network, `fixtures` makes a
model project, a sqlite MLflow registry with a champion and a better candidate, and a bare
config repo; `run` then runs `mlgate pipeline` into staging, then production from staging
(the registry aliases follow the commits), and `mlgate rollback` undoes production; `summary`
writes what each gate said.

The demo leaves the process environment and working directory alone: it builds an explicit
environ mapping and hands it to git, Trivy and the inner commands.
"""

from __future__ import annotations

from mlgate.demo.run import STEPS, DemoResult, run_demo

__all__ = ["STEPS", "DemoResult", "run_demo"]
