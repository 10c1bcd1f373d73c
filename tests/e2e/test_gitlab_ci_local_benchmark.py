"""gitlab-templates/benchmark.yml included locally (twice, as two jobs) and run by
gitlab-ci-local on real scikit-learn models trained in the test.

As in test_act_benchmark.py, the repository holds what a training job would have left: a naive
Bayes model and a stronger logistic regression on polynomial features, both .skops files, and a
held-out CSV of 2,000 rows. The job's `install` input activates the session's venv with the
`benchmark` extra. One pipeline:

- `benchmark-better`: the strong model against the weak one, gated on two metrics (a
  multi-line `metric` input); a downstream job that `needs` it reads MLGATE_BENCHMARK_PASSED=true
  and the rest of the dotenv report.
- `benchmark-worse`: the models swapped; the gate fails the job with exit 1, yet its artifacts
  (`when: always`) hold the dotenv report and the Markdown, HTML, OpenMetrics and JSON reports.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from harness import gitlab_dotenv_job, install_mlgate
from support.mlmodels import classification_frame, fit, save_skops, split

from mlgate.ci.gitlab import variable_name
from mlgate.interface import OUTPUTS as _ALL_OUTPUTS  # noqa: E402
OUTPUTS = _ALL_OUTPUTS["benchmark"]

pytestmark = pytest.mark.e2e

BETTER, WORSE = "benchmark-better", "benchmark-worse"
STRONG = "models/logreg-poly.skops"
WEAK = "models/naive-bayes.skops"
DATA = "data/holdout.csv"
METRICS = ("accuracy:margin=0.01", "log_loss:min_relative_change=1%")
VARIABLES = [variable_name("benchmark", name) for name in OUTPUTS]
# The template's defaults for the reports (kept as artifacts: `mlgate-benchmark.*`), plus JSON.
REPORTS = {
    "report": "mlgate-benchmark.md",
    "html-report": "mlgate-benchmark.html",
    "metrics-file": "mlgate-benchmark.metrics.txt",
    "json": "mlgate-benchmark.json",
}


@pytest.fixture(scope="session")
def mlgate_benchmark_bin(venv_root: Path) -> Path:
    """mlgate with the `benchmark` extra, installed once by the actions' install script."""
    return install_mlgate(venv_root, "benchmark")


def include(job: str, stage: str, candidate: str, champion: str) -> str:
    lines = [
        "  - local: gitlab-templates/benchmark.yml",
        "    inputs:",
        f"      job-name: {job}",
        f"      stage: {stage}",
        '      install: . "$MLGATE_E2E_BIN/activate"',
        f"      candidate: {candidate}",
        f"      champion: {champion}",
        f"      data: {DATA}",
        "      target: label",
        "      metric: |",
        *(f"        {spec}" for spec in METRICS),
        '      bootstrap: "500"',
        f"      json: {REPORTS['json']}",
    ]
    return "\n".join(lines) + "\n"


def pipeline() -> str:
    """The two benchmark jobs in stages of their own: gitlab-ci-local's shell executor runs
    every job in the repository itself (GitLab gives each its own checkout), so two jobs at once
    would write the same mlgate-benchmark.* files."""
    return (
        "stages: [benchmark, benchmark-swapped, verify]\n"
        "include:\n"
        + include(BETTER, "benchmark", candidate=STRONG, champion=WEAK)
        + include(WORSE, "benchmark-swapped", candidate=WEAK, champion=STRONG)
        + "\n"
        + gitlab_dotenv_job("read-outputs", BETTER, VARIABLES, stage="verify")
    )


