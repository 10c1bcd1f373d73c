"""Promote and rollback answer the requests a user makes from the docs' synopsis, over real
bare git repositories: `promote --from-environment staging` with nothing named copies what
staging's last promotion set; `rollback` without --path finds the folder the promotion
recorded; a rollback goes back only to something the environment ran. Each request is also
tried as an attack (a hostile commit's trailers), and the remote's real state is checked."""

from __future__ import annotations

import hashlib
import json

import pytest
from support.configrepo import example_remote, git, show, split_evidence

from mlgate.cli import main

IMG = "registry.example.com/ml/churn"
DIGEST = "sha256:" + "c" * 64
URI = "spec.predictor.model.storageUri"
ENV = {"PATH": "/usr/bin:/bin"}
PROD_MODEL = "apps/churn/production/model-version.yaml"


def promote(remote, *args):
    return main(["promote", "--repo", str(remote), "--app", "churn", "--path", "apps/churn",
                 *args], environ=ENV)


def rollback(remote, *args):
    """As the docs' synopsis spells it: no --path."""
    return main(["rollback", "--repo", str(remote), "--app", "churn", *args], environ=ENV)


def head(remote) -> str:
    return git(remote, "rev-parse", "main").strip()


def message(remote, rev="main") -> str:
    return git(remote, "log", "-1", "--format=%B", rev)


def subjects(remote) -> list[str]:
    return git(remote, "log", "--format=%s", "main").splitlines()


def hostile_commit(tmp_path, remote, trailers: str, edit: tuple[str, str] | None = None):
    """A commit someone with push access lands by hand, with mlgate's trailers."""
    work = tmp_path / "hostile"
    git(tmp_path, "clone", "-q", str(remote), str(work))
    if edit:
        (work / edit[0]).parent.mkdir(parents=True, exist_ok=True)
        (work / edit[0]).write_text(edit[1])
        git(work, "add", "-A")
    git(work, "commit", "-q", "--allow-empty", "-m", f"hand edit\n\n{trailers}")
    git(work, "push", "-q", "origin", "main")
    return head(remote)


@pytest.fixture
def remote(tmp_path):
    return example_remote(tmp_path)


@pytest.fixture
def staged(remote, tmp_path):
    """Staging promoted with an image (tag and digest), a value and the gates' evidence."""
    evidence = tmp_path / "benchmark.json"
    evidence.write_text(json.dumps({"command": "benchmark", "verdict": "passed",
                                    "exit_code": 0, "title": "beats champion"}))
    assert promote(remote, "--environment", "staging", "--image", f"{IMG}:v1.5.0@{DIGEST}",
                   "--set", f"model-version.yaml:{URI}=s3://models/churn/4",
                   "--evidence", str(evidence)) == 0
    return head(remote), hashlib.sha256(evidence.read_bytes()).hexdigest()


# --- promote --from-environment with nothing named --------------------------------------------


def test_from_environment_alone_promotes_what_staging_runs(remote, staged, tmp_path):
    staging_sha, evidence_sha = staged
    out = tmp_path / "r.json"
    assert main(["promote", "--repo", str(remote), "--app", "churn", "--path", "apps/churn",
                 "--environment", "production", "--from-environment", "staging",
                 "--json", str(out)], environ=ENV) == 0
    outputs = json.loads(out.read_text())["outputs"]
    assert outputs["changed"] == "true" and outputs["new"] == f"{IMG}:v1.5.0@{DIGEST}"
    prod = show(remote, "main", "apps/churn/production/kustomization.yaml")
    assert "newTag: v1.5.0" in prod and f"digest: {DIGEST}" in prod
    assert 'storageUri: "s3://models/churn/4"' in show(remote, "main", PROD_MODEL)
    assert split_evidence(git(remote, "diff", "--name-only", "main~1", "main").split())[0] == [
        "apps/churn/production/kustomization.yaml", PROD_MODEL]
    trailers = git(remote, "log", "-1", "--format=%(trailers:only,unfold)", "main").splitlines()
    for line in ["Mlgate-Environment: production", "Mlgate-Folder: apps/churn/production",
                 "Mlgate-From-Environment: staging", f"Mlgate-From-Commit: {staging_sha}",
                 f"Mlgate-From-Evidence-Sha256: {evidence_sha} benchmark.json",
                 f"Mlgate-New: {IMG}:v1.5.0@{DIGEST}",
                 f"Mlgate-Set-New: {PROD_MODEL}:{URI}=s3://models/churn/4"]:
        assert line in trailers
    # production ran no gates of its own: the copied hashes are not its evidence
    assert not any(t.startswith("Mlgate-Evidence-Sha256") for t in trailers)
    # a second identical request changes nothing
    assert promote(remote, "--environment", "production", "--from-environment", "staging") == 0
    assert len(subjects(remote)) == 3


def test_from_environment_copies_staging_files_not_the_trailer_values(remote, staged, tmp_path):
    """The trailers say which values; staging's files say what it runs (a later hand edit)."""
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", str(remote), str(work))
    model = work / "apps/churn/staging/model-version.yaml"
    model.write_text(model.read_text().replace("s3://models/churn/4", "s3://models/churn/5"))
    git(work, "commit", "-qam", "hotfix staging model")
    git(work, "push", "-q", "origin", "main")
    assert promote(remote, "--environment", "production", "--from-environment", "staging") == 0
    assert 's3://models/churn/5' in show(remote, "main", PROD_MODEL)
    assert f"Mlgate-From-Commit: {staged[0]}" in message(remote)


def test_from_environment_with_no_promotion_on_record_is_exit_2(remote, capsys):
    assert promote(remote, "--environment", "production", "--from-environment", "staging") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "--from-environment staging: no mlgate promotion of churn in staging" in err
    assert subjects(remote) == ["seed"]


