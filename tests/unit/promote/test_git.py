"""mlgate promote and rollback against real bare git repositories (local paths)."""

from __future__ import annotations

import hashlib
import json

import pytest
from support.configrepo import example_remote, git, show, split_evidence
from support.tools import missing_tool

from mlgate.cli import main

IMG = "registry.example.com/ml/churn"
ENV = {"PATH": "/usr/bin:/bin", "GITHUB_REPOSITORY": "team/churn-model",
       "GITHUB_SHA": "a" * 40, "GITHUB_RUN_ID": "42", "GITHUB_SERVER_URL": "https://github.com"}


def promote(remote, *args, env=None, json_path=None):
    argv = ["promote", "--repo", str(remote), "--app", "churn", "--path", "apps/churn", *args]
    if json_path:
        argv += ["--json", str(json_path)]
    return main(argv, environ=env or ENV)


def result(path):
    return json.loads(path.read_text())


def log(remote, fmt="%s"):
    return git(remote, "log", f"--format={fmt}", "main").splitlines()


@pytest.fixture
def remote(tmp_path):
    return example_remote(tmp_path)


def test_promote_commits_only_the_environment_with_trailers(remote, tmp_path):
    evidence = tmp_path / "benchmark.json"
    evidence.write_text(json.dumps({"command": "benchmark", "verdict": "passed", "exit_code": 0,
                                    "title": "candidate beats champion"}))
    out = tmp_path / "r.json"
    code = promote(remote, "--environment", "staging", "--image", f"{IMG}:v1.5.0",
                   "--set", "model-version.yaml:spec.predictor.model.storageUri=s3://models/churn/4",
                   "--evidence", str(evidence), json_path=out)
    assert code == 0
    outputs = result(out)["outputs"]
    assert outputs["changed"] == "true" and outputs["attempts"] == "1"
    assert outputs["previous"] == f"{IMG}:v1.4.0" and outputs["new"] == f"{IMG}:v1.5.0"
    assert outputs["commit"] == git(remote, "rev-parse", "main").strip()
    changed = git(remote, "diff", "--name-only", "main~1", "main").split()
    manifests, evidence_files = split_evidence(changed)
    assert manifests == ["apps/churn/staging/kustomization.yaml",
                         "apps/churn/staging/model-version.yaml"]
    assert evidence_files == {"benchmark.json", "summary.md", "statement.json"}
    message = git(remote, "log", "-1", "--format=%B", "main")
    assert message.startswith("promote churn to staging: v1.4.0 -> v1.5.0\n")
    trailers = git(remote, "log", "-1", "--format=%(trailers:only,unfold)", "main")
    sha = hashlib.sha256(evidence.read_bytes()).hexdigest()
    for line in ["Mlgate-App: churn", "Mlgate-Environment: staging",
                 f"Mlgate-Previous: {IMG}:v1.4.0", f"Mlgate-New: {IMG}:v1.5.0",
                 f"Mlgate-Source: https://github.com/team/churn-model@{'a' * 40}",
                 "Mlgate-Run: https://github.com/team/churn-model/actions/runs/42",
                 f"Mlgate-Evidence-Sha256: {sha} benchmark.json"]:
        assert line in trailers
    assert "benchmark: passed (exit 0) candidate beats champion" in message
    assert show(remote, "main", "apps/churn/production/kustomization.yaml") == show(
        remote, "main~1", "apps/churn/production/kustomization.yaml")


def test_nothing_to_change_makes_no_commit(remote, tmp_path):
    out = tmp_path / "r.json"
    assert promote(remote, "--environment", "staging", "--image", f"{IMG}:v1.4.0",
                   json_path=out) == 0
    assert result(out)["outputs"]["changed"] == "false"
    assert log(remote) == ["seed"]


def test_expect_current_mismatch_is_exit_1_and_no_commit(remote):
    code = promote(remote, "--environment", "staging", "--image", f"{IMG}:v1.5.0",
                   "--expect-current", f"{IMG}:v1.3.0")
    assert code == 1
    assert log(remote) == ["seed"]


