"""The compliance gate in `mlgate pipeline`: after the other gates (their results are its
release input), before the promotion, with the promotion's own repo, images and values."""

from __future__ import annotations

import copy
import json
import textwrap
from pathlib import Path

from support.configrepo import example_remote, git

from tests.unit.pipeline.test_pipeline import policy, run

RELEASE = """
    package mlgate.release
    import rego.v1

    deny contains msg if {
      input.gates.benchmark.verdict != "passed"
      msg := "the benchmark did not pass"
    }
    warn contains sprintf("benchmark %s, validate %s, model %s, image %s", [
      input.gates.benchmark.verdict, input.gates.validate.verdict, input.model.version,
      input.image.tag]) if true
"""

MANIFEST = """
    package main
    import rego.v1

    deny contains msg if {
      input.kind == "Kustomization"
      some img in input.images
      img.newTag == "{tag}"
      msg := sprintf("%s may not run %s", [data.mlgate.environment, img.newTag])
    }
"""


def with_compliance(project: Path, remote: Path, tag: str = "v0", env_level: bool = False
                    ) -> dict:
    folder = project / f"policies-{tag}"
    folder.mkdir(exist_ok=True)
    (folder / "release.rego").write_text(textwrap.dedent(RELEASE).lstrip())
    (folder / "manifest.rego").write_text(textwrap.dedent(MANIFEST).lstrip().replace(
        "{tag}", tag))
    cfg = copy.deepcopy(policy(project, remote))
    section = {"policy": folder.name}
    if env_level:
        cfg["environments"][0]["compliance"] = section
    else:
        cfg["compliance"] = section
    cfg["environments"][0]["gates"] = ["validate", "benchmark", "comply"]
    return cfg


def test_four_verdicts_then_the_promotion(project: Path, tmp_path: Path) -> None:
    remote = example_remote(tmp_path)
    code, doc = run(project, with_compliance(project, remote), tmp_path,
                    "--environment", "staging")
    assert code == 0, doc
    steps = doc["result"]["steps"]
    assert [s["step"] for s in steps] == ["validate", "benchmark", "comply", "promote"]
    assert doc["outputs"]["comply-passed"] == "true"
    comply = json.loads((tmp_path / "reports" / "comply.json").read_text())
    assert [f["message"] for f in comply["result"]["findings"]] == [
        "benchmark passed, validate passed, model 4, image v1.5.0"]
    assert comply["result"]["changed_files"] == ["apps/churn/staging/kustomization.yaml",
                                                 "apps/churn/staging/model-version.yaml"]
    body = git(remote, "log", "-1", "--format=%B", "main")
    assert body.count("Mlgate-Evidence-Sha256:") == 3   # validate, benchmark and comply


def test_a_denying_policy_blocks_the_promotion(project: Path, tmp_path: Path) -> None:
    remote = example_remote(tmp_path)
    before = git(remote, "rev-parse", "main")
    code, doc = run(project, with_compliance(project, remote, tag="v1.5.0", env_level=True),
                    tmp_path, "--environment", "staging")
    assert code == 1
    steps = {s["step"]: s for s in doc["result"]["steps"]}
    assert steps["comply"]["exit_code"] == 1
    assert steps["promote"]["exit_code"] is None
    assert doc["outputs"]["comply-passed"] == "false"
    assert doc["outputs"]["comply-deny"] == "1"
    assert git(remote, "rev-parse", "main") == before


def test_comply_in_its_own_job_reads_the_earlier_jobs_results(project: Path,
                                                               tmp_path: Path) -> None:
    remote = example_remote(tmp_path)
    cfg = with_compliance(project, remote)
    for gate in ("validate", "benchmark", "comply"):
        code, doc = run(project, cfg, tmp_path, "--environment", "staging", "--only", gate)
        assert code == 0, doc
    comply = json.loads((tmp_path / "reports" / "comply.json").read_text())
    assert comply["result"]["findings"][0]["message"].startswith(
        "benchmark passed, validate passed")
    code, doc = run(project, cfg, tmp_path, "--environment", "staging", "--only", "promote")
    assert code == 0, doc
    assert [s["step"] for s in doc["result"]["steps"]] == ["validate", "benchmark", "comply",
                                                           "promote"]


def test_a_gate_listed_without_its_section_is_refused(project: Path, tmp_path: Path,
                                                       capsys) -> None:
    remote = example_remote(tmp_path)
    cfg = copy.deepcopy(policy(project, remote))
    cfg["environments"][0]["gates"] = ["validate", "comply"]
    code, _ = run(project, cfg, tmp_path, "--environment", "staging")
    assert code == 2
    assert "'comply' has no compliance: section" in capsys.readouterr().err
