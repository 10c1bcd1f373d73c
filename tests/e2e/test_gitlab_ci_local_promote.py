"""gitlab-templates/promote.yml (staging, then production) and rollback.yml included locally and
run by gitlab-ci-local against a config repo on the loopback git server.

Downstream jobs read the dotenv reports (MLGATE_PROMOTE_*, MLGATE_ROLLBACK_*); git on the server
reads the result. The token is what a project keeps as a masked CI/CD variable (gitlab-ci-local's
per-user variables file), never a template input.
"""

from __future__ import annotations

import json
import re

import pytest
from harness import (
    EXAMPLE_APP,
    EXAMPLE_IMAGE,
    EXAMPLE_PATH,
    MODEL_VERSION,
    assert_secret_absent,
    commit_trailers,
    example_config_files,
    git,
    gitlab_dotenv_job,
    secret_forms,
)

from mlgate.ci.gitlab import variable_name
from mlgate.interface import OUTPUTS as _ALL_OUTPUTS  # noqa: E402
PROMOTE_OUTPUTS = _ALL_OUTPUTS["promote"]
from mlgate.interface import OUTPUTS as _ALL_OUTPUTS  # noqa: E402
ROLLBACK_OUTPUTS = _ALL_OUTPUTS["rollback"]

pytestmark = pytest.mark.e2e

CONFIG = "platform/config"
STAGING = f"{EXAMPLE_PATH}/staging"
PRODUCTION = f"{EXAMPLE_PATH}/production"
PROMOTE_VARIABLES = [variable_name("promote", name) for name in PROMOTE_OUTPUTS]
ROLLBACK_VARIABLES = [variable_name("rollback", name) for name in ROLLBACK_OUTPUTS]


def include(template: str, job: str, stage: str, url: str, environment: str, *inputs: str) -> str:
    """One include of a template for the example app; `inputs` are more `inputs:` lines."""
    lines = [
        f"  - local: gitlab-templates/{template}.yml",
        "    inputs:",
        f"      job-name: {job}",
        f"      stage: {stage}",
        '      install: . "$MLGATE_E2E_BIN/activate"',
        f"      repo: {url}",
        f"      app: {EXAMPLE_APP}",
        f"      environment: {environment}",
        f"      path: {EXAMPLE_PATH}",
        *(f"      {line}" for line in inputs),
    ]
    return "\n".join(lines) + "\n"


def pipeline(stages: str, includes: list[str], jobs: list[str]) -> str:
    """The username is plain pipeline configuration; the token is not (see secret_variables)."""
    return (
        f"stages: [{stages}]\n"
        "variables:\n"
        "  MLGATE_GIT_USERNAME: writer\n"
        "include:\n" + "".join(includes) + "\n" + "\n".join(jobs)
    )


@pytest.fixture
def config_url(git_server) -> str:
    git_server.create_repo(CONFIG, example_config_files())
    return git_server.url(CONFIG)


