"""mlgate benchmark as a user's CI runs it, once per runner, on real scikit-learn models trained
in the test: `uses: ./actions/benchmark` run by act, and gitlab-templates/benchmark.yml included
locally (twice, as two jobs) and run by gitlab-ci-local.

The test builds what a training job would have left in the repository: two models saved as
.skops files (a naive Bayes model and a stronger logistic regression on polynomial features)
and a held-out CSV of 2,000 rows neither was trained on. The strong model is also registered
in a real MLflow registry (sqlite, under the test's temporary directory) with the alias
`champion`. Two jobs (side by side under act; one stage each under gitlab-ci-local, whose shell
executor runs every job in the repository itself, so two at once would write the same
mlgate-benchmark.* files):

- `better`: the strong model (candidate) against the weak one (champion), both .skops files,
  gated on two metrics (`accuracy:margin=0.01`, `log_loss:min_relative_change=1%`, a multi-line
  `metric` input); the job passes, writes the Markdown, HTML, OpenMetrics and JSON reports, and a
  later step / a downstream job that `needs` it reads its outputs.
- `worse`: the weak model (candidate) against the strong one: the gate fails the job with exit 1
  (not 2, bad input), yet its reports are kept (act: a later `if: always()` step still reads the
  outputs and finds them; gitlab-ci-local: the artifacts, `when: always`, hold the dotenv report
  and every report). Under act the champion is `models:/churn@champion`, from the registry,
  whose URI is a repository secret the workflow maps into the step's `env:`, as a user does with
  MLFLOW_TRACKING_URI; under gitlab-ci-local it is the strong model's .skops file.

act prints each step's job summary (`$GITHUB_STEP_SUMMARY`) in its log ("Summary - ..."); the
test reads it there, since act empties the file before every step.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from harness import Job, install_mlgate
from support.mlmodels import classification_frame, fit, make_registry, save_skops, split

from mlgate.ci.gitlab import variable_name
from mlgate.interface import OUTPUTS as _ALL_OUTPUTS  # noqa: E402
OUTPUTS = _ALL_OUTPUTS["benchmark"]

pytestmark = pytest.mark.e2e

TITLE = "e2e benchmark"
MODEL = "churn"
STRONG = "models/logreg-poly.skops"
WEAK = "models/naive-bayes.skops"
DATA = "data/holdout.csv"
METRICS = ("accuracy:margin=0.01", "log_loss:min_relative_change=1%")
REPORTS = {
    "act": {
        "report": "reports/benchmark.md",
        "html-report": "reports/benchmark.html",
        "metrics-file": "reports/metrics.txt",
        "json": "reports/benchmark.json",
    },
    # The template's defaults for the reports (kept as artifacts: `mlgate-benchmark.*`), plus JSON.
    "gitlab-ci-local": {
        "report": "mlgate-benchmark.md",
        "html-report": "mlgate-benchmark.html",
        "metrics-file": "mlgate-benchmark.metrics.txt",
        "json": "mlgate-benchmark.json",
    },
}


@pytest.fixture(scope="session")
def mlgate_benchmark_bin(venv_root: Path) -> Path:
    """mlgate with the extra actions/benchmark installs (MLGATE_EXTRAS=benchmark), built once
    so that the action's install step finds the venv instead of building it inside act."""
    return install_mlgate(venv_root, "benchmark")


def jobs(runner_name: str) -> tuple[Job, Job]:
    reports = REPORTS[runner_name]
    # act names every report; the template is given the JSON result only (the rest: defaults)
    inputs = {**reports} if runner_name == "act" else {"json": reports["json"]}

    def job(name: str, candidate: str, champion: str, secrets: tuple[str, ...] = ()) -> Job:
        return Job(name, "benchmark", "benchmark", OUTPUTS, {
            "candidate": candidate,
            "champion": champion,
            "data": DATA,
            "target": "label",
            "metric": "\n".join(METRICS),
            "bootstrap": '"500"',
            **inputs,
        }, secrets=secrets)

    if runner_name == "act":
        # The registry's URI is kept like a credential-bearing URI would be: a repository secret.
        worse = job("worse", WEAK, f"models:/{MODEL}@champion", secrets=("MLFLOW_TRACKING_URI",))
    else:
        worse = job("worse", WEAK, STRONG)
    return job("better", STRONG, WEAK), worse


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


def dotenv_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if line)
    return {key: value for key, value in pairs}


