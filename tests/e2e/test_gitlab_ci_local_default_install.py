"""A GitLab template's *default* install, run by gitlab-ci-local: pip fetches mlgate from git.

The template (rewrite-manifests.yml) is included without an `install:` input, so its job runs the
default, `pip install --quiet "mlgate @ git+${MLGATE_REPOSITORY_URL}@${MLGATE_REF}"`, with the
ref the template carries (mlgate.ci.gitlab.SOURCE_REF, this version's tag). The URL is pointed at
a local bare clone of this checkout holding that tag, the way a project points it at a mirror:
a CI/CD variable `MLGATE_REPOSITORY_URL` (here gitlab-ci-local's `--variable`).

Offline: pip clones mlgate's own source from the bare repository and builds it; its
dependencies and its build backend are already in the job's Python (installed beforehand from
uv's cache at the versions actions/_shared/constraints.txt pins, as the harness does), and pip
is told to use no index and the installed build backend (PIP_NO_INDEX, and
PIP_NO_BUILD_ISOLATION=0, which in pip's inverted spelling turns build isolation off).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from harness import CHURN, REPO, clean_env, copy_checkout, git, gitlab_dotenv_job

from mlgate.ci.gitlab import SOURCE_REF, variable_name
from mlgate.interface import OUTPUTS as _ALL_OUTPUTS  # noqa: E402
OUTPUTS = _ALL_OUTPUTS["rewrite"]

pytestmark = pytest.mark.e2e

CONSTRAINTS = REPO / "actions" / "_shared" / "constraints.txt"
VARIABLES = [variable_name("rewrite", name) for name in OUTPUTS]


def bare_mlgate(tmp_path: Path) -> Path:
    """A bare repository of this checkout's source with the tag the templates install."""
    src = tmp_path / "mlgate-src"
    src.mkdir()
    copy_checkout(src)
    git(src, "init", "-q")
    git(src, "add", "-A")
    git(src, "commit", "-q", "-m", "mlgate")
    git(src, "tag", SOURCE_REF)
    bare = tmp_path / "mlgate.git"
    git(tmp_path, "clone", "-q", "--bare", str(src), str(bare))
    return bare


def job_python(tmp_path: Path) -> Path:
    """A venv with pip (the job's Python) holding mlgate's dependencies and build backend."""
    python = shutil.which("python3") or sys.executable
    venv = tmp_path / "job-python"
    subprocess.run([python, "-m", "venv", str(venv)], check=True, capture_output=True)
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    wanted = [*project["build-system"]["requires"], *project["project"]["dependencies"]]
    uv = shutil.which("uv")
    if uv is None:
        pytest.fail("uv is not installed (the e2e harness installs with it)", pytrace=False)
    proc = subprocess.run(
        [uv, "pip", "install", "--quiet", "--no-config", "--python", str(venv / "bin/python"),
         "--constraint", str(CONSTRAINTS), *wanted],
        env=clean_env({"UV_PYTHON_DOWNLOADS": "never"}), capture_output=True, text=True,
        check=False,
    )
    assert proc.returncode == 0, f"uv pip install (offline, from uv's cache):\n{proc.stderr}"
    assert not (venv / "bin" / "mlgate").exists()
    return venv


def test_template_default_install_from_git(
    make_repo, run_gitlab_ci_local, config_repo_files, tmp_path
):
    bare = bare_mlgate(tmp_path)
    venv = job_python(tmp_path)
    repo = make_repo({
        **config_repo_files,
        ".gitlab-ci.yml": (
            "stages: [deploy, verify]\n"
            "include:\n"
            "  - local: gitlab-templates/rewrite-manifests.yml\n"
            "    inputs:\n"  # no install: the template's default
            "      job-name: rewrite-churn\n"
            "      paths: deploy\n"
            f"      image: {CHURN}:v2.1.0\n"
            "\n" + gitlab_dotenv_job("read-outputs", "rewrite-churn", VARIABLES, stage="verify")
        ),
    })

    run = run_gitlab_ci_local(
        repo,
        variables={
            # What a project sets as a CI/CD variable to install from its mirror.
            # (file://localhost/: pip 23 refuses an empty host in a git+file URL.)
            "MLGATE_REPOSITORY_URL": f"file://localhost{bare}",
            "PIP_NO_INDEX": "1",
            "PIP_NO_BUILD_ISOLATION": "0",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        },
        path_prepend=[venv / "bin"],
        timeout=600,
    ).check()

    # pip installed mlgate from the bare repository's tag into the job's Python, and ran it.
    installed = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "show", "--files", "mlgate"],
        capture_output=True, text=True, check=True,
    ).stdout
    assert "Version: 0.1.0" in installed
    direct_url = next(venv.glob("lib/python*/site-packages/mlgate-*.dist-info/direct_url.json"))
    origin = json.loads(direct_url.read_text())
    assert origin["url"] == f"file://localhost{bare}", origin
    assert origin["vcs_info"]["requested_revision"] == SOURCE_REF, origin
    assert (venv / "bin" / "mlgate").exists()
    assert run.outputs["MLGATE_REWRITE_CHANGED"] == "true"
    assert f"{CHURN}:v2.1.0" in (repo / "deploy" / "deployment.yaml").read_text()
