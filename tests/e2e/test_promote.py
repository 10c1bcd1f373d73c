"""mlgate promote then rollback as a user's CI runs them, once per runner, against a config repo
on the loopback git server: `uses: ./actions/promote` and `./actions/rollback` run by act (one
job each, in order), and gitlab-templates/promote.yml (staging, then production) and
rollback.yml included locally and run by gitlab-ci-local. A later step / a downstream job reads
each one's outputs (gitlab-ci-local: the dotenv reports, MLGATE_PROMOTE_*, MLGATE_ROLLBACK_*);
git on the server reads the result.

The token is where a user keeps it, never an input: a repository secret (an act secret file)
that the workflow maps into the `env:` of the steps that use the actions, or a masked CI/CD
variable (gitlab-ci-local's per-user variables file); the username is plain configuration.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from harness import (
    CONFIG,
    EXAMPLE_APP,
    EXAMPLE_IMAGE,
    EXAMPLE_PATH,
    MODEL_VERSION,
    Job,
    assert_secret_absent,
    commit_trailers,
    example_config_files,
    git,
    secret_forms,
)

from mlgate.interface import OUTPUTS as _ALL_OUTPUTS  # noqa: E402
PROMOTE_OUTPUTS = _ALL_OUTPUTS["promote"]
from mlgate.interface import OUTPUTS as _ALL_OUTPUTS  # noqa: E402
ROLLBACK_OUTPUTS = _ALL_OUTPUTS["rollback"]

pytestmark = pytest.mark.e2e

TITLE = "e2e promote"
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


def landing(name: str, command: str, url: str, environment: str, *, username: str = "writer",
            **inputs: str) -> Job:
    """A job running actions/<command> / gitlab-templates/<command>.yml for the example app,
    as `username` with the token MLGATE_GIT_TOKEN (a secret)."""
    outputs = PROMOTE_OUTPUTS if command == "promote" else ROLLBACK_OUTPUTS
    return Job(
        name,
        command,
        command,
        outputs,
        {"repo": url, "app": EXAMPLE_APP, "environment": environment, "path": EXAMPLE_PATH,
         **inputs},
        env={"MLGATE_GIT_USERNAME": username},
        secrets=("MLGATE_GIT_TOKEN",),
    )


def test_promote_then_rollback_lands_commits_with_trailers(
    make_repo, runner, mlgate_landing_bin, git_server, config_url, tmp_path
):
    seed = git_server.head(CONFIG)
    token = git_server.token("writer")
    act = runner.name == "act"  # act's steps also keep their JSON results and pass evidence
    staging = landing(
        "promote-staging", "promote", config_url, "staging",
        image=f"{EXAMPLE_IMAGE}:v1.5.0",
        **{"expect-current": f"{EXAMPLE_IMAGE}:v1.4.0"},
        set=f"{MODEL_VERSION}=4\n",
        **({"evidence": "evidence/benchmark.json", "json": "mlgate-promote-staging.json"}
           if act else {}),
    )
    # Production gets exactly what staging holds now, image and model version.
    production = landing(
        "promote-production", "promote", config_url, "production",
        **{"from-environment": "staging"},
        image=EXAMPLE_IMAGE,
        set=MODEL_VERSION,
        **({"json": "mlgate-promote-production.json"} if act else {}),
    )
    rollback = landing("rollback-production", "rollback", config_url, "production",
                       **({"json": "mlgate-rollback.json"} if act else {}))
    repo = make_repo({
        **runner.files(TITLE, [staging, production, rollback], sequential=True),
        "evidence/benchmark.json": EVIDENCE,
    })
    source_sha = git(repo, "rev-parse", "HEAD").strip()
    scratch = tmp_path / "runner-tmp"  # where mlgate clones: nothing may be left holding the token
    scratch.mkdir()

    run = runner.run(repo, env={"TMPDIR": str(scratch)}, secrets={"MLGATE_GIT_TOKEN": token},
                     bin_dir=mlgate_landing_bin.parent).check()

    # Three commits on main, in order, each the parent of the next: nothing force-pushed.
    history = git_server.git(CONFIG, "rev-list", "--first-parent", f"{seed}..main").split()
    assert len(history) == 3, history
    rolled_back, promoted, staged = history
    assert git_server.head(CONFIG) == rolled_back

    # Outputs, read by the later steps / the downstream jobs.
    out = runner.outputs(run, staging)
    assert out["changed"] == "true" and out["commit"] == staged
    out = runner.outputs(run, production)
    assert out["changed"] == "true" and out["commit"] == promoted
    assert out["previous"] == f"{EXAMPLE_IMAGE}:v1.4.0"
    assert out["new"] == f"{EXAMPLE_IMAGE}:v1.5.0"
    assert out["attempts"] == "1" and out["pr-url"] == ""
    out = runner.outputs(run, rollback)
    assert out["changed"] == "true" and out["commit"] == rolled_back
    assert out["previous"] == f"{EXAMPLE_IMAGE}:v1.5.0"
    assert out["new"] == f"{EXAMPLE_IMAGE}:v1.4.0"
    assert out["attempts"] == "1"

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
    assert "newTag: v1.5.0   # promoted by mlgate" in show("main", f"{STAGING}/kustomization.yaml")
    assert 'model-version: "4"' in show("main", f"{STAGING}/model-version.yaml")
    assert "newTag: v1.5.0" in show(promoted, f"{PRODUCTION}/kustomization.yaml")
    assert 'model-version: "4"' in show(promoted, f"{PRODUCTION}/model-version.yaml")
    changed = [p for p in git_server.git(CONFIG, "diff", "--name-only", seed, "main").split()
               if not p.startswith(".mlgate/")]  # and the promotion's evidence folder
    assert sorted(changed) == [f"{STAGING}/kustomization.yaml", f"{STAGING}/model-version.yaml"]

    # The audit trail, in git trailers.
    staged_t = commit_trailers(git_server, CONFIG, staged)
    assert staged_t["Mlgate-Environment"] == ["staging"]
    if act:
        evidence_sha = hashlib.sha256(EVIDENCE.encode()).hexdigest()
        assert staged_t["Mlgate-Evidence-Sha256"] == [f"{evidence_sha} benchmark.json"]
    promoted_t = commit_trailers(git_server, CONFIG, promoted)
    assert promoted_t["Mlgate-App"] == [EXAMPLE_APP]
    assert promoted_t["Mlgate-Environment"] == ["production"]
    assert promoted_t["Mlgate-Previous"] == [f"{EXAMPLE_IMAGE}:v1.4.0"]
    assert promoted_t["Mlgate-New"] == [f"{EXAMPLE_IMAGE}:v1.5.0"]
    assert promoted_t["Mlgate-From-Environment"] == ["staging"]
    assert promoted_t["Mlgate-Source"][0].endswith(f"@{source_sha}")  # the model repo's commit
    assert promoted_t["Mlgate-Run"]  # the run's / the job's URL
    if act:
        assert "/actions/runs/" in promoted_t["Mlgate-Run"][0]
    rollback_t = commit_trailers(git_server, CONFIG, rolled_back)
    assert rollback_t["Mlgate-Rollback-Of"] == [promoted]
    assert rollback_t["Mlgate-Previous"] == [f"{EXAMPLE_IMAGE}:v1.5.0"]
    assert rollback_t["Mlgate-New"] == [f"{EXAMPLE_IMAGE}:v1.4.0"]
    message = git_server.git(CONFIG, "log", "-1", "--format=%s", rolled_back).strip()
    assert message == "rollback churn in production: v1.5.0 -> v1.4.0"

    # The JSON results stay in the workspace / are kept as artifacts, with the Markdown summary.
    report = json.loads((runner.kept(run, rollback) / "mlgate-rollback.json").read_text())
    assert report["command"] == "rollback" and report["exit_code"] == 0
    assert report["result"]["promotion"]["rollback_of"] == promoted
    if not act:
        assert "mlgate promote" in runner.summary(run, staging)

    # The token: it reached git (every authenticated request is writer's, after the 401
    # challenge), and it was never written or shown anywhere (gitlab-ci-local masks nothing, so
    # this is mlgate's own doing).
    assert {r.user for r in git_server.requests if r.user is not None} == {"writer"}
    forms = secret_forms("writer", token)
    assert_secret_absent(forms, run, runner.kept(run), scratch)
    assert not list(scratch.iterdir())  # every temporary clone was removed
    all_messages = git_server.git(CONFIG, "log", "--format=%B", "main")
    assert not any(form in all_messages for form in forms)


def test_promote_with_a_read_only_token_fails_without_showing_it(
    make_repo, runner, mlgate_landing_bin, git_server, config_url
):
    seed = git_server.head(CONFIG)
    token = git_server.token("reader")
    job = landing("promote-production", "promote", config_url, "production",
                  username="reader", image=f"{EXAMPLE_IMAGE}:v1.5.0")
    repo = make_repo(runner.files(TITLE, [job]))

    run = runner.run(repo, secrets={"MLGATE_GIT_TOKEN": token},
                     bin_dir=mlgate_landing_bin.parent)

    assert run.returncode != 0, run.log[-4000:]
    assert "the token has no permission to push to " + config_url in run.log, run.log[-4000:]
    assert runner.exit_code(run, job) == 3  # an outside service said no: exit 3, not bad input
    assert git_server.head(CONFIG) == seed  # nothing landed
    if runner.name == "act":  # read by the `if: always()` step
        assert runner.outputs(run, job)["changed"] == ""
    else:
        assert not run.outputs  # the downstream job never ran
    assert_secret_absent(secret_forms("reader", token), run, runner.kept(run, job))


@pytest.mark.parametrize("runner", ["act"], indirect=True)
def test_promote_to_the_current_values_changes_nothing(
    make_repo, runner, mlgate_landing_bin, git_server, config_url
):
    seed = git_server.head(CONFIG)
    job = landing("promote-production", "promote", config_url, "production",
                  image=f"{EXAMPLE_IMAGE}:v1.4.0")
    repo = make_repo(runner.files(TITLE, [job]))

    run = runner.run(repo, secrets={"MLGATE_GIT_TOKEN": git_server.token("writer")}).check()

    assert runner.outputs(run, job)["changed"] == "false"
    assert runner.outputs(run, job)["commit"] == ""
    assert git_server.head(CONFIG) == seed  # no empty commit
    assert git_server.push_attempts == 0
