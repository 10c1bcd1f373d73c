"""`uses: ./` — the root action, `mlgate pipeline` from the model repository's mlgate.yaml — run
by act, promoting into a config repo on the loopback git server.

The model repository holds what a training job leaves (held-out breast-cancer data, a naive
Bayes champion and a better logistic-regression candidate as .skops files), the example GX
suite, and an mlgate.yaml whose config repo URL comes from the job's env (`${MLGATE_CONFIG_REPO}`).
The token is a repository secret the workflow maps into the step's `env:` as MLGATE_GIT_TOKEN.

- Staging: validate, benchmark and scan pass (scan: the real Trivy binary, offline, with its
  bundled Kubernetes checks, on the manifests the model repo deploys; nothing CRITICAL), then the
  promotion lands one commit carrying the three gates' JSON results as evidence
  (Mlgate-Evidence-Sha256 trailers); production (`from: staging`, no gates) then takes exactly
  what staging runs.
- Blocked: broken data (missing "mean radius", a critical expectation), a worse candidate and a
  scan failing on HIGH: all three gates run and report (validate-passed, benchmark-passed and
  scan-passed false), the promotion does not run (promoted=false), the step exits 1 and the
  config repo is unchanged.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
import yaml
from harness import (
    CHECKOUT_PARTS,
    CHECKOUT_STEP,
    EXAMPLE_APP,
    EXAMPLE_IMAGE,
    EXAMPLE_PATH,
    MODEL_VERSION,
    assert_secret_absent,
    commit_trailers,
    example_config_files,
    github_collect_step,
    model_project_files,
    secret_forms,
)

from mlgate.interface import OUTPUTS as _ALL_OUTPUTS  # noqa: E402
OUTPUTS = _ALL_OUTPUTS["pipeline"]

pytestmark = pytest.mark.e2e

WORKFLOW = "e2e pipeline"
CONFIG = "platform/config"
STAGING = f"{EXAMPLE_PATH}/staging"
PRODUCTION = f"{EXAMPLE_PATH}/production"
# The model repository needs the root action.yml too, for `uses: ./`.
PARTS = (*CHECKOUT_PARTS, "action.yml")
TOKEN_ENV = (
    "        env:\n"
    "          MLGATE_GIT_TOKEN: ${{ secrets.CONFIG_REPO_TOKEN }}\n"
    "          MLGATE_GIT_USERNAME: writer\n"
)


def policy(data: str = "data/holdout.csv", candidate: str = "models/candidate.skops",
           champion: str = "models/champion.skops", scan_fail_on: str = "CRITICAL") -> str:
    """mlgate.yaml: validate, benchmark and scan gate staging; production copies staging."""
    return yaml.safe_dump({
        "version": 1,
        "app": EXAMPLE_APP,
        "model": {"name": "churn", "version": "4"},
        "validate": {"data": data, "suite": "suites/breast_cancer.yaml", "fail-on": "critical"},
        "benchmark": {"candidate": candidate, "champion": champion, "data": "data/holdout.csv",
                      "target": "target", "metric": ["accuracy:margin=0.02"],
                      "bootstrap": 300},
        "scan": {"fs": "deploy", "scanners": "misconfig", "fail-on-severity": scan_fail_on,
                 "offline": True, "trivy": "${E2E_TRIVY}", "cache-dir": "${E2E_TRIVY_CACHE}"},
        "image": f"{EXAMPLE_IMAGE}:v1.5.0",
        "promote": {"repo": "${MLGATE_CONFIG_REPO}", "path": EXAMPLE_PATH,
                    "author-name": "mlgate ci", "author-email": "ci@mlgate.invalid"},
        "environments": [
            {"name": "staging", "gates": ["validate", "benchmark", "scan"],
             "set": [f"{MODEL_VERSION}={{version}}"]},
            {"name": "production", "from": "staging", "set": [MODEL_VERSION]},
        ],
    }, sort_keys=False)


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


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The model repo: data, models, suite, and the Kubernetes manifests it deploys."""
    files = model_project_files(tmp_path_factory.mktemp("model-project"))
    files.update({f"deploy/{path}": data for path, data in example_config_files().items()
                  if path.startswith("apps/")})
    return files


