"""`uses: ./actions/rewrite-manifests` run by act, its outputs read by a later step."""

from __future__ import annotations

import json

import pytest
from harness import CHECKOUT_STEP, CHURN, github_collect_step

from mlgate.interface import OUTPUTS as _ALL_OUTPUTS  # noqa: E402
OUTPUTS = _ALL_OUTPUTS["rewrite"]

pytestmark = pytest.mark.e2e

FILES = ("deploy/deployment.yaml", "deploy/kustomization.yaml")


def workflow(with_block: str, outputs_step: bool = True) -> str:
    text = (
        "name: e2e rewrite\n"
        "on: push\n"
        "permissions: {}\n"
        "jobs:\n"
        "  rewrite:\n"
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        f"{CHECKOUT_STEP}"
        "      - id: rewrite\n"
        "        uses: ./actions/rewrite-manifests\n"
        "        with:\n"
        f"{with_block}"
    )
    if outputs_step:
        text += github_collect_step("rewrite", OUTPUTS)
    return text


def test_rewrite_action_updates_files_and_sets_outputs(make_repo, run_act, config_repo_files):
    repo = make_repo(
        {
            **config_repo_files,
            ".github/workflows/rewrite.yml": workflow(
                "          paths: |\n"
                "            deploy\n"
                f"          image: {CHURN}:v2.1.0\n"
                f"          expect-current: {CHURN}:v2.0.0\n"
                "          json: mlgate-rewrite.json\n"
            ),
        }
    )

    run = run_act(repo).check()

    for relpath in FILES:  # only the tag changed, every other byte kept
        expected = config_repo_files[relpath].replace("churn:v2.0.0", "churn:v2.1.0")
        expected = expected.replace("newTag: v2.0.0 #", "newTag: v2.1.0 #")
        assert run.read(relpath) == expected
        assert (repo / relpath).read_text() == config_repo_files[relpath]  # act worked on a copy
    outputs = run.outputs
    assert outputs["changed"] == "true"
    assert sorted(json.loads(outputs["files"])) == list(FILES)
    changes = json.loads(outputs["changes"])
    assert {(c["file"], c["old"], c["new"]) for c in changes} == {
        (FILES[0], f"{CHURN}:v2.0.0", f"{CHURN}:v2.1.0"),
        (FILES[1], "v2.0.0", "v2.1.0"),
    }
    report = json.loads(run.read("mlgate-rewrite.json"))
    assert report["command"] == "rewrite" and report["exit_code"] == 0
    assert "changed=true" in run.log  # echoed by the later step


def test_rewrite_action_refuses_a_stale_expectation(make_repo, run_act, config_repo_files):
    repo = make_repo(
        {
            **config_repo_files,
            ".github/workflows/rewrite.yml": workflow(
                "          paths: deploy\n"
                f"          image: {CHURN}:v2.1.0\n"
                f"          expect-current: {CHURN}:v1.9.0\n"
            ),
        }
    )

    run = run_act(repo)

    assert run.returncode != 0, run.log
    assert "refusing to overwrite (--expect-current)" in run.log, run.log[-4000:]
    assert "exit status 1" in run.log  # the gate said no (1), not bad input (2)
    for relpath in FILES:
        assert run.read(relpath) == config_repo_files[relpath]


def test_rewrite_action_dry_run_writes_nothing(make_repo, run_act, config_repo_files):
    repo = make_repo(
        {
            **config_repo_files,
            ".github/workflows/rewrite.yml": workflow(
                "          paths: deploy\n"
                f"          image: {CHURN}:v2.1.0\n"
                "          dry-run: true\n"
                "          diff: rewrite.diff\n"
            ),
        }
    )

    run = run_act(repo).check()

    assert run.outputs["changed"] == "true"
    for relpath in FILES:
        assert run.read(relpath) == config_repo_files[relpath]
    diff = run.read("rewrite.diff")
    assert f'-          image: "{CHURN}:v2.0.0"' in diff
    assert f'+          image: "{CHURN}:v2.1.0"' in diff


def test_rewrite_action_from_a_local_repository_mapping(
    make_repo, run_act, config_repo_files, mlgate_checkout, venv_root
):
    """`uses: owner/mlgate/actions/rewrite-manifests@REF` with act's --local-repository, as a
    user runs a workflow against a local mlgate checkout. act tars the mapped directory whole for
    the main step and again for the post step of a composite action, so it gets a clean export
    (no .venv, no node_modules, no .git), and the action installs nothing inside itself."""
    ref = "0123456789abcdef0123456789abcdef01234567"
    repo = make_repo(
        {
            **config_repo_files,
            ".github/workflows/rewrite.yml": workflow(
                "          paths: deploy\n"
                f"          image: {CHURN}:v2.1.0\n"
            ).replace("uses: ./actions/rewrite-manifests",
                      f"uses: owner/mlgate/actions/rewrite-manifests@{ref}"),
        },
        checkout_parts=(),
    )
    exported = sorted(p.relative_to(mlgate_checkout).as_posix()
                      for p in mlgate_checkout.rglob("*") if p.is_file())
    assert not (mlgate_checkout / ".venv").exists() and not (mlgate_checkout / ".git").exists()
    assert not any("node_modules/" in name for name in exported)

    run = run_act(repo, local_repositories={f"owner/mlgate@{ref}": mlgate_checkout}).check()

    assert run.outputs["changed"] == "true"
    assert run.read(FILES[1]) == config_repo_files[FILES[1]].replace("v2.0.0 #", "v2.1.0 #")
    # The venv the action ran is the session's, under MLGATE_VENV_ROOT: outside the action.
    assert f"reusing {venv_root}/mlgate-venv-" in run.log, run.log[-4000:]
    after = sorted(p.relative_to(mlgate_checkout).as_posix()
                   for p in mlgate_checkout.rglob("*") if p.is_file())
    assert after == exported  # act ran a copy; the export is left as it was
