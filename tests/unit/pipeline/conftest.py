"""The model project the pipeline tests run against (real data, two real models, the example
suite), built once per test module."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.mlmodels import fit, save_skops

REPO = Path(__file__).resolve().parents[3]
SUITE = REPO / "examples" / "model-project" / "suites" / "breast_cancer.yaml"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model project: held-out breast-cancer data, two real models, the example suite."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import GaussianNB
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    root = tmp_path_factory.mktemp("project")
    frame = load_breast_cancer(as_frame=True).frame.sample(frac=1.0, random_state=0)
    train, test = frame.iloc[:350], frame.iloc[350:].reset_index(drop=True)
    (root / "data").mkdir()
    test.to_csv(root / "data" / "holdout.csv", index=False)
    broken = test.copy()
    broken.loc[:40, "mean radius"] = None           # missing measurements: critical
    broken.to_csv(root / "data" / "broken.csv", index=False)
    (root / "models").mkdir()
    save_skops(fit(GaussianNB(), train, "target"), root / "models" / "champion.skops")
    save_skops(fit(make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)), train,
                   "target"), root / "models" / "candidate.skops")
    (root / "suites").mkdir()
    (root / "suites" / "suite.yaml").write_text(SUITE.read_text())
    return root