@pytest.fixture(scope="module")
def model_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import GaussianNB
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import PolynomialFeatures, StandardScaler

    root = tmp_path_factory.mktemp("benchmark-models")
    train, holdout = split(classification_frame(6000, 21), 4000)
    weak = fit(GaussianNB(), train, "label")
    strong = fit(make_pipeline(PolynomialFeatures(2), StandardScaler(),
                               LogisticRegression(max_iter=1000)), train, "label")
    holdout.to_csv(root / "holdout.csv", index=False)
    return {
        STRONG: save_skops(strong, root / "strong.skops").read_bytes(),
        WEAK: save_skops(weak, root / "weak.skops").read_bytes(),
        DATA: (root / "holdout.csv").read_bytes(),
    }


def dotenv_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if line)
    return {key: value for key, value in pairs}


def test_template_gates_and_keeps_reports(
    make_repo, run_gitlab_ci_local, mlgate_benchmark_bin, model_files
):
    repo = make_repo({".gitlab-ci.yml": pipeline(), **model_files})

    run = run_gitlab_ci_local(
        repo, variables={"MLGATE_E2E_BIN": str(mlgate_benchmark_bin.parent)}
    )

    log = run.log
    assert run.returncode != 0, log[-4000:]  # benchmark-worse failed the pipeline
    # exit 1, the gate; not 2 (bad input)
    assert re.search(rf"^{WORSE} finished in .* FAIL 1\s*$", log, re.MULTILINE), log[-4000:]
    assert re.search(rf"^ PASS  {BETTER}$", log, re.MULTILINE), log[-4000:]
    assert re.search(r"^ PASS  read-outputs$", log, re.MULTILINE), log[-4000:]
    artifacts = repo / ".gitlab-ci-local" / "artifacts"

    # better: the downstream job read the dotenv report.
    out = run.outputs
    assert out["MLGATE_BENCHMARK_PASSED"] == "true", out
    assert out["MLGATE_BENCHMARK_CHAMPION_MISSING"] == "false"
    assert out["MLGATE_BENCHMARK_METRIC"] == "accuracy"
    delta, low, high = (float(out[f"MLGATE_BENCHMARK_{k}"]) for k in ("DELTA", "CI_LOW", "CI_HIGH"))
    assert 0 < low <= delta <= high, out
    every = json.loads(out["MLGATE_BENCHMARK_METRICS"])
    assert set(every) == {"accuracy", "log_loss"}  # both lines of the `metric` input
    assert all(m["passed"] for m in every.values())
    assert out["MLGATE_BENCHMARK_REPORT"] == REPORTS["report"]
    assert out["MLGATE_BENCHMARK_HTML_REPORT"] == REPORTS["html-report"]
    assert out["MLGATE_BENCHMARK_METRICS_FILE"] == REPORTS["metrics-file"]
    kept = artifacts / BETTER
    for name in (*REPORTS.values(), "mlgate-benchmark.env"):
        assert (kept / name).is_file(), name
    assert "mlgate_benchmark_passed 1" in (kept / REPORTS["metrics-file"]).read_text()
    assert "```mermaid\nxychart-beta\n" in (kept / REPORTS["report"]).read_text()
    assert "data:image/png;base64," in (kept / REPORTS["html-report"]).read_text()

    # worse: the gate failed the job; `artifacts: when: always` kept every report all the same.
    kept = artifacts / WORSE
    for name in REPORTS.values():
        assert (kept / name).is_file(), name
    env = dotenv_file(kept / "mlgate-benchmark.env")
    assert env["MLGATE_BENCHMARK_PASSED"] == "false", env
    assert env["MLGATE_BENCHMARK_CHAMPION_MISSING"] == "false"
    assert float(env["MLGATE_BENCHMARK_CI_HIGH"]) < -0.01
    assert set(json.loads(env["MLGATE_BENCHMARK_METRICS"])) == {"accuracy", "log_loss"}
    assert "mlgate_benchmark_passed 0" in (kept / REPORTS["metrics-file"]).read_text()
    assert "### Why it failed" in (kept / REPORTS["report"]).read_text()
    result = json.loads((kept / REPORTS["json"]).read_text())
    assert result["exit_code"] == 1 and result["result"]["rows"] == 2000
    assert "accuracy: worse by at most 0.01" in log
