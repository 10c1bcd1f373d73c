"""The Spark engine's distributed statistics: the figures that need every row (mean metrics and
their bootstrap, the binned ROC AUC and its bootstrap, the Wilcoxon signed-rank test) computed
as per-partition partials in `mapInArrow` and added on the driver.

- mean metrics (RMSE, MAE, R², MAPE, log loss, Brier): per-row values are computed by the
  metric's own numpy code in `mapInArrow`, and each partition returns its plain column sums and
  its Poisson(1)-weighted column sums for every resample (`stats.poisson_sums`), seeded from
  (seed, partition, batch); the driver adds the partials and applies `metric.reduce`. Point
  values equal the pandas engine's up to float summation order (~1e-15); intervals are the
  same Poisson bootstrap with different draws. The partials depend on how the data is split
  into partitions and Arrow batches: the same data, master and configuration give the same
  interval.
- ROC AUC (approximation): scores are binned into `AUC_BINS` (2¹⁴) equal-width bins over
  [0, 1] per model and one-vs-rest class; pairs in the same bin count as ties (half). The
  error against the exact AUC is at most half the share of positive x negative pairs whose
  scores fall in one bin but differ (bounded by `bin_tie_share`), typically ~1e-5. Its
  bootstrap uses the placement-value projection of `stats._auc_deltas_projected` (the pandas
  engine's route above 20,000 rows) with placements read off the same histograms.
- Wilcoxon signed-rank (regression, log loss, Brier): the paired loss differences are
  collected (8 bytes per row) when there are at most `WILCOXON_COLLECT_MAX_ROWS` rows, so the
  p-value is scipy's on the same numbers as the pandas engine's; above that the statistic is
  computed exactly in Spark (distinct |d| with counts, sorted by a range-partitioned
  `orderBy`, per-partition rank sums with tie sizes, offsets added on the driver) and turned
  into scipy's normal-approximation p-value (scipy uses that approximation above 50 rows).

Every function takes the scored DataFrame's columns (`y`, `a`, `b`, `pa`, `pb`; see
`spark_scores.SparkScores`). pyspark, pyarrow and scipy are imported inside the functions that
need them; the functions passed to `mapInArrow` run on the executors.
"""

from __future__ import annotations

import numpy as np

from mlgate.benchmark import stats
from mlgate.benchmark.metrics import REGRESSION, Metric, MetricError, Prepared, get_metric
from mlgate.benchmark.result import Curve
from mlgate.benchmark.scores import _thin
from mlgate.benchmark.spark_session import spark_errors

AUC_BINS = 1 << 14
WILCOXON_COLLECT_MAX_ROWS = 2_000_000


# ----------------------------------------------------------------------------- executors


def _batch_arrays(batch, k: int) -> dict:
    """numpy arrays of one Arrow record batch: y, a, b as codes or floats, pa / pb as (n, K)."""
    out = {}
    names = batch.schema.names
    for name in names:
        col = batch.column(names.index(name))
        if name in ("pa", "pb"):
            flat = col.flatten().to_numpy(zero_copy_only=False)
            out[name] = np.asarray(flat, dtype=np.float64).reshape(len(col), k)
        elif name in ("y", "a", "b"):
            out[name] = col.to_numpy(zero_copy_only=False)
    return out


def _prepared(arrays: dict, k: int, task: str) -> tuple[Prepared, Prepared]:
    if task == REGRESSION:
        y = arrays["y"].astype(np.float64)
        return (Prepared(y, arrays["a"].astype(np.float64), None, None),
                Prepared(y, arrays["b"].astype(np.float64), None, None))
    codes = np.arange(k)
    y = arrays["y"].astype(np.intp)
    return (Prepared(y, arrays["a"].astype(np.intp), arrays.get("pa"), codes),
            Prepared(y, arrays["b"].astype(np.intp), arrays.get("pb"), codes))


def _mean_values(metric: Metric, a: Prepared, b: Prepared, centre: float) -> np.ndarray:
    """(n, 1 + s + 2k): ones, shared columns, the champion's and the candidate's row values."""
    from mlgate.benchmark import metrics as mm

    n = len(a.y)
    if metric.shared is None:
        shared = np.empty((n, 0))
    elif metric.shared is mm._shared_r2:
        yc = a.y - centre       # centred on the whole data's mean, not the batch's
        shared = np.stack([yc, yc * yc], axis=1)
    else:  # pragma: no cover - every registered shared() is handled above
        raise MetricError(f"{metric.name}: the Spark engine cannot compute its shared columns")
    return np.concatenate([np.ones((n, 1)), shared, metric.rows(a), metric.rows(b)], axis=1)


