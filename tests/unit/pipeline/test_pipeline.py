"""`mlgate pipeline`: mlgate.yaml checks, and a real run (GX validation, a benchmark of real
models, a promotion into a bare config repo) where a failing gate blocks the promotion and
every verdict is still reported."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from mlgate.cli import main
from mlgate.errors import BadInput
from mlgate.pipeline import schema
from mlgate.pipeline.config import load
from support.configrepo import example_remote, git, show

REPO = Path(__file__).resolve().parents[3]


def test_shipped_schema_is_generated_from_the_cli() -> None:
    assert schema.shipped() == schema.build(), (
        "regenerate: python -m mlgate.pipeline.schema > src/mlgate/pipeline/mlgate.schema.json")


def test_example_config_loads(monkeypatch) -> None:
    env = {"MLGATE_CANDIDATE_VERSION": "7", "MLGATE_CONFIG_CHECKOUT": "/tmp/x",
           "MLGATE_IMAGE_TAG": "v2", "MLGATE_CONFIG_REPO": "/tmp/config.git"}
    cfg = load(REPO / "examples" / "model-project" / "mlgate.yaml", env)
    assert cfg.app == "churn" and cfg.model_version == "7"
    staging, production = cfg.environments
    assert staging.gates == ("validate", "benchmark", "scan", "comply")
    assert staging.alias == "staging"
    assert cfg.sections["comply"]["policy"] == "policies"
    assert production.source == "staging" and production.gates == ()
    assert staging.images == ("registry.example.com/ml/churn:v2",)


BASE = {
    "app": "churn",
    "promote": {"repo": "config.git", "path": "apps/churn"},
    "image": "registry.example.com/ml/churn:v2",
    "environments": [{"name": "staging"}],
}


def write(tmp_path: Path, data: dict | str) -> Path:
    path = tmp_path / "mlgate.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("change,message", [
    ({"promote": {"repo": "x", "bogus": 1}}, r"promote: unknown key\(s\) \('bogus' was unexpected\)"),
    ({"environments": [{"name": "prod", "from": "staging"}]},
     r"environments\[0\]\.from: 'staging' is not an earlier environment"),
    ({"environments": [{"name": "staging", "gates": ["scan"]}]},
     r"environments\[0\]\.gates\[0\]: 'scan' has no scan: section"),
    ({"environments": [{"name": "staging", "gates": ["lint"]}]},
     r"environments\[0\]\.gates\[0\]: 'lint' is not one of"),
    ({"benchmark": {"data": "x.csv"}}, r"benchmark: 'candidate' is a required property"),
    ({"environments": []}, r"environments: \[\] should be non-empty"),
    ({"app": "bad name"}, r"app: 'bad name' does not match"),
    ({"environments": [{"name": "a", "alias": "champion"}]}, r"needs model.name"),
    ({"image": "${NOPE}"}, r"image: \$\{NOPE\} is not set in the environment"),
    ({"environments": [{"name": "a"}, {"name": "a"}]}, r"'a' appears twice"),
    # a bad image is refused while the file is read, before any gate spends its time
    ({"image": "registry.example.com/ml/churn:v1.5.0-r\u0435lease"},
     r"mlgate.yaml: image 'registry.example.com/ml/churn:v1.5.0-r\\u0435lease': non-ASCII"),
    ({"image": "registry.example.com/ml/churn"}, r"mlgate.yaml: image .*give a tag, a digest"),
    ({"environments": [{"name": "a", "image": ["r.example/a:v1", "r.example/B:v1"]}]},
     r"mlgate.yaml: environments\[0\]\.image\[1\] 'r.example/B:v1': invalid repository path"),
])
def test_config_errors_name_the_key(tmp_path: Path, change: dict, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        load(write(tmp_path, {**BASE, **change}), {})


def test_config_file_problems(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="no such file"):
        load(tmp_path / "nope.yaml", {})
    with pytest.raises(BadInput, match=":2: invalid YAML"):
        load(write(tmp_path, "app: x\n  bad: [\n"), {})
    with pytest.raises(BadInput, match="expected a mapping"):
        load(write(tmp_path, "- a\n"), {})


def test_dollar_escape_and_expansion(tmp_path: Path) -> None:
    cfg = load(write(tmp_path, {**BASE, "image": "r/x:${TAG}", "promote": {
        "repo": "$$HOME/config.git"}}), {"TAG": "v9"})
    assert cfg.environments[0].images == ("r/x:v9",)
    assert cfg.environments[0].promote["repo"] == "$HOME/config.git"


def test_cli_exit_2_names_the_file(tmp_path: Path, capsys) -> None:
    path = write(tmp_path, {**BASE, "environments": [{"name": "x", "from": "y"}]})
    assert main(["pipeline", "--config", str(path)], environ={"MLGATE_CI": "local"}) == 2
    assert "environments[0].from" in capsys.readouterr().err


# --------------------------------------------------------------------------- a real run


def policy(project: Path, remote: Path, data: str = "data/holdout.csv") -> dict:
    return {
        "version": 1,
        "app": "churn",
        "model": {"name": "churn", "version": "4"},
        "validate": {"data": data, "suite": "suites/suite.yaml"},
        "benchmark": {"candidate": "models/candidate.skops", "champion": "models/champion.skops",
                      "data": "data/holdout.csv", "target": "target",
                      "metric": ["accuracy:margin=0.02"], "bootstrap": 300},
        "image": "registry.example.com/ml/churn:v1.5.0",
        "promote": {"repo": str(remote), "path": "apps/churn", "author-name": "ci",
                    "author-email": "ci@example.invalid"},
        "environments": [
            {"name": "staging", "gates": ["validate", "benchmark"], "set": [
                'model-version.yaml:metadata.annotations["mlgate.io/model-version"]={version}']},
            {"name": "production", "from": "staging", "set": [
                'model-version.yaml:metadata.annotations["mlgate.io/model-version"]']},
        ],
    }


def run(project: Path, cfg: dict, tmp_path: Path, *extra: str) -> tuple[int, dict]:
    path = project / f"mlgate-{tmp_path.name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "pipeline.json"
    code = main(["pipeline", "--config", str(path), "--reports-dir", str(tmp_path / "reports"),
                 "--json", str(out), *extra], environ={**os.environ, "MLGATE_CI": "local"})
    return code, json.loads(out.read_text())


def test_gates_pass_then_staging_then_production(project: Path, tmp_path: Path) -> None:
    remote = example_remote(tmp_path)
    code, doc = run(project, policy(project, remote), tmp_path, "--environment", "staging")
    assert code == 0, doc
    out = doc["outputs"]
    assert out["passed"] == "true" and out["promoted"] == "true"
    assert out["validate-passed"] == "true" and out["benchmark-passed"] == "true"
    assert out["promote-changed"] == "true" and out["model-version"] == "4"
    assert [s["step"] for s in doc["result"]["steps"]] == ["validate", "benchmark", "promote"]
    staging = show(remote, "main", "apps/churn/staging/kustomization.yaml")
    assert "newTag: v1.5.0" in staging
    assert 'mlgate.io/model-version: "4"' in show(remote, "main",
                                                   "apps/churn/staging/model-version.yaml")
    body = git(remote, "log", "-1", "--format=%B", "main")
    assert "Mlgate-Environment: staging" in body and "benchmark" in body.lower()
    assert (tmp_path / "reports" / "benchmark.md").is_file()

    code, doc = run(project, policy(project, remote), tmp_path, "--environment", "production")
    assert code == 0, doc
    assert [s["step"] for s in doc["result"]["steps"]] == ["promote"]
    assert "newTag: v1.5.0" in show(remote, "main", "apps/churn/production/kustomization.yaml")
    assert "Mlgate-From-Environment: staging" in git(remote, "log", "-1", "--format=%B", "main")


def test_a_failing_gate_blocks_the_promotion_and_every_verdict_is_reported(
        project: Path, tmp_path: Path) -> None:
    remote = example_remote(tmp_path)
    before = git(remote, "rev-parse", "main")
    cfg = policy(project, remote, data="data/broken.csv")
    cfg["benchmark"]["candidate"], cfg["benchmark"]["champion"] = (
        cfg["benchmark"]["champion"], cfg["benchmark"]["candidate"])   # a worse candidate
    code, doc = run(project, cfg, tmp_path, "--environment", "staging")
    assert code == 1
    steps = {s["step"]: s for s in doc["result"]["steps"]}
    assert steps["validate"]["exit_code"] == 1 and steps["benchmark"]["exit_code"] == 1
    assert steps["promote"]["exit_code"] is None and "not run" in steps["promote"]["verdict"]
    assert doc["outputs"]["promoted"] == "false"
    assert doc["outputs"]["validate-passed"] == "false"
    assert doc["outputs"]["benchmark-passed"] == "false"
    assert git(remote, "rev-parse", "main") == before


def test_only_one_gate_then_only_promote(project: Path, tmp_path: Path) -> None:
    """How the GitLab pipeline runs it: one job per gate, then a promotion job."""
    remote = example_remote(tmp_path)
    cfg = policy(project, remote)
    for gate in ("validate", "benchmark"):
        code, doc = run(project, cfg, tmp_path, "--environment", "staging", "--only", gate)
        assert code == 0 and [s["step"] for s in doc["result"]["steps"]] == [gate]
    code, doc = run(project, cfg, tmp_path, "--environment", "staging", "--only", "promote")
    assert code == 0, doc
    steps = doc["result"]["steps"]
    assert [s["note"] for s in steps[:2]] == ["from an earlier job"] * 2
    assert doc["outputs"]["promoted"] == "true"
    (tmp_path / "reports" / "validate.json").unlink()
    code, doc = run(project, cfg, tmp_path, "--environment", "staging", "--only", "promote")
    assert code == 2


def test_no_promote_runs_the_gates_only(project: Path, tmp_path: Path) -> None:
    remote = example_remote(tmp_path)
    before = git(remote, "rev-parse", "main")
    code, doc = run(project, policy(project, remote), tmp_path, "--no-promote")
    assert code == 0 and [s["step"] for s in doc["result"]["steps"]] == ["validate", "benchmark"]
    assert git(remote, "rev-parse", "main") == before


def test_a_gate_with_bad_input_makes_the_pipeline_exit_2(project: Path, tmp_path: Path) -> None:
    remote = example_remote(tmp_path)
    cfg = policy(project, remote)
    cfg["benchmark"]["target"] = "no_such_column"
    code, doc = run(project, cfg, tmp_path, "--environment", "staging")
    assert code == 2
    steps = {s["step"]: s for s in doc["result"]["steps"]}
    assert steps["validate"]["exit_code"] == 0 and steps["benchmark"]["exit_code"] == 2


def test_only_a_gate_the_environment_does_not_list_is_skipped(project: Path,
                                                              tmp_path: Path) -> None:
    remote = example_remote(tmp_path)
    code, doc = run(project, policy(project, remote), tmp_path, "--environment", "production",
                    "--only", "validate")
    assert code == 0
    (step,) = doc["result"]["steps"]
    assert step["exit_code"] is None and step["verdict"].startswith("skipped")


def test_alias_bomb_refused(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, 10):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    path = write(tmp_path, "\n".join(lines) + "\napp: x\n")
    with pytest.raises(BadInput, match="alias bomb"):
        load(path, {})


def test_three_gates_all_reported_when_two_fail(project: Path, tmp_path: Path) -> None:
    """validate fails (nulls), benchmark passes, scan fails (HIGH misconfigurations in the
    example manifests, Trivy's bundled checks, offline): no promotion, three verdicts."""
    from support.trivyfix import trivy_bin

    remote = example_remote(tmp_path)
    before = git(remote, "rev-parse", "main")
    cfg = policy(project, remote, data="data/broken.csv")
    cfg["scan"] = {"fs": str(REPO / "examples" / "config-repo"), "scanners": "misconfig",
                   "fail-on-severity": "HIGH", "offline": True, "trivy": trivy_bin(),
                   "cache-dir": str(tmp_path / "trivy-cache")}
    cfg["environments"][0]["gates"] = ["validate", "benchmark", "scan"]
    code, doc = run(project, cfg, tmp_path, "--environment", "staging")
    assert code == 1
    steps = {s["step"]: s for s in doc["result"]["steps"]}
    assert [steps[g]["exit_code"] for g in ("validate", "benchmark", "scan")] == [1, 0, 1]
    assert steps["promote"]["exit_code"] is None
    out = doc["outputs"]
    assert (out["validate-passed"], out["benchmark-passed"], out["scan-passed"]) == \
        ("false", "true", "false")
    assert int(out["scan-high"]) > 0 and out["promoted"] == "false"
    assert git(remote, "rev-parse", "main") == before


@pytest.mark.parametrize("gate,key,value", [
    ("benchmark", "html-report", "/etc/passwd/x.html"),     # under a regular file
    ("validate", "junit", "/proc/mlgate-junit.xml"),         # a place even root cannot write
    ("benchmark", "report", "data"),                          # an existing folder
])
def test_a_bad_report_path_in_any_gate_stops_the_pipeline_before_the_first_gate(
        project: Path, tmp_path: Path, capsys, gate: str, key: str, value: str) -> None:
    remote = example_remote(tmp_path)
    before = git(remote, "for-each-ref")
    cfg = policy(project, remote)
    cfg[gate][key] = value
    path = project / f"mlgate-{tmp_path.name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    reports = tmp_path / "reports"
    code = main(["pipeline", "--config", str(path), "--reports-dir", str(reports)],
                environ={**os.environ, "MLGATE_CI": "local"})
    err = capsys.readouterr().err
    assert code == 2
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1 and f"{path.name}: {gate}.{key} {value}" in lines[0], err
    assert "Traceback" not in err
    assert not any(reports.glob("*.json")), "a gate ran before the bad path was refused"
    assert git(remote, "for-each-ref") == before


def test_the_commit_records_the_hash_of_each_gate_result_as_written_and_cwd_is_left_alone(
        project: Path, tmp_path: Path, monkeypatch) -> None:
    """The pipeline composes stages in process: it never changes the working directory (paths
    in mlgate.yaml resolve against its folder) and the evidence it hands the promotion is
    hashed from the very bytes of `<gate>.json`, not re-read or re-serialised."""
    import hashlib

    def refuse(path):   # any chdir during the run would be a shared-process side effect
        raise AssertionError(f"the pipeline changed directory to {path}")

    remote = example_remote(tmp_path)
    monkeypatch.chdir(tmp_path)            # far from the project: relative paths must still work
    monkeypatch.setattr(os, "chdir", refuse)
    code, doc = run(project, policy(project, remote), tmp_path, "--environment", "staging")
    assert code == 0, doc
    assert Path.cwd() == tmp_path
    body = git(remote, "log", "-1", "--format=%B", "main")
    recorded = sorted(line.split(": ", 1)[1] for line in body.splitlines()
                      if line.startswith("Mlgate-Evidence-Sha256: "))
    reports = tmp_path / "reports"
    expected = sorted(f"{hashlib.sha256((reports / name).read_bytes()).hexdigest()} {name}"
                      for name in ("validate.json", "benchmark.json"))
    assert recorded == expected


def test_the_promote_sections_tag_names_the_promotion_commit(project: Path,
                                                             tmp_path: Path) -> None:
    """`tag:` in the promote section reaches the promotion: the annotated tag lands with the
    commit, and the pipeline's promote-tag output names it."""
    remote = example_remote(tmp_path)
    cfg = policy(project, remote)
    cfg["promote"]["tag"] = "{app}-{environment}-{tag}"
    code, doc = run(project, cfg, tmp_path, "--environment", "staging")
    assert code == 0, doc
    assert doc["outputs"]["promote-tag"] == "churn-staging-v1.5.0"
    assert git(remote, "cat-file", "-t", "churn-staging-v1.5.0").strip() == "tag"
    assert git(remote, "rev-parse", "churn-staging-v1.5.0^{commit}").strip() == \
        git(remote, "rev-parse", "main").strip()


def test_the_promote_sections_attestation_key_signs_the_evidence_it_commits(
        project: Path, tmp_path: Path) -> None:
    """`attestation-key:` in the promote section (relative to mlgate.yaml, like every path
    there) reaches the promotion: the gates' results as written land in the commit's evidence
    folder with a DSSE-signed statement."""
    from support.evidence import blob, check_commit, evidence_dir, verify_envelope, write_key

    remote = example_remote(tmp_path)
    keys = project / f"keys-{tmp_path.name}"
    keys.mkdir()
    public = write_key(keys / "attest.pem")
    cfg = policy(project, remote)
    cfg["promote"]["attestation-key"] = f"keys-{tmp_path.name}/attest.pem"
    code, doc = run(project, cfg, tmp_path, "--environment", "staging")
    assert code == 0, doc
    reports = tmp_path / "reports"
    statement = check_commit(remote, "main", {n: (reports / n).read_bytes()
                                              for n in ("validate.json", "benchmark.json")})
    assert [g["command"] for g in statement["predicate"]["gates"]] == ["validate", "benchmark"]
    folder = evidence_dir(remote, "main")
    envelope = json.loads(blob(remote, "main", f"{folder}/statement.dsse.json"))
    assert verify_envelope(envelope, public) == blob(remote, "main", f"{folder}/statement.json")


def test_a_yaml_number_is_converted_as_its_text_not_truncated(project: Path,
                                                              tmp_path: Path) -> None:
    """mlgate.yaml values go through each option's own click type, as the CLI's text would:
    1.5 for an integer option is refused naming the key, never truncated to 1."""
    remote = example_remote(tmp_path)
    cfg = policy(project, remote)
    cfg["benchmark"]["bootstrap"] = 1.5
    path = project / f"mlgate-{tmp_path.name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(BadInput, match=r"benchmark\.bootstrap"):
        load(path, {})