def test_templates_promote_then_roll_back(
    make_repo, run_gitlab_ci_local, mlgate_landing_bin, git_server, config_url, tmp_path
):
    seed = git_server.head(CONFIG)
    token = git_server.token("writer")
    includes = [
        include(
            "promote",
            "promote-staging",
            "staging",
            config_url,
            "staging",
            f"image: {EXAMPLE_IMAGE}:v1.5.0",
            f"expect-current: {EXAMPLE_IMAGE}:v1.4.0",
            "set: |",
            f"  {MODEL_VERSION}=4",
        ),
        # Production gets exactly what staging holds now, image and model version.
        include(
            "promote",
            "promote-production",
            "production",
            config_url,
            "production",
            "from-environment: staging",
            f"image: {EXAMPLE_IMAGE}",
            f"set: {MODEL_VERSION}",
        ),
        include("rollback", "rollback-production", "rollback", config_url, "production"),
    ]
    jobs = [
        gitlab_dotenv_job("read-promote", "promote-production", PROMOTE_VARIABLES, "verify"),
        gitlab_dotenv_job(
            "read-rollback", "rollback-production", ROLLBACK_VARIABLES, "verify-rollback"
        ),
    ]
    stages = "staging, production, verify, rollback, verify-rollback"
    repo = make_repo({".gitlab-ci.yml": pipeline(stages, includes, jobs)})
    source_sha = git(repo, "rev-parse", "HEAD").strip()
    scratch = tmp_path / "runner-tmp"  # where mlgate clones: nothing may be left holding the token
    scratch.mkdir()

    run = run_gitlab_ci_local(
        repo,
        variables={"MLGATE_E2E_BIN": str(mlgate_landing_bin.parent), "TMPDIR": str(scratch)},
        secret_variables={"MLGATE_GIT_TOKEN": token},
    ).check()

    history = git_server.git(CONFIG, "rev-list", "--first-parent", f"{seed}..main").split()
    assert len(history) == 3, history
    rolled_back, promoted, staged = history
    assert git_server.head(CONFIG) == rolled_back

    # Outputs, read by the downstream jobs from the dotenv reports.
    out = run.outputs
    assert out["MLGATE_PROMOTE_CHANGED"] == "true"
    assert out["MLGATE_PROMOTE_COMMIT"] == promoted
    assert out["MLGATE_PROMOTE_PREVIOUS"] == f"{EXAMPLE_IMAGE}:v1.4.0"
    assert out["MLGATE_PROMOTE_NEW"] == f"{EXAMPLE_IMAGE}:v1.5.0"
    assert out["MLGATE_PROMOTE_ATTEMPTS"] == "1"
    assert out["MLGATE_PROMOTE_PR_URL"] == ""
    assert out["MLGATE_ROLLBACK_CHANGED"] == "true"
    assert out["MLGATE_ROLLBACK_COMMIT"] == rolled_back
    assert out["MLGATE_ROLLBACK_PREVIOUS"] == f"{EXAMPLE_IMAGE}:v1.5.0"
    assert out["MLGATE_ROLLBACK_NEW"] == f"{EXAMPLE_IMAGE}:v1.4.0"
    assert out["MLGATE_ROLLBACK_ATTEMPTS"] == "1"

    # The config repo: staging keeps the promotion, production is back where it was.
    example = example_config_files()

    def show(rev: str, path: str) -> str:
        return git_server.git(CONFIG, "show", f"{rev}:{path}")

    assert "newTag: v1.5.0   # promoted by mlgate" in show("main", f"{STAGING}/kustomization.yaml")
    assert 'model-version: "4"' in show("main", f"{STAGING}/model-version.yaml")
    assert "newTag: v1.5.0" in show(promoted, f"{PRODUCTION}/kustomization.yaml")
    assert 'model-version: "4"' in show(promoted, f"{PRODUCTION}/model-version.yaml")
    for name in ("kustomization.yaml", "model-version.yaml"):
        assert show("main", f"{PRODUCTION}/{name}") == example[f"{PRODUCTION}/{name}"].decode()
    changed = git_server.git(CONFIG, "diff", "--name-only", seed, "main").split()
    assert sorted(changed) == [f"{STAGING}/kustomization.yaml", f"{STAGING}/model-version.yaml"]

    # The audit trail, in git trailers.
    assert commit_trailers(git_server, CONFIG, staged)["Mlgate-Environment"] == ["staging"]
    promoted_t = commit_trailers(git_server, CONFIG, promoted)
    assert promoted_t["Mlgate-App"] == [EXAMPLE_APP]
    assert promoted_t["Mlgate-Environment"] == ["production"]
    assert promoted_t["Mlgate-Previous"] == [f"{EXAMPLE_IMAGE}:v1.4.0"]
    assert promoted_t["Mlgate-New"] == [f"{EXAMPLE_IMAGE}:v1.5.0"]
    assert promoted_t["Mlgate-From-Environment"] == ["staging"]
    assert promoted_t["Mlgate-Source"][0].endswith(f"@{source_sha}")  # the model repo's commit
    assert promoted_t["Mlgate-Run"]  # the job's URL
    rollback_t = commit_trailers(git_server, CONFIG, rolled_back)
    assert rollback_t["Mlgate-Rollback-Of"] == [promoted]
    assert rollback_t["Mlgate-Previous"] == [f"{EXAMPLE_IMAGE}:v1.5.0"]
    assert rollback_t["Mlgate-New"] == [f"{EXAMPLE_IMAGE}:v1.4.0"]

    # The Markdown summaries and JSON results are kept as artifacts.
    artifacts = repo / ".gitlab-ci-local" / "artifacts"
    report = json.loads((artifacts / "rollback-production" / "mlgate-rollback.json").read_text())
    assert report["command"] == "rollback" and report["exit_code"] == 0
    assert "mlgate promote" in (artifacts / "promote-staging" / "mlgate-promote.md").read_text()

    # The token: it reached git, and it was never written or shown anywhere (gitlab-ci-local
    # masks nothing, so this is mlgate's own doing).
    assert {r.user for r in git_server.requests if r.user is not None} == {"writer"}
    forms = secret_forms("writer", token)
    assert_secret_absent(forms, run, artifacts, scratch)
    assert not list(scratch.iterdir())  # every temporary clone was removed
    all_messages = git_server.git(CONFIG, "log", "--format=%B", "main")
    assert not any(form in all_messages for form in forms)


def test_template_with_a_read_only_token_fails_the_job(
    make_repo, run_gitlab_ci_local, mlgate_landing_bin, git_server, config_url
):
    seed = git_server.head(CONFIG)
    token = git_server.token("reader")
    text = pipeline(
        "deploy, verify",
        [
            include(
                "promote",
                "promote-production",
                "deploy",
                config_url,
                "production",
                f"image: {EXAMPLE_IMAGE}:v1.5.0",
            )
        ],
        [gitlab_dotenv_job("read-promote", "promote-production", PROMOTE_VARIABLES, "verify")],
    )
    text = text.replace("MLGATE_GIT_USERNAME: writer", "MLGATE_GIT_USERNAME: reader")
    repo = make_repo({".gitlab-ci.yml": text})

    run = run_gitlab_ci_local(
        repo,
        variables={"MLGATE_E2E_BIN": str(mlgate_landing_bin.parent)},
        secret_variables={"MLGATE_GIT_TOKEN": token},
    )

    assert run.returncode != 0
    assert "the token has no permission to push to " + config_url in run.log, run.log[-4000:]
    # An outside service said no: exit 3, not bad input (2).
    assert re.search(r"promote-production finished in [0-9.]+ \S+\s+FAIL 3\b", run.log)
    assert git_server.head(CONFIG) == seed
    assert not run.outputs  # the downstream job never ran
    artifacts = repo / ".gitlab-ci-local" / "artifacts" / "promote-production"
    assert_secret_absent(secret_forms("reader", token), run, artifacts)
