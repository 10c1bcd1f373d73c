"""README.md's gitlab-ci-local command, run exactly as written, against a user's project.

The README's "Running locally" shows the one gitlab-ci-local command that runs a project's
GitLab pipeline on this machine's shell, passing the image tag as a variable. This test reads
that command out of README.md and runs it, unchanged, in a temporary project whose
`.gitlab-ci.yml` includes mlgate's rewrite template (copied in, as `include: local:`) with the
image tag taken from that variable.

The only thing added around the command is gitlab-ci-local's per-user state under a private
HOME (so a developer's own ~/.gitlab-ci-local is never read); the template's `install` input
activates the session's mlgate venv instead of pip-installing mlgate.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from harness import CHURN, REPO, clean_env, git, write_files

pytestmark = pytest.mark.e2e

README = REPO / "README.md"


def readme_gitlab_ci_local_command() -> list[str]:
    """The `gitlab-ci-local ...` command of README.md's "Running locally" code block, as argv."""
    text = README.read_text(encoding="utf-8")
    match = re.search(r"^## Running locally\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, "README.md has no '## Running locally' section"
    blocks = re.findall(r"^```bash\n(.*?)^```", match.group(1), re.M | re.S)
    lines = "\n".join(blocks).replace("\\\n", " ").splitlines()
    commands = [line.strip() for line in lines if line.strip().startswith("gitlab-ci-local ")]
    assert len(commands) == 1, f"expected one gitlab-ci-local command in README.md: {commands}"
    return shlex.split(commands[0])


def user_pipeline(activate: Path) -> str:
    return (
        "stages: [deploy]\n"
        "include:\n"
        "  - local: gitlab-templates/rewrite-manifests.yml\n"
        "    inputs:\n"
        "      job-name: rewrite-churn\n"
        "      stage: deploy\n"
        f'      install: . "{activate}"\n'
        "      paths: deploy\n"
        # GitLab expands $VARIABLES in a job's variables: the tag comes from --variable
        f"      image: {CHURN}:$MLGATE_IMAGE_TAG\n"
        "      dry-run: false\n"
    )


def test_readme_gitlab_ci_local_command_runs_a_project_pipeline(
    gitlab_ci_local_bin: str, mlgate_bin: Path, tmp_path: Path,
    config_repo_files: dict[str, str],
) -> None:
    argv = readme_gitlab_ci_local_command()
    assert argv[0] == "gitlab-ci-local"
    tag = dict(a.split("=", 1) for a in argv if a.startswith("MLGATE_IMAGE_TAG="))
    assert tag, f"the README's command passes MLGATE_IMAGE_TAG: {argv}"

    project = tmp_path / "project"
    project.mkdir()
    (project / "gitlab-templates").mkdir()
    shutil.copy(REPO / "gitlab-templates" / "rewrite-manifests.yml",
                project / "gitlab-templates" / "rewrite-manifests.yml")
    write_files(project, {
        **config_repo_files,
        # the template's install: the session's mlgate venv (a user's job pip-installs it)
        ".gitlab-ci.yml": user_pipeline(mlgate_bin.parent / "activate"),
        ".gitignore": ".gitlab-ci-local/\n",
    })
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "user project")

    home = tmp_path / "home"
    home.mkdir()
    env = clean_env({"HOME": str(home)})
    env["PATH"] = os.pathsep.join([str(Path(gitlab_ci_local_bin).parent), env.get("PATH", "")])
    proc = subprocess.run([gitlab_ci_local_bin, *argv[1:]], cwd=project, env=env,
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=600, check=False)
    log = proc.stdout
    assert proc.returncode == 0, log[-6000:]
    assert re.search(r"PASS\s+rewrite-churn", log), log[-4000:]
    deployment = (project / "deploy" / "deployment.yaml").read_text()
    assert f"{CHURN}:{tag['MLGATE_IMAGE_TAG']}" in deployment, log[-4000:]