def test_a_hostile_staging_record_naming_production_files_is_refused(remote, tmp_path, capsys):
    """A hand-made 'staging promotion' whose Set trailer names a production file would copy a
    value from outside staging: refused like any --set outside the folder, nothing written."""
    hostile_commit(tmp_path, remote, "Mlgate-App: churn\nMlgate-Environment: staging\n"
                   f"Mlgate-Set-Previous: {PROD_MODEL}:{URI}=x\n"
                   f"Mlgate-Set-New: {PROD_MODEL}:{URI}=s3://evil/1")
    before = head(remote)
    assert promote(remote, "--environment", "production", "--from-environment", "staging") == 2
    err = capsys.readouterr().err
    assert "Mlgate-Set-New" in err and "must be inside the environment folder" in err
    assert head(remote) == before


def test_a_staging_record_with_nothing_to_copy_is_exit_2(remote, tmp_path, capsys):
    hostile_commit(tmp_path, remote, "Mlgate-App: churn\nMlgate-Environment: staging")
    before = head(remote)
    assert promote(remote, "--environment", "production", "--from-environment", "staging") == 2
    assert "recorded no image or value to copy" in capsys.readouterr().err
    assert head(remote) == before


# --- rollback as the synopsis spells it -------------------------------------------------------


def test_rollback_without_path_finds_the_folder_the_promotion_recorded(remote, staged):
    assert promote(remote, "--environment", "production", "--from-environment", "staging") == 0
    promoted = head(remote)
    assert rollback(remote, "--environment", "production") == 0
    kust = show(remote, "main", "apps/churn/production/kustomization.yaml")
    assert "newTag: v1.4.0" in kust and DIGEST not in kust
    assert 'storageUri: "s3://models/churn/3"' in show(remote, "main", PROD_MODEL)
    body = message(remote)
    assert f"Mlgate-Rollback-Of: {promoted}" in body
    assert "Mlgate-Folder: apps/churn/production" in body
    # staging is untouched
    assert "newTag: v1.5.0" in show(remote, "main", "apps/churn/staging/kustomization.yaml")


def test_rollback_with_a_wrong_path_names_the_missing_folder(remote, staged, capsys):
    assert main(["rollback", "--repo", str(remote), "--app", "churn", "--path", "nope",
                 "--environment", "staging", "--to", f"{IMG}:v1.4.0"], environ=ENV) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("environment 'staging': no folder 'nope/staging' in the config repo")
    assert "No such file" not in err


def test_rollback_more_steps_than_recorded_is_bad_input(remote, staged, capsys):
    before = head(remote)
    assert rollback(remote, "--environment", "staging", "--steps", "5") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "--steps 5: only 1 promotion(s) of churn in staging on record" in err
    assert head(remote) == before


def test_rollback_to_a_version_that_never_ran_is_refused_unless_allowed(remote, staged, capsys):
    before = head(remote)
    assert rollback(remote, "--environment", "staging", "--to", f"{IMG}:v9.9.9") == 2
    err = capsys.readouterr().err
    assert "--to registry.example.com/ml/churn:v9.9.9: never ran in staging" in err
    assert "--allow-unknown" in err
    # a digest nobody recorded, with a known tag, is unknown too
    assert rollback(remote, "--environment", "staging", "--to",
                    f"{IMG}:v1.5.0@sha256:" + "d" * 64) == 2
    assert head(remote) == before
    assert rollback(remote, "--environment", "staging", "--to", f"{IMG}:v9.9.9",
                    "--allow-unknown") == 0
    assert "newTag: v9.9.9" in show(remote, "main", "apps/churn/staging/kustomization.yaml")


def test_rollback_to_a_recorded_version_needs_no_flag(remote, staged):
    # the previous version (v1.4.0) and the promoted digest both ran in staging
    assert rollback(remote, "--environment", "staging", "--to", f"{IMG}:v1.4.0") == 0
    assert "newTag: v1.4.0" in show(remote, "main", "apps/churn/staging/kustomization.yaml")
    assert promote(remote, "--environment", "staging", "--image", f"{IMG}:v1.6.0") == 0
    assert rollback(remote, "--environment", "staging", "--to", f"{IMG}@{DIGEST}") == 0
    assert f'digest: "{DIGEST}"' in show(remote, "main", "apps/churn/staging/kustomization.yaml")


def test_allow_unknown_without_to_is_bad_input(remote, staged, capsys):
    assert rollback(remote, "--environment", "staging", "--allow-unknown") == 2
    assert "--allow-unknown goes with --to" in capsys.readouterr().err


@pytest.mark.parametrize("folder, needle", [
    ("../outside/production", "not a folder inside the config repo"),
    (".git/production", "not a folder inside the config repo"),
    ("apps/other", "not a folder of environment 'production'"),
])
def test_a_hostile_recorded_folder_is_refused(remote, tmp_path, capsys, folder, needle):
    """Mlgate-Folder is history, not trusted: it must be inside the repo and name the
    environment, else the rollback refuses before anything is committed."""
    hostile_commit(tmp_path, remote, "Mlgate-App: churn\nMlgate-Environment: production\n"
                   f"Mlgate-Folder: {folder}\nMlgate-Previous: {IMG}:v1.0.0\n"
                   f"Mlgate-New: {IMG}:v1.4.0",
                   edit=("apps/other/kustomization.yaml",
                         f"images:\n  - name: {IMG}\n    newTag: v1.4.0\n"))
    before = head(remote)
    assert rollback(remote, "--environment", "production") == 2
    assert needle in capsys.readouterr().err
    assert head(remote) == before
