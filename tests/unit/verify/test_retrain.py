"""Starting the training after a drift: a workflow_dispatch through PyGithub and a pipeline
through python-gitlab against the forge stand-ins -- the run found although GitHub lists it
late, every documented refusal as what to change, rate limits, lost answers that must not
start a second training -- never raising and never showing the token."""

from __future__ import annotations

import inspect
import re
import time
import types
from pathlib import Path

import pytest
from standins.github_api import READ_TOKEN, WRITE_TOKEN, GitHubStandIn
from standins.gitlab_api import GitLabApiServer, Grant

from mlgate.errors import BadInput
from mlgate.verify.config import Retrain
from mlgate.verify.result import CheckResult, Measurement, VerifyResult
from mlgate.verify.retrain import MAX_INPUTS, retrain_from, retrain_inputs, start_retrain

GL_TOKEN = "glpat-verifyRetrainToken000000001"
GL_READ = "glpat-verifyRetrainReadOnly000002"
GL_MAINTAINER = "glpat-verifyRetrainMaintainer0003"
PROJECT = "ml/churn-model"
INPUTS = {"mlgate_check": "drift", "mlgate_value": "0.71", "mlgate_limit": "<=0.5"}
DECLARED = ("mlgate_check", "mlgate_value", "mlgate_limit", "mlgate_reason")


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture(autouse=True)
def _loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def github(tmp_path: Path):
    with GitHubStandIn(tmp_path / "github", name="churn-model") as server:
        server.add_workflow(".github/workflows/train.yml", name="train", inputs=DECLARED,
                            required=("mlgate_check",))
        yield server


@pytest.fixture
def gitlab(tmp_path: Path):
    tokens = {GL_TOKEN: Grant("write"), GL_READ: Grant("read"),
              GL_MAINTAINER: Grant("write", maintainer=True)}
    with GitLabApiServer(tmp_path / "gitlab", tokens=tokens) as server:
        server.create_project(PROJECT)
        yield server


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    import gitlab.utils

    asked: list[float] = []
    monkeypatch.setattr(gitlab.utils, "time", types.SimpleNamespace(sleep=asked.append,
                                                                     time=time.time))
    return asked


def on_github(server: GitHubStandIn, workflow: str = "train.yml", ref: str = "main",
              token: str = WRITE_TOKEN) -> Retrain:
    return Retrain("github", server.full_name, workflow, ref, server.api_url, token)


def on_gitlab(server: GitLabApiServer, ref: str = "main", token: str = GL_TOKEN,
              project: str = PROJECT) -> Retrain:
    return Retrain("gitlab", project, None, ref, server.url + "/api/v4", token)


def dispatched(server: GitHubStandIn):
    return [r for r in server.runs if r.event == "workflow_dispatch"]


# --------------------------------------------------------------------------- configuration


GITHUB_ENV = {"GITHUB_ACTIONS": "true", "GITHUB_TOKEN": "ghs_runnerToken",
              "GITHUB_REPOSITORY": "acme/churn-model"}
GITLAB_ENV = {"GITLAB_CI": "true", "GITLAB_TOKEN": "glpat-x", "CI_PROJECT_ID": "42",
              "CI_API_V4_URL": "https://gitlab.example.com/api/v4"}


def test_github_settings_from_the_runner():
    retrain = retrain_from(GITHUB_ENV, ".github/workflows/train.yml", "main")
    assert retrain == Retrain("github", "acme/churn-model", "train.yml", "main",
                              "https://api.github.com", "ghs_runnerToken")
    assert retrain_from(GITHUB_ENV, "1234", "release/v2", "acme/trainer").workflow == "1234"


def test_gitlab_settings_from_the_job():
    retrain = retrain_from(GITLAB_ENV, None, "main")
    assert retrain == Retrain("gitlab", "42", None, "main", "https://gitlab.example.com",
                              "glpat-x")