def test_benchmark_gates_and_reports(make_repo, runner, mlgate_benchmark_bin, models):
    reports = REPORTS[runner.name]
    better_job, worse_job = jobs(runner.name)
    repo = make_repo({**runner.files(TITLE, [better_job, worse_job]),
                      **{path: models[path] for path in (STRONG, WEAK, DATA)}})

    run = runner.run(repo, secrets={"MLFLOW_TRACKING_URI": models["registry"].uri}
                     if runner.name == "act" else None, bin_dir=mlgate_benchmark_bin.parent)

    log = run.log
    assert run.returncode != 0, log[-4000:]  # worse failed the workflow / pipeline
    # the gate said no (1), not bad input (2)
    assert runner.exit_code(run, worse_job) == 1, log[-4000:]
    assert runner.exit_code(run, better_job) == 0, log[-4000:]
    if runner.name == "act":
        assert "Job 'worse' failed" in log and "Job 'better' failed" not in log, log[-6000:]
    else:
        assert re.search(r"^ PASS  read-better$", log, re.MULTILINE), log[-4000:]

    # better: both metrics hold, every output is there and consistent (read by a later step /
    # the downstream job).
    better = runner.outputs(run, better_job)
    assert better["passed"] == "true" and better["champion-missing"] == "false", better
    assert better["metric"] == "accuracy"
    champion, candidate = float(better["champion"]), float(better["candidate"])
    delta, low, high = (float(better[k]) for k in ("delta", "ci-low", "ci-high"))
    assert delta == pytest.approx(candidate - champion, abs=1e-5)
    assert 0 < low <= delta <= high, better
    assert float(better["p-value"]) < 1e-3
    every = json.loads(better["metrics"])
    assert set(every) == {"accuracy", "log_loss"}  # both lines of the `metric` input
    assert every["accuracy"]["passed"] and every["log_loss"]["passed"]
    assert every["log_loss"]["delta"] < 0 and every["log_loss"]["high"] < 0  # lower is better
    assert {k: better[k] for k in ("report", "html-report", "metrics-file")} == {
        k: reports[k] for k in ("report", "html-report", "metrics-file")
    }
    kept = runner.kept(run, better_job)
    for name in reports.values():
        assert (kept / name).is_file(), name
    if runner.name == "gitlab-ci-local":
        assert (kept / "mlgate-benchmark.env").is_file()
    md = (kept / reports["report"]).read_text()
    assert "| Metric | Champion | Candidate | Delta | 95% CI | p-value | Verdict |" in md
    assert re.search(r"^\| accuracy \| .* \| ✅ passed \|$", md, re.MULTILINE), md
    # names are Markdown-escaped: log\_loss
    assert re.search(r"^\| log\\_loss \| .* \| ✅ passed \|$", md, re.MULTILINE), md
    assert "```mermaid\nxychart-beta\n" in md
    html = (kept / reports["html-report"]).read_text()
    assert "data:image/png;base64," in html
    metrics = (kept / reports["metrics-file"]).read_text().splitlines()
    assert "mlgate_benchmark_passed 1" in metrics and "mlgate_benchmark_rows 2000" in metrics
    assert metrics[-1] == "# EOF"
    result = json.loads((kept / reports["json"]).read_text())
    assert result["exit_code"] == 0 and result["result"]["rows"] == 2000
    assert result["result"]["champion"]["uri"] == WEAK
    if runner.name == "act":
        text = runner.summary(run, better_job)
        assert "| Metric | Champion | Candidate | Delta | 95% CI | p-value | Verdict |" in text, \
            text
        assert re.search(r"^\| accuracy \| 0\.\d+ \| 0\.\d+ \| \+0\.\d+ \| .* \| ✅ passed \|$",
                         text, re.MULTILINE), text
        assert re.search(r"^\| log_loss \| .* \| ✅ passed \|$", text, re.MULTILINE), text

    # worse: the gate failed the job; its outputs and every report are kept all the same (act:
    # read by the `if: always()` step; gitlab-ci-local: the dotenv report among the artifacts,
    # `artifacts: when: always`).
    kept = runner.kept(run, worse_job)
    if runner.name == "act":
        worse = runner.outputs(run, worse_job)
    else:
        env = dotenv_file(kept / "mlgate-benchmark.env")
        worse = {name: env[variable_name("benchmark", name)] for name in OUTPUTS}
    assert worse["passed"] == "false" and worse["champion-missing"] == "false", worse
    assert worse["metric"] == "accuracy"
    delta, low, high = (float(worse[k]) for k in ("delta", "ci-low", "ci-high"))
    assert low <= delta <= high < -0.01, worse
    every = json.loads(worse["metrics"])
    assert set(every) == {"accuracy", "log_loss"}
    assert not every["accuracy"]["passed"] and not every["log_loss"]["passed"]
    for key in ("report", "html-report", "metrics-file", "json"):
        assert (kept / reports[key]).is_file(), key
    for key in ("report", "html-report", "metrics-file"):
        assert worse[key] == reports[key], key
    assert "mlgate_benchmark_passed 0" in (kept / reports["metrics-file"]).read_text()
    assert "### Why it failed" in (kept / reports["report"]).read_text()
    result = json.loads((kept / reports["json"]).read_text())
    assert result["exit_code"] == 1 and result["result"]["rows"] == 2000
    if runner.name == "act":
        # The champion came from the registry, through the secret in the step's env.
        champion = result["result"]["champion"]
        assert (champion["name"], champion["version"]) == (MODEL, models["version"]), champion
        assert "accuracy: worse by at most 0.01" in runner.summary(run, worse_job)
    else:
        assert "accuracy: worse by at most 0.01" in log
