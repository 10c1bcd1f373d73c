"""What a failed verification does: each failed check's own choice, or --on-failure for all;
the rollback in the config repository (real git, or the GitHub stand-in), the training workflow
and the incident issue on the GitHub stand-in of the model repository, in that order; an action
that cannot be made is reported, never raised, and nothing is opened when nothing was done."""

from __future__ import annotations

import hashlib
import subprocess

import pytest
from standins.github_api import WRITE_TOKEN, GitHubStandIn
from support.configrepo import EXAMPLES, example_remote, git, tree_files
from support.mlflowreg import churn_registry

from mlgate.escape import escape_markdown
from mlgate.promote.message import parse_trailers
from mlgate.verify.act import act, wanted
from mlgate.verify.check import parse_check
from mlgate.verify.config import Incident, PrometheusAccess, Retrain, VerifyConfig
from mlgate.verify.result import ActionTaken, CheckResult, Measurement, VerifyResult

IMG = "registry.example.com/ml/churn"
# a GitHub Actions run of the model repository: the run the incident and the training point to
RUN_ENV = {"GITHUB_SERVER_URL": "https://github.example", "GITHUB_REPOSITORY": "acme/churn-model",
           "GITHUB_RUN_ID": "7"}
RUN_URL = "https://github.example/acme/churn-model/actions/runs/7"
DECLARED = ("mlgate_app", "mlgate_environment", "mlgate_model_version", "mlgate_reason",
            "mlgate_check", "mlgate_value", "mlgate_limit", "mlgate_evidence")
ERROR_RATE = "error-rate 0.5 > 0.1 (1 of 1 measurements)"
DRIFT = "drift 0.71 > 0.5 (1 of 2 measurements)"


@pytest.fixture(autouse=True)
def _loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def models(tmp_path):
    """The model repository on the GitHub stand-in: its issues and its training workflow."""
    with GitHubStandIn(tmp_path / "github", name="churn-model") as server:
        server.add_workflow(".github/workflows/train.yml", name="train", inputs=DECLARED)
        yield server


def incident_to(server: GitHubStandIn) -> Incident:
    return Incident("github", server.full_name, server.api_url, WRITE_TOKEN)


def retrain_on(server: GitHubStandIn) -> Retrain:
    return Retrain("github", server.full_name, "train.yml", "main", server.api_url, WRITE_TOKEN)


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


def result(*checks: CheckResult, evidence: str | None = None) -> VerifyResult:
    return VerifyResult("Failed", checks, 3.0, checks[0].reason, (), evidence,
                        {"app": "churn", "environment": "staging"})


def drifted() -> CheckResult:
    return CheckResult("drift", "max(mlgate_model_drift_score{app=\"churn\"})", None, 0.5, "",
                       "retrain", "Failed", (Measurement(30, "t", 0.4, "Successful"),
                                             Measurement(60, "t", 0.71, "Failed")),
                       1, 0, 0, 0, reason=DRIFT)


def test_without_a_rollback_config_the_action_is_reported_not_raised():
    (taken,) = act(config(), result(check("c", "Failed", "rollback")), lambda _l: None)
    assert taken == ActionTaken("rollback", False, "no config repo given (--repo, --app, "
                                "--environment): not rolled back")


def test_without_a_training_workflow_the_action_is_reported_not_raised():
    (taken,) = act(config(), result(check("drift", "Failed", "retrain")), lambda _l: None)
    assert taken == ActionTaken("retrain", False, "no training workflow given "
                                "(--retrain-workflow): not started")


def rollback_config(remote, of=None, environ=None, **given):
    """Rollback's config as `mlgate verify` builds it; `given` in input names (api_url for
    api-url)."""
    from mlgate.stages.params import values_from
    from mlgate.stages.rollback import STAGE

    given = {"repo": str(remote), "app": "churn", "environment": "staging",
             "path": "apps/churn", **({"of": of} if of else {}),
             **{k.replace("_", "-"): v for k, v in given.items()}}
    return STAGE.config_from(values_from(STAGE.params, given, where="test"),
                             environ or {"PATH": "/usr/bin:/bin"})


