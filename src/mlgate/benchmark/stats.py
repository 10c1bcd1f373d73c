"""Paired statistics for champion against candidate: bootstrap intervals, McNemar, Wilcoxon.

`paired_bootstrap` resamples rows *pairedly* (both models see the same resample) and returns the
percentile interval of metric(candidate) - metric(champion). It picks the cheapest exact route
for the metric:

- ``table``: a confusion-matrix metric depends only on the joint count table of (label, champion
  prediction, candidate prediction). A multinomial draw over its K³ cells is a full resample of
  the rows, so the cost does not depend on the number of rows.
- ``rows``: every other metric is resampled with Poisson(1) row weights (the Poisson bootstrap).
  Mean metrics only need weighted column sums, computed chunk by chunk as a small matrix
  product; ROC AUC is a weighted Mann-Whitney statistic over rows sorted once per model, exact
  up to `_AUC_EXACT_MAX_ROWS` rows and above that rebuilt from weighted sums of per-row
  placement values (the U statistic's Hoeffding projection plus its factorable second-order
  part; the dropped remainder is O(1/sqrt(n)) of the bootstrap spread), summed per class over
  rows sorted by class so that one packed column serves every class (`_AucPacking`). A
  confusion metric can take this route too (weighted joint counts), which the tests use to
  check the table route against it.

Poisson(1) weights come from 16-bit uniform draws through an inverse-CDF table (as bytes, cast to
float32 for the products over float32 centred columns): every weight
probability is exact to within 2⁻¹⁶ and weights above 8 (probability 1e-6) are folded into 8.
Resamples are split into blocks, each with its own child of `SeedSequence(seed)`, and run on a
thread pool (numpy releases the GIL), so the result depends on the seed, not on the threads.
Resamples where the metric is undefined (a class missing for ROC AUC) are left out; if more than
half are, the call fails.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from math import exp, factorial
from typing import NamedTuple

import numpy as np

from mlgate.benchmark.metrics import (
    Metric,
    MetricError,
    Prepared,
    auc_from_sorted,
    auc_setups,
    get_metric,
    prepare_pair,
)

METHODS = ("auto", "table", "rows")
_RESAMPLE_BLOCK = 25       # resamples per task (and per child seed)
_ROW_CHUNK = 4096          # rows per weight matrix chunk in the sums route (fits L2)
_AUC_BLOCK = 5             # resamples per task in the AUC route (memory: 5 x n weights)
_MAX_WEIGHT = 8
_AUC_EXACT_MAX_ROWS = 20_000  # above: AUC resamples from placement-value sums


class Interval(NamedTuple):
    """metric(candidate) - metric(champion) on all rows, and its bootstrap percentile interval."""

    delta: float
    low: float
    high: float


def _poisson_table(dtype) -> np.ndarray:
    """Maps a uniform 16-bit integer to a Poisson(1) count (inverse CDF, capped)."""
    cdf = np.cumsum([exp(-1.0) / factorial(k) for k in range(_MAX_WEIGHT)])
    thresholds = np.round(cdf * 65536).astype(np.int64)
    return np.searchsorted(thresholds, np.arange(65536), side="right").astype(dtype)


_TABLES: dict[str, np.ndarray] = {}


def _table(dtype) -> np.ndarray:
    key = np.dtype(dtype).name
    if key not in _TABLES:
        _TABLES[key] = _poisson_table(dtype)
    return _TABLES[key]


def _draw(gen: np.random.Generator, table: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Fill `out` (any shape) with Poisson(1) weights."""
    size = out.size
    raw = gen.bit_generator.random_raw((size + 3) // 4).view(np.uint16)[:size]
    np.take(table, raw, out=out.reshape(-1))
    return out


def _workers(requested: int | None, tasks: int) -> int:
    if requested is None:
        try:
            requested = len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - not Linux
            requested = os.cpu_count() or 1
    return max(1, min(requested, tasks))


def _blocks(resamples: int, size: int, seed: int):
    starts = list(range(0, resamples, size))
    seqs = np.random.SeedSequence(seed).spawn(len(starts))
    return [(s, min(resamples, s + size), seq) for s, seq in zip(starts, seqs)]


def _run(fn, tasks, workers):
    if workers == 1 or len(tasks) == 1:
        return [fn(t) for t in tasks]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, tasks))


