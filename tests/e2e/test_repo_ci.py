"""The repository's own CI definitions run for real: the self-test jobs of ci.yml under act and
of .gitlab-ci.yml under gitlab-ci-local (the test jobs would run this suite again)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from harness import CHECKOUT_PARTS, REPO

pytestmark = pytest.mark.e2e

PARTS = CHECKOUT_PARTS


def test_github_self_test_job(make_repo, run_act):
    workflow = (REPO / ".github" / "workflows" / "ci.yml").read_text()
    repo = make_repo({".github/workflows/ci.yml": workflow}, checkout_parts=PARTS)

    run = run_act(repo, job="self-test").check()

    assert "changed=true" in run.log
    assert "Job succeeded" in run.log


@pytest.fixture(scope="session")
def pip_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty venv whose pip the self-test's `install: pip install .` installs into."""
    venv = tmp_path_factory.mktemp("selftest-venv")
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    return venv


def test_gitlab_self_test_jobs(make_repo, run_gitlab_ci_local, pip_venv):
    pipeline = (REPO / ".gitlab-ci.yml").read_text()
    repo = make_repo({".gitlab-ci.yml": pipeline}, checkout_parts=PARTS)

    run = run_gitlab_ci_local(
        repo, jobs=["self-test-rewrite-manifests-outputs"], path_prepend=[pip_venv / "bin"]
    ).check()

    assert "changed=true" in run.log
    assert "PASS  self-test-rewrite-manifests-outputs" in run.log
    # A dry run: the example config repo is untouched.
    for path in (repo / "examples").rglob("*.yaml"):
        assert path.read_bytes() == (REPO / path.relative_to(repo)).read_bytes()
