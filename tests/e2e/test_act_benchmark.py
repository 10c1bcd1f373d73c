"""`uses: ./actions/benchmark` run by act on real scikit-learn models trained in the test.

The test builds what a training job would have left in the repository: two models saved as
.skops files (a naive Bayes model and a stronger logistic regression on polynomial features)
and a held-out CSV of 2,000 rows neither was trained on. The strong model is also registered
in a real MLflow registry (sqlite, under the test's temporary directory) with the alias
`champion`; its URI is a repository secret the workflow maps into the step's `env:`, as a user
does with MLFLOW_TRACKING_URI. One workflow, two jobs run side by side:

- `better`: the strong model (candidate) against the weak one (champion), both .skops files,
  gated on two metrics (`accuracy:margin=0.01`, `log_loss:min_relative_change=1%`); the step
  passes and writes the Markdown, HTML, OpenMetrics and JSON reports.
- `worse`: the weak model (candidate) against `models:/churn@champion`, the strong model from
  the registry: the gate fails the step with exit 1 (not 2, bad input), and a later
  `if: always()` step still reads the outputs and finds the reports.

act prints each step's job summary (`$GITHUB_STEP_SUMMARY`) in its log ("Summary - ..."); the
test reads it there, since act empties the file before every step.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from harness import CHECKOUT_STEP, CiRun, github_collect_step, install_mlgate
from support.mlmodels import classification_frame, fit, make_registry, save_skops, split

from mlgate.interface import OUTPUTS as _ALL_OUTPUTS  # noqa: E402
OUTPUTS = _ALL_OUTPUTS["benchmark"]

pytestmark = pytest.mark.e2e

WORKFLOW = "e2e benchmark"
JOBS = ("better", "worse")
MODEL = "churn"
STRONG = "models/logreg-poly.skops"
WEAK = "models/naive-bayes.skops"
DATA = "data/holdout.csv"
METRICS = ("accuracy:margin=0.01", "log_loss:min_relative_change=1%")
REPORTS = {
    "report": "reports/benchmark.md",
    "html-report": "reports/benchmark.html",
    "metrics-file": "reports/metrics.txt",
    "json": "reports/benchmark.json",
}
# The registry's URI is kept like a credential-bearing URI would be: a repository secret.
MLFLOW_ENV = (
    "        env:\n"
    "          MLFLOW_TRACKING_URI: ${{ secrets.MLFLOW_TRACKING_URI }}\n"
)


@pytest.fixture(scope="session")
def mlgate_benchmark_bin(venv_root: Path) -> Path:
    """mlgate with the extra actions/benchmark installs (MLGATE_EXTRAS=benchmark), built once
    so that the action's install step finds the venv instead of building it inside act."""
    return install_mlgate(venv_root, "benchmark")


def benchmark_job(name: str, inputs: dict[str, str], env: str = "") -> str:
    """A job benchmarking with ./actions/benchmark, then (always) saving its outputs and
    workspace (outputs as $E2E_OUT/<name>-<output>, the workspace as $E2E_KEEP/<name>)."""
    lines = []
    for key, value in inputs.items():
        if "\n" in value:
            lines.append(f"          {key}: |\n")
            lines.extend(f"            {line}\n" for line in value.splitlines())
        else:
            lines.append(f"          {key}: {value}\n")
    return (
        f"  {name}:\n"
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        f"{CHECKOUT_STEP}"
        "      - id: benchmark\n"
        "        uses: ./actions/benchmark\n"
        f"{env}"
        "        with:\n"
        + "".join(lines)
        + github_collect_step("benchmark", OUTPUTS, keep=name, prefix=f"{name}-")
    )


def workflow(better: dict[str, str], worse: dict[str, str]) -> str:
    return (
        f"name: {WORKFLOW}\n"
        "on: push\n"
        "permissions: {}\n"
        "jobs:\n" + benchmark_job("better", better) + benchmark_job("worse", worse, MLFLOW_ENV)
    )


def common_inputs(candidate: str, champion: str) -> dict[str, str]:
    return {
        "candidate": candidate,
        "champion": champion,
        "data": DATA,
        "target": "label",
        "metric": "\n".join(METRICS),
        "bootstrap": "500",
        **REPORTS,
    }


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The two .skops files, the held-out CSV, and the registry holding the strong model."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score
    from sklearn.naive_bayes import GaussianNB
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import PolynomialFeatures, StandardScaler

    root = tmp_path_factory.mktemp("benchmark-models")
    train, holdout = split(classification_frame(6000, 21), 4000)
    weak = fit(GaussianNB(), train, "label")
    strong = fit(make_pipeline(PolynomialFeatures(2), StandardScaler(),
                               LogisticRegression(max_iter=1000)), train, "label")
    x, y = holdout.drop(columns=["label"]), holdout["label"]
    gain = accuracy_score(y, strong.predict(x)) - accuracy_score(y, weak.predict(x))
    assert gain > 0.03, f"premise: the strong model is clearly better (gain {gain:.4f})"
    registry = make_registry(root / "mlflow")
    version, _ = registry.register(strong, MODEL, alias="champion")
    holdout.to_csv(root / "holdout.csv", index=False)
    return {
        STRONG: save_skops(strong, root / "strong.skops").read_bytes(),
        WEAK: save_skops(weak, root / "weak.skops").read_bytes(),
        DATA: (root / "holdout.csv").read_bytes(),
        "registry": registry,
        "version": version,
    }


