"""Every output destination is checked before any side effect, and a report that fails after
a landing says the promotion landed (exit 4): the attack is an unwritable --json, report,
$GITHUB_OUTPUT, $GITHUB_STEP_SUMMARY or GitLab report folder, given to every command."""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import click
import jsonschema
import pytest
import yaml
from support.configrepo import EXAMPLES, example_remote, git

import mlgate.ci.emit as emit_module
from mlgate.cli import COMMANDS, LOCAL_ONLY, command as cli_command, main
from mlgate.stages.params import OutputFile
from mlgate.errors import EXIT_REPORT
from mlgate.pipeline import schema

IMG = "registry.example.com/ml/churn"
ENV = {"PATH": "/usr/bin:/bin"}


@pytest.fixture
def remote(tmp_path):
    return example_remote(tmp_path)


def refs(remote: Path) -> str:
    return git(remote, "for-each-ref", "--format=%(objectname) %(refname)")


def promote_args(remote: Path, *extra: str) -> list[str]:
    return ["promote", "--repo", str(remote), "--app", "churn", "--path", "apps/churn",
            "--environment", "staging", "--image", f"{IMG}:v1.5.0", *extra]


def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "regular-file"
    path.write_text("x")
    return path


# Each: (extra argv, extra environment, what the one error line must name). A callable gets
# tmp_path so the case can point at a real file or directory.
BAD = {
    "json under a regular file": lambda t: (["--json", "/etc/passwd/x.json"], {},
                                            "--json /etc/passwd/x.json"),
    "json is a directory": lambda t: (["--json", str(t)], {}, f"--json {t}: is a directory"),
    "json in /proc": lambda t: (["--json", "/proc/mlgate.json"], {}, "--json /proc/mlgate.json"),
    "GITHUB_OUTPUT folder missing": lambda t: (
        [], {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": "/nonexistent/dir/out"},
        "$GITHUB_OUTPUT /nonexistent/dir/out"),
    "GITHUB_STEP_SUMMARY is a directory": lambda t: (
        [], {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(t)},
        f"$GITHUB_STEP_SUMMARY {t}: is a directory"),
    "GITHUB_STEP_SUMMARY under a regular file": lambda t: (
        [], {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": f"{a_file(t)}/summary.md"},
        "$GITHUB_STEP_SUMMARY"),
    "GitLab report folder under a regular file": lambda t: (
        [], {"GITLAB_CI": "true", "MLGATE_REPORT_DIR": f"{a_file(t)}/reports"},
        "$MLGATE_REPORT_DIR"),
    "GitLab report folder in /proc": lambda t: (
        [], {"GITLAB_CI": "true", "MLGATE_REPORT_DIR": "/proc/mlgate-reports"},
        "$MLGATE_REPORT_DIR /proc/mlgate-reports"),
}


def assert_refused(code: int, capsys, names: str) -> str:
    out, err = capsys.readouterr()
    assert code == 2, err
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert names in lines[0] and lines[0].startswith("mlgate ")
    return lines[0]


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_promote_refuses_a_bad_destination_before_cloning(remote, tmp_path, capsys, case):
    argv, environ, names = BAD[case](tmp_path)
    before = refs(remote)
    code = main(promote_args(remote, *argv), environ={**ENV, **environ})
    assert_refused(code, capsys, names)
    assert refs(remote) == before


def test_rollback_refuses_a_bad_destination_before_cloning(remote, tmp_path, capsys):
    assert main(promote_args(remote), environ=ENV) == 0
    capsys.readouterr()
    before = refs(remote)
    code = main(["rollback", "--repo", str(remote), "--app", "churn", "--path", "apps/churn",
                 "--environment", "staging", "--json", "/etc/passwd/x.json"], environ=ENV)
    assert_refused(code, capsys, "--json /etc/passwd/x.json")
    assert refs(remote) == before


def manifests(tmp_path: Path) -> Path:
    folder = tmp_path / "manifests"
    shutil.copytree(EXAMPLES / "apps" / "churn" / "staging", folder)
    return folder


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def rewrite_args(folder: Path, *extra: str) -> list[str]:
    return ["rewrite", "--root", str(folder), "--image", f"{IMG}:v1.5.0", str(folder), *extra]


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_rewrite_refuses_a_bad_destination_before_rewriting(tmp_path, capsys, case):
    folder = manifests(tmp_path)
    before = snapshot(folder)
    argv, environ, names = BAD[case](tmp_path)
    code = main(rewrite_args(folder, *argv), environ={**ENV, **environ})
    assert_refused(code, capsys, names)
    assert snapshot(folder) == before


def test_rewrite_refuses_a_bad_diff_destination(tmp_path, capsys):
    folder = manifests(tmp_path)
    before = snapshot(folder)
    code = main(rewrite_args(folder, "--diff", "/etc/passwd/change.diff"), environ=ENV)
    assert_refused(code, capsys, "--diff /etc/passwd/change.diff")
    assert snapshot(folder) == before


def _required_args(command: click.Command) -> list[str]:
    """Placeholder values for a command's required inputs: the check must come first."""
    options, positionals = [], []
    for param in command.params:
        if isinstance(param, click.Argument):
            positionals.append("placeholder")
        elif param.required:
            options.append(f"{param.opts[0]}=placeholder")
    return options + positionals


REPORT_OPTIONS = [
    (name, max(param.opts, key=len))
    for name in sorted(set(COMMANDS) - LOCAL_ONLY)
    for param in cli_command(name).params
    if isinstance(param.type, OutputFile)
]


def test_every_command_has_a_checked_report_option():
    assert {name for name, _ in REPORT_OPTIONS} == set(COMMANDS) - LOCAL_ONLY
    assert ("scan", "--sarif") in REPORT_OPTIONS and ("validate", "--data-docs") in REPORT_OPTIONS
    assert ("benchmark", "--html-report") in REPORT_OPTIONS
    assert ("pipeline", "--reports-dir") in REPORT_OPTIONS


def test_report_path_options_use_the_checked_types():
    """An option that writes a file must be an OutputFile/OutputDir, or it escapes the check."""
    for name in set(COMMANDS) - LOCAL_ONLY:
        for param in cli_command(name).params:
            help_text = (getattr(param, "help", None) or "").lower()
            if isinstance(param.type, click.Path) and help_text.startswith(("write", "where",
                                                                             "build")):
                assert isinstance(param.type, OutputFile), (name, param.name)


@pytest.mark.parametrize("name,option", REPORT_OPTIONS)
def test_every_report_option_is_checked_before_the_command_runs(tmp_path, capsys, name,
                                                                option):
    command = cli_command(name)
    code = main([name, *_required_args(command), f"{option}=/etc/passwd/report"],
                environ=ENV)
    line = assert_refused(code, capsys, f"{option} /etc/passwd/report")
    assert "/etc/passwd is not a directory" in line


@pytest.mark.parametrize("name", ["validate", "scan", "benchmark", "pipeline"])
def test_gates_refuse_an_unwritable_github_output(tmp_path, capsys, name):
    command = cli_command(name)
    code = main([name, *_required_args(command)],
                environ={**ENV, "GITHUB_ACTIONS": "true",
                         "GITHUB_OUTPUT": "/nonexistent/dir/out"})
    assert_refused(code, capsys, "$GITHUB_OUTPUT /nonexistent/dir/out")


def test_the_check_leaves_nothing_behind(remote, tmp_path, capsys):
    """The probe files are removed; only the error report itself may be written."""
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    code = main(promote_args(remote, "--json", str(out_dir / "r.json")),
                environ={**ENV, "GITHUB_ACTIONS": "true",
                         "GITHUB_STEP_SUMMARY": str(out_dir / "summary.md"),
                         "GITHUB_OUTPUT": "/nonexistent/dir/out"})
    assert code == 2
    assert not [p for p in out_dir.iterdir() if p.name.startswith(".mlgate-probe-")]
    assert json.loads((out_dir / "r.json").read_text())["verdict"] == "error"


# --------------------------------------------------------------------------- after landing


def _fail_json_writes(monkeypatch):
    """The disk fills after the check: every --json write fails with ENOSPC."""
    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(emit_module, "write_atomic", full)


def test_report_failing_after_a_landing_says_the_promotion_landed(remote, tmp_path, capsys,
                                                                 monkeypatch):
    _fail_json_writes(monkeypatch)
    before = refs(remote)
    code = main(promote_args(remote, "--json", str(tmp_path / "r.json")), environ=ENV)
    out, err = capsys.readouterr()
    assert code == EXIT_REPORT == 4
    assert "Traceback" not in out + err
    head = git(remote, "rev-parse", "main").strip()
    assert refs(remote) != before and "v1.5.0" in git(remote, "show", "main")
    line, = err.strip().splitlines()
    assert f"the promotion landed (commit {head})" in line
    assert "only the report failed" in line and "No space left on device" in line
    assert f"--json {tmp_path / 'r.json'}" in line


def test_github_output_vanishing_after_the_check_still_writes_the_rest(remote, tmp_path,
                                                                      capsys, monkeypatch):
    """$GITHUB_OUTPUT's folder disappears between the check and the write: exit 4, the JSON
    report and the summary still carry the commit."""
    import mlgate.promote.promote as promote_module

    runner = tmp_path / "runner"
    runner.mkdir()
    summary = tmp_path / "summary.md"
    real = promote_module.promote

    def promote_then_lose_the_folder(*args, **kwargs):
        result = real(*args, **kwargs)
        shutil.rmtree(runner)
        return result

    monkeypatch.setattr(promote_module, "promote", promote_then_lose_the_folder)
    report = tmp_path / "r.json"
    code = main(promote_args(remote, "--json", str(report)),
                environ={**ENV, "GITHUB_ACTIONS": "true",
                         "GITHUB_OUTPUT": str(runner / "output"),
                         "GITHUB_STEP_SUMMARY": str(summary)})
    out, err = capsys.readouterr()
    assert code == 4 and "Traceback" not in out + err
    head = git(remote, "rev-parse", "main").strip()
    assert f"the promotion landed (commit {head})" in err
    assert f"$GITHUB_OUTPUT {runner / 'output'}: cannot write" in err
    assert json.loads(report.read_text())["outputs"]["commit"] == head
    assert head in summary.read_text()


def test_rollback_report_failing_after_landing_names_the_rollback(remote, tmp_path, capsys,
                                                                 monkeypatch):
    assert main(promote_args(remote), environ=ENV) == 0
    _fail_json_writes(monkeypatch)
    capsys.readouterr()
    code = main(["rollback", "--repo", str(remote), "--app", "churn", "--path", "apps/churn",
                 "--environment", "staging", "--json", str(tmp_path / "rb.json")], environ=ENV)
    err = capsys.readouterr().err
    head = git(remote, "rev-parse", "main").strip()
    assert code == 4 and f"the rollback landed (commit {head})" in err
    assert "newTag: v1.4.0" in git(remote, "show", "main:apps/churn/staging/kustomization.yaml")


def test_rewrite_report_failing_afterwards_says_the_files_were_rewritten(tmp_path, capsys,
                                                                        monkeypatch):
    folder = manifests(tmp_path)
    _fail_json_writes(monkeypatch)
    code = main(rewrite_args(folder, "--json", str(tmp_path / "r.json")), environ=ENV)
    out, err = capsys.readouterr()
    assert code == 4 and "Traceback" not in out + err
    assert "the files were rewritten (kustomization.yaml)" in err
    assert "only the report failed" in err
    assert "newTag: v1.5.0" in (folder / "kustomization.yaml").read_text()


def test_pipeline_reports_a_landed_promotion_whose_report_failed(remote, tmp_path, capsys,
                                                                monkeypatch):
    config = tmp_path / "project" / "mlgate.yaml"
    config.parent.mkdir()
    config.write_text(yaml.safe_dump({
        "app": "churn", "image": f"{IMG}:v1.5.0",
        "promote": {"repo": str(remote), "path": "apps/churn"},
        "environments": [{"name": "staging", "gates": []}],
    }))
    real = emit_module.write_atomic

    def promote_json_fails(path, data):
        if Path(path).name == "promote.json":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, data)

    monkeypatch.setattr(emit_module, "write_atomic", promote_json_fails)
    report = tmp_path / "pipeline.json"
    code = main(["pipeline", "--config", str(config), "--reports-dir",
                 str(tmp_path / "reports"), "--json", str(report)], environ=ENV)
    out, err = capsys.readouterr()
    assert code == 4 and "Traceback" not in out + err
    doc = json.loads(report.read_text())
    assert doc["exit_code"] == 4 and doc["outputs"]["promoted"] == "true"
    assert "v1.5.0" in git(remote, "show", "main:apps/churn/staging/kustomization.yaml")


# --------------------------------------------------------------------------- mlgate.yaml types


SUITE = Path(__file__).resolve().parents[3] / "examples" / "model-project" / "suites" / \
    "breast_cancer.yaml"


def pipeline_config(tmp_path: Path, **sections) -> Path:
    data = {
        "app": "churn", "image": f"{IMG}:v2",
        "promote": {"repo": str(tmp_path / "config.git"), "path": "apps/churn"},
        "validate": {"data": "data.csv", "suite": str(SUITE)},
        "benchmark": {"candidate": "model.skops", "data": "data.csv", "target": "y"},
        "environments": [{"name": "staging", "gates": ["validate", "benchmark"]}],
    }
    for key, value in sections.items():
        if key == "environments":
            data[key] = value
        else:
            data[key] = {**data[key], **value}
    path = tmp_path / "mlgate.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("sections,where,why", [
    ({"benchmark": {"bootstrap": "lots"}}, "benchmark.bootstrap", "'lots' is not an integer"),
    ({"benchmark": {"seed": 1.5}}, "benchmark.seed", "1.5 is not an integer"),
    ({"benchmark": {"latency": "yes"}}, "benchmark.latency", "'yes' is not true or false"),
    ({"benchmark": {"max-latency-regression": "lots"}}, "benchmark.max-latency-regression",
     "'lots' is not a fraction or a percentage"),
    ({"validate": {"ks-threshold": 3}}, "validate.ks-threshold",
     "3.0 is not in the range 0<=x<=1"),
    ({"validate": {"engine": "dask"}}, "validate.engine", "'dask' is not one of"),
    ({"validate": {"fail-on": ["critical", "info"]}}, "validate.fail-on",
     "takes one value, not a list"),
    ({"environments": [{"name": "staging", "gates": ["validate"],
                        "promote": {"max-attempts": "many"}}]},
     "environments[0].promote.max-attempts", "'many' is not an integer"),
])
def test_mlgate_yaml_option_types_are_checked_before_any_gate(tmp_path, capsys, sections,
                                                              where, why):
    config = pipeline_config(tmp_path, **sections)
    reports = tmp_path / "reports"
    code = main(["pipeline", "--config", str(config), "--reports-dir", str(reports)],
                environ=ENV)
    out, err = capsys.readouterr()
    assert code == 2 and "Traceback" not in out + err and "Usage:" not in out + err
    line, = err.strip().splitlines()
    assert f"{config}: {where}: {why}" in line
    assert not reports.exists()   # no gate ran, no report written