def test_from_environment_promotes_exactly_what_staging_runs(remote, tmp_path):
    assert promote(remote, "--environment", "staging", "--image", f"{IMG}:v1.5.0@sha256:" + "c" * 64,
                   "--set", "model-version.yaml:spec.predictor.model.storageUri=s3://m/4") == 0
    out = tmp_path / "r.json"
    assert promote(remote, "--environment", "production", "--from-environment", "staging",
                   "--image", IMG, "--set", "model-version.yaml:spec.predictor.model.storageUri",
                   json_path=out) == 0
    assert result(out)["outputs"]["new"] == f"{IMG}:v1.5.0@sha256:" + "c" * 64
    prod = show(remote, "main", "apps/churn/production/kustomization.yaml")
    assert "newTag: v1.5.0" in prod and "digest: sha256:" + "c" * 64 in prod
    assert 'storageUri: "s3://m/4"' in show(remote, "main", "apps/churn/production/model-version.yaml")
    assert "Mlgate-From-Environment: staging" in git(remote, "log", "-1", "--format=%B", "main")


def test_rollback_restores_only_the_promoted_values(remote, tmp_path):
    assert promote(remote, "--environment", "production", "--image", f"{IMG}:v1.5.0",
                   "--set", "model-version.yaml:spec.predictor.model.storageUri=s3://models/churn/4") == 0
    promoted = git(remote, "rev-parse", "main").strip()
    # an unrelated edit in the same file lands after the promotion
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", str(remote), str(work))
    path = work / "apps/churn/production/kustomization.yaml"
    path.write_text(path.read_text().replace("namespace: churn-production", "namespace: churn-prod"))
    git(work, "commit", "-qam", "rename namespace")
    git(work, "push", "-q", "origin", "main")
    out = tmp_path / "rb.json"
    code = main(["rollback", "--repo", str(remote), "--app", "churn", "--path", "apps/churn",
                 "--environment", "production", "--json", str(out)], environ=ENV)
    assert code == 0
    assert result(out)["outputs"]["new"] == f"{IMG}:v1.4.0"
    kust = show(remote, "main", "apps/churn/production/kustomization.yaml")
    assert "newTag: v1.4.0" in kust and "namespace: churn-prod\n" in kust
    assert 'storageUri: "s3://models/churn/3"' in show(remote, "main",
                                                       "apps/churn/production/model-version.yaml")
    assert f"Mlgate-Rollback-Of: {promoted}" in git(remote, "log", "-1", "--format=%B", "main")
    # nothing left to roll back: the rolled-back promotion is not counted again
    assert main(["rollback", "--repo", str(remote), "--app", "churn", "--path", "apps/churn",
                 "--environment", "production"], environ=ENV) == 1


def test_rollback_steps_and_to(remote):
    for tag in ("v1.5.0", "v1.6.0", "v1.7.0"):
        assert promote(remote, "--environment", "staging", "--image", f"{IMG}:{tag}") == 0
    base = ["rollback", "--repo", str(remote), "--app", "churn", "--path", "apps/churn",
            "--environment", "staging"]
    assert main([*base, "--steps", "2"], environ=ENV) == 0
    assert "newTag: v1.5.0" in show(remote, "main", "apps/churn/staging/kustomization.yaml")
    assert main([*base, "--steps", "1"], environ=ENV) == 0
    assert "newTag: v1.4.0" in show(remote, "main", "apps/churn/staging/kustomization.yaml")
    assert main([*base, "--to", f"{IMG}:v1.6.0"], environ=ENV) == 1  # nothing live left
    assert promote(remote, "--environment", "staging", "--image", f"{IMG}:v2.0.0") == 0
    assert main([*base, "--to", f"{IMG}:v1.6.0"], environ=ENV) == 0
    assert "newTag: v1.6.0" in show(remote, "main", "apps/churn/staging/kustomization.yaml")


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--environment", "qa", "--image", f"{IMG}:v2"], "environment 'qa': no folder"),
        (["--environment", "staging", "--image", f"{IMG}:v2", "--base", "bad..name"],
         "not a valid branch name"),
        (["--environment", "staging", "--image", f"{IMG}:v2", "--base", "nope"], "no such branch"),
        (["--environment", "staging", "--image", f"{IMG}:v2;x"], "--image"),
        (["--environment", "../x", "--image", f"{IMG}:v2"], "--environment"),
        (["--environment", "staging"], "nothing to promote"),
    ],
)
def test_bad_input_is_exit_2(remote, capsys, args, needle):
    assert promote(remote, *args) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1
    assert log(remote) == ["seed"]


def test_rewrite_matching_nothing_is_exit_1(remote, capsys):
    assert promote(remote, "--environment", "staging", "--image", "registry.example.com/x/y:v1") == 1
    assert "no reference to registry.example.com/x/y found" in capsys.readouterr().err