@pytest.mark.parametrize(("environ", "workflow", "ref", "match"), [
    ({k: v for k, v in GITHUB_ENV.items() if k != "GITHUB_TOKEN"}, "train.yml", "main",
     "needs a token in GITHUB_TOKEN"),
    (GITHUB_ENV, None, "main", "retraining workflow '': expected the workflow's file name"),
    (GITHUB_ENV, "../../etc/passwd", "main", "expected the workflow's file name"),
    (GITHUB_ENV, "train.yml", "-x", "retraining ref '-x': not a valid branch name"),
    (GITHUB_ENV, "train.yml", "a..b", "not a valid branch name"),
    ({k: v for k, v in GITHUB_ENV.items() if k != "GITHUB_REPOSITORY"}, "train.yml", "main",
     "no repository to run the training in: give one or set GITHUB_REPOSITORY"),
    ({"GITHUB_TOKEN": "x"}, "train.yml", "main", "not on GitHub Actions or GitLab CI"),
    ({**{k: v for k, v in GITLAB_ENV.items() if k != "GITLAB_TOKEN"},
      "CI_JOB_TOKEN": "glcbt-x"}, None, "main", "CI_JOB_TOKEN cannot start pipelines"),
])
def test_missing_or_bad_settings_are_bad_input(environ, workflow, ref, match):
    with pytest.raises(BadInput, match=match):
        retrain_from(environ, workflow, ref)


def drift_result() -> VerifyResult:
    drift = CheckResult(
        "drift", "max(mlgate_model_drift_score{app=\"churn\"})", None, 0.5, "", "retrain",
        "Failed", (Measurement(30, "t", 0.4, "Successful"), Measurement(60, "t", 0.71, "Failed")),
        1, 0, 0, 0, reason="drift 0.71 > 0.5 (1 of 2 measurements)")
    return VerifyResult("Failed", (drift,), 60.0, "drift 0.71 > 0.5 (1 of 2 measurements)\n"
                        "::error::injected", (), "evidence/benchmark.json",
                        {"app": "churn", "environment": "production", "model_version": "7"})


def test_the_inputs_name_the_drift_the_release_and_the_evidence():
    inputs = retrain_inputs(drift_result(), "https://ci.example.com/artifacts/benchmark.json")
    assert inputs == {
        "mlgate_app": "churn", "mlgate_environment": "production", "mlgate_model_version": "7",
        "mlgate_reason": "drift 0.71 > 0.5 (1 of 2 measurements) ::error::injected",
        "mlgate_check": "drift", "mlgate_value": "0.71", "mlgate_limit": "<=0.5",
        "mlgate_evidence": "https://ci.example.com/artifacts/benchmark.json"}
    assert len(inputs) <= MAX_INPUTS and all(isinstance(v, str) for v in inputs.values())
    assert retrain_inputs(drift_result())["mlgate_evidence"] == "evidence/benchmark.json"


# --------------------------------------------------------------------------- GitHub


def test_dispatch_finds_the_run_it_started(github):
    action = start_retrain(on_github(github), INPUTS, sleep=Sleeps())
    (run,) = dispatched(github)
    assert action.ok and action.kind == "retrain"
    assert action.url == f"{github.html_url}/acme/churn-model/actions/runs/{run.id}"
    assert action.detail == f"started train.yml on main: {action.url}"
    assert run.inputs == INPUTS and run.head_branch == "main"
    assert [(r.method, r.path.rsplit("/", 1)[-1], r.status) for r in github.calls()] == [
        ("GET", "train.yml", 200), ("GET", "runs", 200), ("POST", "dispatches", 204),
        ("GET", "runs", 200)]
    listed = github.calls("GET", "/runs")[-1].query
    assert listed["event"] == "workflow_dispatch" and listed["branch"] == "main"
    assert re.fullmatch(r">=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", listed["created"])


def test_dispatch_by_workflow_id_and_by_path(github):
    workflow = next(iter(github.workflows.values()))
    assert start_retrain(on_github(github, str(workflow.id)), INPUTS, sleep=Sleeps()).ok
    assert len(dispatched(github)) == 1


def test_a_run_listed_late_is_waited_for(github):
    github.dispatch_lag(requests=3)
    sleeps = Sleeps()
    action = start_retrain(on_github(github), INPUTS, sleep=sleeps)
    assert action.ok and action.url.endswith(f"/runs/{dispatched(github)[0].id}")
    assert sleeps == [1.0, 2.0, 3.0]


