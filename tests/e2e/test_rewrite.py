"""mlgate rewrite as a user's CI runs it, once per runner: `uses: ./actions/rewrite-manifests`
run by act, its outputs read by a later step, and gitlab-templates/rewrite-manifests.yml
included locally and run by gitlab-ci-local, a downstream job reading the dotenv report
(MLGATE_REWRITE_*) the template's job leaves."""

from __future__ import annotations

import json

import pytest
from harness import CHURN, ActRunner, Job

from mlgate.interface import OUTPUTS as _ALL_OUTPUTS  # noqa: E402
OUTPUTS = _ALL_OUTPUTS["rewrite"]

pytestmark = pytest.mark.e2e

FILES = ("deploy/deployment.yaml", "deploy/kustomization.yaml")
TITLE = "e2e rewrite"
# The paths input as each runner's test writes it: a folder (act), the files (gitlab-ci-local).
PATHS = {"act": "deploy\n", "gitlab-ci-local": "\n".join(FILES)}


def rewrite_job(**inputs: str) -> Job:
    return Job("rewrite-churn", "rewrite-manifests", "rewrite", OUTPUTS, inputs)


def test_rewrite_updates_files_and_sets_outputs(make_repo, runner, config_repo_files):
    extra = {"json": "mlgate-rewrite.json"} if runner.name == "act" else {"dry-run": "false"}
    job = rewrite_job(paths=PATHS[runner.name], image=f"{CHURN}:v2.1.0",
                      **{"expect-current": f"{CHURN}:v2.0.0"}, **extra)
    repo = make_repo({**config_repo_files, **runner.files(TITLE, [job])})

    run = runner.run(repo).check()

    for relpath in FILES:  # only the tag changed, every other byte kept
        expected = config_repo_files[relpath].replace("churn:v2.0.0", "churn:v2.1.0")
        expected = expected.replace("newTag: v2.0.0 #", "newTag: v2.1.0 #")
        assert (runner.tree(run, job) / relpath).read_text() == expected
        if runner.name == "act":  # act worked on a copy
            assert (repo / relpath).read_text() == config_repo_files[relpath]
    outputs = runner.outputs(run, job)
    assert outputs["changed"] == "true"
    assert sorted(json.loads(outputs["files"])) == list(FILES)
    changes = json.loads(outputs["changes"])
    assert {(c["file"], c["old"], c["new"]) for c in changes} == {
        (FILES[0], f"{CHURN}:v2.0.0", f"{CHURN}:v2.1.0"),
        (FILES[1], "v2.0.0", "v2.1.0"),
    }
    # The JSON result (gitlab-ci-local: with the Markdown summary, kept as artifacts).
    report = json.loads((runner.kept(run, job) / "mlgate-rewrite.json").read_text())
    assert report["command"] == "rewrite" and report["exit_code"] == 0
    if runner.name == "act":
        assert "changed=true" in run.log  # echoed by the later step
    else:
        assert "mlgate rewrite" in runner.summary(run, job)


def test_rewrite_refuses_a_stale_expectation(make_repo, runner, config_repo_files):
    job = rewrite_job(paths="deploy", image=f"{CHURN}:v2.1.0",
                      **{"expect-current": f"{CHURN}:v1.9.0"})
    repo = make_repo({**config_repo_files, **runner.files(TITLE, [job])})

    run = runner.run(repo)

    assert run.returncode != 0, run.log
    assert "refusing to overwrite (--expect-current)" in run.log, run.log[-4000:]
    assert runner.exit_code(run, job) == 1  # the gate said no (1), not bad input (2)
    for relpath in FILES:
        assert (runner.tree(run, job) / relpath).read_text() == config_repo_files[relpath]
    if runner.name == "gitlab-ci-local":
        assert not run.outputs  # the downstream job never ran


@pytest.mark.parametrize("runner", ["act"], indirect=True)
def test_rewrite_action_dry_run_writes_nothing(make_repo, runner, config_repo_files):
    job = rewrite_job(paths="deploy", image=f"{CHURN}:v2.1.0", **{"dry-run": "true"},
                      diff="rewrite.diff")
    repo = make_repo({**config_repo_files, **runner.files(TITLE, [job])})

    run = runner.run(repo).check()

    assert runner.outputs(run, job)["changed"] == "true"
    tree = runner.tree(run, job)
    for relpath in FILES:
        assert (tree / relpath).read_text() == config_repo_files[relpath]
    diff = (tree / "rewrite.diff").read_text()
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
    act = ActRunner(run_act)
    job = rewrite_job(paths="deploy", image=f"{CHURN}:v2.1.0")
    files = {
        name: text.replace("uses: ./actions/rewrite-manifests",
                           f"uses: owner/mlgate/actions/rewrite-manifests@{ref}")
        for name, text in act.files(TITLE, [job]).items()
    }
    repo = make_repo({**config_repo_files, **files}, checkout_parts=())
    exported = sorted(p.relative_to(mlgate_checkout).as_posix()
                      for p in mlgate_checkout.rglob("*") if p.is_file())
    assert not (mlgate_checkout / ".venv").exists() and not (mlgate_checkout / ".git").exists()
    assert not any("node_modules/" in name for name in exported)

    run = run_act(repo, local_repositories={f"owner/mlgate@{ref}": mlgate_checkout}).check()

    assert act.outputs(run, job)["changed"] == "true"
    assert (act.tree(run, job) / FILES[1]).read_text() == config_repo_files[FILES[1]].replace(
        "v2.0.0 #", "v2.1.0 #")
    # The venv the action ran is the session's, under MLGATE_VENV_ROOT: outside the action.
    assert f"reusing {venv_root}/mlgate-venv-" in run.log, run.log[-4000:]
    after = sorted(p.relative_to(mlgate_checkout).as_posix()
                   for p in mlgate_checkout.rglob("*") if p.is_file())
    assert after == exported  # act ran a copy; the export is left as it was
