"""What a failed verification does: each failed check's own choice, or --on-failure for all;
an action that cannot be made is reported, never raised."""

from __future__ import annotations

import pytest
from support.configrepo import example_remote, git

from mlgate.verify.act import act, wanted
from mlgate.verify.check import parse_check
from mlgate.verify.config import PrometheusAccess, VerifyConfig
from mlgate.verify.result import CheckResult, Measurement, VerifyResult

IMG = "registry.example.com/ml/churn"


def check(name: str, phase: str, on_failure: str, reason: str = "") -> CheckResult:
    m = Measurement(1.0, "2026-01-01T00:00:00Z", 0.5, "Failed" if phase == "Failed" else
                    "Successful")
    return CheckResult(name, "q", None, 0.1, "", on_failure, phase, (m,),  # type: ignore[arg-type]
                       int(phase == "Failed"), 0, 0, 0, reason=reason or f"{name} bad")


def config(on_failure="check", **kw) -> VerifyConfig:
    return VerifyConfig(PrometheusAccess("http://127.0.0.1:9"), (parse_check("drift"),),
                        on_failure=on_failure, **kw)


def test_each_failed_check_asks_for_its_own_action_first_asker_kept():
    checks = (check("a", "Successful", "rollback"), check("b", "Failed", "retrain"),
              check("c", "Failed", "rollback"), check("d", "Failed", "rollback"),
              check("e", "Failed", "none"), check("f", "Inconclusive", "rollback"))
    got = wanted(config(), checks)
    assert {k: v.name for k, v in got.items()} == {"retrain": "b", "rollback": "c"}


@pytest.mark.parametrize("on_failure, expected", [
    ("rollback", {"rollback": "b"}), ("retrain", {"retrain": "b"}), ("none", {})])
def test_on_failure_overrides_every_check(on_failure, expected):
    checks = (check("b", "Failed", "retrain"), check("c", "Failed", "rollback"))
    assert {k: v.name for k, v in wanted(config(on_failure), checks).items()} == expected


def result(*checks: CheckResult) -> VerifyResult:
    return VerifyResult("Failed", checks, 3.0, checks[0].reason, (), None,
                        {"app": "churn", "environment": "staging"})


def test_without_a_rollback_config_the_action_is_reported_not_raised():
    (taken,) = act(config(), result(check("c", "Failed", "rollback")), lambda _l: None)
    assert (taken.kind, taken.ok) == ("rollback", False)
    assert "not rolled back" in taken.detail


def test_without_a_training_workflow_the_action_is_reported_not_raised():
    (taken,) = act(config(), result(check("drift", "Failed", "retrain")), lambda _l: None)
    assert (taken.kind, taken.ok) == ("retrain", False)
    assert "--retrain-workflow" in taken.detail


def rollback_config(remote, of=None):
    from mlgate.stages.params import values_from
    from mlgate.stages.rollback import STAGE

    given = {"repo": str(remote), "app": "churn", "environment": "staging",
             "path": "apps/churn", **({"of": of} if of else {})}
    return STAGE.config_from(values_from(STAGE.params, given, where="test"),
                             {"PATH": "/usr/bin:/bin"})


def test_a_rollback_records_the_failed_checks_reason(tmp_path):
    from mlgate.cli import main

    remote = example_remote(tmp_path)
    assert main(["promote", "--repo", str(remote), "--app", "churn", "--path", "apps/churn",
                 "--environment", "staging", "--image", f"{IMG}:v1.5.0"],
                environ={"PATH": "/usr/bin:/bin"}) == 0
    promoted = git(remote, "rev-parse", "main").strip()
    lines: list[str] = []
    failed = check("error-rate", "Failed", "rollback", "error-rate 0.5 > 0.1 (1 of 1 "
                   "measurements)")
    (taken,) = act(config(rollback=rollback_config(remote, promoted)), result(failed),
                   lines.append)
    head = git(remote, "rev-parse", "main").strip()
    assert (taken.kind, taken.ok, taken.commit) == ("rollback", True, head)
    assert taken.detail == f"rolled back: {head}"
    message = git(remote, "log", "-1", "--format=%B", "main")
    assert "Mlgate-Rollback-Reason: error-rate 0.5 > 0.1 (1 of 1 measurements)" in message
    assert f"Mlgate-Rollback-Of: {promoted}" in message
    assert lines[0].startswith("rolling back churn in staging: error-rate 0.5")
    # the same promotion again: it is no longer live, so the rollback fails and says so
    (again,) = act(config(rollback=rollback_config(remote, promoted)), result(failed),
                   lines.append)
    assert (again.ok, again.commit) == (False, None)
    assert again.detail.startswith("rollback failed: ")
    assert git(remote, "rev-parse", "main").strip() == head