def promote(remote, *args: str, environ=None, image: str = f"{IMG}:v1.5.0") -> None:
    """Promote to staging: the promotion verify checks."""
    from mlgate.cli import main

    assert main(["promote", "--repo", str(remote), "--app", "churn", "--path", "apps/churn",
                 "--environment", "staging", "--image", image, *args],
                environ=environ or {"PATH": "/usr/bin:/bin"}) == 0


def head(remote) -> str:
    return git(remote, "rev-parse", "main").strip()


def test_a_rollback_records_the_failed_checks_reason(tmp_path):
    remote = example_remote(tmp_path)
    promote(remote)
    promoted = head(remote)
    lines: list[str] = []
    failed = check("error-rate", "Failed", "rollback", ERROR_RATE)
    (taken,) = act(config(rollback=rollback_config(remote, promoted)), result(failed),
                   lines.append)
    back = head(remote)
    assert taken == ActionTaken("rollback", True, f"rolled back: {back}", commit=back)
    message = git(remote, "log", "-1", "--format=%B", "main")
    assert f"Mlgate-Rollback-Reason: {ERROR_RATE}" in message
    assert f"Mlgate-Rollback-Of: {promoted}" in message
    assert lines == [f"rolling back churn in staging: {ERROR_RATE}"]
    # the same promotion again: it is no longer live, so the rollback fails and says so
    (again,) = act(config(rollback=rollback_config(remote, promoted)), result(failed),
                   lines.append)
    assert (again.kind, again.ok, again.commit, again.url) == ("rollback", False, None, None)
    assert again.detail.startswith("rollback failed: ")
    assert head(remote) == back


def test_the_reason_trailer_is_clipped_to_300_characters(tmp_path):
    """A custom check's reason can be long; the trailer holds its first 300 characters (what
    `mlgate rollback --reason` accepts), the progress line the whole of it."""
    remote = example_remote(tmp_path)
    promote(remote)
    reason = "latency-of-" + "x" * 300 + " 9 > 1 (1 of 1 measurements)"
    lines: list[str] = []
    (taken,) = act(config(rollback=rollback_config(remote)),
                   result(check("custom", "Failed", "rollback", reason)), lines.append)
    assert taken.ok
    trailers = dict(parse_trailers(git(remote, "log", "-1", "--format=%B", "main")))
    assert trailers["Mlgate-Rollback-Reason"] == reason[:300]
    assert lines == [f"rolling back churn in staging: {reason}"]


def test_values_already_restored_by_hand_leave_nothing_to_change(tmp_path):
    """Someone put v1.4.0 back without mlgate: the rollback has nothing to commit, which is
    no failure (the previous values are live)."""
    remote = example_remote(tmp_path)
    promote(remote)
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", str(remote), str(work))
    file = work / "apps" / "churn" / "staging" / "kustomization.yaml"
    file.write_text(file.read_text().replace("newTag: v1.5.0", "newTag: v1.4.0"))
    git(work, "commit", "-qam", "put v1.4.0 back by hand")
    git(work, "push", "-q", "origin", "main")
    before = head(remote)
    (taken,) = act(config(rollback=rollback_config(remote)),
                   result(check("error-rate", "Failed", "rollback", ERROR_RATE)), lambda _l: None)
    assert taken == ActionTaken("rollback", True, "rolled back: nothing to change")
    assert head(remote) == before


# --------------------------------------------------------------------------- the incident


