"""`mlgate verify`'s inputs turned into its typed config: the one place they are checked, so
a bad SPEC, duration, placeholder or missing rollback target is exit 2 before any query."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlgate.errors import BadInput


def verify_config(values: Mapping[str, Any], environ: Mapping[str, str]):
    from mlgate.cluster.config import parse_duration
    from mlgate.cluster.kube import parse_ref
    from mlgate.cluster.names import check_namespace
    from mlgate.cluster.revision import check_sha
    from mlgate.verify.analysis import Limits
    from mlgate.verify.check import parse_check, parse_queries
    from mlgate.verify.config import VerifyConfig
    from mlgate.verify.evidence import read_baselines
    from mlgate.verify.prometheus import access_from

    queries = parse_queries(values["queries"])
    checks = tuple(parse_check(spec, queries) for spec in values["checks"])
    names = [c.name for c in checks]
    if len(set(names)) != len(names):
        raise BadInput("--check: each check once (" + ", ".join(
            sorted({n for n in names if names.count(n) > 1})) + " given twice)")
    interval = parse_duration(values["interval"], "--interval", minimum=0.1)
    baselines, version = {}, values["model_version"]
    if values["evidence"]:
        found = read_baselines(values["evidence"])
        baselines, version = found.scores, version or found.model_version
    labels = {k: v for k, v in (("app", values["app"]), ("environment", values["environment"]),
                                ("namespace", values["namespace"]),
                                ("model_version", version)) if v}
    if values["namespace"]:
        check_namespace(values["namespace"], "--namespace")
    deployment = None
    if values["deployment"]:
        deployment = parse_ref(values["deployment"], "--deployment", None)
    elif values["namespace"] and values["app"]:
        deployment = (values["namespace"], values["app"])
    on_failure = values["on_failure"]
    actions = {c.on_failure if on_failure == "check" else on_failure for c in checks}
    revision = check_sha(values["revision"], "--revision") if values["revision"] else None
    # where the promotion went: the rollback lands there, and a passed run moves the alias
    # the promotion left waiting there
    known = all(values[k] for k in ("repo", "app", "environment"))
    rollback = (_rollback(values, environ, revision) if "rollback" in actions or known
                else None)
    retrain = _retrain(values, environ) if "retrain" in actions else None
    incident = None
    if not values["no_incident"] and (rollback or retrain):
        from mlgate.verify.incident import incident_from

        incident = incident_from(environ)
    return VerifyConfig(
        prometheus=access_from(values["prometheus"], environ, values["prometheus_ca"]),
        checks=checks,
        limits=Limits(values["count"], values["failure_limit"], values["inconclusive_limit"],
                      values["consecutive_error_limit"]),
        interval=interval,
        initial_delay=parse_duration(values["initial_delay"], "--initial-delay"),
        window=(parse_duration(values["window"], "--window", minimum=0.001)
                if values["window"] else None),
        labels=labels,
        evidence=values["evidence"],
        baselines=baselines,
        on_failure=on_failure,
        rollback=rollback,
        retrain=retrain,
        incident=incident,
        deployment=deployment,
        kubeconfig=values["kubeconfig"],
        context=values["context"],
        environ=dict(environ),
    )


def _rollback(values: Mapping[str, Any], environ: Mapping[str, str], revision: str | None):
    """The rollback a failure runs, checked now: a verify that would fail into a rollback it
    cannot make is refused before it measures, not after production already misbehaved."""
    from mlgate.stages.rollback import STAGE as ROLLBACK

    missing = [f"--{k}" for k in ("repo", "app", "environment") if not values[k]]
    if missing:
        raise BadInput(f"a failed check rolls back: give {', '.join(missing)} (the config repo "
                       "and what to roll back), or --on-failure none")
    rollback_values = dict(values, steps=1, to=None, allow_unknown=False, reason=None,
                           of=revision)
    return ROLLBACK.config_from(rollback_values, environ)


def _retrain(values: Mapping[str, Any], environ: Mapping[str, str]):
    from mlgate.verify.retrain import retrain_from

    if not values["retrain_workflow"]:
        raise BadInput("a failed check starts a retraining (drift's default): give "
                       "--retrain-workflow, or on-failure=none in the check, or --on-failure")
    # GitLab names the project's default branch; GitHub's runner environment does not
    ref = values["retrain_ref"] or environ.get("CI_DEFAULT_BRANCH") or "main"
    return retrain_from(environ, values["retrain_workflow"], ref, values["retrain_repo"])
