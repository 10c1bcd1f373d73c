"""The GitLab emitter: dotenv within GitLab's limits, the Markdown report, the job log view."""

from __future__ import annotations

import io
import re

import pytest

from mlgate.ci.gitlab import (
    DOTENV_LIMIT,
    DOTENV_MAX_VARIABLES,
    GitLabEmitter,
    dotenv_value,
    fit_dotenv,
    variable_name,
)
from mlgate.report.markdown import render_summary
from mlgate.report.presentation import Presentation, Section, Table


def parse_dotenv(text: str) -> dict[str, str]:
    """The dotenv report as GitLab's ParseDotenvArtifactService reads it, limits included."""
    assert len(text.encode("utf-8")) < DOTENV_LIMIT
    variables = {}
    for line in text.split("\n")[:-1] if text.endswith("\n") else text.split("\n"):
        match = re.match(r"^(.*?)=(.*)$", line)
        assert match, f"GitLab would reject line {line!r}"
        key, value = match.group(1).strip(), match.group(2).strip()
        assert re.fullmatch(r"[A-Za-z0-9_]+", key), key
        variables[key] = value
    assert len(variables) <= DOTENV_MAX_VARIABLES
    return variables


def pres(**kw) -> Presentation:
    base = dict(command="rewrite", title="Rewrite", verdict="changed", exit_code=0, outputs={})
    base.update(kw)
    return Presentation(**base)


def emit(tmp_path, p: Presentation, **env) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    environ = {"GITLAB_CI": "true", "MLGATE_REPORT_DIR": str(tmp_path), **env}
    GitLabEmitter(environ, out=out, err=err).emit(p)
    return out.getvalue(), err.getvalue()


def read_env(tmp_path, command="rewrite") -> dict[str, str]:
    return parse_dotenv((tmp_path / f"mlgate-{command}.env").read_bytes().decode("utf-8"))


@pytest.mark.parametrize(
    ("command", "output", "expected"),
    [
        ("rewrite", "changed", "MLGATE_REWRITE_CHANGED"),
        ("scan-image", "critical-count", "MLGATE_SCAN_IMAGE_CRITICAL_COUNT"),
        ("validate-data", "a.b", "MLGATE_VALIDATE_DATA_A_B"),
    ],
)
def test_variable_names(command, output, expected):
    assert variable_name(command, output) == expected


def test_dotenv_holds_every_output_as_gitlab_reads_it(tmp_path):
    outputs = {"changed": "true", "files": '["a.yaml","b c.yaml"]', "x-y": "a=b"}
    out, err = emit(tmp_path, pres(outputs=outputs))
    assert read_env(tmp_path) == {
        "MLGATE_REWRITE_CHANGED": "true",
        "MLGATE_REWRITE_FILES": '["a.yaml","b c.yaml"]',
        "MLGATE_REWRITE_X_Y": "a=b",
    }
    assert err == ""


def test_line_breaks_become_spaces_with_a_warning(tmp_path):
    out, err = emit(tmp_path, pres(outputs={"msg": "one\ntwo\r\nthree", "ok": "1"}))
    assert read_env(tmp_path)["MLGATE_REWRITE_MSG"] == "one two three"
    assert "warning" in err and "'msg'" in err and "JSON" in err
    assert len(err.strip().splitlines()) == 1


def test_dotenv_value_matches_what_gitlab_strips():
    assert dotenv_value("  padded\n") == ("padded", True)
    assert dotenv_value("plain") == ("plain", False)


def test_dotenv_stays_under_5_kib_leaving_out_the_longest(tmp_path):
    outputs = {"changed": "true", "changes": "c" * 4000, "files": "f" * 2000, "n": "3"}
    out, err = emit(tmp_path, pres(outputs=outputs))
    raw = (tmp_path / "mlgate-rewrite.env").read_bytes()
    assert len(raw) < DOTENV_LIMIT
    env = parse_dotenv(raw.decode())
    assert env["MLGATE_REWRITE_CHANGED"] == "true"
    assert env["MLGATE_REWRITE_FILES"] == "f" * 2000
    assert env["MLGATE_REWRITE_N"] == "3"
    assert "MLGATE_REWRITE_CHANGES" not in env
    assert env["MLGATE_REWRITE_TRUNCATED"] == "MLGATE_REWRITE_CHANGES"
    assert "MLGATE_REWRITE_CHANGES" in err and "JSON report" in err