def test_a_rollback_then_an_incident_naming_its_commit_the_run_and_the_evidence(tmp_path,
                                                                                models):
    remote = example_remote(tmp_path)
    promote(remote)
    promoted = head(remote)
    evidence = tmp_path / "benchmark.json"
    evidence.write_text('{"command": "benchmark", "result": {"metrics": []}}\n')
    failed = check("error-rate", "Failed", "rollback", ERROR_RATE)
    cfg = config(rollback=rollback_config(remote, promoted), incident=incident_to(models),
                 evidence=str(evidence), environ=RUN_ENV)
    lines: list[str] = []
    taken = act(cfg, result(failed, evidence=str(evidence)), lines.append)
    back = head(remote)
    assert back != promoted
    (number, issue), = models.issues.items()
    url = f"{models.html_url}/{models.full_name}/issues/{number}"
    assert taken == (ActionTaken("rollback", True, f"rolled back: {back}", commit=back),
                     ActionTaken("incident", True, f"opened #{number}: {url}", url=url))
    assert lines == [f"rolling back churn in staging: {ERROR_RATE}", "opening an incident issue"]
    assert issue["title"] == f"mlgate verify failed: churn staging: {ERROR_RATE}"
    body = issue["body"]
    assert f"- **rollback** done: rolled back: {back} (commit `{back}`)" in body.splitlines()
    assert f"| Run | [{escape_markdown(RUN_URL)}]({RUN_URL}) |" in body.splitlines()
    digest = hashlib.sha256(evidence.read_bytes()).hexdigest()
    assert f"| Evidence | {escape_markdown(str(evidence))} (sha256 `{digest}`) |" in \
        body.splitlines()


def test_a_retraining_gets_the_drift_and_the_run_then_an_incident_names_it(models):
    res = VerifyResult("Failed", (drifted(),), 60.0, DRIFT, (), None,
                       {"app": "churn", "environment": "production", "model_version": "7"})
    lines: list[str] = []
    taken = act(config(retrain=retrain_on(models), incident=incident_to(models),
                       environ=RUN_ENV), res, lines.append)
    (run,) = [r for r in models.runs if r.event == "workflow_dispatch"]
    assert (run.workflow.file_name, run.head_branch) == ("train.yml", "main")
    assert run.inputs == {
        "mlgate_app": "churn", "mlgate_environment": "production", "mlgate_model_version": "7",
        "mlgate_reason": DRIFT, "mlgate_check": "drift", "mlgate_value": "0.71",
        "mlgate_limit": "<=0.5", "mlgate_evidence": RUN_URL}
    started = taken[0].url
    assert started is not None and started.endswith(f"/runs/{run.id}")
    (number, issue), = models.issues.items()
    url = f"{models.html_url}/{models.full_name}/issues/{number}"
    assert taken == (ActionTaken("retrain", True, f"started train.yml on main: {started}",
                                 url=started),
                     ActionTaken("incident", True, f"opened #{number}: {url}", url=url))
    assert lines == [f"starting the training workflow: {DRIFT}", "opening an incident issue"]
    assert issue["title"] == f"mlgate verify failed: churn production (model 7): {DRIFT}"
    detail = escape_markdown(taken[0].detail)
    assert f"- **retrain** done: {detail} ([{escape_markdown(started)}]({started}))" in \
        issue["body"].splitlines()


def test_rollback_then_retraining_then_the_incident_telling_both(tmp_path, models):
    remote = example_remote(tmp_path)
    promote(remote)
    failed = check("error-rate", "Failed", "rollback", ERROR_RATE)
    lines: list[str] = []
    taken = act(config(rollback=rollback_config(remote), retrain=retrain_on(models),
                       incident=incident_to(models)), result(failed, drifted()), lines.append)
    assert [(a.kind, a.ok) for a in taken] == [("rollback", True), ("retrain", True),
                                               ("incident", True)]
    assert lines == [f"rolling back churn in staging: {ERROR_RATE}",
                     f"starting the training workflow: {DRIFT}", "opening an incident issue"]
    (issue,) = models.issues.values()
    done = [line for line in issue["body"].splitlines() if line.startswith("- **")]
    assert [line.split("**")[1] for line in done] == ["rollback", "retrain"]
    (run,) = [r for r in models.runs if r.event == "workflow_dispatch"]
    assert run.inputs["mlgate_reason"] == ERROR_RATE   # the run's first reason
    assert "mlgate_evidence" not in run.inputs           # no run, no evidence: nothing to point to