def test_repo_url_with_credentials_refused_without_echo(capsys):
    code = main(["promote", "--repo", "https://user:s3cr3t-token@git.example.com/c.git",
                 "--app", "churn", "--environment", "staging", "--image", f"{IMG}:v2"],
                environ=ENV)
    assert code == 2
    err = capsys.readouterr().err
    assert "s3cr3t-token" not in err and "credentials" in err


def test_not_a_git_repo_is_exit_2(tmp_path, capsys):
    (tmp_path / "plain").mkdir()
    assert promote(tmp_path / "plain", "--environment", "staging", "--image", f"{IMG}:v2") == 2
    assert "not a git repository" in capsys.readouterr().err


def test_ext_transport_refused(capsys):
    code = main(["promote", "--repo", "ext::sh -c touch% /tmp/pwned", "--app", "a",
                 "--environment", "e", "--image", f"{IMG}:v2"], environ=ENV)
    assert code == 2


def test_commit_signed_with_ssh_key_and_author_configurable(remote, tmp_path):
    import shutil
    import subprocess

    if shutil.which("ssh-keygen") is None:
        missing_tool("ssh-keygen", "apt-get install openssh-client")
    key = tmp_path / "signing_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    assert promote(remote, "--environment", "staging", "--image", f"{IMG}:v1.5.0",
                   "--signing-key", str(key), "--author-name", "Release Bot",
                   "--author-email", "bot@example.com", "--committer-name", "CI",
                   "--committer-email", "ci@example.com") == 0
    raw = git(remote, "cat-file", "commit", "main")
    assert "gpgsig -----BEGIN SSH SIGNATURE-----" in raw
    assert "author Release Bot <bot@example.com>" in raw
    assert "committer CI <ci@example.com>" in raw


def test_error_still_writes_the_json_report(remote, tmp_path):
    out = tmp_path / "err.json"
    assert promote(remote, "--environment", "qa", "--image", f"{IMG}:v2", json_path=out) == 2
    data = result(out)
    assert data["exit_code"] == 2 and data["verdict"] == "error"
    assert "environment 'qa'" in data["result"]["error"]


def test_rollback_to_and_steps_refused_together(remote, capsys):
    code = main(["rollback", "--repo", str(remote), "--app", "churn", "--path", "apps/churn",
                 "--environment", "staging", "--to", f"{IMG}:v1", "--steps", "2"], environ=ENV)
    assert code == 2


# what the remote says reaches the user ---------------------------------------------------------

def test_pre_receive_hook_rejection_shows_the_hooks_own_reason(remote, capsys):
    """A server-side hook refusing the push: exit 3 (the remote refused, mlgate's gates did
    not), with the hook's text instead of git's "failed to push some refs"."""
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'policy: staging is frozen until Monday (CHG-1234)' >&2\n"
                    "printf 'remote says \\033[31mred\\033[0m\\n' >&2\nexit 1\n")
    hook.chmod(0o755)
    before = git(remote, "for-each-ref")
    code = promote(remote, "--environment", "staging", "--image", f"{IMG}:v1.5.0")
    err = capsys.readouterr().err
    assert code == 3
    line = next(line for line in err.splitlines() if "error:" in line)
    assert line.endswith("refused the push: policy: staging is frozen until Monday (CHG-1234) "
                         "/ remote says  [31mred [0m"), line
    assert "\033" not in err and "failed to push some refs" not in err
    assert git(remote, "for-each-ref") == before


def test_a_hook_saying_non_fast_forward_is_not_taken_for_a_moved_branch(remote, capsys):
    """The hook's words are the remote's, not git's: they cannot make mlgate retry."""
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'non-fast-forward [rejected] fetch first' >&2\nexit 1\n")
    hook.chmod(0o755)
    code = promote(remote, "--environment", "staging", "--image", f"{IMG}:v1.5.0",
                   "--max-attempts", "3")
    out, err = capsys.readouterr()
    assert code == 3 and "refused the push: non-fast-forward [rejected] fetch first" in err
    assert "attempt 1" not in out + err  # no "moved; re-applying" retry


@pytest.mark.parametrize("url", ["ssh://git@127.0.0.1:1/config.git",
                                 "http://127.0.0.1:1/config.git"])