@pytest.fixture
def trivy_env(tmp_path) -> dict[str, str]:
    """Where mlgate.yaml's scan finds Trivy (`${E2E_TRIVY}`) and its cache."""
    from support.trivyfix import trivy_bin

    return {"E2E_TRIVY": trivy_bin(), "E2E_TRIVY_CACHE": str(tmp_path / "trivy-cache")}


@pytest.fixture
def config_url(git_server) -> str:
    git_server.create_repo(CONFIG, example_config_files())
    return git_server.url(CONFIG)


def outputs_of(run, step_id: str) -> dict[str, str]:
    return {name: run.outputs[f"{step_id}-{name}"] for name in OUTPUTS}


def test_root_action_gates_then_promotes_staging_then_production(
    make_repo, run_act, mlgate_pipeline_bin, git_server, config_url, project, tmp_path, trivy_env
):
    seed = git_server.head(CONFIG)
    token = git_server.token("writer")
    steps = pipeline_step("staging", "staging") + pipeline_step("production", "production")
    repo = make_repo({".github/workflows/pipeline.yml": workflow(config_url, steps),
                      "mlgate.yaml": policy(), **project}, checkout_parts=PARTS)
    scratch = tmp_path / "runner-tmp"  # where mlgate clones: nothing may be left holding the token
    scratch.mkdir()

    run = run_act(repo, secrets={"CONFIG_REPO_TOKEN": token},
                  env={"TMPDIR": str(scratch), **trivy_env}).check()

    history = git_server.git(CONFIG, "rev-list", "--first-parent", f"{seed}..main").split()
    assert len(history) == 2, history
    promoted, staged = history

    # Outputs: the pipeline's own, each gate's and the promotion's, prefixed by step.
    staging = outputs_of(run, "staging")
    assert staging["passed"] == "true" and staging["promoted"] == "true", staging
    assert staging["environment"] == "staging" and staging["model-version"] == "4"
    assert staging["validate-passed"] == "true" and staging["validate-failed"] == "0"
    assert int(staging["validate-evaluated"]) > 0
    assert staging["benchmark-passed"] == "true" and staging["benchmark-metric"] == "accuracy"
    assert float(staging["benchmark-candidate"]) > float(staging["benchmark-champion"])
    assert staging["scan-passed"] == "true" and staging["scan-critical"] == "0"
    assert int(staging["scan-high"]) > 0  # found, but below the CRITICAL bar
    assert staging["promote-changed"] == "true" and staging["promote-commit"] == staged
    assert staging["promote-previous"] == f"{EXAMPLE_IMAGE}:v1.4.0"
    assert staging["promote-new"] == f"{EXAMPLE_IMAGE}:v1.5.0"
    assert staging["reports-dir"].endswith("mlgate-reports/staging")
    production = outputs_of(run, "production")
    assert production["passed"] == "true" and production["promoted"] == "true", production
    assert production["validate-passed"] == "" and production["benchmark-passed"] == ""
    assert production["promote-commit"] == promoted

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
    changed = git_server.git(CONFIG, "diff", "--name-only", seed, staged).split()
    assert sorted(changed) == [f"{STAGING}/kustomization.yaml", f"{STAGING}/model-version.yaml"]

    # The audit trail: staging's commit carries both gates' JSON results, by sha256.
    workspace = run.workspace.parent / "staging"
    staged_t = commit_trailers(git_server, CONFIG, staged)
    assert staged_t["Mlgate-App"] == [EXAMPLE_APP]
    assert staged_t["Mlgate-Environment"] == ["staging"]
    assert staged_t["Mlgate-New"] == [f"{EXAMPLE_IMAGE}:v1.5.0"]
    assert staged_t["Mlgate-Set-New"] == [
        f'{STAGING}/model-version.yaml:metadata.annotations["mlgate.io/model-version"]=4']
    evidence = {}
    for gate in ("validate", "benchmark", "scan"):
        report = workspace / "mlgate-reports" / "staging" / f"{gate}.json"
        assert json.loads(report.read_text())["exit_code"] == 0
        evidence[gate] = hashlib.sha256(report.read_bytes()).hexdigest()
    assert sorted(staged_t["Mlgate-Evidence-Sha256"]) == sorted(
        f"{sha} {gate}.json" for gate, sha in evidence.items())
    body = git_server.git(CONFIG, "log", "-1", "--format=%B", staged)
    assert "- validate: passed (exit 0)" in body and "- benchmark: passed (exit 0)" in body, body
    assert "- scan: passed (exit 0)" in body, body
    promoted_t = commit_trailers(git_server, CONFIG, promoted)
    assert promoted_t["Mlgate-Environment"] == ["production"]
    assert promoted_t["Mlgate-From-Environment"] == ["staging"]
    assert "Mlgate-Evidence-Sha256" not in promoted_t  # production lists no gates

    # The pipeline's JSON result lists every step.
    result = json.loads((workspace / "mlgate-reports" / "staging.json").read_text())
    assert [s["step"] for s in result["result"]["steps"]] == ["validate", "benchmark", "scan",
                                                               "promote"]
    assert (workspace / "mlgate-reports" / "staging" / "benchmark.md").is_file()

    # The token reached git and was never written or shown anywhere.
    assert {r.user for r in git_server.requests if r.user is not None} == {"writer"}
    assert_secret_absent(secret_forms("writer", token), run, run.workspace.parent, scratch)