def test_a_failed_incident_does_not_hide_the_rollback(tmp_path, models):
    remote = example_remote(tmp_path)
    promote(remote)
    promoted = head(remote)
    models.has_issues = False
    taken = act(config(rollback=rollback_config(remote, promoted), incident=incident_to(models)),
                result(check("error-rate", "Failed", "rollback", ERROR_RATE)), lambda _l: None)
    back = head(remote)
    assert taken[0] == ActionTaken("rollback", True, f"rolled back: {back}", commit=back)
    assert (taken[1].kind, taken[1].ok) == ("incident", False)
    assert taken[1].detail.startswith("not opened: ") and "Issues are disabled" in taken[1].detail
    assert len(taken) == 2 and models.issues == {} and back != promoted


def test_a_rollback_that_failed_is_told_in_the_incident(tmp_path, models):
    """The promotion verify checked is no longer the live one: nothing is undone, and the
    incident says the rollback failed (the model still fails its checks live)."""
    remote = example_remote(tmp_path)
    promote(remote)
    checked = head(remote)
    promote(remote, image=f"{IMG}:v1.6.0")   # landed while verify was measuring
    taken = act(config(rollback=rollback_config(remote, checked), incident=incident_to(models)),
                result(check("error-rate", "Failed", "rollback", ERROR_RATE)), lambda _l: None)
    assert [(a.kind, a.ok) for a in taken] == [("rollback", False), ("incident", True)]
    (issue,) = models.issues.values()
    assert f"- **rollback** failed: {escape_markdown(taken[0].detail)}" in \
        issue["body"].splitlines()
    assert taken[0].detail.startswith("rollback failed: ")


@pytest.mark.parametrize("on_failure, checks", [
    ("none", (check("error-rate", "Failed", "rollback"),)),
    ("check", (check("error-rate", "Failed", "none"), check("drift", "Failed", "none"))),
    ("check", (check("error-rate", "Inconclusive", "rollback"),
               check("p95-latency", "Successful", "rollback"))),
])
def test_no_incident_when_nothing_was_done(models, on_failure, checks):
    lines: list[str] = []
    cfg = config(on_failure, incident=incident_to(models), retrain=retrain_on(models),
                 environ=RUN_ENV)
    assert act(cfg, result(*checks), lines.append) == ()
    assert (models.issues, models.runs, models.log, lines) == ({}, [], [], [])


# --------------------------------------------------------------------------- through GitHub


@pytest.fixture
def config_repo(git_server):
    """The config repository behind the GitHub stand-in: mlgate clones it over the loopback
    git server and writes through the API."""
    git_server.add_user("x-access-token", WRITE_TOKEN, "write")
    with GitHubStandIn(git_server.root / "acme", files=tree_files(EXAMPLES)) as api:
        bare = git_server.path("acme/config")
        for key in ("http.receivepack", "http.uploadpack", "uploadpack.allowFilter"):
            subprocess.run(["git", "-C", str(bare), "config", key, "true"], check=True)
        yield api, git_server.url("acme/config")


FORGE_ENV = {"PATH": "/usr/bin:/bin", "GITHUB_TOKEN": WRITE_TOKEN, "NO_PROXY": "127.0.0.1"}


def test_a_rollback_through_a_pull_request_is_reported_by_its_url(config_repo):
    api, url = config_repo
    promote(url, "--provider", "github", "--api-url", api.api_url, environ=FORGE_ENV)
    promoted = api.head()
    rollback = rollback_config(url, promoted, FORGE_ENV, provider="github",
                               api_url=api.api_url, mode="pull-request")
    (taken,) = act(config(rollback=rollback),
                   result(check("error-rate", "Failed", "rollback", ERROR_RATE)), lambda _l: None)
    (pr,) = api.pulls.values()
    pr_url = f"{api.html_url}/{api.full_name}/pull/{pr.number}"
    assert taken == ActionTaken("rollback", True, f"rolled back: {pr_url}", url=pr_url,
                                commit=api.head(pr.head))
    assert api.head() == promoted   # main waits for the request to be merged


