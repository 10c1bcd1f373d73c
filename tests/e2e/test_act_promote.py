"""`uses: ./actions/promote` then `./actions/rollback`, run by act against a config repo on the
loopback git server; the outputs are read by later steps, the result by git on the server.

The token is a repository secret (an act secret file) that the workflow maps into the `env:` of
the steps that use the actions, as a user's workflow does; the actions take no token input.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from harness import (
    CHECKOUT_STEP,
    EXAMPLE_APP,
    EXAMPLE_IMAGE,
    EXAMPLE_PATH,
    MODEL_VERSION,
    assert_secret_absent,
    commit_trailers,
    example_config_files,
    git,
    github_collect_step,
    secret_forms,
)

from mlgate.interface import OUTPUTS as _ALL_OUTPUTS  # noqa: E402
PROMOTE_OUTPUTS = _ALL_OUTPUTS["promote"]
from mlgate.interface import OUTPUTS as _ALL_OUTPUTS  # noqa: E402
ROLLBACK_OUTPUTS = _ALL_OUTPUTS["rollback"]

pytestmark = pytest.mark.e2e

CONFIG = "platform/config"
STAGING = f"{EXAMPLE_PATH}/staging"
PRODUCTION = f"{EXAMPLE_PATH}/production"
EVIDENCE = json.dumps(
    {
        "command": "benchmark",
        "title": "candidate beats champion",
        "verdict": "passed",
        "exit_code": 0,
    },
    indent=2,
)
# The repository secret, and how every step that lands something gets it.
TOKEN_ENV = (
    "        env:\n"
    "          MLGATE_GIT_TOKEN: ${{ secrets.CONFIG_REPO_TOKEN }}\n"
    "          MLGATE_GIT_USERNAME: writer\n"
)


def workflow(steps: str) -> str:
    return (
        "name: e2e promote\n"
        "on: push\n"
        "permissions: {}\n"
        "jobs:\n"
        "  promote:\n"
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        f"{CHECKOUT_STEP}"
        f"{steps}"
    )


def uses(
    step_id: str, action: str, url: str, environment: str, *inputs: str, env: str = TOKEN_ENV
) -> str:
    """A step running ./actions/<action> for the example app; `inputs` are more `with:` lines."""
    lines = [
        f"      - id: {step_id}",
        f"        uses: ./actions/{action}",
        env.rstrip("\n"),
        "        with:",
        f"          repo: {url}",
        f"          app: {EXAMPLE_APP}",
        f"          environment: {environment}",
        f"          path: {EXAMPLE_PATH}",
        *(f"          {line}" for line in inputs),
    ]
    return "\n".join(lines) + "\n"


@pytest.fixture
def config_url(git_server) -> str:
    git_server.create_repo(CONFIG, example_config_files())
    return git_server.url(CONFIG)


def test_promote_then_rollback_lands_commits_with_trailers(
    make_repo, run_act, mlgate_landing_bin, git_server, config_url, tmp_path
):
    seed = git_server.head(CONFIG)
    token = git_server.token("writer")
    steps = (
        uses(
            "staging",
            "promote",
            config_url,
            "staging",
            f"image: {EXAMPLE_IMAGE}:v1.5.0",
            f"expect-current: {EXAMPLE_IMAGE}:v1.4.0",
            "set: |",
            f"  {MODEL_VERSION}=4",
            "evidence: evidence/benchmark.json",
            "json: mlgate-promote-staging.json",
        )
        + github_collect_step("staging", PROMOTE_OUTPUTS, keep="after-staging", prefix="staging-")
        # Production gets exactly what staging holds now, image and model version.
        + uses(
            "production",
            "promote",
            config_url,
            "production",
            "from-environment: staging",
            f"image: {EXAMPLE_IMAGE}",
            f"set: {MODEL_VERSION}",
            "json: mlgate-promote-production.json",
        )
        + github_collect_step(
            "production", PROMOTE_OUTPUTS, keep="after-production", prefix="promote-"
        )
        + uses("rollback", "rollback", config_url, "production", "json: mlgate-rollback.json")
        + github_collect_step("rollback", ROLLBACK_OUTPUTS, prefix="rollback-")
    )
    repo = make_repo(
        {
            ".github/workflows/promote.yml": workflow(steps),
            "evidence/benchmark.json": EVIDENCE,
        }
    )
    source_sha = git(repo, "rev-parse", "HEAD").strip()
    scratch = tmp_path / "runner-tmp"  # where mlgate clones: nothing may be left holding the token
    scratch.mkdir()

    run = run_act(repo, secrets={"CONFIG_REPO_TOKEN": token}, env={"TMPDIR": str(scratch)}).check()

    # Three commits on main, in order, each the parent of the next: nothing force-pushed.
    history = git_server.git(CONFIG, "rev-list", "--first-parent", f"{seed}..main").split()
    assert len(history) == 3, history
    rolled_back, promoted, staged = history
    out = run.outputs
    assert git_server.head(CONFIG) == rolled_back

    # Outputs, read by the later steps.
    assert out["staging-changed"] == "true" and out["staging-commit"] == staged
    assert out["promote-changed"] == "true" and out["promote-commit"] == promoted
    assert out["promote-previous"] == f"{EXAMPLE_IMAGE}:v1.4.0"
    assert out["promote-new"] == f"{EXAMPLE_IMAGE}:v1.5.0"
    assert out["promote-attempts"] == "1" and out["promote-pr-url"] == ""
    assert out["rollback-changed"] == "true" and out["rollback-commit"] == rolled_back
    assert out["rollback-previous"] == f"{EXAMPLE_IMAGE}:v1.5.0"
    assert out["rollback-new"] == f"{EXAMPLE_IMAGE}:v1.4.0"
    assert out["rollback-attempts"] == "1"

    # The config repo: staging keeps the promotion, production is back where it was.
    example = example_config_files()

    def show(rev: str, path: str) -> str:
        return git_server.git(CONFIG, "show", f"{rev}:{path}")

    kustomization = example[f"{STAGING}/kustomization.yaml"].decode()
    model_version = example[f"{STAGING}/model-version.yaml"].decode()
    promoted_files = {
        "kustomization.yaml": kustomization.replace("newTag: v1.4.0", "newTag: v1.5.0"),
        "model-version.yaml": model_version.replace('model-version: "3"', 'model-version: "4"'),
    }
    for name, text in promoted_files.items():
        assert show("main", f"{STAGING}/{name}") == text
        assert show(promoted, f"{PRODUCTION}/{name}") == text.replace("staging", "production")
        assert show("main", f"{PRODUCTION}/{name}") == example[f"{PRODUCTION}/{name}"].decode()
    changed = git_server.git(CONFIG, "diff", "--name-only", seed, "main").split()
    assert sorted(changed) == [f"{STAGING}/kustomization.yaml", f"{STAGING}/model-version.yaml"]

    # The audit trail, in git trailers.
    staged_t = commit_trailers(git_server, CONFIG, staged)
    evidence_sha = hashlib.sha256(EVIDENCE.encode()).hexdigest()
    assert staged_t["Mlgate-Evidence-Sha256"] == [f"{evidence_sha} benchmark.json"]
    promoted_t = commit_trailers(git_server, CONFIG, promoted)
    assert promoted_t["Mlgate-App"] == [EXAMPLE_APP]
    assert promoted_t["Mlgate-Environment"] == ["production"]
    assert promoted_t["Mlgate-Previous"] == [f"{EXAMPLE_IMAGE}:v1.4.0"]
    assert promoted_t["Mlgate-New"] == [f"{EXAMPLE_IMAGE}:v1.5.0"]
    assert promoted_t["Mlgate-From-Environment"] == ["staging"]
    assert promoted_t["Mlgate-Source"][0].endswith(f"@{source_sha}")  # the model repo's commit
    assert "/actions/runs/" in promoted_t["Mlgate-Run"][0]
    rollback_t = commit_trailers(git_server, CONFIG, rolled_back)
    assert rollback_t["Mlgate-Rollback-Of"] == [promoted]
    assert rollback_t["Mlgate-Previous"] == [f"{EXAMPLE_IMAGE}:v1.5.0"]
    assert rollback_t["Mlgate-New"] == [f"{EXAMPLE_IMAGE}:v1.4.0"]
    message = git_server.git(CONFIG, "log", "-1", "--format=%s", rolled_back).strip()
    assert message == "rollback churn in production: v1.5.0 -> v1.4.0"

    # The JSON results stay in the workspace.
    report = json.loads(run.read("mlgate-rollback.json"))
    assert report["command"] == "rollback" and report["exit_code"] == 0
    assert report["result"]["promotion"]["rollback_of"] == promoted

    # The token: it reached git (every authenticated request is writer's, after the 401
    # challenge), and it was never written or shown anywhere.
    assert {r.user for r in git_server.requests if r.user is not None} == {"writer"}
    forms = secret_forms("writer", token)
    assert_secret_absent(forms, run, run.workspace.parent, scratch)
    assert not list(scratch.iterdir())  # every temporary clone was removed
    all_messages = git_server.git(CONFIG, "log", "--format=%B", "main")
    assert not any(form in all_messages for form in forms)


def test_promote_with_a_read_only_token_fails_without_showing_it(
    make_repo, run_act, mlgate_landing_bin, git_server, config_url
):
    seed = git_server.head(CONFIG)
    token = git_server.token("reader")
    reader_env = TOKEN_ENV.replace("MLGATE_GIT_USERNAME: writer", "MLGATE_GIT_USERNAME: reader")
    steps = uses(
        "promote",
        "promote",
        config_url,
        "production",
        f"image: {EXAMPLE_IMAGE}:v1.5.0",
        env=reader_env,
    ) + github_collect_step("promote", PROMOTE_OUTPUTS)
    repo = make_repo({".github/workflows/promote.yml": workflow(steps)})

    run = run_act(repo, secrets={"CONFIG_REPO_TOKEN": token})

    assert run.returncode != 0, run.log[-4000:]
    assert "the token has no permission to push to " + config_url in run.log, run.log[-4000:]
    assert "exit status 3" in run.log  # an outside service said no: exit 3, not bad input
    assert git_server.head(CONFIG) == seed  # nothing landed
    assert run.outputs["changed"] == ""
    assert_secret_absent(secret_forms("reader", token), run, run.workspace)


def test_promote_to_the_current_values_changes_nothing(
    make_repo, run_act, mlgate_landing_bin, git_server, config_url
):
    seed = git_server.head(CONFIG)
    steps = uses(
        "promote", "promote", config_url, "production", f"image: {EXAMPLE_IMAGE}:v1.4.0"
    ) + github_collect_step("promote", PROMOTE_OUTPUTS)
    repo = make_repo({".github/workflows/promote.yml": workflow(steps)})

    run = run_act(repo, secrets={"CONFIG_REPO_TOKEN": git_server.token("writer")}).check()

    assert run.outputs["changed"] == "false"
    assert run.outputs["commit"] == ""
    assert git_server.head(CONFIG) == seed  # no empty commit
    assert git_server.push_attempts == 0