def test_a_failing_gate_blocks_the_promotion_and_every_verdict_is_reported(
    make_repo, run_act, mlgate_pipeline_bin, git_server, config_url, project, trivy_env
):
    seed = git_server.head(CONFIG)
    # Broken data, a worse candidate (the models swapped), HIGH findings: all three say no.
    blocked = policy(data="data/broken.csv", candidate="models/champion.skops",
                     champion="models/candidate.skops", scan_fail_on="HIGH")
    repo = make_repo({".github/workflows/pipeline.yml": workflow(
                          config_url, pipeline_step("staging", "staging")),
                      "mlgate.yaml": blocked, **project}, checkout_parts=PARTS)

    run = run_act(repo, secrets={"CONFIG_REPO_TOKEN": git_server.token("writer")},
                  env=trivy_env)

    log = run.log
    assert run.returncode != 0, log[-4000:]
    assert re.search(rf"^\[{WORKFLOW}/pipeline\] +exit status 1$", log, re.MULTILINE), log[-6000:]
    out = outputs_of(run, "staging")
    assert out["passed"] == "false" and out["promoted"] == "false", out
    assert out["validate-passed"] == "false" and int(out["validate-failed"]) >= 1
    assert out["benchmark-passed"] == "false"
    assert out["scan-passed"] == "false" and int(out["scan-high"]) > 0
    assert float(out["benchmark-candidate"]) < float(out["benchmark-champion"])
    assert out["promote-changed"] == "" and out["promote-commit"] == ""
    assert git_server.head(CONFIG) == seed  # nothing landed
    assert git_server.push_attempts == 0

    workspace = run.workspace.parent / "staging"
    result = json.loads((workspace / "mlgate-reports" / "staging.json").read_text())
    steps = {s["step"]: s for s in result["result"]["steps"]}
    assert [steps[g]["exit_code"] for g in ("validate", "benchmark", "scan")] == [1, 1, 1]
    assert steps["promote"]["exit_code"] is None and "not run" in steps["promote"]["verdict"]
    for gate in ("validate", "benchmark", "scan"):
        report = json.loads(
            (workspace / "mlgate-reports" / "staging" / f"{gate}.json").read_text())
        assert report["exit_code"] == 1
    assert not Path(workspace / "mlgate-reports" / "staging" / "promote.json").exists()
