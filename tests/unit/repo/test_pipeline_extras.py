"""The root action runs every step of the pipeline in one process, so it installs every extra
that the step's own action installs: an environment's `wait-sync:` through Flux or the
Kubernetes API, or verify's replicas-unavailable check, needs `kubernetes` (the cluster extra)
just as actions/wait-sync and actions/verify do. (The pipeline template installs the same
extras: tests/unit/repo/test_gitlab_template_install.py holds it to the root action.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from mlgate.interface import PIPELINE_STEPS

REPO = Path(__file__).resolve().parents[3]
# an action's extras may depend on an input: `${{ cond && 'a,b' || 'a' }}`: its default is last
LAST_LITERAL = re.compile(r"'([a-z0-9,]*)'\s*}}\s*$")


def install_extras(action: Path) -> set[str]:
    for step in yaml.safe_load(action.read_text(encoding="utf-8"))["runs"]["steps"]:
        extras = (step.get("env") or {}).get("MLGATE_EXTRAS")
        if extras is not None:
            text = str(extras)
            if "${{" in text:
                match = LAST_LITERAL.search(text)
                assert match, f"{action}: MLGATE_EXTRAS {text!r}"
                text = match.group(1)
            return set(filter(None, text.split(",")))
    raise AssertionError(f"{action}: no step sets MLGATE_EXTRAS")


def action_running(command: str) -> Path:
    found = [p for p in sorted((REPO / "actions").glob("*/action.yml"))
             if f"--inputs-from-env {command}'" in p.read_text(encoding="utf-8")]
    assert len(found) == 1, (command, found)
    return found[0]


@pytest.mark.parametrize("step", PIPELINE_STEPS)
def test_the_root_action_installs_the_extras_of_each_step_it_runs(step: str) -> None:
    needed = install_extras(action_running(step))
    root = install_extras(REPO / "action.yml")
    assert needed <= root, f"action.yml lacks {sorted(needed - root)} that {step} needs"


def test_the_extras_read_from_an_expression_are_its_default() -> None:
    assert install_extras(action_running("validate")) == {"validate"}
    assert install_extras(action_running("wait-sync")) == {"cluster"}