def test_the_landings_own_lines_reach_the_progress(config_repo):
    """Someone pushed to main meanwhile: the rollback is re-applied on the new head and says
    so, as `mlgate rollback` would."""
    api, url = config_repo
    promote(url, "--provider", "github", "--api-url", api.api_url, environ=FORGE_ENV)
    api.push_concurrently("main", {"README.md": "edited meanwhile\n"})
    lines: list[str] = []
    (taken,) = act(config(rollback=rollback_config(url, None, FORGE_ENV, provider="github",
                                                   api_url=api.api_url)),
                   result(check("error-rate", "Failed", "rollback", ERROR_RATE)), lines.append)
    assert taken.ok and taken.commit == api.head()
    assert lines[0] == f"rolling back churn in staging: {ERROR_RATE}"
    assert lines[1].startswith("attempt 1: main moved; re-applying on the new head")
    assert len(lines) == 2


# --------------------------------------------------------------------------- after a pass


@pytest.fixture
def registry(tmp_path, monkeypatch):
    return churn_registry(tmp_path, monkeypatch, alias="staging")


def alias(client) -> str:
    return str(client.get_model_version_by_alias("churn", "staging").version)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_pass_moves_the_alias_the_verified_promotion_left_waiting(tmp_path, registry):
    from mlgate.verify.act import confirm

    uri, client = registry
    remote = example_remote(tmp_path)
    env = {"PATH": "/usr/bin:/bin", "MLFLOW_TRACKING_URI": uri}
    promote(remote, "--registry-model", "churn", "--registry-version", "2",
            "--registry-alias", "staging", "--alias-when", "verified", environ=env)
    promoted = head(remote)
    assert alias(client) == "1"
    lines: list[str] = []
    cfg = config(rollback=rollback_config(remote, promoted, env, tracking_uri=uri))
    assert confirm(cfg, lines.append) == ActionTaken(
        "alias", True, "moved churn@staging -> version 2")
    assert lines == ["verified: churn@staging -> version 2"]
    assert alias(client) == "2"
    assert client.get_model_version("churn", "2").tags["mlgate.verified.staging"] == promoted
    # a re-run (a retried job) changes nothing and says so
    assert confirm(cfg, lines.append) == ActionTaken(
        "alias", True, "churn@staging -> version 2 already")
    assert head(remote) == promoted


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_nothing_to_confirm_without_a_waiting_alias_or_a_named_promotion(tmp_path, registry):
    from mlgate.verify.act import confirm

    uri, client = registry
    remote = example_remote(tmp_path)
    env = {"PATH": "/usr/bin:/bin", "MLFLOW_TRACKING_URI": uri}
    promote(remote, environ=env)                   # no alias at all
    lines: list[str] = []
    assert confirm(config(), lines.append) is None
    assert confirm(config(rollback=rollback_config(remote, None, env)), lines.append) is None
    assert confirm(config(rollback=rollback_config(remote, head(remote), env,
                                                   tracking_uri=uri)), lines.append) is None
    assert lines == [] and alias(client) == "1"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_an_alias_that_cannot_be_moved_is_reported_not_raised(tmp_path, registry):
    from mlgate.verify.act import confirm

    uri, client = registry
    remote = example_remote(tmp_path)
    env = {"PATH": "/usr/bin:/bin", "MLFLOW_TRACKING_URI": uri}
    promote(remote, "--registry-model", "churn", "--registry-version", "2",
            "--registry-alias", "staging", "--alias-when", "verified", environ=env)
    judged = head(remote)
    promote(remote, image=f"{IMG}:v1.6.0", environ=env)   # a newer promotion landed since
    lines: list[str] = []
    taken = confirm(config(rollback=rollback_config(remote, judged, env, tracking_uri=uri)),
                    lines.append)
    assert taken is not None and (taken.kind, taken.ok) == ("alias", False)
    assert taken.detail.startswith("registry alias not moved: ")
    assert "no longer the latest" in taken.detail
    assert lines == [] and alias(client) == "1"
