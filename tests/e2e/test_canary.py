"""A canary as a user's CI runs it, once per runner: `./actions/canary` in act jobs and
gitlab-templates/canary.yml included locally in gitlab-ci-local jobs, against the config repo on
the loopback git server (examples/config-repo: staging's folder holds the churn
InferenceService, whose `canaryTrafficPercent` the steps set).

- One job walks the whole canary (steps 1, 50, 100) and waits after each step for Argo CD's API
  stand-in, whose controller thread applies each new head of main only once the job saw it under
  way (tests/standins/argocd_controller.py): three step commits, each carrying its
  `Mlgate-Canary: STEP/3` trailer and share, each applied by the controller, and the job's
  outputs say completed.
- One step per job, as a scheduled rollout runs it: a job with `max-steps: 1` leaves the canary
  open at 1 %; the same job again (the same image) judges that step again and commits the
  next, 50 %; a third job with `resume: true` (no image) finishes it. Nothing passes between
  the jobs but the config repo: each later job finds the canary from the commit trailers.

No checks (Prometheus) here: what these runs test is the action's and the template's surface
(inputs in, outputs out, one job or several over one canary), and verify's e2e tests already
drive Prometheus through these same runners; each run stays a few seconds. Tokens are where a user keeps them (act's secret file, gitlab-ci-local's masked
variables) and must not show up in a log, an output or a kept file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
import yaml
from harness import (
    CONFIG,
    EXAMPLE_APP,
    EXAMPLE_IMAGE,
    EXAMPLE_PATH,
    CiRun,
    Job,
    Runner,
    assert_secret_absent,
    commit_trailers,
    secret_forms,
)
from standins.argocd_api import TOKEN as ARGOCD_TOKEN
from standins.argocd_api import argocd_api  # noqa: F401  (the fixture)
from standins.argocd_controller import Controller

from mlgate.interface import OUTPUTS

pytestmark = pytest.mark.e2e

TITLE = "e2e canary"
ARGOCD_APP = "churn-staging"
NEW = f"{EXAMPLE_IMAGE}:v1.5.0"
OLD = f"{EXAMPLE_IMAGE}:v1.4.0"
STEPS = (1, 50, 100)
# staging's InferenceService (a kustomize patch of the base one): where the share goes
ISVC = f"{EXAMPLE_PATH}/staging/model-version.yaml"
KUSTOMIZATION = f"{EXAMPLE_PATH}/staging/kustomization.yaml"


@pytest.fixture
def controller(argocd_api, git_server, config_url) -> Iterator[Controller]:  # noqa: F811
    """Argo CD following the config repo's main: a new head is applied only after a client
    (the canary's wait) saw it under way, so every step has something to wait for."""
    with Controller(argocd_api, lambda: git_server.head(CONFIG), app=ARGOCD_APP,
                    after_read=True) as running:
        yield running


def canary_job(runner: Runner, name: str, config_url: str, inputs: Mapping[str, str],
               env: Mapping[str, str] | None = None, secrets: tuple[str, ...] = ()) -> Job:
    """One canary job for staging with steps 1, 50, 100; act's keeps its JSON result (the
    template keeps mlgate-canary.json by default)."""
    return Job(
        name, "canary", "canary", OUTPUTS["canary"],
        {"repo": config_url, "app": EXAMPLE_APP, "environment": "staging",
         "path": EXAMPLE_PATH, "steps": ",".join(map(str, STEPS)), **inputs,
         **({"json": "mlgate-canary.json"} if runner.name == "act" else {})},
        env={"MLGATE_GIT_USERNAME": "writer", **(env or {})},
        secrets=("MLGATE_GIT_TOKEN", *secrets))


def run_jobs(runner: Runner, make_repo, mlgate_canary_bin: Path, jobs: tuple[Job, ...],
             secrets: Mapping[str, str]) -> CiRun:
    # act's install finds the session's venv with actions/canary's extras by itself;
    # a template's job activates it
    repo = make_repo(runner.files(TITLE, jobs, sequential=True))
    return runner.run(repo, secrets=secrets, bin_dir=mlgate_canary_bin.parent)


def step_commits(git_server, seed: str) -> list[str]:
    """The commits since `seed` on main, oldest first."""
    return git_server.git(CONFIG, "rev-list", "--reverse", "--first-parent",
                          f"{seed}..main").split()


def share_at(git_server, rev: str) -> object:
    document = yaml.safe_load(git_server.git(CONFIG, "show", f"{rev}:{ISVC}"))
    return document["spec"]["predictor"].get("canaryTrafficPercent")


def assert_steps_in_git(git_server, seed: str) -> tuple[list[str], str]:
    """Three step commits, one per share, of one canary: their trailers and the value each
    set; step 1 alone changes the image. Returns the commits and the canary's id."""
    commits = step_commits(git_server, seed)
    assert len(commits) == len(STEPS), commits
    assert share_at(git_server, seed) is None  # before the canary: no split (KServe: 100 %)
    ids = set()
    for number, (commit, share) in enumerate(zip(commits, STEPS, strict=True), start=1):
        trailers = commit_trailers(git_server, CONFIG, commit)
        assert trailers["Mlgate-Canary"] == [f"{number}/{len(STEPS)}"], trailers
        assert trailers["Mlgate-Canary-Weight"] == [str(share)], trailers
        assert trailers["Mlgate-App"] == [EXAMPLE_APP]
        assert trailers["Mlgate-Environment"] == ["staging"]
        assert trailers["Mlgate-New"] == [NEW]
        ids.update(trailers["Mlgate-Canary-Id"])
        assert share_at(git_server, commit) == share
        changed = [p for p in git_server.git(CONFIG, "diff", "--name-only", f"{commit}~1",
                                             commit).split()
                   if not p.startswith(".mlgate/")]  # each step's own evidence folder
        assert changed == ([KUSTOMIZATION, ISVC] if number == 1 else [ISVC]), (number, changed)
    assert commit_trailers(git_server, CONFIG, commits[0])["Mlgate-Previous"] == [OLD]
    [canary_id] = ids
    return commits, canary_id


def result_of(runner: Runner, run: CiRun, job: Job) -> dict:
    return json.loads((runner.kept(run, job) / "mlgate-canary.json").read_text())


def assert_no_secret(run: CiRun, git_server, *trees: Path) -> None:
    for forms in (secret_forms("writer", git_server.token("writer")), (ARGOCD_TOKEN,)):
        assert_secret_absent(forms, run, *trees)


def test_one_job_walks_every_step_waiting_for_argo_cd_after_each(
    make_repo, runner, mlgate_canary_bin, git_server, config_url, argocd_api,  # noqa: F811
    controller
):
    seed = git_server.head(CONFIG)
    job = canary_job(runner, "canary-staging", config_url,
                     {"image": NEW, "argocd-app": ARGOCD_APP, "sync-interval": "0.5s",
                      "sync-timeout": "60s"},
                     env={"ARGOCD_SERVER": argocd_api.url}, secrets=("ARGOCD_AUTH_TOKEN",))

    run = run_jobs(runner, make_repo, mlgate_canary_bin, (job,),
                   {"MLGATE_GIT_TOKEN": git_server.token("writer"),
                    "ARGOCD_AUTH_TOKEN": ARGOCD_TOKEN}).check()

    commits, canary_id = assert_steps_in_git(git_server, seed)
    assert controller.applied == commits  # each step waited for, none skipped
    out = runner.outputs(run, job)
    assert out == {"outcome": "completed", "canary-id": canary_id, "step": "3/3",
                   "weight": "100", "commit": commits[-1], "rolled-back": "false",
                   "rollback-commit": "",
                   "message": f"canary {canary_id} completed: 3 steps, 100 % of the traffic"}
    result = result_of(runner, run, job)
    assert result["exit_code"] == 0 and result["outputs"] == out
    steps = result["result"]["steps"]
    assert [(s["step"], s["weight"], s["commit"], s["wait"], s["verify"]) for s in steps] == [
        (n, share, c, "ready", None)
        for n, share, c in zip((1, 2, 3), STEPS, commits, strict=True)]
    summary = runner.summary(run, job)
    assert f"canary {canary_id} completed" in summary and "| 3/3 | 100 % |" in summary
    assert_no_secret(run, git_server, runner.kept(run))


def test_one_step_per_job_continues_the_canary_from_git_alone(
    make_repo, runner, mlgate_canary_bin, git_server, config_url
):
    seed = git_server.head(CONFIG)
    one_step = {"image": NEW, "max-steps": '"1"'}
    start = canary_job(runner, "canary-start", config_url, one_step)
    again = canary_job(runner, "canary-again", config_url, one_step)
    resume = canary_job(runner, "canary-resume", config_url, {"resume": "true"})

    run = run_jobs(runner, make_repo, mlgate_canary_bin, (start, again, resume),
                   {"MLGATE_GIT_TOKEN": git_server.token("writer")}).check()

    commits, canary_id = assert_steps_in_git(git_server, seed)
    # (outcome, step, weight, commit) of each job, and the steps each judged: a later job
    # judges the step an earlier one left (resumed), then commits the next
    expected = [
        (start, ("open", "1/3", "1", commits[0]), [(1, commits[0], False)]),
        (again, ("open", "2/3", "50", commits[1]),
         [(1, commits[0], True), (2, commits[1], False)]),
        (resume, ("completed", "3/3", "100", commits[2]),
         [(2, commits[1], True), (3, commits[2], False)]),
    ]
    for job, outputs, judged in expected:
        out = runner.outputs(run, job)
        assert out["canary-id"] == canary_id, (job.name, out)
        assert (out["outcome"], out["step"], out["weight"], out["commit"]) == outputs, out
        assert out["rolled-back"] == "false", out
        steps = result_of(runner, run, job)["result"]["steps"]
        assert [(s["step"], s["commit"], s["resumed"]) for s in steps] == judged, job.name
    assert "--max-steps 1 reached" in runner.outputs(run, again)["message"]
    assert_no_secret(run, git_server, runner.kept(run))
