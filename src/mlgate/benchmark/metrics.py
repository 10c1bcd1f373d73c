"""The metric registry: what each metric measures, which way is better, and how to compute it fast.

Every metric is a `Metric` record. It knows its task, whether greater is better, whether it needs
predicted probabilities, and how it is computed, in one of three shapes that the paired bootstrap
in `stats` exploits:

- *confusion* metrics (accuracy, balanced accuracy, precision / recall / F1 with every averaging)
  are functions of the confusion matrix alone, evaluated on a batch of matrices at once;
- *mean* metrics (MAE, RMSE, R², MAPE, log loss, Brier, accuracy too) are a function of column
  means of per-row values, so a resample only needs weighted sums;
- ROC AUC is rank based: a weighted Mann-Whitney statistic over rows sorted once by score.

Conventions (they match scikit-learn's defaults):
- class labels are the sorted union of the true and predicted labels unless `labels` is given
  (pass the model's `classes_`); probability columns follow that order;
- binary metrics (`precision`, `recall`, `f1`, `brier`, binary `roc_auc`) need exactly two labels
  and treat the greater one as positive; a 1-D probability array is P(positive);
- a class absent from both the truth and the predictions does not count in a macro average;
  0/0 in precision, recall or F1 counts as 0 (scikit-learn's `zero_division` default).

numpy is imported at module level; scikit-learn and scipy are never imported here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np

from mlgate.errors import BadInput

CLASSIFICATION = "classification"
REGRESSION = "regression"
TASKS = (CLASSIFICATION, REGRESSION)
AVERAGES = ("binary", "macro", "micro", "weighted")


class MetricError(BadInput, ValueError):
    """A metric cannot be computed on this input (exit 2 in the CLI, a ValueError in Python)."""


class Prepared(NamedTuple):
    """Inputs checked and encoded for one model: labels as codes, probabilities as (n, K)."""

    y: np.ndarray                # int codes (classification) or float targets (regression)
    pred: np.ndarray | None      # int codes or float predictions
    proba: np.ndarray | None     # (n, K) float64, columns in `labels` order
    labels: np.ndarray | None    # the K class labels, sorted


@dataclass(frozen=True)
class Metric:
    """One metric. Call it as `metric(y_true, y_pred, proba, labels=None) -> float`."""

    name: str
    task: str
    greater_is_better: bool
    needs_proba: bool = False
    binary_only: bool = False
    # (..., K, K) confusion matrices (rows: truth, columns: prediction) -> (...) values
    confusion: Callable[[np.ndarray], np.ndarray] | None = None
    # per-row values: shared(y) -> (n, s) columns common to both models of a pair,
    # rows(prepared) -> (n, k) model columns; reduce((..., s + k) column means) -> (...) values
    shared: Callable[[Prepared], np.ndarray] | None = None
    rows: Callable[[Prepared], np.ndarray] | None = None
    reduce: Callable[[np.ndarray], np.ndarray] | None = None
    rank_based: bool = False
    description: str = ""

    @property
    def from_confusion(self) -> bool:
        """True when the metric is a function of the confusion matrix alone."""
        return self.confusion is not None

    @property
    def decomposable(self) -> bool:
        """True when the metric is a function of column means of per-row values."""
        return self.rows is not None

    def prepare(self, y_true, y_pred=None, proba=None, *, labels=None) -> Prepared:
        return prepare_pair(self, y_true, y_pred, None, proba, None, labels=labels)[0]

    def __call__(self, y_true, y_pred=None, proba=None, *, labels=None) -> float:
        return self.value(self.prepare(y_true, y_pred, proba, labels=labels))

    def value(self, p: Prepared) -> float:
        """The metric on prepared input."""
        if self.confusion is not None:
            k = len(p.labels)
            return float(self.confusion(confusion_matrix(p.y, p.pred, k)))
        if self.rank_based:
            return float(roc_auc_weighted(p.y, p.proba)[0])
        cols = self.row_values(p)
        return float(self.reduce(cols.mean(axis=0)))

    def row_values(self, p: Prepared) -> np.ndarray:
        """The (n, s + k) per-row values whose column means `reduce` turns into the metric."""
        if self.rows is None:
            raise MetricError(f"metric {self.name!r} is not a mean of per-row values")
        own = self.rows(p)
        if self.shared is None:
            return own
        return np.concatenate([self.shared(p), own], axis=1)


# ----------------------------------------------------------------------------- preparation


def _as_1d(name: str, values, n: int | None = None) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise MetricError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if n is not None and len(arr) != n:
        raise MetricError(f"{name} has {len(arr)} rows, the target has {n}")
    return arr


def _encode(labels: np.ndarray, name: str, values: np.ndarray) -> np.ndarray:
    k = len(labels)
    if values.dtype.kind in "iu" and labels.dtype.kind in "iu" and k and labels[0] == 0 \
            and labels[-1] == k - 1:
        # labels 0..K-1 (already codes, or integer classes): a bounds check is the encoding
        lo, hi = (int(values.min()), int(values.max())) if len(values) else (0, 0)
        if 0 <= lo and hi < k:
            return values.astype(np.intp, copy=False)
    codes = np.searchsorted(labels, values)
    codes = np.clip(codes, 0, len(labels) - 1)
    bad = labels[codes] != values
    if np.any(bad):
        raise MetricError(f"{name} holds label {values[np.argmax(bad)]!r}, not among the "
                          f"labels {labels.tolist()!r}")
    return codes.astype(np.intp)


def _proba(name: str, proba, n: int, k: int) -> np.ndarray:
    arr = np.asarray(proba, dtype=np.float64)
    if arr.ndim == 1 or (arr.ndim == 2 and arr.shape[1] == 1 and k == 2):
        arr = arr.reshape(-1)
        if k != 2:
            raise MetricError(f"{name} is one-dimensional but there are {k} classes; "
                              "pass one probability column per class")
        arr = np.stack([1.0 - arr, arr], axis=1)
    if arr.ndim != 2 or arr.shape != (n, k):
        raise MetricError(f"{name} has shape {arr.shape}, expected ({n}, {k}): one column "
                          "per class, in sorted label order")
    if not np.all(np.isfinite(arr)):
        raise MetricError(f"{name} holds NaN or infinite values")
    return arr


def prepare_pair(metric: Metric, y_true, champion_pred=None, candidate_pred=None,
                 champion_proba=None, candidate_proba=None, *, labels=None
                 ) -> tuple[Prepared, Prepared | None]:
    """Check and encode the truth and one or two models' outputs with shared labels."""
    y = _as_1d("y_true", y_true)
    n = len(y)
    if n == 0:
        raise MetricError("no rows to score")
    two = candidate_pred is not None or candidate_proba is not None
    if metric.task == REGRESSION:
        preds = [champion_pred, candidate_pred] if two else [champion_pred]
        y = y.astype(np.float64)
        if not np.all(np.isfinite(y)):
            raise MetricError("the regression target holds NaN or infinite values")
        out = []
        for i, pred in enumerate(preds):
            if pred is None:
                raise MetricError(f"metric {metric.name!r} needs predictions")
            who = ("champion" if i == 0 else "candidate") + " predictions"
            arr = _as_1d(who, pred, n).astype(np.float64)
            if not np.all(np.isfinite(arr)):
                raise MetricError(f"{who} hold NaN or infinite values")
            out.append(Prepared(y, arr, None, None))
        return out[0], (out[1] if two else None)

    preds = [champion_pred, candidate_pred] if two else [champion_pred]
    probas = [champion_proba, candidate_proba] if two else [champion_proba]
    pred_arrays = []
    for i, pred in enumerate(preds):
        who = ("champion" if i == 0 else "candidate") + " predictions"
        if pred is None:
            if metric.from_confusion or metric.name == "accuracy":
                raise MetricError(f"metric {metric.name!r} needs {who}")
            pred_arrays.append(None)
        else:
            pred_arrays.append(_as_1d(who, pred, n))
    if labels is None:
        parts = [y] + [p for p in pred_arrays if p is not None]
        labels_arr = np.unique(np.concatenate(parts))
    else:
        labels_arr = np.unique(np.asarray(labels))
        if len(labels_arr) != len(np.asarray(labels)):
            raise MetricError("labels hold duplicates")
    k = len(labels_arr)
    if metric.binary_only and k != 2:
        raise MetricError(f"metric {metric.name!r} is binary and needs exactly two classes, "
                          f"found {k}: {labels_arr.tolist()!r}"
                          + ("; use a _macro, _micro or _weighted average" if
                             metric.from_confusion else ""))
    y_codes = _encode(labels_arr, "y_true", y)
    out = []
    for i, (pred, proba) in enumerate(zip(pred_arrays, probas)):
        who = "champion" if i == 0 else "candidate"
        codes = None if pred is None else _encode(labels_arr, f"{who} predictions", pred)
        prob = None
        if proba is not None:
            prob = _proba(f"{who} probabilities", proba, n, k)
        elif metric.needs_proba:
            raise MetricError(f"metric {metric.name!r} needs the {who}'s predicted "
                              "probabilities")
        out.append(Prepared(y_codes, codes, prob, labels_arr))
    return out[0], (out[1] if two else None)