def poisson_sums(values: np.ndarray, resamples: int, seed: int = 0, *,
                 workers: int | None = None, segments=None, totals: bool = False) -> np.ndarray:
    """(resamples, m) Poisson(1)-weighted column sums of `values` (n, m).

    `segments`: the row counts of consecutive row segments (summing to n). The sums are then
    kept apart per segment, (resamples, len(segments), m): a column that is non-zero on one
    segment only and a column non-zero on another can share one column of `values`. Row chunks
    never straddle a segment boundary. `totals`: one more, last, column holding the weight
    totals sum(w) (per segment), free of charge.

    Weights are drawn as bytes through the inverse-CDF table and cast to float32; the columns
    are centred (float32, per segment) and the sums rebuilt in float64 as
    sum(w * (v - mean)) + mean * sum(w), so float32 rounding stays far below the bootstrap
    spread. The matrix products run with one BLAS thread per pool thread.
    """
    if isinstance(values, (list, tuple)):      # 1-D columns: no (n, m) float64 copy
        cols = [np.asarray(c, dtype=np.float64) for c in values]
        n, m = len(cols[0]), len(cols)
    else:
        values = np.asarray(values, dtype=np.float64)
        n, m = values.shape
        cols = [values[:, j] for j in range(m)]
    if segments is None:
        bounds = [(0, n)]
    else:
        counts = np.asarray(segments, dtype=np.int64).reshape(-1)
        if len(counts) == 0 or (counts < 0).any() or int(counts.sum()) != n:
            raise ValueError(f"segments must be row counts summing to {n}, got {segments!r}")
        ends = np.cumsum(counts)
        bounds = [(int(e - c), int(e)) for e, c in zip(ends, counts)]
    mean = np.zeros((len(bounds), m))
    centred = np.empty((n, m + 1), dtype=np.float32)
    for s, (lo, hi) in enumerate(bounds):
        for j, c in enumerate(cols):
            if hi > lo:
                mean[s, j] = c[lo:hi].mean()
            np.subtract(c[lo:hi], mean[s, j], out=centred[lo:hi, j], casting="same_kind")
    centred[:, m] = 1.0
    table = _table(np.uint8)
    chunk = min(max(hi - lo for lo, hi in bounds), _ROW_CHUNK) or 1
    chunks = [(s, lo, min(hi, lo + chunk)) for s, (start, hi) in enumerate(bounds)
              for lo in range(start, hi, chunk)]

    def work(task):
        lo_b, hi_b, seq = task
        gen = np.random.Generator(np.random.PCG64(seq))
        b = hi_b - lo_b
        acc = np.zeros((b, len(bounds), m + 1))
        bytes_ = np.empty(b * chunk, dtype=np.uint8)
        buf = np.empty(b * chunk, dtype=np.float32)
        for s, lo, hi in chunks:
            size = b * (hi - lo)
            _draw(gen, table, bytes_[:size])
            w = buf[:size]
            np.copyto(w, bytes_[:size])
            acc[:, s] += w.reshape(b, hi - lo) @ centred[lo:hi]
        return acc

    tasks = _blocks(resamples, _RESAMPLE_BLOCK, seed)
    try:  # the matrix products are small: BLAS threads only fight the pool's threads
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        parts = _run(work, tasks, _workers(workers, len(tasks)))
    else:
        with threadpool_limits(limits=1, user_api="blas"):
            parts = _run(work, tasks, _workers(workers, len(tasks)))
    sums = np.concatenate(parts, axis=0)
    out = sums[..., :m] + sums[..., m:] * mean
    if totals:
        out = np.concatenate([out, sums[..., m:]], axis=-1)
    return out if segments is not None else out[:, 0]