def test_a_run_that_appears_after_some_seconds_is_found(github):
    github.dispatch_lag(seconds=0.6)
    action = start_retrain(on_github(github), INPUTS, find_waits=(0.3, 0.3, 0.3, 0.3))
    assert action.ok and action.url is not None


def test_a_run_not_listed_in_time_is_still_a_dispatch(github):
    github.dispatch_lag(requests=100)
    action = start_retrain(on_github(github), INPUTS, sleep=Sleeps())
    assert action.ok and action.url is None
    assert "dispatched train.yml on main in acme/churn-model; its run was not listed" \
        in action.detail
    assert len(dispatched(github)) == 1


def test_someone_elses_recent_run_is_never_taken_for_ours(github):
    workflow = next(iter(github.workflows.values()))
    other = github.add_run(workflow, "main", event="workflow_dispatch",
                           created_at=time.time() - 30)
    github.dispatch_lag(requests=100)
    action = start_retrain(on_github(github), INPUTS, sleep=Sleeps())
    assert action.ok and action.url is None and str(other.id) not in action.detail


@pytest.mark.parametrize(("setup", "inputs", "match"), [
    ("no-trigger", INPUTS, r"workflow ci\.yml in acme/churn-model has no workflow_dispatch "
                           r"trigger: add `on: workflow_dispatch`"),
    (None, {**INPUTS, "mlgate_extra": "1"},
     r"does not declare inputs mlgate passes \(Unexpected inputs provided: "
     r"\[\"mlgate_extra\"\]\)"),
    (None, {"mlgate_value": "0.7"}, r"requires an input mlgate does not pass \(Required input "
                                    r"'mlgate_check' not provided\)"),
    ("no-ref", INPUTS, r"ref 'nowhere' not found in acme/churn-model"),
])
def test_dispatch_refusals_say_what_to_change(github, setup, inputs, match):
    workflow, ref = "train.yml", "main"
    if setup == "no-trigger":
        github.add_workflow(".github/workflows/ci.yml", dispatch=False)
        workflow = "ci.yml"
    if setup == "no-ref":
        ref = "nowhere"
    action = start_retrain(on_github(github, workflow, ref), inputs, sleep=Sleeps())
    assert not action.ok and re.search(match, action.detail), action.detail
    assert action.detail.startswith("not started: ") and dispatched(github) == []


def test_a_disabled_workflow_is_not_dispatched(github):
    next(iter(github.workflows.values())).state = "disabled_manually"
    action = start_retrain(on_github(github), INPUTS, sleep=Sleeps())
    assert not action.ok and "is disabled_manually: enable it" in action.detail
    assert github.calls("POST") == []


def test_too_many_inputs_are_refused_before_asking(github):
    inputs = {f"input_{n}": "x" for n in range(MAX_INPUTS + 1)}
    action = start_retrain(on_github(github), inputs)
    assert not action.ok and "at most 10 inputs; 11 were given" in action.detail
    assert github.calls() == []


def test_input_values_become_strings_and_bad_names_are_refused(github):
    action = start_retrain(on_github(github), {"mlgate_check": True, "mlgate_value": 0.71,
                                               "mlgate_limit": None}, sleep=Sleeps())
    assert action.ok and dispatched(github)[0].inputs == {"mlgate_check": "true",
                                                          "mlgate_value": "0.71"}
    refused = start_retrain(on_github(github), {"bad name;rm -rf": "x"})
    assert not refused.ok and "is not a workflow_dispatch input name" in refused.detail


@pytest.mark.parametrize(("workflow", "token", "match"), [
    ("nope.yml", WRITE_TOKEN, r"workflow nope\.yml not found in acme/churn-model"),
    ("train.yml", READ_TOKEN, r"token lacks permission to dispatch workflow train\.yml \(ref "
                              r"main\) on acme/churn-model \(HTTP 403"),
    ("train.yml", "ghp_revokedToken0000000000000000000000000", r"GitHub rejected the token"),
])
def test_github_errors_are_one_line_without_the_token(github, workflow, token, match):
    action = start_retrain(on_github(github, workflow, token=token), INPUTS, sleep=Sleeps())
    assert not action.ok and re.search(match, action.detail), action.detail
    assert token not in action.detail and dispatched(github) == []