# ----------------------------------------------------------------------------- confusion


def confusion_matrix(y: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    """(K, K) counts: rows the true class, columns the predicted class."""
    return np.bincount(y * k + pred, minlength=k * k).reshape(k, k)


def _div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with 0 where den == 0."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.zeros(np.broadcast(num, den).shape)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _parts(c: np.ndarray):
    c = np.asarray(c, dtype=np.float64)
    tp = np.diagonal(c, axis1=-2, axis2=-1)
    support = c.sum(axis=-1)
    predicted = c.sum(axis=-2)
    return tp, support, predicted


def cm_accuracy(c: np.ndarray) -> np.ndarray:
    tp, support, _ = _parts(c)
    return _div(tp.sum(-1), support.sum(-1))


def cm_balanced_accuracy(c: np.ndarray) -> np.ndarray:
    tp, support, _ = _parts(c)
    present = support > 0
    return _div((_div(tp, support) * present).sum(-1), present.sum(-1))


def _per_class(kind: str, tp, support, predicted) -> np.ndarray:
    if kind == "precision":
        return _div(tp, predicted)
    if kind == "recall":
        return _div(tp, support)
    return _div(2 * tp, support + predicted)


def _averaged(kind: str, average: str) -> Callable[[np.ndarray], np.ndarray]:
    def compute(c: np.ndarray) -> np.ndarray:
        tp, support, predicted = _parts(c)
        if average == "micro":
            return _per_class(kind, tp.sum(-1), support.sum(-1), predicted.sum(-1))
        scores = _per_class(kind, tp, support, predicted)
        if average == "binary":
            return scores[..., -1]
        if average == "weighted":
            return _div((scores * support).sum(-1), support.sum(-1))
        present = (support + predicted) > 0
        return _div((scores * present).sum(-1), present.sum(-1))
    return compute


# ----------------------------------------------------------------------------- per-row values


def _rows_correct(p: Prepared) -> np.ndarray:
    return (p.y == p.pred).astype(np.float64)[:, None]


def _rows_abs(p: Prepared) -> np.ndarray:
    return np.abs(p.pred - p.y)[:, None]


def _rows_sq(p: Prepared) -> np.ndarray:
    return np.square(p.pred - p.y)[:, None]


def _rows_ape(p: Prepared) -> np.ndarray:
    zeros = int(np.count_nonzero(p.y == 0))
    if zeros:
        raise MetricError(f"mape is undefined: the target is zero in {zeros} row(s); "
                          "use mae or rmse for such targets")
    return (np.abs(p.pred - p.y) / np.abs(p.y))[:, None]


def _rows_log_loss(p: Prepared) -> np.ndarray:
    eps = np.finfo(np.float64).eps
    prob = np.clip(p.proba, eps, 1 - eps)
    prob = prob / prob.sum(axis=1, keepdims=True)
    return -np.log(prob[np.arange(len(p.y)), p.y])[:, None]


def _rows_brier(p: Prepared) -> np.ndarray:
    return np.square(p.proba[:, 1] - (p.y == 1))[:, None]


def _shared_r2(p: Prepared) -> np.ndarray:
    yc = p.y - p.y.mean()
    return np.stack([yc, yc * yc], axis=1)


def _reduce_r2(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    sst = m[..., 1] - m[..., 0] ** 2
    sse = m[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = 1.0 - sse / sst
    # scikit-learn's force_finite: a constant target scores 1 if predicted exactly, else 0
    return np.where(sst > 0, r2, np.where(sse == 0, 1.0, 0.0))


def _first(m: np.ndarray) -> np.ndarray:
    return np.asarray(m)[..., 0]


def _sqrt_first(m: np.ndarray) -> np.ndarray:
    return np.sqrt(np.asarray(m)[..., 0])


# ----------------------------------------------------------------------------- ROC AUC


class AucSetup(NamedTuple):
    """One score column sorted once: who is positive, where runs of equal scores start."""

    order: np.ndarray
    positive: np.ndarray        # float32 0/1 in sorted order
    starts: np.ndarray | None   # start of each run of equal scores, None when all distinct


def auc_setup(positive: np.ndarray, score: np.ndarray) -> AucSetup:
    order = np.argsort(score, kind="stable")
    s = score[order]
    new = np.empty(len(s), dtype=bool)
    new[:1] = True
    np.not_equal(s[1:], s[:-1], out=new[1:])
    starts = None if new.all() else np.flatnonzero(new)
    return AucSetup(order, positive[order].astype(np.float32), starts)


def auc_from_sorted(setup: AucSetup, w: np.ndarray | None) -> np.ndarray:
    """Weighted AUC for a batch of weight rows `w` (b, n) already in the setup's sorted order.

    AUC = sum over positives of w_i * (negative weight scoring below + half the negative weight
    tied with it), divided by (positive weight * negative weight); NaN when a class is absent.
    """
    if w is None:
        w = np.ones((1, len(setup.positive)), dtype=np.float32)
    wp = w * setup.positive
    wn = w - wp
    if setup.starts is not None:
        wp = np.add.reduceat(wp, setup.starts, axis=1)
        wn = np.add.reduceat(wn, setup.starts, axis=1)
    below = np.cumsum(wn, axis=1, dtype=np.float64)
    below -= wn
    below += 0.5 * wn
    num = np.einsum("ij,ij->i", wp.astype(np.float64, copy=False), below)
    pos = wp.sum(axis=1, dtype=np.float64)
    neg = wn.sum(axis=1, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((pos > 0) & (neg > 0), num / (pos * neg), np.nan)


def auc_setups(y: np.ndarray, proba: np.ndarray) -> list[AucSetup]:
    """Binary: one setup on P(positive). Multi-class: one per class, one-vs-rest."""
    k = proba.shape[1]
    if k == 2:
        return [auc_setup(y == 1, proba[:, 1])]
    return [auc_setup(y == c, proba[:, c]) for c in range(k)]


def roc_auc_weighted(y: np.ndarray, proba: np.ndarray, w: np.ndarray | None = None
                     ) -> np.ndarray:
    """ROC AUC (binary, or one-vs-rest macro) for weight rows `w` (b, n) in row order."""
    values = []
    for setup in auc_setups(y, proba):
        values.append(auc_from_sorted(setup, None if w is None else w[:, setup.order]))
    out = np.mean(values, axis=0)
    if w is None and np.isnan(out[0]):
        raise MetricError("roc_auc is undefined: the target holds a single class"
                          + ("" if proba.shape[1] == 2 else " for some one-vs-rest split"))
    return out


# ----------------------------------------------------------------------------- the registry


def _build() -> dict[str, Metric]:
    c, r = CLASSIFICATION, REGRESSION
    out: dict[str, Metric] = {}

    def add(m: Metric) -> None:
        out[m.name] = m

    add(Metric("accuracy", c, True, confusion=cm_accuracy, rows=_rows_correct, reduce=_first,
               description="share of rows predicted right"))
    add(Metric("balanced_accuracy", c, True, confusion=cm_balanced_accuracy,
               description="mean recall over the classes present in the truth"))
    for kind in ("precision", "recall", "f1"):
        for avg in AVERAGES:
            name = kind if avg == "binary" else f"{kind}_{avg}"
            add(Metric(name, c, True, binary_only=avg == "binary",
                       confusion=_averaged(kind, avg),
                       description=f"{kind}, {avg}" + (" (positive: the greater label)"
                                                        if avg == "binary" else " average")))
    add(Metric("roc_auc", c, True, needs_proba=True, rank_based=True,
               description="area under the ROC curve (binary; one-vs-rest macro for more "
                           "classes)"))
    add(Metric("log_loss", c, False, needs_proba=True, rows=_rows_log_loss, reduce=_first,
               description="cross-entropy of the predicted probabilities"))
    add(Metric("brier", c, False, needs_proba=True, binary_only=True, rows=_rows_brier,
               reduce=_first, description="mean squared error of P(positive)"))
    add(Metric("rmse", r, False, rows=_rows_sq, reduce=_sqrt_first,
               description="root mean squared error"))
    add(Metric("mae", r, False, rows=_rows_abs, reduce=_first,
               description="mean absolute error"))
    add(Metric("r2", r, True, shared=_shared_r2, rows=_rows_sq, reduce=_reduce_r2,
               description="coefficient of determination"))
    add(Metric("mape", r, False, rows=_rows_ape, reduce=_first,
               description="mean absolute percentage error (as a fraction; no zero targets)"))
    return out


METRICS: dict[str, Metric] = _build()
ALIASES = {"precision_binary": "precision", "recall_binary": "recall", "f1_binary": "f1",
           "roc_auc_ovr": "roc_auc", "brier_score": "brier", "r_squared": "r2"}
PRIMARY = {CLASSIFICATION: "accuracy", REGRESSION: "rmse"}


def get_metric(name: str) -> Metric:
    """The metric called `name` (case-insensitive; a few aliases such as `f1_binary`)."""
    key = str(name).strip().lower().replace("-", "_")
    key = ALIASES.get(key, key)
    try:
        return METRICS[key]
    except KeyError:
        raise MetricError(f"unknown metric {name!r}; known: {', '.join(sorted(METRICS))}"
                          ) from None


def metrics_for(task: str) -> list[Metric]:
    """Every metric of a task, in registry order."""
    if task not in TASKS:
        raise MetricError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    return [m for m in METRICS.values() if m.task == task]
