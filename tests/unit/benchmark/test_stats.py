"""benchmark.metrics against scikit-learn, and benchmark.stats: bootstrap, McNemar, Wilcoxon."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn import metrics as skm

from mlgate.benchmark.metrics import METRICS, MetricError, get_metric, metrics_for
from mlgate.benchmark.stats import mcnemar_exact, paired_bootstrap, wilcoxon_losses
from mlgate.errors import BadInput


def clf_data(k: int, n: int = 2000, seed: int = 0, skill: float = 1.0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), y] += skill
    proba = np.exp(logits)
    proba /= proba.sum(axis=1, keepdims=True)
    return y, proba.argmax(axis=1), proba


def reg_data(n: int = 2000, seed: int = 0, noise: float = 1.0):
    rng = np.random.default_rng(seed)
    y = rng.normal(10.0, 3.0, n)
    return y, y + rng.normal(0.0, noise, n)


def sk_reference(name: str, y, pred, proba):
    kind, _, avg = name.partition("_")
    if name == "accuracy":
        return skm.accuracy_score(y, pred)
    if name == "balanced_accuracy":
        return skm.balanced_accuracy_score(y, pred)
    if kind in ("precision", "recall", "f1"):
        fn = {"precision": skm.precision_score, "recall": skm.recall_score,
              "f1": skm.f1_score}[kind]
        return fn(y, pred, average=avg or "binary", zero_division=0)
    if name == "roc_auc":
        return skm.roc_auc_score(y, proba[:, 1] if proba.shape[1] == 2 else proba,
                                 multi_class="ovr")
    if name == "log_loss":
        return skm.log_loss(y, proba)
    if name == "brier":
        return skm.brier_score_loss(y, proba[:, 1])
    return {"rmse": lambda: skm.root_mean_squared_error(y, pred),
            "mae": lambda: skm.mean_absolute_error(y, pred),
            "r2": lambda: skm.r2_score(y, pred),
            "mape": lambda: skm.mean_absolute_percentage_error(y, pred)}[name]()


@pytest.mark.parametrize(
    "name, k",
    [(m.name, k) for m in metrics_for("classification") for k in (2, 3, 5)
     if k == 2 or not m.binary_only],
)
def test_classification_metrics_match_sklearn(name, k):
    metric = METRICS[name]
    y, pred, proba = clf_data(k, seed=k)
    # a class predicted but never true, to exercise zero-division and macro handling
    pred = pred.copy()
    pred[:3] = k - 1
    ours = metric(y, pred, proba)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert ours == pytest.approx(sk_reference(name, y, pred, proba), abs=1e-12)


def test_string_labels_and_one_dimensional_probabilities():
    y, pred, proba = clf_data(2, seed=3)
    names = np.array(["ham", "spam"])
    assert get_metric("f1")(names[y], names[pred]) == pytest.approx(skm.f1_score(y, pred))
    assert get_metric("roc_auc")(names[y], None, proba[:, 1]) == pytest.approx(
        skm.roc_auc_score(y, proba[:, 1]))


def test_auc_with_ties_matches_sklearn():
    y, _, proba = clf_data(2, seed=4)
    coarse = np.round(proba, 1)
    assert get_metric("roc_auc")(y, None, coarse) == pytest.approx(
        skm.roc_auc_score(y, coarse[:, 1]), abs=1e-12)


@pytest.mark.parametrize("name", ["rmse", "mae", "r2", "mape"])
def test_regression_metrics_match_sklearn(name):
    y, pred = reg_data()
    assert METRICS[name](y, pred) == pytest.approx(sk_reference(name, y, pred, None), rel=1e-10)


def test_registry_knows_direction_task_and_shape():
    assert get_metric("F1-Macro").name == "f1_macro"
    assert get_metric("accuracy").greater_is_better and not get_metric("rmse").greater_is_better
    assert get_metric("log_loss").needs_proba and not get_metric("accuracy").needs_proba
    assert get_metric("precision_weighted").from_confusion
    assert not get_metric("roc_auc").from_confusion and not get_metric("mae").from_confusion
    assert {m.task for m in METRICS.values()} == {"classification", "regression"}
    with pytest.raises(MetricError, match="unknown metric"):
        get_metric("nope")


def test_bad_input_is_a_clear_value_error():
    y, pred = reg_data(50)
    y[7] = 0.0
    with pytest.raises(ValueError, match="mape is undefined: the target is zero in 1 row"):
        get_metric("mape")(y, pred)
    with pytest.raises(BadInput, match="needs exactly two classes"):
        get_metric("f1")([0, 1, 2], [0, 1, 2])
    with pytest.raises(ValueError, match="needs the champion's predicted probabilities"):
        get_metric("log_loss")([0, 1], [0, 1])
    with pytest.raises(ValueError, match="has 2 rows, the target has 3"):
        get_metric("mae")([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="single class"):
        get_metric("roc_auc")([1, 1, 1], None, [0.2, 0.5, 0.9], labels=[0, 1])
    with pytest.raises(ValueError, match="mape is undefined"):
        paired_bootstrap("mape", y, pred, pred + 1, resamples=10)


# ----------------------------------------------------------------------------- bootstrap

def pair(k: int, n: int, seed: int = 0):
    y, a, pa = clf_data(k, n, seed, skill=1.0)
    _, b, pb = clf_data(k, n, seed + 100, skill=1.2)
    return y, a, b, pa, pb


@pytest.mark.parametrize("name", ["accuracy", "f1", "roc_auc", "log_loss", "brier"])
def test_bootstrap_reproducible_and_contains_point_delta(name):
    y, a, b, pa, pb = pair(2, 3000)
    first = paired_bootstrap(name, y, a, b, pa, pb, resamples=300, seed=7)
    again = paired_bootstrap(name, y, a, b, pa, pb, resamples=300, seed=7, workers=1)
    other = paired_bootstrap(name, y, a, b, pa, pb, resamples=300, seed=8)
    assert first == again
    assert other != first
    assert first.low <= first.delta <= first.high
    metric = get_metric(name)
    assert first.delta == pytest.approx(metric(y, b, pb) - metric(y, a, pa), abs=1e-12)


@pytest.mark.parametrize("name", ["rmse", "mae", "r2", "mape"])
def test_regression_bootstrap_contains_delta_and_shrinks_with_rows(name):
    widths = []
    for n in (1000, 16000):
        y, a = reg_data(n, seed=1, noise=1.0)
        _, b = reg_data(n, seed=2, noise=0.9)
        b = y + (b - reg_data(n, seed=2, noise=0.9)[0])
        res = paired_bootstrap(name, y, a, b, resamples=300, seed=0)
        assert res.low <= res.delta <= res.high
        widths.append(res.high - res.low)
    assert widths[1] < widths[0] / 2.5  # about 1/sqrt(16) = 1/4


def test_bootstrap_interval_shrinks_with_more_rows_for_table_route():
    small = paired_bootstrap("f1_macro", *pair(3, 1000)[:3], resamples=500)
    large = paired_bootstrap("f1_macro", *pair(3, 16000)[:3], resamples=500)
    assert (large.high - large.low) < (small.high - small.low) / 2.5


@pytest.mark.parametrize("name", ["accuracy", "balanced_accuracy", "f1", "precision_macro",
                                  "recall_weighted"])
def test_table_route_agrees_with_row_resampling(name):
    k = 2 if get_metric(name).binary_only else 3
    y, a, b, _, _ = pair(k, 4000)
    table = paired_bootstrap(name, y, a, b, resamples=2000, seed=1, method="table")
    rows = paired_bootstrap(name, y, a, b, resamples=2000, seed=2, method="rows")
    assert table.delta == rows.delta
    width = table.high - table.low
    assert rows.high - rows.low == pytest.approx(width, rel=0.15)
    assert rows.low == pytest.approx(table.low, abs=0.1 * width)
    assert rows.high == pytest.approx(table.high, abs=0.1 * width)


def test_accuracy_mean_route_matches_table_route():
    y, a, b, _, _ = pair(2, 4000)
    # accuracy by the rows route uses weighted joint counts; check against the table route
    table = paired_bootstrap("accuracy", y, a, b, resamples=2000, seed=3)
    rows = paired_bootstrap("accuracy", y, a, b, resamples=2000, seed=3, method="rows")
    assert rows.high - rows.low == pytest.approx(table.high - table.low, rel=0.15)


def test_bootstrap_width_matches_the_normal_theory_for_accuracy():
    y, a, b, _, _ = pair(2, 20000)
    d = (b == y).astype(float) - (a == y)
    se = d.std() / np.sqrt(len(d))
    res = paired_bootstrap("accuracy", y, a, b, resamples=2000, method="rows")
    assert (res.high - res.low) == pytest.approx(2 * 1.96 * se, rel=0.1)


def test_auc_bootstrap_skips_resamples_missing_a_class():
    rng = np.random.default_rng(0)
    y = np.zeros(40, dtype=int)
    y[:3] = 1
    pa, pb = rng.random(40), rng.random(40)
    res = paired_bootstrap("roc_auc", y, None, None, pa, pb, resamples=400, seed=0)
    assert np.isfinite([res.low, res.high]).all() and res.low <= res.high
    y[1:3] = 0  # one positive: over a third of the resamples have none and are left out
    res = paired_bootstrap("roc_auc", y, None, None, pa, pb, resamples=400, seed=0)
    assert np.isfinite([res.low, res.high]).all() and res.low <= res.high


def test_all_equal_predictions_give_a_zero_interval():
    y, a, _, pa, _ = pair(3, 500)
    assert paired_bootstrap("f1_macro", y, a, a, resamples=200) == (0.0, 0.0, 0.0)
    assert paired_bootstrap("roc_auc", y, a, a, pa, pa, resamples=50) == (0.0, 0.0, 0.0)
    assert paired_bootstrap("log_loss", y, a, a, pa, pa, resamples=50) == (0.0, 0.0, 0.0)
    yr, r = reg_data(300)
    assert paired_bootstrap("rmse", yr, r, r, resamples=50) == (0.0, 0.0, 0.0)
    assert mcnemar_exact(y, a, a) == 1.0
    assert wilcoxon_losses(np.abs(r - yr), np.abs(r - yr)) == 1.0


def test_bootstrap_argument_checks():
    y, a, b, _, _ = pair(2, 100)
    for kwargs, msg in [({"resamples": 0}, "resamples"), ({"confidence": 1.0}, "confidence"),
                        ({"method": "fast"}, "unknown bootstrap method")]:
        with pytest.raises(ValueError, match=msg):
            paired_bootstrap("accuracy", y, a, b, **kwargs)
    with pytest.raises(ValueError, match="table method does not apply"):
        paired_bootstrap("log_loss", y, a, b, np.full(100, .5), np.full(100, .5),
                         method="table")


# ----------------------------------------------------------------------------- tests

def test_mcnemar_matches_scipy_binomial_on_discordant_pairs():
    from scipy.stats import binomtest

    y = np.array([1] * 30 + [0] * 30)
    a = y.copy()
    b = y.copy()
    a[:4] = 1 - a[:4]          # champion wrong on 4 rows
    b[10:22] = 1 - b[10:22]    # candidate wrong on 12 others
    assert mcnemar_exact(y, a, b) == pytest.approx(binomtest(12, 16, 0.5).pvalue)
    assert mcnemar_exact(y, a, b) == pytest.approx(0.076812744140625)
    assert mcnemar_exact(["x", "y"], ["x", "y"], ["y", "y"]) == 1.0


def test_wilcoxon_matches_scipy():
    from scipy.stats import wilcoxon

    rng = np.random.default_rng(0)
    a = rng.exponential(1.0, 200)
    b = a * 0.9 + rng.normal(0, 0.05, 200)
    b[:10] = a[:10]  # zeros in the differences
    for zm in ("wilcox", "pratt", "zsplit"):
        assert wilcoxon_losses(a, b, zero_method=zm) == pytest.approx(
            wilcoxon(a, b, zero_method=zm).pvalue)
    assert wilcoxon_losses([1, 2, 3, 4, 5, 6], [2, 3, 4, 5, 6, 7]) == pytest.approx(0.03125)
    with pytest.raises(ValueError, match="row counts differ"):
        wilcoxon_losses([1.0], [1.0, 2.0])


# ----------------------------------------------------------------------------- fast routes against
# a slow, exact row bootstrap (indices drawn with replacement, metric recomputed per resample)


def _slow_row_bootstrap(name, y, a, b, qa=None, qb=None, resamples=600, seed=7):
    metric = get_metric(name)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(resamples):
        i = rng.integers(0, len(y), len(y))
        out.append(metric(y[i], b[i], None if qb is None else qb[i])
                   - metric(y[i], a[i], None if qa is None else qa[i]))
    return np.percentile(out, [2.5, 97.5])


@pytest.mark.parametrize("name", ["rmse", "mae", "r2", "mape"])
def test_sums_route_matches_a_slow_row_bootstrap(name):
    y, a = reg_data(3000, seed=11)
    _, b = reg_data(3000, seed=11, noise=0.9)
    b = y + (b - y) * 0.9 + np.random.default_rng(3).normal(0, 0.3, len(y))
    low, high = _slow_row_bootstrap(name, y, a, b)
    fast = paired_bootstrap(name, y, a, b, resamples=2000, seed=5)
    assert fast.high - fast.low == pytest.approx(high - low, rel=0.15)
    assert fast.low == pytest.approx(low, abs=0.15 * (high - low))


def _poisson_weights(n, resamples, seed, counts):
    """The (resamples, n) weights `poisson_sums` draws for these segments, rebuilt by hand."""
    from mlgate.benchmark import stats

    ends = np.cumsum(counts)
    chunk = min(max(counts), stats._ROW_CHUNK) or 1
    chunks = [(lo, min(e, lo + chunk)) for e, c in zip(ends, counts)
              for lo in range(e - c, e, chunk)]
    rows = []
    for lo_b, hi_b, seq in stats._blocks(resamples, stats._RESAMPLE_BLOCK, seed):
        gen = np.random.Generator(np.random.PCG64(seq))
        w = np.zeros((hi_b - lo_b, n))
        for lo, hi in chunks:
            w[:, lo:hi] = stats._draw(gen, stats._table(np.uint8),
                                      np.empty((hi_b - lo_b) * (hi - lo), np.uint8)
                                      ).reshape(hi_b - lo_b, hi - lo)
        rows.append(w)
    return np.concatenate(rows)


@pytest.mark.parametrize("counts", [[300], [70, 0, 129, 64, 1], [128, 192, 64]])
def test_segmented_poisson_sums_equal_per_segment_sums_of_the_same_weights(counts, monkeypatch):
    from mlgate.benchmark import stats

    monkeypatch.setattr(stats, "_ROW_CHUNK", 64)   # several chunks per segment, partial ends
    n = sum(counts)
    rng = np.random.default_rng(3)
    values = np.column_stack([rng.integers(0, 10, n), rng.normal(5.0, 2.0, n), np.ones(n)])
    seg = stats.poisson_sums(values, 60, seed=4, segments=counts, totals=True)
    assert seg.shape == (60, len(counts), 4)
    w = _poisson_weights(n, 60, 4, counts)
    ends = np.cumsum(counts)
    for s, (e, c) in enumerate(zip(ends, counts)):
        plain = w[:, e - c:e] @ values[e - c:e]
        assert np.array_equal(seg[:, s, 3], w[:, e - c:e].sum(axis=1))   # totals: exact
        assert np.array_equal(seg[:, s, 2], seg[:, s, 3])
        np.testing.assert_allclose(seg[:, s, :3], plain, rtol=1e-6, atol=1e-3)
    assert np.array_equal(seg, stats.poisson_sums(values, 60, seed=4, segments=counts,
                                                  totals=True, workers=1))
    # one segment: the plain route, same weights and numbers; segments that fall on chunk
    # boundaries: the plain route on masked columns (the same weights, row by row)
    whole = stats.poisson_sums(values, 60, seed=4)
    assert np.array_equal(whole, stats.poisson_sums(values, 60, seed=4, segments=[n])[:, 0])
    if all(c % 64 == 0 for c in counts):
        masks = [(np.arange(n) >= e - c) & (np.arange(n) < e) for e, c in zip(ends, counts)]
        masked = stats.poisson_sums([values[:, j] * mk for mk in masks for j in range(3)],
                                    60, seed=4)
        np.testing.assert_allclose(seg[:, :, :3].reshape(60, -1), masked, rtol=1e-6, atol=1e-3)
    with pytest.raises(ValueError, match="segments"):
        stats.poisson_sums(values, 10, segments=[n - 1])


@pytest.mark.parametrize("k", [2, 3, 4])
def test_projected_auc_equals_exact_weighted_auc_for_the_same_weights(k):
    from mlgate.benchmark import stats
    from mlgate.benchmark.metrics import prepare_pair, roc_auc_weighted

    y, pa, qa = clf_data(k, 20_000, seed=1)
    _, pb, qb = clf_data(k, 20_000, seed=2, skill=1.2)
    qb = np.round(qb, 2)                                   # ties
    qb /= qb.sum(axis=1, keepdims=True)
    a, b = prepare_pair(get_metric("roc_auc"), y, pa, pb, qa, qb)
    w = np.random.default_rng(0).poisson(1.0, size=(40, len(y))).astype(np.float64)
    exact = roc_auc_weighted(b.y, b.proba, w) - roc_auc_weighted(a.y, a.proba, w)
    pk = stats._auc_packing(a, b, workers=2)
    assert len(pk.columns) == (2 if k == 2 else 2 * k)
    assert np.array_equal(a.y[pk.order], np.repeat(np.arange(k), pk.counts))
    cols = np.column_stack(pk.columns + [np.ones(len(y))])
    ws = w[:, pk.order]                                    # the same weight on the same row
    ends = np.cumsum(pk.counts)
    sums = np.stack([ws[:, e - c:e] @ cols[e - c:e] for e, c in zip(ends, pk.counts)], axis=1)
    plain = np.stack([cols[e - c:e].sum(axis=0) for e, c in zip(ends, pk.counts)])
    projected = stats._auc_from_segment_sums(pk, plain, sums)
    # the dropped degenerate term: a few percent of the bootstrap spread at 20k rows
    assert np.abs(projected - exact).max() < 0.05 * exact.std()
    point = stats._auc_from_segment_sums(pk, plain, plain[None])
    assert point[0] == pytest.approx((roc_auc_weighted(b.y, b.proba)
                                      - roc_auc_weighted(a.y, a.proba))[0], abs=1e-12)


@pytest.mark.parametrize("k", [2, 3, 4])
def test_projected_auc_route_matches_the_exact_route(k, monkeypatch):
    from mlgate.benchmark import stats

    y, pa, qa = clf_data(k, 4000, seed=4)
    _, pb, qb = clf_data(k, 4000, seed=5, skill=1.15)
    exact = paired_bootstrap("roc_auc", y, pa, pb, qa, qb, resamples=2000, seed=1)
    monkeypatch.setattr(stats, "_AUC_EXACT_MAX_ROWS", 0)
    fast = paired_bootstrap("roc_auc", y, pa, pb, qa, qb, resamples=2000, seed=1)
    assert fast.delta == pytest.approx(exact.delta, abs=1e-12)
    width = exact.high - exact.low
    assert fast.high - fast.low == pytest.approx(width, rel=0.15)
    assert fast.low == pytest.approx(exact.low, abs=0.15 * width)
    assert fast == paired_bootstrap("roc_auc", y, pa, pb, qa, qb, resamples=2000, seed=1,
                                    workers=1)