def test_a_missing_repository_is_named(github):
    retrain = Retrain("github", "acme/gone", "train.yml", "main", github.api_url, WRITE_TOKEN)
    action = start_retrain(retrain, INPUTS, sleep=Sleeps())
    assert not action.ok and "repository acme/gone not found or token cannot see it" \
        in action.detail


def test_a_rate_limited_dispatch_waits_then_starts_once(github):
    github.rate_limit("secondary", seconds=1, method="POST", path="/dispatches")
    action = start_retrain(on_github(github), INPUTS, find_waits=(0.2,))
    assert action.ok and len(dispatched(github)) == 1
    assert [r.status for r in github.calls("POST")] == [403, 204]


def test_a_rate_limit_beyond_the_budget_is_reported(github):
    sleeps = Sleeps()
    github.rate_limit("primary", seconds=600, method="POST", path="/dispatches")
    action = start_retrain(on_github(github), INPUTS, max_wait=60, sleep=sleeps)
    assert not action.ok and "rate limit" in action.detail and sleeps == []
    assert dispatched(github) == []


def test_a_lost_dispatch_answer_does_not_start_a_second_training(github):
    github.lose_answer_next(1, 502, method="POST", path="/dispatches")
    action = start_retrain(on_github(github), INPUTS, sleep=Sleeps(), rng=lambda: 0.5)
    (run,) = dispatched(github)
    assert action.ok and action.url.endswith(f"/runs/{run.id}")
    assert [r.status for r in github.calls("POST")] == [502]


def test_a_dispatch_refused_with_a_5xx_is_sent_again(github):
    github.fail_next(1, 503, method="POST", path="/dispatches")
    action = start_retrain(on_github(github), INPUTS, sleep=Sleeps(), rng=lambda: 0.5)
    assert action.ok and len(dispatched(github)) == 1
    assert [r.status for r in github.calls("POST")] == [503, 204]


def test_pygithub_without_throw_still_reports_githubs_reason(github, monkeypatch):
    """PyGithub < 2.6: create_dispatch(ref, inputs) -> bool, no reason on a refusal."""
    import github as pygithub

    def old_create_dispatch(self, ref, inputs=pygithub.GithubObject.NotSet):
        raise AssertionError("the old method hides GitHub's reason: it must not be used")

    monkeypatch.setattr(pygithub.Workflow.Workflow, "create_dispatch", old_create_dispatch)
    assert "throw" not in inspect.signature(pygithub.Workflow.Workflow.create_dispatch).parameters
    action = start_retrain(on_github(github), {"mlgate_value": "1"}, sleep=Sleeps())
    assert not action.ok and "Required input 'mlgate_check' not provided" in action.detail
    assert start_retrain(on_github(github), INPUTS, sleep=Sleeps()).ok


# --------------------------------------------------------------------------- GitLab


def test_gitlab_pipeline_is_created_with_the_variables(gitlab):
    action = start_retrain(on_gitlab(gitlab), INPUTS)
    project = gitlab.projects[PROJECT]
    (pipeline,) = project.pipelines.values()
    assert action.ok and action.url == f"{gitlab.url}/{PROJECT}/-/pipelines/{pipeline['id']}"
    assert action.detail == f"started a pipeline on main: {action.url}"
    assert {v["key"]: v["value"] for v in pipeline["variables"]} == INPUTS
    assert pipeline["ref"] == "main" and pipeline["source"] == "api"
    assert [(r.method, r.status) for r in gitlab.requests()] == [("GET", 200), ("POST", 201)]


