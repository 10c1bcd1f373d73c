"""Drift against a reference dataset (the training data, last month's batch): which columns are
new, missing or of another type, and how far each shared column's distribution moved.

- Numeric columns: the population stability index over ten bins cut at the reference's deciles
  (`--drift-method psi`), or the two-sample Kolmogorov-Smirnov statistic, the largest gap
  between the two empirical distribution functions (`--drift-method ks`).
- Categorical columns (strings, booleans): PSI over the categories of both sides, whatever the
  method, since KS needs an order.

A rule of thumb for PSI: below 0.1 no real change, 0.1-0.2 some, above 0.2 a shift worth
acting on (the default threshold). The KS statistic is between 0 and 1; its default threshold
is 0.1. Missing values are left out of both statistics. Works on pandas frames; numpy only.
"""

from __future__ import annotations

import math

from mlgate.validate.config import DriftPolicy
from mlgate.validate.result import ColumnDrift, SchemaChange, blocks

PSI_BINS = 10
_EPS = 1e-4  # floor for a bin's share, so an empty bin adds a large but finite term


def type_family(dtype) -> str:
    """A column's type as a family that two readers of the same data agree on."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_string_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype):
        return "string"
    return str(dtype)


def schema_changes(reference, current, policy: DriftPolicy) -> tuple[SchemaChange, ...]:
    block = blocks(policy.severity, policy.fail_on)
    ref = {str(c): type_family(t) for c, t in reference.dtypes.items()}
    cur = {str(c): type_family(t) for c, t in current.dtypes.items()}
    changes = [SchemaChange(c, "missing", reference_type=ref[c], blocking=block)
               for c in ref if c not in cur]
    changes += [SchemaChange(c, "new", current_type=cur[c], blocking=block)
                for c in cur if c not in ref]
    changes += [SchemaChange(c, "retyped", reference_type=ref[c], current_type=cur[c],
                             blocking=block)
                for c in ref if c in cur and ref[c] != cur[c]]
    return tuple(changes)


def column_drift(reference, current, policy: DriftPolicy) -> tuple[ColumnDrift, ...]:
    """Drift of every column both frames hold with the same type family."""
    block = blocks(policy.severity, policy.fail_on)
    out = []
    for name in reference.columns:
        if name not in current.columns:
            continue
        fam_ref, fam_cur = type_family(reference[name].dtype), type_family(current[name].dtype)
        numeric = fam_ref in ("integer", "float") and fam_cur in ("integer", "float")
        categorical = fam_ref in ("string", "boolean") and fam_cur == fam_ref
        if not numeric and not categorical:
            continue  # retyped (reported as schema drift), datetimes, nested values
        ref_values = reference[name].dropna()
        cur_values = current[name].dropna()
        if numeric and policy.method == "ks":
            method, threshold = "ks", policy.ks_threshold
        else:
            method, threshold = "psi", policy.psi_threshold
        if len(ref_values) == 0 or len(cur_values) == 0:
            out.append(ColumnDrift(str(name), method, None, threshold, False,
                                   note="no values on one side"))
            continue
        if method == "ks":
            stat = ks_statistic(ref_values.to_numpy(dtype="float64"),
                                cur_values.to_numpy(dtype="float64"))
        elif numeric:
            stat = psi_numeric(ref_values.to_numpy(dtype="float64"),
                               cur_values.to_numpy(dtype="float64"))
        else:
            stat = psi_categorical(ref_values.astype(str), cur_values.astype(str))
        drifted = stat > threshold
        out.append(ColumnDrift(str(name), method, stat, threshold, drifted,
                               blocking=drifted and block))
    return tuple(out)


def psi(ref_share, cur_share) -> float:
    import numpy as np

    r = np.maximum(np.asarray(ref_share, dtype="float64"), _EPS)
    c = np.maximum(np.asarray(cur_share, dtype="float64"), _EPS)
    return float(np.sum((c - r) * np.log(c / r)))


def psi_numeric(ref, cur, bins: int = PSI_BINS) -> float:
    """PSI over bins cut at the reference's quantiles (equal-population bins)."""
    import numpy as np

    edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1]))
    ref_counts = np.bincount(np.searchsorted(edges, ref, side="right"),
                             minlength=len(edges) + 1)
    cur_counts = np.bincount(np.searchsorted(edges, cur, side="right"),
                             minlength=len(edges) + 1)
    return psi(ref_counts / len(ref), cur_counts / len(cur))


def psi_categorical(ref, cur) -> float:
    ref_share = ref.value_counts(normalize=True)
    cur_share = cur.value_counts(normalize=True)
    categories = sorted(set(ref_share.index) | set(cur_share.index))
    return psi([ref_share.get(c, 0.0) for c in categories],
               [cur_share.get(c, 0.0) for c in categories])


def ks_statistic(ref, cur) -> float:
    """sup |F_ref(x) - F_cur(x)| over every observed x (the two-sample KS statistic)."""
    import numpy as np

    a = np.sort(ref)
    b = np.sort(cur)
    points = np.concatenate([a, b])
    fa = np.searchsorted(a, points, side="right") / len(a)
    fb = np.searchsorted(b, points, side="right") / len(b)
    stat = float(np.max(np.abs(fa - fb)))
    return 0.0 if math.isnan(stat) else stat