def test_unreachable_remote_says_so(url, capsys, tmp_path, monkeypatch):
    # ssh must not read the user's config or prompt for a host key
    monkeypatch.setenv("GIT_SSH_COMMAND", f"ssh -F /dev/null -o BatchMode=yes "
                       f"-o UserKnownHostsFile={tmp_path / 'known_hosts'} -o ConnectTimeout=5")
    code = main(["promote", "--repo", url, "--app", "churn", "--path", "apps/churn",
                 "--environment", "staging", "--image", f"{IMG}:v1.5.0"], environ=ENV)
    err = capsys.readouterr().err
    assert code == 3
    line = next(line for line in err.splitlines() if "error:" in line)
    assert f"cannot reach {url.replace('git@', '')}: " in line, line
    assert "127.0.0.1 port 1" in line
    assert "and the repository exists" not in err


def test_git_takes_its_environment_from_the_mapping_given(monkeypatch, tmp_path):
    """A caller with its own environ mapping (the demo) gets git run from that mapping, not
    from os.environ; what is kept and what is forced is the same either way."""
    from mlgate.promote.git import Git

    monkeypatch.setenv("HOME", "/from/os/environ")
    given = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "UNRELATED_SECRET": "s"}
    env = Git(str(tmp_path), None, str(tmp_path), given).env()
    assert (env["PATH"], env["HOME"]) == ("/usr/bin:/bin", str(tmp_path))
    assert "UNRELATED_SECRET" not in env
    assert (env["GIT_CONFIG_NOSYSTEM"], env["GIT_TERMINAL_PROMPT"]) == ("1", "0")
    assert Git(str(tmp_path), None, str(tmp_path)).env()["HOME"] == "/from/os/environ"
    proc = Git(str(tmp_path), None, str(tmp_path), given).run("init", "-q", "repo")
    assert proc.returncode == 0 and (tmp_path / "repo" / ".git").is_dir()


def test_rollback_records_its_reason_and_undoes_only_the_named_promotion(remote, capsys):
    base = ["rollback", "--repo", str(remote), "--app", "churn", "--path", "apps/churn",
            "--environment", "staging"]
    assert promote(remote, "--environment", "staging", "--image", f"{IMG}:v1.5.0") == 0
    judged = git(remote, "rev-parse", "main").strip()
    assert promote(remote, "--environment", "staging", "--image", f"{IMG}:v1.6.0") == 0
    newer = git(remote, "rev-parse", "main").strip()
    # verify judged v1.5.0, but v1.6.0 landed since: undoing "the last one" would undo the
    # promotion nobody judged, so nothing is changed
    assert main([*base, "--of", judged, "--reason", "error-rate 0.034 > 0.01"], environ=ENV) == 1
    assert "no longer the latest" in capsys.readouterr().err
    assert git(remote, "rev-parse", "main").strip() == newer
    reason = "error-rate 0.034 > 0.01 (3 of 5 measurements)"
    assert main([*base, "--of", newer, "--reason", reason], environ=ENV) == 0
    message = git(remote, "log", "-1", "--format=%B", "main")
    assert f"Mlgate-Rollback-Reason: {reason}\n" in message
    assert f"Mlgate-Rollback-Of: {newer}" in message
    assert "newTag: v1.5.0" in show(remote, "main", "apps/churn/staging/kustomization.yaml")
    # the promotion already undone is not live any more
    head = git(remote, "rev-parse", "main").strip()
    assert main([*base, "--of", newer], environ=ENV) == 1
    assert "not a live promotion" in capsys.readouterr().err
    assert git(remote, "rev-parse", "main").strip() == head


@pytest.mark.parametrize("args, needle", [
    (["--reason", "two\nlines"], "--reason"),
    (["--reason", "x" * 301], "--reason"),
    (["--reason", "  "], "--reason"),
    (["--of", "abc123"], "--of"),
    (["--of", "z" * 40], "--of"),
])
def test_rollback_reason_and_of_refused_before_anything_changes(remote, capsys, args, needle):
    assert promote(remote, "--environment", "staging", "--image", f"{IMG}:v1.5.0") == 0
    head = git(remote, "rev-parse", "main").strip()
    code = main(["rollback", "--repo", str(remote), "--app", "churn", "--path", "apps/churn",
                 "--environment", "staging", *args], environ=ENV)
    assert code == 2
    assert needle in capsys.readouterr().err
    assert git(remote, "rev-parse", "main").strip() == head
