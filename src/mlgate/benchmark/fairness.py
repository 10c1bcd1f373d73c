"""Fairness across groups: every benchmark metric per group of a sensitive column, for the
candidate and the champion, with fairlearn's MetricFrame, plus demographic parity and equalized
odds for binary classifiers.

The benchmark reports the figures; it does not judge them. Limits belong to the compliance gate
(`mlgate comply --fairness`), which may leave out groups below a minimum size: so the per-group
rows, selection rates and true/false positive rates are all kept, and comply recomputes gaps
and the parity figures over the groups it judges. A missing value in a sensitive column is its
own group, `(missing)`: dropping those rows would hide exactly the people a form failed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mlgate.benchmark.metrics import CLASSIFICATION, Metric
from mlgate.benchmark.result import FairnessResult, GroupFigures, Spread
from mlgate.benchmark.scores import ModelOutput

MISSING = "(missing)"
MAX_GROUPS = 200
RATES = ("selection_rate", "true_positive_rate", "false_positive_rate")


def group_values(raw: Any, column: str) -> np.ndarray:
    """The sensitive column as text labels, a missing value as its own group."""
    import pandas as pd

    from mlgate.errors import BadInput

    series = pd.Series(raw)
    labels = series.astype(object).where(~series.isna(), MISSING).map(str).to_numpy()
    if len(set(labels)) > MAX_GROUPS:
        raise BadInput(f"--sensitive {column}: more than {MAX_GROUPS} groups; a sensitive "
                       "column is a category (bin a number first)")
    return labels


def fairness(column: str, raw: Any, task: str, y: np.ndarray, candidate: ModelOutput,
             champion: ModelOutput | None, metrics: list[Metric], labels: tuple[str, ...]
             ) -> FairnessResult:
    from fairlearn.metrics import (
        MetricFrame,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )

    groups = group_values(raw, column)
    codes = np.arange(len(labels)) if task == CLASSIFICATION else None
    binary = task == CLASSIFICATION and len(labels) == 2
    roles = {"candidate": candidate, **({"champion": champion} if champion else {})}
    usable = [m for m in metrics if not (m.needs_proba and any(o.proba is None
                                                               for o in roles.values()))]
    notes = []
    if len(usable) < len(metrics):
        notes.append("metrics that need probabilities are left out: a model gave none")

    frames = {}
    for role, out in roles.items():
        funcs: dict[str, Any] = {m.name: _scorer(m, codes) for m in usable}
        params: dict[str, dict[str, Any]] = {}
        if out.proba is not None and any(m.needs_proba for m in usable):
            for m in usable:
                if m.needs_proba:
                    params[m.name] = {"proba": out.proba}
        if binary:
            funcs.update({"selection_rate": _rate(selection_rate),
                          "true_positive_rate": _rate(true_positive_rate),
                          "false_positive_rate": _rate(false_positive_rate)})
        frames[role] = MetricFrame(metrics=funcs, y_true=y, y_pred=out.pred,
                                   sensitive_features=groups, sample_params=params or None)

    counts = {str(k): int(v) for k, v in zip(*np.unique(groups, return_counts=True))}
    by_group = {role: frame.by_group for role, frame in frames.items()}
    figures = []
    for value in sorted(counts, key=lambda v: (v == MISSING, v)):
        figures.append(GroupFigures(
            value=value, rows=counts[value],
            candidate=_row(by_group["candidate"], value),
            champion=_row(by_group["champion"], value) if "champion" in by_group else None))
    spreads = []
    for m in usable:
        spreads.append(_spread(m.name, m.greater_is_better, frames))
    dpd: dict[str, float | None] = {}
    eod: dict[str, float | None] = {}
    if binary:
        # fairlearn's definitions (between groups), from the rates the frames already hold:
        # computing them again through fairlearn's functions would build four more frames
        for role in roles:
            rates = by_group[role]
            dpd[role] = _gap(rates["selection_rate"])
            tpr, fpr = _gap(rates["true_positive_rate"]), _gap(rates["false_positive_rate"])
            eod[role] = None if tpr is None or fpr is None else max(tpr, fpr)
    elif task == CLASSIFICATION:
        notes.append("demographic parity and equalized odds are defined for binary "
                     "classifiers only")
    return FairnessResult(column, tuple(figures), tuple(spreads), dpd, eod,
                          counts.get(MISSING, 0), tuple(notes))


def _scorer(metric: Metric, codes):
    def score(y_true, y_pred, proba=None):
        try:
            return float(metric(y_true, y_pred, proba, labels=codes))
        except ValueError:   # undefined on this group (one class only, say)
            return float("nan")
    return score


def _rate(func):
    def rate(y_true, y_pred):
        return float(func(y_true, y_pred, pos_label=1))
    return rate


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _gap(series) -> float | None:
    values = [float(v) for v in series if v == v]   # NaN: undefined for that group
    return _finite(max(values) - min(values)) if values else None


def _row(by_group, value: str) -> dict[str, float | None]:
    row = by_group.loc[value]
    return {str(k): _finite(v) for k, v in row.items()}


def _spread(name: str, greater_is_better: bool, frames) -> Spread:
    cand = frames["candidate"]
    champ = frames.get("champion")
    return Spread(
        metric=name, greater_is_better=greater_is_better,
        candidate_min=_finite(cand.group_min()[name]),
        candidate_max=_finite(cand.group_max()[name]),
        candidate_difference=_finite(cand.difference(method="between_groups")[name]),
        candidate_ratio=_finite(cand.ratio(method="between_groups")[name]),
        champion_difference=None if champ is None else _finite(
            champ.difference(method="between_groups")[name]),
        champion_ratio=None if champ is None else _finite(
            champ.ratio(method="between_groups")[name]),
    )
