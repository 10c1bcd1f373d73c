"""gitlab-templates/pipeline.yml included locally (staging, then production) and run by
gitlab-ci-local: three gate jobs in parallel, then a promotion job that `needs:` them, promoting
into a config repo on the loopback git server.

The model repository is the one test_act_pipeline.py uses (breast-cancer hold-out data, two
.skops models, the example suite, an mlgate.yaml reading the config repo URL from a pipeline
variable). Jobs run with `--shell-isolation`, each in its own copy of the repository, as on
GitLab: the promotion job gets the gates' <reports-dir>/ only as artifacts of the jobs it needs.
The token is what a project keeps as a masked CI/CD variable (gitlab-ci-local's per-user
variables file).

- Staging lists validate and benchmark, so the scan job exits 0 with "skipped"; the promotion
  job reads the gates' JSON results and lands one commit with them as evidence; a downstream job
  reads its dotenv report (MLGATE_PIPELINE_*). Production (`from: staging`) lists no gates: its
  three gate jobs skip and its promotion copies staging.
- Blocked: broken data and a worse candidate fail both gate jobs (each keeps its JSON result as
  an artifact); the promotion job never starts and the config repo is unchanged.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
import yaml
from harness import (
    EXAMPLE_APP,
    EXAMPLE_IMAGE,
    EXAMPLE_PATH,
    MODEL_VERSION,
    assert_secret_absent,
    commit_trailers,
    example_config_files,
    gitlab_dotenv_job,
    model_project_files,
    secret_forms,
)

from mlgate.ci.gitlab import dotenv_value, variable_name
from mlgate.interface import OUTPUTS as _ALL_OUTPUTS  # noqa: E402
OUTPUTS = _ALL_OUTPUTS["pipeline"]

pytestmark = pytest.mark.e2e

CONFIG = "platform/config"
STAGING = f"{EXAMPLE_PATH}/staging"
PRODUCTION = f"{EXAMPLE_PATH}/production"
GATES = ("validate", "benchmark", "scan")
VARIABLES = [variable_name("pipeline", name) for name in OUTPUTS]
TRUNCATED = variable_name("pipeline", "truncated")


def policy(data: str = "data/holdout.csv", candidate: str = "models/candidate.skops",
           champion: str = "models/champion.skops") -> str:
    return yaml.safe_dump({
        "version": 1,
        "app": EXAMPLE_APP,
        "model": {"name": "churn", "version": "4"},
        "validate": {"data": data, "suite": "suites/breast_cancer.yaml", "fail-on": "critical"},
        "benchmark": {"candidate": candidate, "champion": champion, "data": "data/holdout.csv",
                      "target": "target", "metric": ["accuracy:margin=0.02"],
                      "bootstrap": 300},
        "image": f"{EXAMPLE_IMAGE}:v1.5.0",
        "promote": {"repo": "${MLGATE_CONFIG_REPO}", "path": EXAMPLE_PATH,
                    "author-name": "mlgate ci", "author-email": "ci@mlgate.invalid"},
        "environments": [
            {"name": "staging", "gates": ["validate", "benchmark"],
             "set": [f"{MODEL_VERSION}={{version}}"]},
            {"name": "production", "from": "staging", "set": [MODEL_VERSION]},
        ],
    }, sort_keys=False)


def include(environment: str, *inputs: str) -> str:
    lines = [
        "  - local: gitlab-templates/pipeline.yml",
        "    inputs:",
        f"      environment: {environment}",
        '      install: . "$MLGATE_E2E_BIN/activate"',
        *(f"      {line}" for line in inputs),
    ]
    return "\n".join(lines) + "\n"


def pipeline(config_url: str, stages: str, includes: list[str], jobs: list[str]) -> str:
    return (
        f"stages: [{stages}]\n"
        "variables:\n"
        "  MLGATE_GIT_USERNAME: writer\n"
        f"  MLGATE_CONFIG_REPO: {config_url}\n"
        "include:\n" + "".join(includes) + "\n" + "\n".join(jobs)
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    return model_project_files(tmp_path_factory.mktemp("model-project"))


@pytest.fixture
def config_url(git_server) -> str:
    git_server.create_repo(CONFIG, example_config_files())
    return git_server.url(CONFIG)


def artifact(repo: Path, job: str, relpath: str) -> Path:
    """A file job `job` kept as an artifact (gitlab-ci-local's copy of it)."""
    return repo / ".gitlab-ci-local" / "artifacts" / job / relpath


def job_log(log: str, job: str) -> str:
    return "\n".join(line for line in log.splitlines() if line.startswith(f"{job} "))


def test_pipeline_template_gates_then_promotes_staging_then_production(
    make_repo, run_gitlab_ci_local, mlgate_pipeline_bin, git_server, config_url, project,
    tmp_path
):
    seed = git_server.head(CONFIG)
    token = git_server.token("writer")
    includes = [
        include("staging"),
        include("production", "job-name-prefix: production-", "gates-stage: production-gates",
                "promote-stage: production"),
    ]
    jobs = [gitlab_dotenv_job("read-staging", "mlgate-promote", [*VARIABLES, TRUNCATED],
                              "verify")]
    stages = "test, deploy, production-gates, production, verify"
    repo = make_repo({".gitlab-ci.yml": pipeline(config_url, stages, includes, jobs),
                      "mlgate.yaml": policy(), **project})
    scratch = tmp_path / "runner-tmp"  # where mlgate clones: nothing may be left holding the token
    scratch.mkdir()

    run = run_gitlab_ci_local(
        repo,
        variables={"MLGATE_E2E_BIN": str(mlgate_pipeline_bin.parent), "TMPDIR": str(scratch)},
        secret_variables={"MLGATE_GIT_TOKEN": token},
        shell_isolation=True,
        timeout=600,
    ).check()
    log = run.log

    history = git_server.git(CONFIG, "rev-list", "--first-parent", f"{seed}..main").split()
    assert len(history) == 2, history
    promoted, staged = history

    for job in ("validate", "benchmark", "scan", "promote"):
        for prefix in ("mlgate-", "production-"):
            assert re.search(rf"^ PASS  {prefix}{job}$", log, re.MULTILINE), log[-6000:]
    # The gate jobs: staging's scan and all of production's skip, exit 0.
    assert "skipped: environment staging does not list this gate" in job_log(log, "mlgate-scan")
    for gate in GATES:
        assert "skipped: environment production does not list this gate" in job_log(
            log, f"production-{gate}"), log[-6000:]
    assert not artifact(repo, "mlgate-scan", "mlgate-reports/scan.json").exists()

    # The promotion job's JSON result: every gate's verdict, read from the gate jobs' JSON.
    result = json.loads(artifact(repo, "mlgate-promote", "mlgate-pipeline.json").read_text())
    steps = {s["step"]: s for s in result["result"]["steps"]}
    assert list(steps) == ["validate", "benchmark", "promote"]
    assert steps["validate"]["note"] == steps["benchmark"]["note"] == "from an earlier job"
    assert steps["promote"]["exit_code"] == 0
    outputs = result["outputs"]
    assert outputs["promote-commit"] == staged and outputs["validate-passed"] == "true"
    assert outputs["benchmark-passed"] == "true" and outputs["model-version"] == "4"

    # Its dotenv report, read by a job that needs it: what fits GitLab's limits, the rest named
    # in MLGATE_PIPELINE_TRUNCATED (the JSON result has every value).
    out = run.outputs
    assert out[variable_name("pipeline", "passed")] == "true"
    assert out[variable_name("pipeline", "promoted")] == "true"
    left_out = set(filter(None, out[TRUNCATED].split(",")))
    assert left_out <= set(VARIABLES)
    for name, var in zip(OUTPUTS, VARIABLES):
        expected = "" if var in left_out else dotenv_value(outputs[name])[0]
        assert out[var] == expected, var
    dotenv = artifact(repo, "mlgate-promote", ".gitlab-ci-reports/dotenv/mlgate-pipeline.env")
    assert len(dotenv.read_bytes()) < 5 * 1024
    assert len(dotenv.read_text().splitlines()) <= 20

    # The config repo: both environments run v1.5.0 and model version 4.
    example = example_config_files()

    def show(rev: str, path: str) -> str:
        return git_server.git(CONFIG, "show", f"{rev}:{path}")

    for env in (STAGING, PRODUCTION):
        kustomization = example[f"{env}/kustomization.yaml"].decode()
        model_version = example[f"{env}/model-version.yaml"].decode()
        assert show("main", f"{env}/kustomization.yaml") == kustomization.replace(
            "newTag: v1.4.0", "newTag: v1.5.0")
        assert show("main", f"{env}/model-version.yaml") == model_version.replace(
            'model-version: "3"', 'model-version: "4"')
    changed = git_server.git(CONFIG, "diff", "--name-only", seed, staged).split()
    assert sorted(changed) == [f"{STAGING}/kustomization.yaml", f"{STAGING}/model-version.yaml"]

    # The audit trail: the gate jobs' JSON results, by sha256, in staging's commit.
    staged_t = commit_trailers(git_server, CONFIG, staged)
    assert staged_t["Mlgate-App"] == [EXAMPLE_APP]
    assert staged_t["Mlgate-Environment"] == ["staging"]
    assert staged_t["Mlgate-New"] == [f"{EXAMPLE_IMAGE}:v1.5.0"]
    evidence = []
    for gate in ("validate", "benchmark"):
        report = artifact(repo, f"mlgate-{gate}", f"mlgate-reports/{gate}.json")
        assert json.loads(report.read_text())["exit_code"] == 0
        evidence.append(f"{hashlib.sha256(report.read_bytes()).hexdigest()} {gate}.json")
    assert sorted(staged_t["Mlgate-Evidence-Sha256"]) == sorted(evidence)
    promoted_t = commit_trailers(git_server, CONFIG, promoted)
    assert promoted_t["Mlgate-Environment"] == ["production"]
    assert promoted_t["Mlgate-From-Environment"] == ["staging"]

    assert {r.user for r in git_server.requests if r.user is not None} == {"writer"}
    assert_secret_absent(secret_forms("writer", token), run, scratch)
    assert not list(scratch.iterdir())


def test_a_failing_gate_job_blocks_the_promotion_job(
    make_repo, run_gitlab_ci_local, mlgate_pipeline_bin, git_server, config_url, project
):
    seed = git_server.head(CONFIG)
    blocked = policy(data="data/broken.csv", candidate="models/champion.skops",
                     champion="models/candidate.skops")
    repo = make_repo({".gitlab-ci.yml": pipeline(config_url, "test, deploy",
                                                 [include("staging")], []),
                      "mlgate.yaml": blocked, **project})

    run = run_gitlab_ci_local(
        repo,
        variables={"MLGATE_E2E_BIN": str(mlgate_pipeline_bin.parent)},
        secret_variables={"MLGATE_GIT_TOKEN": git_server.token("writer")},
        shell_isolation=True,
        timeout=600,
    )
    log = run.log

    assert run.returncode != 0, log[-4000:]
    # Both gates ran and said no (exit 1), each keeping its JSON result; scan skipped.
    for gate in ("validate", "benchmark"):
        assert re.search(rf"^ FAIL  mlgate-{gate}$", log, re.MULTILINE), log[-6000:]
        # the job log shows the terminal rendering of the summary (no Markdown emphasis)
        assert f"- ❌ {gate}: failed" in job_log(log, f"mlgate-{gate}")
        report = json.loads(
            artifact(repo, f"mlgate-{gate}", f"mlgate-reports/{gate}.json").read_text())
        assert report["exit_code"] == 1, report
        assert report["outputs"]["passed"] == "false"
    assert "skipped: environment staging does not list this gate" in job_log(log, "mlgate-scan")
    assert re.search(r"^ PASS  mlgate-scan$", log, re.MULTILINE), log[-6000:]
    # The promotion job never started (GitLab's `needs:` rule: a needed job failed).
    assert "mlgate-promote" not in log, log[-6000:]
    assert not artifact(repo, "mlgate-promote", "mlgate-pipeline.json").exists()
    assert git_server.head(CONFIG) == seed
    assert git_server.push_attempts == 0