def _child_seed(seed: int, partition: int, batch: int) -> int:
    return int(np.random.SeedSequence([int(seed), partition, batch]).generate_state(1)[0])


def _partials(frame, columns: list[str], fn, shape: tuple[int, ...]) -> np.ndarray:
    """Sum over partitions (and Arrow batches) of fn(arrays, partition, batch) -> `shape`."""
    import pyarrow as pa

    def run(batches):
        from pyspark import TaskContext

        part = TaskContext.get().partitionId()
        acc = None
        for i, batch in enumerate(batches):
            if batch.num_rows == 0:
                continue
            out = np.asarray(fn(batch, part, i), dtype=np.float64)
            acc = out if acc is None else acc + out
        if acc is not None:
            yield pa.RecordBatch.from_pydict({"blob": [acc.tobytes()]},
                                             schema=pa.schema([("blob", pa.binary())]))

    rows = frame.select(*columns).mapInArrow(run, "blob binary").collect()
    total = np.zeros(shape)
    for r in rows:
        total += np.frombuffer(bytes(r["blob"]), dtype=np.float64).reshape(shape)
    return total


def _gather(frame, columns: list[str], fn) -> np.ndarray:
    """Concatenation of fn(arrays) over every batch (order does not matter to the caller)."""
    import pyarrow as pa

    def run(batches):
        for batch in batches:
            if batch.num_rows:
                out = np.ascontiguousarray(fn(batch), dtype=np.float64)
                yield pa.RecordBatch.from_pydict({"blob": [out.tobytes()]},
                                                 schema=pa.schema([("blob", pa.binary())]))

    rows = frame.select(*columns).mapInArrow(run, "blob binary").collect()
    parts = [np.frombuffer(bytes(r["blob"]), dtype=np.float64) for r in rows]
    return np.concatenate(parts) if parts else np.empty(0)


# ----------------------------------------------------------------------------- mean metrics


def mean_sums(frame, metric: Metric, columns: list[str], k: int, task: str, centre: float,
              resamples: int, seed: int) -> np.ndarray:
    """(1 + resamples, 1 + s + 2k): plain column sums, then the Poisson-weighted sums."""
    name = metric.name
    width = 1 + (2 if metric.shared is not None else 0) + 2
    champion_proba = "pa" in columns

    def fn(batch, part, index):
        m = get_metric(name)
        arrays = _batch_arrays(batch, k)
        if "pb" in arrays and not champion_proba:
            arrays["pa"] = arrays["pb"]
        a, b = _prepared(arrays, k, task)
        values = _mean_values(m, a, b, centre)
        plain = values.sum(axis=0)[None, :]
        if not resamples:
            return plain
        sums = stats.poisson_sums(values, resamples, _child_seed(seed, part, index),
                                  workers=1)
        return np.concatenate([plain, sums], axis=0)

    with spark_errors(f"{metric.name}: Spark aggregate failed"):
        return _partials(frame, columns, fn, (1 + resamples, width))


# ----------------------------------------------------------------------------- ROC AUC


def auc_histograms(frame, k: int, classes: list[int], has_proba: dict[str, bool]) -> np.ndarray:
    """(2 models, C classes, positive / negative, AUC_BINS) row counts."""
    models = [m for m in ("pa", "pb")
              if has_proba.get("champion" if m == "pa" else "candidate")]
    shape = (2, len(classes), 2, AUC_BINS)

    def fn(batch, part, index):
        arrays = _batch_arrays(batch, k)
        out = np.zeros(shape)
        y = arrays["y"]
        for mi, name in enumerate(("pa", "pb")):
            if name not in arrays:
                continue
            for ci, c in enumerate(classes):
                bins = _bins(arrays[name][:, c])
                pos = y == c
                out[mi, ci, 0] = np.bincount(bins[pos], minlength=AUC_BINS)
                out[mi, ci, 1] = np.bincount(bins[~pos], minlength=AUC_BINS)
        return out

    with spark_errors("roc_auc: Spark aggregate failed"):
        return _partials(frame, ["y"] + models, fn, shape)


