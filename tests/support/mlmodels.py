"""Real scikit-learn models and data for the benchmark tests, built in the test run.

Nothing is downloaded: data comes from `make_classification` / `make_regression` or from a
formula, and models are trained here. `Registry` is a real MLflow registry on a sqlite file
with its artifacts under the test's temporary directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

FEATURES = [f"x{i}" for i in range(6)]


def classification_frame(n: int, seed: int, *, classes: int = 2) -> pd.DataFrame:
    from sklearn.datasets import make_classification

    x, y = make_classification(n_samples=n, n_features=len(FEATURES), n_informative=4,
                               n_redundant=0, n_classes=classes, n_clusters_per_class=1,
                               class_sep=0.8, flip_y=0.03, random_state=seed)
    frame = pd.DataFrame(x, columns=FEATURES)
    frame["label"] = y
    return frame


def split(frame: pd.DataFrame, train: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """First `train` rows to train on, the rest held out (make_classification shuffles)."""
    return frame.iloc[:train].reset_index(drop=True), frame.iloc[train:].reset_index(drop=True)


def regression_frame(n: int, seed: int) -> pd.DataFrame:
    gen = np.random.default_rng(seed)
    x = gen.normal(size=(n, len(FEATURES)))
    y = 3 * x[:, 0] + 2 * np.sin(2 * x[:, 1]) + x[:, 2] * x[:, 3] + gen.normal(0, 0.3, n) + 10
    frame = pd.DataFrame(x, columns=FEATURES)
    frame["y"] = y
    return frame


def sliced_frame(n: int, seed: int) -> pd.DataFrame:
    """Segment A (85%) follows one rule, segment B another: a model that learned only A is
    better overall and much worse on B."""
    gen = np.random.default_rng(seed)
    x = gen.normal(size=(n, len(FEATURES)))
    segment = np.where(gen.random(n) < 0.85, "A", "B")
    rule_a = (x[:, 0] + x[:, 1] > 0)
    rule_b = (x[:, 2] - x[:, 3] > 0)
    y = np.where(segment == "A", rule_a, rule_b).astype(int)
    frame = pd.DataFrame(x, columns=FEATURES)
    frame["segment"] = segment
    frame["label"] = y
    return frame


def fit(model, frame: pd.DataFrame, target: str, drop: tuple[str, ...] = ()):
    x = frame.drop(columns=[target, *drop])
    return model.fit(x, frame[target])


def save_skops(model, path: Path) -> Path:
    import skops.io as sio

    sio.dump(model, path)
    return path


def save_mlflow_dir(model, path: Path) -> Path:
    import mlflow.sklearn

    mlflow.sklearn.save_model(model, str(path), serialization_format="skops")
    return path


@dataclass
class Registry:
    """A real MLflow registry on sqlite; `register` logs a run and a model version."""

    uri: str
    artifacts: Path

    def register(self, model, name: str, *, alias: str | None = None,
                 fmt: str = "skops") -> tuple[str, str]:
        """(version, run_id) of a new version of `name`, optionally pointed to by `alias`."""
        import os

        saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
        # through the environment, not mlflow.set_tracking_uri: that global would outlive the
        # test and override MLFLOW_TRACKING_URI in every later one
        os.environ["MLFLOW_TRACKING_URI"] = os.environ["MLFLOW_REGISTRY_URI"] = self.uri
        try:
            return self._register(model, name, alias, fmt)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def _register(self, model, name: str, alias: str | None, fmt: str) -> tuple[str, str]:
        import mlflow
        import mlflow.sklearn
        from mlflow import MlflowClient

        exp = mlflow.get_experiment_by_name("bench")
        exp_id = exp.experiment_id if exp else mlflow.create_experiment(
            "bench", artifact_location=self.artifacts.as_uri())
        with mlflow.start_run(experiment_id=exp_id) as run:
            info = mlflow.sklearn.log_model(model, name="model", serialization_format=fmt,
                                            registered_model_name=name)
        version = str(info.registered_model_version)
        if alias:
            MlflowClient(self.uri, self.uri).set_registered_model_alias(name, alias, version)
        return version, run.info.run_id


def make_registry(root: Path) -> Registry:
    root.mkdir(parents=True, exist_ok=True)
    return Registry(f"sqlite:///{root / 'mlflow.db'}", root / "artifacts")
