"""gitlab-templates/rewrite-manifests.yml included locally and run by gitlab-ci-local.

A downstream job reads the dotenv report (MLGATE_REWRITE_*) the template's job leaves.
"""

from __future__ import annotations

import json

import pytest
from harness import CHURN, gitlab_dotenv_job

from mlgate.ci.gitlab import variable_name
from mlgate.interface import OUTPUTS as _ALL_OUTPUTS  # noqa: E402
OUTPUTS = _ALL_OUTPUTS["rewrite"]

pytestmark = pytest.mark.e2e

FILES = ("deploy/deployment.yaml", "deploy/kustomization.yaml")
VARIABLES = [variable_name("rewrite", name) for name in OUTPUTS]


def pipeline(inputs: str) -> str:
    return (
        "stages: [deploy, verify]\n"
        "include:\n"
        "  - local: gitlab-templates/rewrite-manifests.yml\n"
        "    inputs:\n"
        "      job-name: rewrite-churn\n"
        "      stage: deploy\n"
        '      install: . "$MLGATE_E2E_BIN/activate"\n'
        f"{inputs}"
        "\n" + gitlab_dotenv_job("read-outputs", "rewrite-churn", VARIABLES, stage="verify")
    )


def test_template_rewrites_and_exports_dotenv(make_repo, run_gitlab_ci_local, config_repo_files):
    repo = make_repo(
        {
            **config_repo_files,
            ".gitlab-ci.yml": pipeline(
                "      paths: |\n"
                "        deploy/deployment.yaml\n"
                "        deploy/kustomization.yaml\n"
                f"      image: {CHURN}:v2.1.0\n"
                f"      expect-current: {CHURN}:v2.0.0\n"
                "      dry-run: false\n"
            ),
        }
    )

    run = run_gitlab_ci_local(repo).check()

    for relpath in FILES:  # only the tag changed, every other byte kept
        expected = config_repo_files[relpath].replace("churn:v2.0.0", "churn:v2.1.0")
        expected = expected.replace("newTag: v2.0.0 #", "newTag: v2.1.0 #")
        assert run.read(relpath) == expected
    outputs = run.outputs
    assert outputs["MLGATE_REWRITE_CHANGED"] == "true"
    assert sorted(json.loads(outputs["MLGATE_REWRITE_FILES"])) == list(FILES)
    changes = json.loads(outputs["MLGATE_REWRITE_CHANGES"])
    assert {(c["file"], c["new"]) for c in changes} == {
        (FILES[0], f"{CHURN}:v2.1.0"),
        (FILES[1], "v2.1.0"),
    }
    # The Markdown summary and the JSON result are kept as artifacts.
    artifacts = repo / ".gitlab-ci-local" / "artifacts" / "rewrite-churn"
    assert "mlgate rewrite" in (artifacts / "mlgate-rewrite.md").read_text()
    assert json.loads((artifacts / "mlgate-rewrite.json").read_text())["exit_code"] == 0


def test_template_gate_failure_fails_the_job(make_repo, run_gitlab_ci_local, config_repo_files):
    repo = make_repo(
        {
            **config_repo_files,
            ".gitlab-ci.yml": pipeline(
                "      paths: deploy\n"
                f"      image: {CHURN}:v2.1.0\n"
                f"      expect-current: {CHURN}:v1.9.0\n"
            ),
        }
    )

    run = run_gitlab_ci_local(repo)

    assert run.returncode != 0
    assert "refusing to overwrite (--expect-current)" in run.log, run.log[-4000:]
    for relpath in FILES:
        assert run.read(relpath) == config_repo_files[relpath]
    assert not run.outputs  # the downstream job never ran