def auc_parts(hist: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per class: (numerator, positives, negatives) of the binned Mann-Whitney AUC, from one
    model's (C classes, positive / negative, AUC_BINS) histograms."""
    pos, neg = hist[:, 0], hist[:, 1]
    below = np.cumsum(neg, axis=1) - 0.5 * neg
    num = (pos * below).sum(axis=1)
    return num, pos.sum(axis=1), neg.sum(axis=1)


def bin_tie_share(hist: np.ndarray) -> float:
    """Upper bound of |binned AUC - exact AUC| per class: half the share of positive x
    negative pairs that share a bin (pairs with equal scores among them are exact)."""
    pos, neg = hist[:, 0], hist[:, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        share = (pos * neg).sum(axis=1) / (pos.sum(axis=1) * neg.sum(axis=1))
    return float(0.5 * np.nanmax(share))


def auc_deltas(frame, hist: np.ndarray, k: int, classes: list[int], champion_proba: bool,
               resamples: int, seed: int) -> np.ndarray:
    """Placement-value projection of the weighted Mann-Whitney statistic
    (see `stats._auc_deltas_projected`), placements from the histograms."""
    c_n = len(classes)
    pos, neg = hist[:, :, 0], hist[:, :, 1]
    below = np.cumsum(neg, axis=2) - 0.5 * neg           # A for a positive in that bin
    above = pos.sum(axis=2, keepdims=True) - np.cumsum(pos, axis=2) + 0.5 * pos   # B
    width = 1 + c_n + 4 * c_n

    def fn(batch, part, index):
        arrays = _batch_arrays(batch, k)
        if not champion_proba:
            arrays["pa"] = arrays["pb"]
        y = arrays["y"]
        cols = [np.ones(len(y))] + [(y == c).astype(np.float64) for c in classes]
        for mi, name in enumerate(("pa", "pb")):
            for ci, c in enumerate(classes):
                bins = _bins(arrays[name][:, c])
                is_pos = y == c
                cols.append(np.where(is_pos, below[mi, ci][bins], 0.0))
                cols.append(np.where(is_pos, 0.0, above[mi, ci][bins]))
        return stats.poisson_sums(cols, resamples, _child_seed(seed, part, index),
                                  workers=1)

    columns = ["y", "pb"] + (["pa"] if champion_proba else [])
    with spark_errors("roc_auc: Spark aggregate failed"):
        sums = _partials(frame, columns, fn, (resamples, width))
    total = sums[:, 0]
    values = []
    for mi in range(2):
        num, n_ps, n_ns = auc_parts(hist[mi])
        per_class = []
        for j in range(c_n):
            n_p, n_n = float(n_ps[j]), float(n_ns[j])
            w_p = sums[:, 1 + j]
            w_n = total - w_p
            col = 1 + c_n + 2 * (mi * c_n + j)
            sa = sums[:, col] - num[j]
            sb = sums[:, col + 1] - num[j]
            d_p, d_n = w_p - n_p, w_n - n_n
            with np.errstate(divide="ignore", invalid="ignore"):
                theta = num[j] / (n_p * n_n)
                second = sa * d_n / n_n + d_p * sb / n_p - theta * d_p * d_n
                auc = (num[j] + sa + sb + second) / (w_p * w_n)
            per_class.append(np.where((w_p > 0) & (w_n > 0), auc, np.nan))
        values.append(np.mean(per_class, axis=0))
    return values[1] - values[0]


def _bins(score: np.ndarray) -> np.ndarray:
    return np.clip((score * AUC_BINS).astype(np.int64), 0, AUC_BINS - 1)


def binned_curves(pos: np.ndarray, neg: np.ndarray) -> tuple[Curve, Curve]:
    """ROC and precision-recall curves with one threshold per occupied bin (highest first)."""
    used = np.flatnonzero((pos + neg) > 0)[::-1]
    tp = np.cumsum(pos[used])
    fp = np.cumsum(neg[used])
    n_p, n_n = pos.sum(), neg.sum()
    tpr = np.concatenate([[0.0], tp / n_p])
    fpr = np.concatenate([[0.0], fp / n_n])
    auc = float(np.trapezoid(tpr, fpr)) if hasattr(np, "trapezoid") else float(
        np.trapz(tpr, fpr))
    precision = tp / (tp + fp)
    recall = tp / n_p
    ap = float(np.sum(np.diff(np.concatenate([[0.0], recall])) * precision))
    # scikit-learn's order: recall falling to 0, where precision is 1
    rec = np.concatenate([recall[::-1], [0.0]])
    prec = np.concatenate([precision[::-1], [1.0]])
    return _thin(fpr, tpr, auc), _thin(rec, prec, ap)


# ----------------------------------------------------------------------------- Wilcoxon


def loss_diff_fn(metric: Metric, k: int, task: str, champion_proba: bool):
    """An executor function: one Arrow batch -> its rows' champion loss - candidate loss."""
    name = metric.name

    def fn(batch):
        m = get_metric(name)
        arrays = _batch_arrays(batch, k)
        if "pb" in arrays and not champion_proba:
            arrays["pa"] = arrays["pb"]
        a, b = _prepared(arrays, k, task)
        return np.asarray(m.rows(a))[:, 0] - np.asarray(m.rows(b))[:, 0]

    return fn


def wilcoxon(frame, metric: Metric, columns: list[str], fn, rows: int) -> float:
    """Two-sided Wilcoxon signed-rank p-value of the loss differences `fn` gives: scipy's on
    the collected differences up to `WILCOXON_COLLECT_MAX_ROWS` rows, exact ranks in Spark
    above."""
    if rows <= WILCOXON_COLLECT_MAX_ROWS:
        with spark_errors(f"{metric.name}: Spark aggregate failed"):
            d = _gather(frame, columns, fn)
        return stats.wilcoxon_losses(d, np.zeros_like(d))
    return _wilcoxon_distributed(frame, columns, fn)


def _wilcoxon_distributed(frame, cols: list[str], fn) -> float:
    """Two-sided Wilcoxon signed-rank p-value (zeros dropped, tie-corrected normal
    approximation, no continuity correction: scipy's method above 50 rows) with exact
    average ranks computed in Spark."""
    import pyarrow as pa
    from pyspark.sql import functions as F
    from scipy.stats import norm

    def diffs(batches):
        for batch in batches:
            if batch.num_rows:
                yield pa.RecordBatch.from_pydict({"d": fn(batch)})

    def rank_sums(batches):
        from pyspark import TaskContext

        part = TaskContext.get().partitionId()
        total = positives = local = ties = 0.0
        for batch in batches:
            t = batch.column(1).to_numpy(zero_copy_only=False).astype(np.float64)
            p = batch.column(2).to_numpy(zero_copy_only=False).astype(np.float64)
            before = total + np.cumsum(t) - t
            local += float((p * (before + (t + 1.0) / 2.0)).sum())
            total += float(t.sum())
            positives += float(p.sum())
            ties += float((t ** 3 - t).sum())
        yield pa.RecordBatch.from_pydict({"part": [part], "t": [total], "p": [positives],
                                          "local": [local], "ties": [ties]})

    with spark_errors("wilcoxon: Spark aggregate failed"):
        d = frame.select(*cols).mapInArrow(diffs, "d double").where(F.col("d") != 0)
        groups = (d.groupBy(F.abs("d").alias("v"))
                  .agg(F.count(F.lit(1)).alias("t"),
                       F.sum((F.col("d") > 0).cast("long")).alias("p"))
                  .orderBy("v").select("v", "t", "p"))
        parts = groups.mapInArrow(rank_sums, "part long, t double, p double, "
                                             "local double, ties double").collect()
    parts = sorted(parts, key=lambda r: r["part"])
    n = offset = r_plus = ties = 0.0
    for r in parts:
        r_plus += r["local"] + offset * r["p"]
        offset += r["t"]
        ties += r["ties"]
    n = offset
    if n == 0:
        return 1.0
    mean = n * (n + 1.0) * 0.25
    se = np.sqrt((n * (n + 1.0) * (2.0 * n + 1.0) - ties / 2.0) / 24.0)
    if se == 0:
        return 1.0
    z = (r_plus - mean) / se
    return float(min(1.0, 2.0 * norm.sf(abs(z))))