def summary(log: str, job: str) -> str:
    """The first job summary act printed for `job`, Markdown escapes removed."""
    pattern = rf"^\[{WORKFLOW}/{job} *\]\s+⚙\s+Summary - (.*?)(?=^\[{WORKFLOW}/)"
    match = re.search(pattern, log, re.MULTILINE | re.DOTALL)
    assert match, f"no job summary for {job} in act's log:\n{log[-4000:]}"
    return re.sub(r"\\(.)", r"\1", match.group(1))


def kept(run: CiRun, job: str) -> Path:
    """The workspace the collect step of `job` kept."""
    return run.workspace.parent / job


def test_benchmark_action_gates_and_reports(make_repo, run_act, mlgate_benchmark_bin, models):
    text = workflow(
        common_inputs(candidate=STRONG, champion=WEAK),
        common_inputs(candidate=WEAK, champion=f"models:/{MODEL}@champion"),
    )
    repo = make_repo({".github/workflows/benchmark.yml": text,
                      **{path: models[path] for path in (STRONG, WEAK, DATA)}})

    run = run_act(repo, secrets={"MLFLOW_TRACKING_URI": models["registry"].uri})

    log = run.log
    assert run.returncode != 0, log[-4000:]
    assert "Job 'worse' failed" in log and "Job 'better' failed" not in log, log[-6000:]
    # the gate said no (1), not bad input (2); act pads job names to the longest one
    assert re.search(rf"^\[{WORKFLOW}/worse *\] +exit status 1$", log, re.MULTILINE), log[-4000:]
    assert f"[{WORKFLOW}/better] 🏁  Job succeeded" in log, log[-4000:]
    out = run.outputs

    # better: both metrics hold, every output is there and consistent.
    better = {k: out[f"better-{k}"] for k in OUTPUTS}
    assert better["passed"] == "true" and better["champion-missing"] == "false", better
    assert better["metric"] == "accuracy"
    champion, candidate = float(better["champion"]), float(better["candidate"])
    delta, low, high = (float(better[k]) for k in ("delta", "ci-low", "ci-high"))
    assert delta == pytest.approx(candidate - champion, abs=1e-5)
    assert 0 < low <= delta <= high, better
    assert float(better["p-value"]) < 1e-3
    every = json.loads(better["metrics"])
    assert set(every) == {"accuracy", "log_loss"}
    assert every["accuracy"]["passed"] and every["log_loss"]["passed"]
    assert every["log_loss"]["delta"] < 0 and every["log_loss"]["high"] < 0  # lower is better
    assert {k: better[k] for k in ("report", "html-report", "metrics-file")} == {
        k: REPORTS[k] for k in ("report", "html-report", "metrics-file")
    }
    workspace = kept(run, "better")
    md = (workspace / REPORTS["report"]).read_text()
    assert "| Metric | Champion | Candidate | Delta | 95% CI | p-value | Verdict |" in md
    assert re.search(r"^\| accuracy \| .* \| ✅ passed \|$", md, re.MULTILINE), md
    # names are Markdown-escaped: log\_loss
    assert re.search(r"^\| log\\_loss \| .* \| ✅ passed \|$", md, re.MULTILINE), md
    assert "```mermaid\nxychart-beta\n" in md
    html = (workspace / REPORTS["html-report"]).read_text()
    assert "data:image/png;base64," in html
    metrics = (workspace / REPORTS["metrics-file"]).read_text().splitlines()
    assert "mlgate_benchmark_passed 1" in metrics and "mlgate_benchmark_rows 2000" in metrics
    assert metrics[-1] == "# EOF"
    result = json.loads((workspace / REPORTS["json"]).read_text())
    assert result["exit_code"] == 0 and result["result"]["rows"] == 2000
    assert result["result"]["champion"]["uri"] == WEAK
    text = summary(log, "better")
    assert "| Metric | Champion | Candidate | Delta | 95% CI | p-value | Verdict |" in text, text
    assert re.search(r"^\| accuracy \| 0\.\d+ \| 0\.\d+ \| \+0\.\d+ \| .* \| ✅ passed \|$", text,
                     re.MULTILINE), text
    assert re.search(r"^\| log_loss \| .* \| ✅ passed \|$", text, re.MULTILINE), text

    # worse: the gate failed the step, the `if: always()` step still read every output.
    worse = {k: out[f"worse-{k}"] for k in OUTPUTS}
    assert worse["passed"] == "false" and worse["champion-missing"] == "false", worse
    assert worse["metric"] == "accuracy"
    delta, low, high = (float(worse[k]) for k in ("delta", "ci-low", "ci-high"))
    assert low <= delta <= high < -0.01, worse
    every = json.loads(worse["metrics"])
    assert not every["accuracy"]["passed"] and not every["log_loss"]["passed"]
    workspace = kept(run, "worse")
    for key in ("report", "html-report", "metrics-file"):
        assert worse[key] == REPORTS[key] and (workspace / REPORTS[key]).is_file(), key
    assert "mlgate_benchmark_passed 0" in (workspace / REPORTS["metrics-file"]).read_text()
    assert "### Why it failed" in (workspace / REPORTS["report"]).read_text()
    result = json.loads((workspace / REPORTS["json"]).read_text())
    assert result["exit_code"] == 1
    # The champion came from the registry, through the secret in the step's env.
    champion = result["result"]["champion"]
    assert (champion["name"], champion["version"]) == (MODEL, models["version"]), champion
    text = summary(log, "worse")
    assert "accuracy: worse by at most 0.01" in text, text