def test_case_insensitive_choices_and_numbers_as_text_are_accepted(tmp_path):
    from mlgate.pipeline.config import load

    config = pipeline_config(tmp_path, validate={"engine": "PANDAS", "psi-threshold": "0.3"},
                             benchmark={"bootstrap": "200", "max-latency-regression": "10%"})
    assert load(config, {}).sections["benchmark"]["bootstrap"] == "200"


def test_schema_states_bounds_and_types_for_editors():
    built = schema.build()
    ks = built["properties"]["validate"]["properties"]["ks-threshold"]
    validator = jsonschema.Draft202012Validator(ks)
    assert validator.is_valid(0.5) and validator.is_valid("0.5")
    assert not validator.is_valid(3) and not validator.is_valid("lots")
    bootstrap = jsonschema.Draft202012Validator(
        built["properties"]["benchmark"]["properties"]["bootstrap"])
    assert bootstrap.is_valid(100) and not bootstrap.is_valid(1.5)
    assert not bootstrap.is_valid(True) and not bootstrap.is_valid("lots")
    ranged = schema._param_schema(click.Option(["--n"], type=click.IntRange(1, 5)))
    assert ranged["anyOf"][0] == {"type": "integer", "minimum": 1, "maximum": 5}
    engine = jsonschema.Draft202012Validator(
        built["properties"]["validate"]["properties"]["engine"])
    assert engine.is_valid("Spark") and not engine.is_valid("dask")