def test_dotenv_limit_counts_bytes_not_characters(tmp_path):
    outputs = {"a": "€" * 1800, "b": "x"}  # 5400 bytes of UTF-8 in 1800 characters
    emit(tmp_path, pres(outputs=outputs))
    env = read_env(tmp_path)
    assert env["MLGATE_REWRITE_TRUNCATED"] == "MLGATE_REWRITE_A"
    assert env["MLGATE_REWRITE_B"] == "x"


def test_dotenv_variable_count_is_capped(tmp_path):
    outputs = {f"o{i:02d}": "v" * (i + 1) for i in range(30)}
    emit(tmp_path, pres(outputs=outputs))
    env = read_env(tmp_path)
    assert len(env) == DOTENV_MAX_VARIABLES
    left_out = env["MLGATE_REWRITE_TRUNCATED"].split(",")
    assert len(left_out) == 30 - (DOTENV_MAX_VARIABLES - 1)
    # the longest values went first
    assert left_out[0] == "MLGATE_REWRITE_O29"
    assert "MLGATE_REWRITE_O00" in env


def test_fit_dotenv_leaves_everything_alone_when_it_fits():
    entries = [("A", "1"), ("B", "2")]
    assert fit_dotenv(entries, "T") == (entries, [])


def test_markdown_report_is_the_shared_summary(tmp_path):
    p = pres(outputs={"changed": "true"}, sections=(Section("Changes", "- a"),))
    emit(tmp_path, p)
    md = (tmp_path / "mlgate-rewrite.md").read_text(encoding="utf-8")
    assert md == render_summary(p, None)
    assert md.startswith("## Rewrite\n")


def test_job_log_gets_the_terminal_view_without_ansi(tmp_path):
    p = pres(outputs={"changed": "true"}, table=Table(("File", "New"), (("a.yaml", "img:2"),)))
    out, _ = emit(tmp_path, p)
    assert "\x1b" not in out
    assert "Rewrite" in out and "changed" in out and "a.yaml" in out and "img:2" in out


def test_report_dir_defaults_to_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    GitLabEmitter({"GITLAB_CI": "true"}, out=io.StringIO(), err=io.StringIO()).emit(
        pres(command="scan-image", outputs={"passed": "true"})
    )
    assert read_env(tmp_path, "scan-image") == {"MLGATE_SCAN_IMAGE_PASSED": "true"}
    assert (tmp_path / "mlgate-scan-image.md").exists()


def test_report_dir_is_created(tmp_path):
    target = tmp_path / "reports" / "nested"
    GitLabEmitter({"MLGATE_REPORT_DIR": str(target)}, out=io.StringIO(), err=io.StringIO()).emit(
        pres(outputs={"a": "1"})
    )
    assert read_env(target) == {"MLGATE_REWRITE_A": "1"}


def test_secrets_never_reach_the_files_or_the_log(tmp_path):
    secret = "hunter2-very-secret"
    p = pres(
        title=f"t {secret}",
        outputs={"url": f"https://u:{secret}@example.com/x"},
        sections=(Section("S", secret),),
        table=Table(("h",), ((secret,),)),
        secrets=(secret,),
    )
    out, err = emit(tmp_path, p)
    files = [(tmp_path / n).read_text() for n in ("mlgate-rewrite.env", "mlgate-rewrite.md")]
    for text in (out, err, *files):
        assert secret not in text
    assert read_env(tmp_path)["MLGATE_REWRITE_URL"] == "https://u:***@example.com/x"


def test_no_temporary_files_are_left_behind(tmp_path):
    emit(tmp_path, pres(outputs={"a": "1"}))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mlgate-rewrite.env", "mlgate-rewrite.md"]