def _auc_deltas(a: Prepared, b: Prepared, resamples: int, seed: int,
                workers: int | None) -> tuple[float | None, np.ndarray]:
    """(point delta or None, resample deltas)."""
    if len(a.y) > _AUC_EXACT_MAX_ROWS:
        return _auc_deltas_projected(a, b, resamples, seed, workers)
    return None, _auc_deltas_exact(a, b, resamples, seed, workers)


def _auc_deltas_exact(a: Prepared, b: Prepared, resamples: int, seed: int,
                      workers: int | None) -> np.ndarray:
    n = len(a.y)
    dtype = np.float32 if n < (1 << 23) else np.float64  # integer sums stay exact
    table = _table(dtype)
    setups_a = auc_setups(a.y, a.proba)
    setups_b = auc_setups(b.y, b.proba)

    def work(task):
        lo_b, hi_b, seq = task
        gen = np.random.Generator(np.random.PCG64(seq))
        w = _draw(gen, table, np.empty((hi_b - lo_b, n), dtype=dtype))
        va = np.mean([auc_from_sorted(s, w[:, s.order]) for s in setups_a], axis=0)
        vb = np.mean([auc_from_sorted(s, w[:, s.order]) for s in setups_b], axis=0)
        return vb - va

    tasks = _blocks(resamples, _AUC_BLOCK, seed)
    return np.concatenate(_run(work, tasks, _workers(workers, len(tasks))))