@pytest.mark.parametrize(("setup", "ref", "token", "match"), [
    (None, "nowhere", GL_TOKEN, r"ref 'nowhere' not found in GitLab project ml/churn-model"),
    ("no-variables", "main", GL_TOKEN, r"does not let this token's role set pipeline "
                                       r"variables .*'Minimum role to use pipeline variables'"),
    ("protected", "main", GL_TOKEN, r"may not run pipelines on protected ref 'main'"),
    ("no-ci", "main", GL_TOKEN, r"has no CI configuration on 'main' \(400: Missing CI config"),
    ("rules", "main", GL_TOKEN, r"workflow:rules of ml/churn-model keep API pipelines out"),
    (None, "main", GL_READ, r"may not create pipelines in ml/churn-model \(403\)"),
    (None, "main", "glpat-unknownToken000000000000", r"GitLab refused the token \(401\)"),
])
def test_gitlab_refusals_say_what_to_change(gitlab, setup, ref, token, match):
    project = gitlab.projects[PROJECT]
    if setup == "no-variables":
        project.pipeline_variables_allowed = False
    if setup == "protected":
        gitlab.protect_branch(PROJECT, "main")
    if setup == "no-ci":
        project.ci_config = False
    if setup == "rules":
        project.pipeline_rules_skip = True
    action = start_retrain(on_gitlab(gitlab, ref, token), INPUTS)
    assert not action.ok and re.search(match, action.detail), action.detail
    assert token not in action.detail and project.pipelines == {}


def test_a_maintainer_may_run_on_the_protected_branch(gitlab):
    gitlab.protect_branch(PROJECT, "main")
    assert start_retrain(on_gitlab(gitlab, token=GL_MAINTAINER), INPUTS).ok


def test_a_missing_project_is_named(gitlab):
    action = start_retrain(on_gitlab(gitlab, project="ml/gone"), INPUTS)
    assert not action.ok and "GitLab project 'ml/gone' not found" in action.detail


def test_a_variable_key_gitlab_refuses_is_caught_before_asking(gitlab):
    action = start_retrain(on_gitlab(gitlab), {"mlgate-check": "drift"})
    assert not action.ok and "is not a GitLab variable key" in action.detail
    assert gitlab.requests() == []


def test_gitlab_429_is_waited_out(gitlab, waits):
    gitlab.rate_limit_next(1, retry_after=2, method="POST", path_contains="/pipeline")
    action = start_retrain(on_gitlab(gitlab), INPUTS)
    assert action.ok and waits == [2] and len(gitlab.projects[PROJECT].pipelines) == 1


def test_a_lost_pipeline_answer_does_not_start_a_second_training(gitlab):
    gitlab.lose_answer_next(1, 502, method="POST", path_contains="/pipeline")
    sleeps = Sleeps()
    action = start_retrain(on_gitlab(gitlab), INPUTS, sleep=sleeps)
    pipelines = gitlab.projects[PROJECT].pipelines
    assert action.ok and len(pipelines) == 1 and sleeps == [0.5]
    assert action.url.endswith(f"/-/pipelines/{next(iter(pipelines))}")
    assert [r.method for r in gitlab.requests()] == ["GET", "POST", "GET"]


def test_gitlab_server_errors_are_retried_without_duplicates(gitlab):
    gitlab.fail_next(2, 503, method="POST", path_contains="/pipeline")
    action = start_retrain(on_gitlab(gitlab), INPUTS, sleep=Sleeps())
    assert action.ok and len(gitlab.projects[PROJECT].pipelines) == 1
    assert [r.status for r in gitlab.requests("POST")] == [503, 503, 201]


@pytest.mark.parametrize(("workflow", "ref", "repository", "match"), [
    ("../../../user", "main", None, "retraining workflow .*expected the workflow's file name"),
    ("train.yml", "main..x", None, r"retraining ref 'main\.\.x': not a valid branch name"),
    ("train.yml", "main", "acme/..", "retraining repository 'acme/..': expected OWNER/NAME"),
])
def test_a_retrain_built_elsewhere_is_checked_before_asking(github, workflow, ref, repository,
                                                             match):
    retrain = Retrain("github", repository or github.full_name, workflow, ref, github.api_url,
                      WRITE_TOKEN)
    action = start_retrain(retrain, INPUTS)
    assert not action.ok and re.search(match, action.detail), action.detail
    assert github.calls() == []


def test_without_a_token_nothing_is_asked(github):
    action = start_retrain(Retrain("github", github.full_name, "train.yml", "main",
                                   github.api_url, None), INPUTS)
    assert not action.ok and "no token" in action.detail and github.calls() == []
