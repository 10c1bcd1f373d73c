"""Scored data: the truth and both models' outputs, and the figures the decision asks of them.

`Scores` is what the decision (`decide`) needs, whatever engine produced the predictions:
point values, the paired bootstrap interval, a significance test, per-slice views and the
curves for the HTML report. `ArrayScores` holds everything in numpy arrays (the pandas engine);
the Spark engine answers the same questions from Spark aggregates without collecting the rows.

Labels are encoded to integer codes once, here, so that every metric and every resample works on
small integers instead of re-encoding strings (the encoding is most of a confusion metric's cost
once its bootstrap is a multinomial draw over the joint count table).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from mlgate.benchmark.metrics import REGRESSION, Metric, MetricError, prepare_pair
from mlgate.benchmark.result import Curve, Curves, Role
from mlgate.benchmark.stats import Interval, mcnemar_exact, paired_bootstrap, wilcoxon_losses

_CURVE_POINTS = 400
_RESIDUAL_POINTS = 2000


class Scores(Protocol):
    """The questions the decision asks; see `ArrayScores` for the meaning of each."""

    rows: int
    task: str
    labels: tuple[str, ...]
    has_champion: bool

    def value(self, metric: Metric, role: Role) -> float: ...

    def interval(self, metric: Metric, resamples: int, confidence: float,
                 seed: int) -> Interval: ...

    def significance(self, metric: Metric) -> tuple[str, float] | None: ...

    def slices(self) -> list[tuple[str, Scores]]: ...

    def curves(self) -> Curves: ...


@dataclass(frozen=True)
class ModelOutput:
    """One model's predictions on every row (codes for classifiers) and probabilities, if any."""

    pred: np.ndarray
    proba: np.ndarray | None = None


class ArrayScores:
    """Scores held in memory: `y` and predictions as label codes (classification) or floats."""

    def __init__(self, task: str, y: np.ndarray, candidate: ModelOutput,
                 champion: ModelOutput | None, labels: tuple[str, ...] = (),
                 slice_values: np.ndarray | None = None, workers: int | None = None):
        self.task = task
        self.y = y
        self.candidate = candidate
        self.champion = champion
        self.labels = labels
        self.slice_values = slice_values
        self.rows = int(len(y))
        self.workers = workers
        self._codes = None if task == REGRESSION else np.arange(len(labels))

    @property
    def has_champion(self) -> bool:
        return self.champion is not None

    def _output(self, role: Role) -> ModelOutput:
        out = self.candidate if role == "candidate" else self.champion
        if out is None:
            raise MetricError("there is no champion to score")
        return out

    def _check_proba(self, metric: Metric, role: Role) -> None:
        if metric.needs_proba and self._output(role).proba is None:
            raise MetricError(f"{metric.name} needs predicted probabilities and the {role} "
                              "gives none (it has no predict_proba)")

    def value(self, metric: Metric, role: Role) -> float:
        self._check_proba(metric, role)
        out = self._output(role)
        prepared = prepare_pair(metric, self.y, out.pred, None, out.proba, None,
                                labels=self._codes)[0]
        return metric.value(prepared)

    def interval(self, metric: Metric, resamples: int, confidence: float,
                 seed: int) -> Interval:
        for role in ("champion", "candidate"):
            self._check_proba(metric, role)  # type: ignore[arg-type]
        a, b = self._output("champion"), self._output("candidate")
        return paired_bootstrap(metric, self.y, a.pred, b.pred, a.proba, b.proba,
                                resamples=resamples, confidence=confidence, seed=seed,
                                labels=self._codes, workers=self.workers)

    def significance(self, metric: Metric) -> tuple[str, float] | None:
        """McNemar's exact test on right/wrong for label metrics; Wilcoxon signed-rank on the
        per-row losses for regression, log loss and Brier; none for ROC AUC (its interval is
        the evidence)."""
        a, b = self._output("champion"), self._output("candidate")
        if metric.rank_based:
            return None
        if self.task != REGRESSION and not metric.needs_proba:
            return "mcnemar-exact", mcnemar_exact(self.y, a.pred, b.pred)
        pa, pb = prepare_pair(metric, self.y, a.pred, b.pred, a.proba, b.proba,
                              labels=self._codes)
        la, lb = _row_loss(metric, pa), _row_loss(metric, pb)
        return "wilcoxon", wilcoxon_losses(la, lb)

    def slices(self) -> list[tuple[str, ArrayScores]]:
        if self.slice_values is None:
            return []
        values = self.slice_values
        keys, inverse = np.unique(values.astype(str), return_inverse=True)
        out = []
        for i, key in enumerate(keys):
            rows = np.flatnonzero(inverse == i)
            out.append((str(key), self.take(rows)))
        return out

    def take(self, rows: np.ndarray) -> ArrayScores:
        def sub(o: ModelOutput | None) -> ModelOutput | None:
            if o is None:
                return None
            return ModelOutput(o.pred[rows], None if o.proba is None else o.proba[rows])

        return ArrayScores(self.task, self.y[rows], sub(self.candidate),  # type: ignore[arg-type]
                           sub(self.champion), self.labels, None, self.workers)

    def curves(self) -> Curves:
        curves = Curves()
        roles = [("candidate", self.candidate)]
        if self.champion is not None:
            roles.insert(0, ("champion", self.champion))
        if self.task == REGRESSION:
            gen = np.random.default_rng(0)
            pick = np.arange(self.rows)
            if self.rows > _RESIDUAL_POINTS:
                pick = np.sort(gen.choice(self.rows, _RESIDUAL_POINTS, replace=False))
            for role, out in roles:
                pred = out.pred[pick].astype(float)
                curves.residuals[role] = Curve(tuple(pred.tolist()),
                                               tuple((self.y[pick] - pred).tolist()))
            return curves
        from sklearn.metrics import (average_precision_score, precision_recall_curve,
                                     roc_auc_score, roc_curve)

        k = len(self.labels)
        for role, out in roles:
            if out.proba is None:
                continue
            classes = [k - 1] if k == 2 else list(range(k))
            for c in classes:
                truth = self.y == c
                if truth.all() or not truth.any():
                    continue
                score = out.proba[:, c]
                key = role if k == 2 else f"{role}:{self.labels[c]}"
                fpr, tpr, _ = roc_curve(truth, score)
                prec, rec, _ = precision_recall_curve(truth, score)
                curves.roc[key] = _thin(fpr, tpr, float(roc_auc_score(truth, score)))
                curves.pr[key] = _thin(rec, prec, float(average_precision_score(truth, score)))
        return curves


def _row_loss(metric: Metric, p) -> np.ndarray:
    """Per-row loss the metric averages (squared error for RMSE and R²)."""
    cols = metric.rows(p) if metric.rows is not None else None
    if cols is None:
        raise MetricError(f"{metric.name} has no per-row loss")
    return np.asarray(cols)[:, 0]


def _thin(x: np.ndarray, y: np.ndarray, score: float) -> Curve:
    if len(x) > _CURVE_POINTS:
        idx = np.unique(np.linspace(0, len(x) - 1, _CURVE_POINTS).round().astype(int))
        x, y = x[idx], y[idx]
    return Curve(tuple(float(v) for v in x), tuple(float(v) for v in y), score)
