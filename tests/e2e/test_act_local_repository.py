"""README.md's act command, run exactly as written, against a user's repository.

A user's workflow takes mlgate's actions as `uses: owner/mlgate/actions/<name>@<full-commit-sha>`
(the README's placeholder, replaced as the README says). The README's "Running locally" shows the
one act command that runs such a workflow from a local checkout of mlgate instead of fetching it
(`--local-repository owner/mlgate@<full-commit-sha>=/path/to/mlgate`). This test reads that command
out of README.md, substitutes its placeholders (a clean copy of this checkout and that copy's
commit SHA) and nothing else, and runs it in a temporary "user" repository that holds the
`.secrets` file it names.

The only thing added around the command is act's own `.env` file in the user's repository (act
reads it by default): it points MLGATE_VENV_ROOT at the session's venvs, so the action's install
finds mlgate already installed from the same source, and E2E_OUT/E2E_KEEP for the collect step.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import time
from pathlib import Path

import pytest
from harness import (
    CHURN,
    REPO,
    clean_env,
    copy_checkout,
    git,
    github_collect_step,
    private_file,
    write_files,
)

from mlgate.interface import OUTPUTS as _ALL_OUTPUTS  # noqa: E402
OUTPUTS = _ALL_OUTPUTS["rewrite"]

pytestmark = pytest.mark.e2e

README = REPO / "README.md"
PLACEHOLDER_SHA = "<full-commit-sha>"
PLACEHOLDER_PATH = "/path/to/mlgate"


def readme_section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"README.md has no '## {title}' section"
    return match.group(1)


def readme_placeholder() -> str:
    """The repository placeholder the README tells the user to replace, named once."""
    text = README.read_text(encoding="utf-8")
    found = re.findall(r"replace `([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)` with ([^,.]+)", text)
    assert len(found) == 1, f"README.md must name the repository placeholder once: {found}"
    name, replacement = found[0]
    assert "repository" in replacement, f"README.md: say what replaces `{name}`: {replacement!r}"
    return name


def readme_act_command() -> list[str]:
    """The `act ...` command of README.md's "Running locally" code block, as argv."""
    section = readme_section("Running locally")
    blocks = re.findall(r"^```bash\n(.*?)^```", section, re.M | re.S)
    assert blocks, "README.md 'Running locally' has no bash code block"
    lines = "\n".join(blocks).replace("\\\n", " ").splitlines()
    commands = [line.strip() for line in lines if line.strip().startswith("act ")]
    assert len(commands) == 1, f"expected one act command in README.md, got {commands}"
    return shlex.split(commands[0])


def test_readme_names_the_placeholder_and_how_to_replace_it() -> None:
    placeholder = readme_placeholder()
    argv = readme_act_command()
    local = [argv[i + 1] for i, a in enumerate(argv) if a == "--local-repository"]
    assert local == [f"{placeholder}@{PLACEHOLDER_SHA}={PLACEHOLDER_PATH}"], argv
    # The workflows in the README use the same placeholder, pinned by the same SHA placeholder.
    uses = re.findall(r"^\s*(?:- )?uses: (\S+)", README.read_text(encoding="utf-8"), re.M)
    ours = [u for u in uses if not u.startswith("actions/")]
    assert ours and all(u.startswith(placeholder) and u.endswith(f"@{PLACEHOLDER_SHA}")
                        for u in ours), ours


def user_workflow(placeholder: str, sha: str) -> str:
    """A model repository's workflow using the rewrite action the way the README shows."""
    return (
        "name: rewrite the config\n"
        "on: push\n"
        "permissions:\n"
        "  contents: read\n"
        "jobs:\n"
        "  rewrite:\n"
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        "      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683  # v4.2.2\n"
        "        with: {persist-credentials: false}\n"
        "      - id: rewrite\n"
        f"        uses: {placeholder}/actions/rewrite-manifests@{sha}  # v1\n"
        "        env:\n"
        "          EXAMPLE_TOKEN: ${{ secrets.EXAMPLE_TOKEN }}\n"
        "        with:\n"
        "          paths: deploy\n"
        f"          image: {CHURN}:v2.1.0\n"
        f"          expect-current: {CHURN}:v2.0.0\n"
        + github_collect_step("rewrite", OUTPUTS)
    )


@pytest.mark.usefixtures("mlgate_bin")  # installed once; the action's install finds it
def test_readme_act_command_runs_a_workflow_from_a_local_checkout(
    act_bin: str, venv_root: Path, tmp_path: Path, config_repo_files: dict[str, str]
) -> None:
    placeholder = readme_placeholder()

    # A clean checkout of mlgate (what a user clones: no .venv), and its full commit SHA.
    mlgate = tmp_path / "mlgate"
    mlgate.mkdir()
    copy_checkout(mlgate)
    git(mlgate, "init", "-q")
    git(mlgate, "add", "-A")
    git(mlgate, "commit", "-q", "-m", "mlgate")
    sha = git(mlgate, "rev-parse", "HEAD").strip()
    assert re.fullmatch(r"[0-9a-f]{40}", sha)

    # The user's repository: the config files, the workflow, .secrets beside it (not committed).
    user = tmp_path / "user"
    user.mkdir()
    write_files(user, {
        **config_repo_files,
        ".github/workflows/rewrite.yml": user_workflow(placeholder, sha),
        ".gitignore": ".secrets\n.env\n",
    })
    git(user, "init", "-q")
    git(user, "add", "-A")
    git(user, "commit", "-q", "-m", "user project")
    private_file(user / ".secrets", "EXAMPLE_TOKEN=e2e-not-a-real-token\n")
    out_dir, keep = tmp_path / "out", tmp_path / "keep"
    (user / ".env").write_text(
        f"MLGATE_VENV_ROOT={venv_root}\nE2E_OUT={out_dir}\nE2E_KEEP={keep}\n", encoding="utf-8"
    )

    argv = readme_act_command()
    assert argv[0] == "act"
    argv = [act_bin] + [
        a.replace(PLACEHOLDER_SHA, sha).replace(PLACEHOLDER_PATH, str(mlgate)) for a in argv[1:]
    ]
    assert not any("<" in a for a in argv), argv

    started = time.monotonic()
    proc = subprocess.run(
        argv, cwd=user, env=clean_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, timeout=600, check=False,
    )
    log = proc.stdout
    assert proc.returncode == 0, f"act failed ({proc.returncode}) after " \
        f"{time.monotonic() - started:.0f}s:\n{log[-6000:]}"

    outputs = {p.name: p.read_text(encoding="utf-8") for p in out_dir.iterdir()}
    assert outputs["changed"] == "true", log[-4000:]
    changes = json.loads(outputs["changes"])
    assert {c["new"] for c in changes} == {f"{CHURN}:v2.1.0", "v2.1.0"}
    workspace = keep / "workspace"
    assert f"{CHURN}:v2.1.0" in (workspace / "deploy/deployment.yaml").read_text()
    assert "e2e-not-a-real-token" not in log
