"""emit() and emit_error(): detection, the --json report, secrets, one-line errors."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from dataclasses import dataclass

import pytest

from mlgate.redact import env_secrets, redact_text, secret_fragments
from mlgate.ci.detect import detect, detect_kind
from mlgate.ci.emit import emit, emit_error
from mlgate.ci.github import GitHubEmitter
from mlgate.ci.gitlab import GitLabEmitter
from mlgate.ci.local import LocalEmitter
from mlgate.errors import BadInput, ReportFailed
from mlgate.report.presentation import Presentation, Section


def pres(**kw) -> Presentation:
    base = dict(
        command="rewrite",
        title="Rewrite manifests",
        verdict="changed",
        exit_code=0,
        outputs={"changed": "true"},
    )
    base.update(kw)
    return Presentation(**base)


# --------------------------------------------------------------------------- detection


@pytest.mark.parametrize(
    ("environ", "kind", "cls"),
    [
        ({"GITHUB_ACTIONS": "true", "CI": "true"}, "github", GitHubEmitter),
        ({"GITLAB_CI": "true", "CI": "true"}, "gitlab", GitLabEmitter),
        ({"GITLAB_CI": "false", "CI_SERVER_URL": "https://gitlab.example:443"}, "gitlab",
         GitLabEmitter),  # gitlab-ci-local
        ({"GITLAB_CI": "false"}, "local", LocalEmitter),
        ({"GITHUB_ACTIONS": "false"}, "local", LocalEmitter),
        ({"CI": "true"}, "local", LocalEmitter),
        ({}, "local", LocalEmitter),
        ({"GITHUB_ACTIONS": "true", "MLGATE_CI": "local"}, "local", LocalEmitter),
        ({"MLGATE_CI": " GitLab "}, "gitlab", GitLabEmitter),
    ],
)  # fmt: skip
def test_detect(environ, kind, cls):
    assert detect_kind(environ) == kind
    assert isinstance(detect(environ), cls)


def test_a_bad_override_is_bad_input():
    with pytest.raises(BadInput, match="MLGATE_CI"):
        detect({"MLGATE_CI": "jenkins"})


# --------------------------------------------------------------------------- JSON


def test_json_report_has_the_common_shape(tmp_path, capsys):
    path = tmp_path / "report.json"
    p = pres(result={"changes": [{"file": "a.yaml", "line": 3}], "nan": float("nan")})
    emit(p, json_path=str(path), environ={})
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc == {
        "command": "rewrite",
        "title": "Rewrite manifests",
        "verdict": "changed",
        "exit_code": 0,
        "outputs": {"changed": "true"},
        "result": {"changes": [{"file": "a.yaml", "line": 3}], "nan": None},
    }
    assert "Rewrite manifests" in capsys.readouterr().out  # the emitter ran too


def test_json_is_replaced_atomically_and_readable(tmp_path):
    path = tmp_path / "sub" / "dir" / "report.json"
    emit(pres(result={"n": 1}), json_path=str(path), environ={})
    emit(pres(result={"n": 2}), json_path=str(path), environ={})
    assert json.loads(path.read_text())["result"] == {"n": 2}
    assert os.listdir(path.parent) == ["report.json"]
    mode = stat.S_IMODE(path.stat().st_mode)
    assert mode & 0o044 == 0o044 & ~_umask()  # not left at mkstemp's 0600


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_json_takes_non_json_values_as_text(tmp_path):
    path = tmp_path / "r.json"
    @dataclass
    class Finding:
        id: str
        score: float

    result = {"path": tmp_path, "set": ("a",), ("k", 1): Finding("CVE-1", 9.8), 3: None}
    emit(pres(result=result), json_path=str(path), environ={})
    assert json.loads(path.read_text())["result"] == {
        "path": str(tmp_path),
        "set": ["a"],
        "('k', 1)": {"id": "CVE-1", "score": 9.8},
        "3": None,
    }


def test_json_write_failure_is_a_report_failure_and_leaves_nothing(tmp_path):
    """At emit time the work is done: exit 4 saying so, not 2 ("nothing written")."""
    (tmp_path / "taken").mkdir()
    with pytest.raises(ReportFailed, match="files were rewritten; only the report failed: "
                                           "--json"):
        emit(pres(), json_path=str(tmp_path / "taken"), environ={})
    assert os.listdir(tmp_path) == ["taken"]
    assert os.listdir(tmp_path / "taken") == []


def test_json_and_outputs_are_masked(tmp_path):
    secret = "pa55-word-123"
    path = tmp_path / "r.json"
    p = pres(
        title=secret,
        outputs={"remote": f"https://bot:{secret}@git.example/x.git"},
        result={secret: [secret, {"k": f"x{secret}x"}]},
        secrets=(secret,),
    )
    emit(p, json_path=str(path), environ={})
    text = path.read_text()
    assert secret not in text
    doc = json.loads(text)
    assert doc["outputs"]["remote"] == "https://bot:***@git.example/x.git"
    assert doc["result"] == {"***": ["***", {"k": "x***x"}]}


def test_secret_environment_values_are_masked_everywhere(tmp_path, capsys):
    token = "ghs_" + "A" * 36
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(tmp_path / "out"),
        "MY_DEPLOY_TOKEN": "custom-token-value-42",
        "MLGATE_IN_TOKEN_ENV": "GITHUB_TOKEN",  # names a variable: not a secret
    }
    p = pres(outputs={"a": f"{token} custom-token-value-42", "b": "GITHUB_TOKEN"})
    emit(p, json_path=str(tmp_path / "r.json"), environ=env)
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "::add-mask::custom-token-value-42"
    written = (tmp_path / "out").read_text() + (tmp_path / "r.json").read_text()
    assert token not in written and "custom-token-value-42" not in written
    assert "GITHUB_TOKEN" in written


def test_env_secrets_pick_secret_names_only():
    env = {
        "GITHUB_TOKEN": "ghp_abcdefghijklmnop",
        "MLFLOW_TRACKING_PASSWORD": "hunter2hunter2",
        "AWS_SECRET_ACCESS_KEY": "abcdEFGH1234",
        "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE0000",
        "SSH_PRIVATE_KEY_FILE": "/home/me/.ssh/id",
        "CI_JOB_TOKEN": "short",
        "PATH": "/usr/bin",
    }
    assert set(env_secrets(env)) == {
        "ghp_abcdefghijklmnop",
        "hunter2hunter2",
        "abcdEFGH1234",
    }


def test_redaction_hides_longer_secrets_before_shorter_ones():
    frags = secret_fragments(["abc", "abcdef"])
    assert redact_text("xabcdefx abc", frags) == "x***x ***"


# --------------------------------------------------------------------------- errors


def test_emit_error_locally_is_one_line_on_stderr(capsys):
    emit_error("rewrite", "input 'image': bad\nreference", 2, {})
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "mlgate rewrite: error: input 'image': bad reference\n"


def test_emit_error_on_github_adds_an_error_annotation(capsys):
    emit_error("promote", "push failed: 100% of\nretries used, a:b", 3, {"GITHUB_ACTIONS": "true"})
    captured = capsys.readouterr()
    assert captured.err == "mlgate promote: error: push failed: 100% of retries used, a:b\n"
    assert captured.out == (
        "::error title=mlgate promote::push failed: 100%25 of retries used, a:b\n"
    )


def test_emit_error_masks_secrets_and_cannot_inject(capsys):
    env = {"GITHUB_ACTIONS": "true", "GITLAB_TOKEN": "glpat-0123456789abcdefghij"}
    message = (
        "clone https://oauth2:glpat-0123456789abcdefghij@gitlab.example/x.git failed\n"
        "::set-output name=changed::true ##[stop-commands]tok"
    )
    emit_error("promote", message, 3, env)
    captured = capsys.readouterr()
    both = captured.out + captured.err
    assert "glpat-0123456789abcdefghij" not in both
    assert "##[" not in captured.err
    assert len(captured.err.splitlines()) == 1 and len(captured.out.splitlines()) == 1
    assert captured.out.startswith("::error title=mlgate promote::")


def test_emit_error_with_a_bad_override_still_reports(capsys):
    emit_error("rewrite", "boom", 2, {"MLGATE_CI": "nope"})
    assert capsys.readouterr().err == "mlgate rewrite: error: boom\n"


def test_emit_runs_the_gitlab_emitter(tmp_path, capsys):
    env = {"GITLAB_CI": "true", "MLGATE_REPORT_DIR": str(tmp_path)}
    emit(pres(sections=(Section("S", "body"),)), json_path=None, environ=env)
    assert (tmp_path / "mlgate-rewrite.env").read_text() == "MLGATE_REWRITE_CHANGED=true\n"
    assert "Rewrite manifests" in capsys.readouterr().out


@pytest.mark.parametrize(("ci", "loaded"), [("local", True), ("gitlab", True),
                                            ("github", False), ("quiet", False)])
def test_preload_imports_the_terminal_view_where_one_is_printed_and_nothing_elsewhere(
        ci, loaded):
    """rich and markdown-it take ~0.1 s to import: verify imports them while it waits for its
    first measurement (where its result will be printed with them), not after its last."""
    code = ("import sys\nfrom mlgate.ci.emit import preload\n"
            "assert 'rich' not in sys.modules and 'markdown_it' not in sys.modules\n"
            f"preload({{'MLGATE_CI': {ci!r}}})\n"
            "print('rich' in sys.modules, 'markdown_it' in sys.modules)")
    env = {"PYTHONPATH": ":".join(p for p in sys.path if p)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    assert out == [str(loaded)] * 2
