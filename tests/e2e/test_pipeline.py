"""mlgate pipeline as a user's CI runs it, once per runner, promoting into a config repo on the
loopback git server: `uses: ./`, the root action, run by act (the model repository's
mlgate.yaml, one step per environment), and gitlab-templates/pipeline.yml included locally
(staging, then production) and run by gitlab-ci-local: three gate jobs in parallel, then a
promotion job that `needs:` them.

The model repository holds what a training job leaves (held-out breast-cancer data, a naive
Bayes champion and a better logistic-regression candidate as .skops files), the example GX
suite, and an mlgate.yaml whose config repo URL comes from the job's env / a pipeline variable
(`${MLGATE_CONFIG_REPO}`). The token is a repository secret the workflow maps into the step's
`env:` as MLGATE_GIT_TOKEN / what a project keeps as a masked CI/CD variable (gitlab-ci-local's
per-user variables file). gitlab-ci-local runs its jobs with `--shell-isolation`, each in its
own copy of the repository, as on GitLab: the promotion job gets the gates' <reports-dir>/ only
as artifacts of the jobs it needs.

- Staging passes its gates, then the promotion lands one commit carrying the gates' JSON
  results as evidence (Mlgate-Evidence-Sha256 trailers); production (`from: staging`, no gates)
  then takes exactly what staging runs. Under act staging lists validate, benchmark and scan
  (scan: the real Trivy binary, offline, with its bundled Kubernetes checks, on the manifests
  the model repo deploys; nothing CRITICAL); under gitlab-ci-local validate and benchmark, so
  the scan job exits 0 with "skipped", and production's three gate jobs skip too; a downstream
  job reads the promotion job's dotenv report (MLGATE_PIPELINE_*).
- Blocked: broken data (missing "mean radius", a critical expectation) and a worse candidate
  (and, under act, a scan failing on HIGH): every listed gate runs, reports and says no (exit
  1), the promotion does not run and the config repo is unchanged.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
import yaml
from harness import (
    CONFIG,
    CHECKOUT_PARTS,
    CHECKOUT_STEP,
    EXAMPLE_APP,
    EXAMPLE_IMAGE,
    EXAMPLE_PATH,
    GITLAB_INSTALL,
    MODEL_VERSION,
    CiRun,
    assert_secret_absent,
    commit_trailers,
    example_config_files,
    github_collect_step,
    gitlab_dotenv_job,
    model_project_files,
    secret_forms,
)

from mlgate.ci.gitlab import dotenv_value, variable_name
from mlgate.interface import OUTPUTS as _ALL_OUTPUTS  # noqa: E402
OUTPUTS = _ALL_OUTPUTS["pipeline"]

pytestmark = pytest.mark.e2e

WORKFLOW = "e2e pipeline"
STAGING = f"{EXAMPLE_PATH}/staging"
PRODUCTION = f"{EXAMPLE_PATH}/production"
GATES = ("validate", "benchmark", "scan", "comply")
# The gates staging lists: with scan under act, without it under gitlab-ci-local.
STAGING_GATES = {"act": GATES, "gitlab-ci-local": ("validate", "benchmark", "comply")}
EXAMPLE_POLICIES = Path(__file__).resolve().parents[2] / "examples" / "model-project" / "policies"
# The model repository needs the root action.yml too, for `uses: ./`.
PARTS = (*CHECKOUT_PARTS, "action.yml")
TOKEN_ENV = (
    "        env:\n"
    "          MLGATE_GIT_TOKEN: ${{ secrets.CONFIG_REPO_TOKEN }}\n"
    "          MLGATE_GIT_USERNAME: writer\n"
)
VARIABLES = [variable_name("pipeline", name) for name in OUTPUTS]
TRUNCATED = variable_name("pipeline", "truncated")


def policy(runner_name: str, data: str = "data/holdout.csv",
           candidate: str = "models/candidate.skops", champion: str = "models/champion.skops",
           scan_fail_on: str = "CRITICAL", documents: tuple[str, ...] = ()) -> str:
    """mlgate.yaml: the gates of staging (STAGING_GATES); production copies staging. The
    compliance gate runs examples/model-project/policies (and must find `documents`)."""
    document = {
        "version": 1,
        "app": EXAMPLE_APP,
        "model": {"name": "churn", "version": "4"},
        "validate": {"data": data, "suite": "suites/breast_cancer.yaml", "fail-on": "critical"},
        "benchmark": {"candidate": candidate, "champion": champion, "data": "data/holdout.csv",
                      "target": "target", "metric": ["accuracy:margin=0.02"],
                      "bootstrap": 300},
        "compliance": {"policy": "policies", **({"document": list(documents)}
                                                  if documents else {})},
        "image": f"{EXAMPLE_IMAGE}:v1.5.0",
        "promote": {"repo": "${MLGATE_CONFIG_REPO}", "path": EXAMPLE_PATH,
                    "author-name": "mlgate ci", "author-email": "ci@mlgate.invalid"},
        "environments": [
            {"name": "staging", "gates": list(STAGING_GATES[runner_name]),
             "set": [f"{MODEL_VERSION}={{version}}"]},
            {"name": "production", "from": "staging", "set": [MODEL_VERSION]},
        ],
    }
    if runner_name == "act":
        document = {
            **{k: v for k, v in document.items() if k not in ("image", "promote",
                                                               "environments")},
            "scan": {"fs": "deploy", "scanners": "misconfig", "fail-on-severity": scan_fail_on,
                     "offline": True, "trivy": "${E2E_TRIVY}",
                     "cache-dir": "${E2E_TRIVY_CACHE}"},
            **{k: document[k] for k in ("image", "promote", "environments")},
        }
    return yaml.safe_dump(document, sort_keys=False)


# --- act: the root action, one step per environment -----------------------------------------


def pipeline_step(step_id: str, environment: str, config: str = "mlgate.yaml") -> str:
    return (
        f"      - id: {step_id}\n"
        "        uses: ./\n"
        f"{TOKEN_ENV}"
        "        with:\n"
        f"          config: {config}\n"
        f"          environment: {environment}\n"
        f"          reports-dir: mlgate-reports/{step_id}\n"
        f"          json: mlgate-reports/{step_id}.json\n"
        + github_collect_step(step_id, OUTPUTS, keep=step_id, prefix=f"{step_id}-")
    )


def workflow(config_url: str, steps: str) -> str:
    return (
        f"name: {WORKFLOW}\n"
        "on: push\n"
        "permissions:\n"
        "  contents: read\n"
        "jobs:\n"
        "  pipeline:\n"
        "    runs-on: ubuntu-latest\n"
        "    env:\n"
        f"      MLGATE_CONFIG_REPO: {config_url}\n"
        "    steps:\n"
        f"{CHECKOUT_STEP}"
        f"{steps}"
    )


def outputs_of(run: CiRun, step_id: str) -> dict[str, str]:
    return {name: run.outputs[f"{step_id}-{name}"] for name in OUTPUTS}


# --- gitlab-ci-local: the pipeline template, per environment -----------------------------------


def include(environment: str, *inputs: str) -> str:
    lines = [
        "  - local: gitlab-templates/pipeline.yml",
        "    inputs:",
        f"      environment: {environment}",
        f"      install: {GITLAB_INSTALL}",
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


def artifact(repo: Path, job: str, relpath: str) -> Path:
    """A file job `job` kept as an artifact (gitlab-ci-local's copy of it)."""
    return repo / ".gitlab-ci-local" / "artifacts" / job / relpath


def job_log(log: str, job: str) -> str:
    return "\n".join(line for line in log.splitlines() if line.startswith(f"{job} "))


# --- both ---------------------------------------------------------------------------------


def ci_files(runner_name: str, config_url: str, production: bool) -> dict[str, str]:
    """Staging (and production after it): act's workflow or the project's .gitlab-ci.yml."""
    if runner_name == "act":
        steps = pipeline_step("staging", "staging")
        if production:
            steps += pipeline_step("production", "production")
        return {".github/workflows/pipeline.yml": workflow(config_url, steps)}
    if not production:
        return {".gitlab-ci.yml": pipeline(config_url, "test, deploy", [include("staging")], [])}
    includes = [
        include("staging"),
        include("production", "job-name-prefix: production-", "gates-stage: production-gates",
                "promote-stage: production", "verify-stage: production"),
    ]
    jobs = [gitlab_dotenv_job("read-staging", "mlgate-promote", [*VARIABLES, TRUNCATED],
                              "verify")]
    stages = "test, deploy, production-gates, production, verify"
    return {".gitlab-ci.yml": pipeline(config_url, stages, includes, jobs)}


def gate_report(runner_name: str, run: CiRun, gate: str) -> Path:
    """Staging's JSON result of `gate` (act: in the step's reports-dir; gitlab-ci-local: an
    artifact of the gate's job)."""
    if runner_name == "act":
        return run.workspace.parent / "staging" / "mlgate-reports" / "staging" / f"{gate}.json"
    return artifact(run.workspace, f"mlgate-{gate}", f"mlgate-reports/{gate}.json")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The model repo: data, models, suite, and the Kubernetes manifests it deploys."""
    files = model_project_files(tmp_path_factory.mktemp("model-project"))
    files.update({f"deploy/{path}": data for path, data in example_config_files().items()
                  if path.startswith("apps/")})
    files.update({f"policies/{p.name}": p.read_bytes() for p in EXAMPLE_POLICIES.glob("*.rego")})
    return files


@pytest.fixture
def trivy_env(tmp_path) -> dict[str, str]:
    """Where mlgate.yaml's scan finds Trivy (`${E2E_TRIVY}`) and its cache (act)."""
    from support.trivyfix import trivy_bin

    return {"E2E_TRIVY": trivy_bin(), "E2E_TRIVY_CACHE": str(tmp_path / "trivy-cache")}


def test_pipeline_gates_then_promotes_staging_then_production(
    make_repo, runner, mlgate_pipeline_bin, git_server, config_url, project, tmp_path, trivy_env
):
    act = runner.name == "act"
    seed = git_server.head(CONFIG)
    token = git_server.token("writer")
    repo = make_repo({**ci_files(runner.name, config_url, production=True),
                      "mlgate.yaml": policy(runner.name), **project}, checkout_parts=PARTS)
    scratch = tmp_path / "runner-tmp"  # where mlgate clones: nothing may be left holding the token
    scratch.mkdir()

    run = runner.run(
        repo,
        env={"TMPDIR": str(scratch), **(trivy_env if act else {})},
        secrets={"CONFIG_REPO_TOKEN" if act else "MLGATE_GIT_TOKEN": token},
        bin_dir=mlgate_pipeline_bin.parent,
        shell_isolation=True,
        timeout=300 if act else 600,
    ).check()
    log = run.log

    history = git_server.git(CONFIG, "rev-list", "--first-parent", f"{seed}..main").split()
    assert len(history) == 2, history
    promoted, staged = history

    if act:
        # Outputs: the pipeline's own, each gate's and the promotion's, prefixed by step.
        staging = outputs_of(run, "staging")
        assert staging["passed"] == "true" and staging["promoted"] == "true", staging
        assert staging["environment"] == "staging" and staging["model-version"] == "4"
        assert staging["validate-passed"] == "true" and staging["validate-failed"] == "0"
        assert int(staging["validate-evaluated"]) > 0
        assert staging["benchmark-passed"] == "true" and staging["benchmark-metric"] == "accuracy"
        assert float(staging["benchmark-candidate"]) > float(staging["benchmark-champion"])
        assert staging["scan-passed"] == "true" and staging["scan-critical"] == "0"
        assert staging["comply-passed"] == "true" and staging["comply-deny"] == "0"
        assert len(staging["comply-policies-sha256"]) == 64
        assert int(staging["scan-high"]) > 0  # found, but below the CRITICAL bar
        assert staging["promote-changed"] == "true" and staging["promote-commit"] == staged
        assert staging["promote-previous"] == f"{EXAMPLE_IMAGE}:v1.4.0"
        assert staging["promote-new"] == f"{EXAMPLE_IMAGE}:v1.5.0"
        assert staging["reports-dir"].endswith("mlgate-reports/staging")
        production = outputs_of(run, "production")
        assert production["passed"] == "true" and production["promoted"] == "true", production
        assert production["validate-passed"] == "" and production["benchmark-passed"] == ""
        assert production["promote-commit"] == promoted
    else:
        for job in ("validate", "benchmark", "scan", "comply", "promote"):
            for prefix in ("mlgate-", "production-"):
                assert re.search(rf"^ PASS  {prefix}{job}$", log, re.MULTILINE), log[-6000:]
        # The gate jobs: staging's scan and all of production's skip, exit 0.
        assert "skipped: environment staging does not list this gate" in job_log(
            log, "mlgate-scan")
        for gate in GATES:
            assert "skipped: environment production does not list this gate" in job_log(
                log, f"production-{gate}"), log[-6000:]
        assert not artifact(repo, "mlgate-scan", "mlgate-reports/scan.json").exists()

        # The promotion job's JSON result: every gate's verdict, read from the gate jobs' JSON.
        result = json.loads(artifact(repo, "mlgate-promote", "mlgate-pipeline.json").read_text())
        steps = {s["step"]: s for s in result["result"]["steps"]}
        assert list(steps) == ["validate", "benchmark", "comply", "promote"]
        assert steps["validate"]["note"] == steps["benchmark"]["note"] == "from an earlier job"
        assert steps["comply"]["note"] == "from an earlier job"
        # the compliance job read the earlier jobs' results: its release input had them
        comply = json.loads(gate_report(runner.name, run, "comply").read_text())
        assert comply["outputs"]["passed"] == "true" and comply["outputs"]["warn"] == "1"
        assert steps["promote"]["exit_code"] == 0
        outputs = result["outputs"]
        assert outputs["promote-commit"] == staged and outputs["validate-passed"] == "true"
        assert outputs["benchmark-passed"] == "true" and outputs["model-version"] == "4"
        assert outputs["comply-passed"] == "true"

        # Its dotenv report, read by a job that needs it: what fits GitLab's limits, the rest
        # named in MLGATE_PIPELINE_TRUNCATED (the JSON result has every value).
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

    # The config repo: both environments run v1.5.0 and model version 4, nothing else changed.
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
    changed = [p for p in git_server.git(CONFIG, "diff", "--name-only", seed, staged).split()
               if not p.startswith(".mlgate/")]  # and the promotion's evidence folder
    assert sorted(changed) == [f"{STAGING}/kustomization.yaml", f"{STAGING}/model-version.yaml"]

    # The audit trail: staging's commit carries its gates' JSON results, by sha256.
    staged_t = commit_trailers(git_server, CONFIG, staged)
    assert staged_t["Mlgate-App"] == [EXAMPLE_APP]
    assert staged_t["Mlgate-Environment"] == ["staging"]
    assert staged_t["Mlgate-New"] == [f"{EXAMPLE_IMAGE}:v1.5.0"]
    evidence = []
    for gate in STAGING_GATES[runner.name]:
        report = gate_report(runner.name, run, gate)
        assert json.loads(report.read_text())["exit_code"] == 0
        evidence.append(f"{hashlib.sha256(report.read_bytes()).hexdigest()} {gate}.json")
    assert sorted(staged_t["Mlgate-Evidence-Sha256"]) == sorted(evidence)
    promoted_t = commit_trailers(git_server, CONFIG, promoted)
    assert promoted_t["Mlgate-Environment"] == ["production"]
    assert promoted_t["Mlgate-From-Environment"] == ["staging"]
    if act:
        assert staged_t["Mlgate-Set-New"] == [
            f'{STAGING}/model-version.yaml:metadata.annotations["mlgate.io/model-version"]=4']
        body = git_server.git(CONFIG, "log", "-1", "--format=%B", staged)
        assert "- validate: passed (exit 0)" in body and "- benchmark: passed (exit 0)" in body, \
            body
        assert "- scan: passed (exit 0)" in body, body
        assert "- comply: passed (exit 0)" in body, body
        assert "Mlgate-Evidence-Sha256" not in promoted_t  # production lists no gates

        # The pipeline's JSON result lists every step.
        workspace = run.workspace.parent / "staging"
        result = json.loads((workspace / "mlgate-reports" / "staging.json").read_text())
        assert [s["step"] for s in result["result"]["steps"]] == ["validate", "benchmark",
                                                                   "scan", "comply", "promote"]
        assert (workspace / "mlgate-reports" / "staging" / "benchmark.md").is_file()

    # The token reached git and was never written or shown anywhere.
    assert {r.user for r in git_server.requests if r.user is not None} == {"writer"}
    assert_secret_absent(secret_forms("writer", token), run,
                         *([run.workspace.parent] if act else []), scratch)
    if not act:
        assert not list(scratch.iterdir())


def test_a_failing_gate_blocks_the_promotion_and_every_verdict_is_reported(
    make_repo, runner, mlgate_pipeline_bin, git_server, config_url, project, trivy_env
):
    act = runner.name == "act"
    seed = git_server.head(CONFIG)
    # Broken data, a worse candidate (the models swapped), and under act HIGH findings: every
    # gate says no.
    blocked = policy(runner.name, data="data/broken.csv", candidate="models/champion.skops",
                     champion="models/candidate.skops", scan_fail_on="HIGH",
                     documents=("MODEL_CARD_MISSING.md",))
    repo = make_repo({**ci_files(runner.name, config_url, production=False),
                      "mlgate.yaml": blocked, **project}, checkout_parts=PARTS)

    run = runner.run(
        repo,
        env=trivy_env if act else None,
        secrets={"CONFIG_REPO_TOKEN" if act else "MLGATE_GIT_TOKEN": git_server.token("writer")},
        bin_dir=mlgate_pipeline_bin.parent,
        shell_isolation=True,
        timeout=300 if act else 600,
    )
    log = run.log

    assert run.returncode != 0, log[-4000:]
    if act:
        assert re.search(rf"^\[{WORKFLOW}/pipeline\] +exit status 1$", log, re.MULTILINE), \
            log[-6000:]
        out = outputs_of(run, "staging")
        assert out["passed"] == "false" and out["promoted"] == "false", out
        assert out["validate-passed"] == "false" and int(out["validate-failed"]) >= 1
        assert out["benchmark-passed"] == "false"
        assert out["scan-passed"] == "false" and int(out["scan-high"]) > 0
        assert float(out["benchmark-candidate"]) < float(out["benchmark-champion"])
        assert out["promote-changed"] == "" and out["promote-commit"] == ""

        workspace = run.workspace.parent / "staging"
        result = json.loads((workspace / "mlgate-reports" / "staging.json").read_text())
        steps = {s["step"]: s for s in result["result"]["steps"]}
        assert [steps[g]["exit_code"] for g in GATES] == [1, 1, 1, 1]
        assert out["comply-passed"] == "false" and out["comply-documents-failed"] == "1"
        assert steps["promote"]["exit_code"] is None and "not run" in steps["promote"]["verdict"]
        for gate in GATES:
            assert json.loads(gate_report(runner.name, run, gate).read_text())["exit_code"] == 1
        assert not Path(workspace / "mlgate-reports" / "staging" / "promote.json").exists()
    else:
        # The gates ran and said no (exit 1), each keeping its JSON result (comply too, after
        # the two it needs failed); scan skipped.
        for gate in ("validate", "benchmark", "comply"):
            assert re.search(rf"^ FAIL  mlgate-{gate}$", log, re.MULTILINE), log[-6000:]
            # the job log shows the terminal rendering of the summary (no Markdown emphasis)
            assert f"- ❌ {gate}: failed" in job_log(log, f"mlgate-{gate}")
            report = json.loads(gate_report(runner.name, run, gate).read_text())
            assert report["exit_code"] == 1, report
            assert report["outputs"]["passed"] == "false"
        assert "skipped: environment staging does not list this gate" in job_log(
            log, "mlgate-scan")
        assert re.search(r"^ PASS  mlgate-scan$", log, re.MULTILINE), log[-6000:]
        # The promotion job never started (GitLab's `needs:` rule: a needed job failed).
        assert "mlgate-promote" not in log, log[-6000:]
        assert not artifact(repo, "mlgate-promote", "mlgate-pipeline.json").exists()
    assert git_server.head(CONFIG) == seed  # nothing landed
    assert git_server.push_attempts == 0