def _auc_placements(positive: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: A = negatives scoring below a positive (+ half the ties), 0 for negatives;
    B = positives scoring above a negative (+ half the ties), 0 for positives."""
    order = np.argsort(score)                  # ties are grouped below: stability not needed
    s = score[order]
    pos = positive[order].astype(np.float64)
    new = np.empty(len(s), dtype=bool)
    new[:1] = True
    np.not_equal(s[1:], s[:-1], out=new[1:])
    if new.all():
        gp, sizes = pos, None
    else:
        starts = np.flatnonzero(new)
        gp = np.add.reduceat(pos, starts)
        sizes = np.diff(np.append(starts, len(pos)))
    gn = (sizes if sizes is not None else 1.0) - gp
    below = np.cumsum(gn) - 0.5 * gn                       # per group of tied scores
    above = gp.sum() - np.cumsum(gp) + 0.5 * gp
    if sizes is not None:
        below, above = np.repeat(below, sizes), np.repeat(above, sizes)
    out_a = np.empty(len(pos))
    out_b = np.empty(len(pos))
    out_a[order] = below * pos
    out_b[order] = above * (1.0 - pos)
    return out_a, out_b


class _AucPacking(NamedTuple):
    """Placement columns of both models, rows sorted by class (one segment per class).

    The Poisson bootstrap does not care about row order, so rows are sorted by class once.
    Segment s then holds, per model, A_s (the placements of class s's positives) and B_c for
    every other scored class c (placements of class c's negatives): `layout[s]` names them as
    ("A" or "B", class). A column of A_c or of B_c is zero outside those segments, so one
    packed column per slot serves every segment, and per-segment weight totals replace the
    class-indicator columns: k columns per model (one for binary) instead of 2k.
    """

    order: np.ndarray      # row order: class 0's rows, then class 1's, ...
    counts: np.ndarray     # rows per class: the segment lengths
    classes: list          # the scored classes: [1] for binary, all for one-vs-rest
    layout: list           # per segment: the (kind, class) held by each packed column
    columns: list          # `width` packed columns of the champion, then the candidate's


def _auc_packing(a: Prepared, b: Prepared, workers: int | None = None) -> _AucPacking:
    k = a.proba.shape[1]
    classes = [1] if k == 2 else list(range(k))
    layout = [([("A", s)] if s in classes else []) + [("B", c) for c in classes if c != s]
              for s in range(k)]
    width = max(len(slots) for slots in layout)
    order = np.concatenate([np.flatnonzero(a.y == c) for c in range(k)])
    counts = np.bincount(a.y, minlength=k)[:k]
    ends = np.cumsum(counts)
    starts = ends - counts
    columns = [np.zeros(len(order)) for _ in range(2 * width)]

    def work(task):
        m_idx, c = task
        score = (a if m_idx == 0 else b).proba[:, c][order]
        positive = np.zeros(len(order), dtype=bool)
        positive[starts[c]:ends[c]] = True
        placements = dict(zip("AB", _auc_placements(positive, score)))
        for s, slots in enumerate(layout):    # disjoint slices: safe across threads
            for j, (kind, cls) in enumerate(slots):
                if cls == c:
                    col = columns[m_idx * width + j]
                    col[starts[s]:ends[s]] = placements[kind][starts[s]:ends[s]]

    tasks = [(m_idx, c) for m_idx in range(2) for c in classes]
    _run(work, tasks, _workers(workers, len(tasks)))
    return _AucPacking(order, counts, classes, layout, columns)


def _auc_deltas_projected(a: Prepared, b: Prepared, resamples: int, seed: int,
                          workers: int | None) -> tuple[float, np.ndarray]:
    """ROC AUC deltas from Poisson-weighted sums of per-row placement values (large data).

    With w = 1 + d, the weighted Mann-Whitney numerator is exactly
    N + sum_P d_i A_i + sum_N d_j B_j + sum_{P x N} d_i d_j H_ij. The last (second-order) term
    is split into the part that factors through the same sums (its Hoeffding projection,
    (sum_P d_i A_i)(sum_N d_j)/n_N + (sum_P d_i)(sum_N d_j B_j)/n_P - AUC (sum_P d_i)(sum_N d_j)),
    which is kept, and a fully degenerate remainder, which is dropped: its spread relative to
    the bootstrap spread of the AUC is of order 1/sqrt(min(n_P, n_N)) (below 0.5% here), so the
    interval is the row bootstrap's to well within its Monte Carlo error. Positive and negative
    weight totals are exact, so each resample's denominator is exact. The sums are taken per
    class segment of the class-sorted rows (`_AucPacking`).
    """
    pk = _auc_packing(a, b, workers)
    ends = np.cumsum(pk.counts)
    plain = np.array([[float(col[e - c:e].sum()) for col in pk.columns] + [float(c)]
                      for e, c in zip(ends, pk.counts)])
    point = _auc_from_segment_sums(pk, plain, plain[None])
    sums = poisson_sums(pk.columns, resamples, seed, workers=workers, segments=pk.counts,
                        totals=True)
    return float(point[0]), _auc_from_segment_sums(pk, plain, sums)


def _auc_from_segment_sums(pk: _AucPacking, plain: np.ndarray, sums: np.ndarray) -> np.ndarray:
    """Resample deltas from (resamples, segments, 2 * width + 1) weighted sums of the packed
    columns, the last column the weight totals; `plain` (segments, 2 * width + 1): the same
    with unit weights."""
    width = len(pk.columns) // 2
    n = float(pk.counts.sum())
    seg_w = sums[:, :, -1]
    total = seg_w.sum(axis=1)
    values = []
    for m_idx in range(2):
        per_class = []
        for c in pk.classes:
            n_p = float(pk.counts[c])
            n_n = n - n_p
            w_p = seg_w[:, c]
            w_n = total - w_p
            col_a = m_idx * width + pk.layout[c].index(("A", c))
            num = float(plain[c, col_a])             # sum of A_c = sum of B_c = U
            sa = sums[:, c, col_a] - num
            sb = sum(sums[:, s, m_idx * width + slots.index(("B", c))]
                     for s, slots in enumerate(pk.layout) if s != c) - num
            d_p, d_n = w_p - n_p, w_n - n_n
            with np.errstate(divide="ignore", invalid="ignore"):
                theta = num / (n_p * n_n)
                second = sa * d_n / n_n + d_p * sb / n_p - theta * d_p * d_n
                auc = (num + sa + sb + second) / (w_p * w_n)
            per_class.append(np.where((w_p > 0) & (w_n > 0), auc, np.nan))
        values.append(np.mean(per_class, axis=0))
    return values[1] - values[0]


def _joint_cells(a: Prepared, b: Prepared) -> tuple[np.ndarray, int]:
    k = len(a.labels)
    return (a.y * k + a.pred) * k + b.pred, k


def _confusions(tables: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Champion and candidate confusion matrices from (B, K³) joint count tables."""
    t = tables.reshape(-1, k, k, k)
    return t.sum(axis=3), t.sum(axis=2)


def _table_deltas(metric: Metric, a: Prepared, b: Prepared, resamples: int,
                  seed: int) -> np.ndarray:
    cells, k = _joint_cells(a, b)
    counts = np.bincount(cells, minlength=k ** 3)
    n = int(counts.sum())
    rng = np.random.default_rng(seed)
    tables = rng.multinomial(n, counts / n, size=resamples)
    ca, cb = _confusions(tables, k)
    return metric.confusion(cb) - metric.confusion(ca)


def _rows_confusion_deltas(metric: Metric, a: Prepared, b: Prepared, resamples: int,
                           seed: int, workers: int | None) -> np.ndarray:
    cells, k = _joint_cells(a, b)
    onehot = np.zeros((len(cells), k ** 3))
    onehot[np.arange(len(cells)), cells] = 1.0
    ca, cb = _confusions(poisson_sums(onehot, resamples, seed, workers=workers), k)
    return metric.confusion(cb) - metric.confusion(ca)


def _mean_deltas(metric: Metric, a: Prepared, b: Prepared, resamples: int, seed: int,
                 workers: int | None) -> np.ndarray:
    shared = metric.shared(a) if metric.shared is not None else np.empty((len(a.y), 0))
    own_a, own_b = metric.rows(a), metric.rows(b)
    values = np.concatenate([np.ones((len(a.y), 1)), shared, own_a, own_b], axis=1)
    sums = poisson_sums(values, resamples, seed, workers=workers)
    total = sums[:, :1]
    with np.errstate(divide="ignore", invalid="ignore"):
        means = sums[:, 1:] / total
    s, k = shared.shape[1], own_a.shape[1]
    ma = means[:, : s + k]
    mb = np.concatenate([means[:, :s], means[:, s + k:]], axis=1)
    out = metric.reduce(mb) - metric.reduce(ma)
    return np.where(total[:, 0] > 0, out, np.nan)


def paired_bootstrap(metric: Metric | str, y, champion_pred, candidate_pred,
                     champion_proba=None, candidate_proba=None, *, resamples: int = 1000,
                     confidence: float = 0.95, seed: int = 0, labels=None,
                     method: str = "auto", workers: int | None = None) -> Interval:
    """Percentile bootstrap interval of metric(candidate) - metric(champion), paired by row.

    `method`: "auto" (the table route for confusion metrics, rows otherwise), "table" or
    "rows". `labels`: the class labels (default: sorted union of truth and predictions);
    probability columns follow their order. Same seed and inputs, same interval.
    """
    if isinstance(metric, str):
        metric = get_metric(metric)
    if method not in METHODS:
        raise MetricError(f"unknown bootstrap method {method!r}; expected one of "
                          f"{', '.join(METHODS)}")
    if isinstance(resamples, bool) or not isinstance(resamples, (int, np.integer)) \
            or resamples < 1:
        raise MetricError(f"resamples must be a positive integer, got {resamples!r}")
    if not 0.0 < float(confidence) < 1.0:
        raise MetricError(f"confidence must be between 0 and 1 exclusive, got {confidence!r}")
    a, b = prepare_pair(metric, y, champion_pred, candidate_pred, champion_proba,
                        candidate_proba, labels=labels)
    projected_auc = metric.rank_based and method != "table" \
        and len(a.y) > _AUC_EXACT_MAX_ROWS
    delta = None if projected_auc else metric.value(b) - metric.value(a)

    if metric.from_confusion and method in ("auto", "table"):
        deltas = _table_deltas(metric, a, b, int(resamples), seed)
    elif method == "table":
        raise MetricError(f"metric {metric.name!r} is not a function of the confusion "
                          "matrix; the table method does not apply")
    elif metric.from_confusion:
        deltas = _rows_confusion_deltas(metric, a, b, int(resamples), seed, workers)
    elif metric.rank_based:
        point, deltas = _auc_deltas(a, b, int(resamples), seed, workers)
        if delta is None:
            if not np.isfinite(point):   # the same message as the exact value's
                metric.value(a)
            delta = point
    else:
        deltas = _mean_deltas(metric, a, b, int(resamples), seed, workers)

    return percentile_interval(metric, float(delta), deltas, confidence)


def percentile_interval(metric: Metric, delta: float, deltas: np.ndarray,
                        confidence: float) -> Interval:
    """The percentile interval of resampled deltas; undefined resamples (NaN) are left out,
    and more than half of them undefined is an error rather than a skewed interval."""
    valid = deltas[np.isfinite(deltas)]
    if len(valid) * 2 < len(deltas):
        raise MetricError(f"{metric.name} is undefined in {len(deltas) - len(valid)} of "
                          f"{len(deltas)} resamples (too few rows of some class)")
    tail = (1.0 - float(confidence)) / 2.0 * 100.0
    low, high = np.percentile(valid, [tail, 100.0 - tail])
    return Interval(float(delta), float(low), float(high))


def mcnemar_exact(y, champion_pred, candidate_pred) -> float:
    """Two-sided exact McNemar p-value: a binomial test on the rows only one model gets right."""
    from scipy.stats import binomtest

    y = np.asarray(y).reshape(-1)
    a = np.asarray(champion_pred).reshape(-1)
    b = np.asarray(candidate_pred).reshape(-1)
    if not len(y) == len(a) == len(b):
        raise MetricError(f"mcnemar: row counts differ (truth {len(y)}, champion {len(a)}, "
                          f"candidate {len(b)})")
    if len(y) == 0:
        raise MetricError("mcnemar: no rows")
    ok_a, ok_b = a == y, b == y
    only_a = int(np.count_nonzero(ok_a & ~ok_b))
    only_b = int(np.count_nonzero(ok_b & ~ok_a))
    if only_a + only_b == 0:
        return 1.0
    return float(binomtest(only_a, only_a + only_b, 0.5).pvalue)


def wilcoxon_losses(champion_loss, candidate_loss, *, zero_method: str = "wilcox",
                    alternative: str = "two-sided") -> float:
    """Wilcoxon signed-rank p-value on paired per-row losses (1.0 when no pair differs)."""
    from scipy.stats import wilcoxon

    a = np.asarray(champion_loss, dtype=np.float64).reshape(-1)
    b = np.asarray(candidate_loss, dtype=np.float64).reshape(-1)
    if len(a) != len(b):
        raise MetricError(f"wilcoxon: row counts differ (champion {len(a)}, candidate "
                          f"{len(b)})")
    if len(a) == 0:
        raise MetricError("wilcoxon: no rows")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise MetricError("wilcoxon: the losses hold NaN or infinite values")
    if zero_method not in ("wilcox", "pratt", "zsplit"):
        raise MetricError(f"wilcoxon: unknown zero_method {zero_method!r}")
    if not np.any(a != b):
        return 1.0
    p = float(wilcoxon(a, b, zero_method=zero_method, alternative=alternative).pvalue)
    return 1.0 if np.isnan(p) else p
