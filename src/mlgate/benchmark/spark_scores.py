"""The Spark engine's answers: `SparkScores` is the `scores.Scores` protocol answered by Spark
aggregates over the one cached, scored DataFrame `spark_scoring` builds, as `ArrayScores` answers
it from arrays in memory. `decide` asks both the same questions.

- confusion metrics (accuracy, balanced accuracy, precision / recall / F1): the K³ joint count
  table of (label, champion prediction, candidate prediction), one `groupBy`. Point values,
  McNemar (its two off-diagonal counts) and the bootstrap come from it on the driver; the
  bootstrap is the same multinomial draw over the same table as the pandas engine's "table"
  route, so for the same seed the interval is *identical* to the pandas engine's.
- mean metrics, ROC AUC and the Wilcoxon test need every row: `spark_stats` computes them as
  per-partition partials (its docstring says how close each is to the pandas engine's).
- slices: one `groupBy` on the slice key gives every slice's joint table (or row count and
  target mean), so a slice's `SparkScores` starts with its table and needs no second pass.

pyspark and scipy are imported inside the methods that need them.
"""

from __future__ import annotations

import numpy as np

from mlgate.benchmark import spark_stats, stats
from mlgate.benchmark.decide import MAX_SLICES, check_slice_count
from mlgate.benchmark.metrics import REGRESSION, Metric, MetricError, prepare_pair
from mlgate.benchmark.result import Curve, Curves, Role
from mlgate.benchmark.scores import _RESIDUAL_POINTS
from mlgate.benchmark.spark_session import spark_errors
from mlgate.benchmark.stats import Interval, percentile_interval


class SparkScores:
    """`Scores` answered by Spark aggregates over one cached, scored DataFrame.

    Columns of `frame`: `y` (label code or float target), `a` / `b` (champion / candidate
    prediction, codes or floats; `a` repeats `b` without a champion), `pa` / `pb` (probability
    arrays in label order, when the model has predict_proba) and `s` (slice key) when sliced.
    """

    def __init__(self, spark, frame, task: str, labels: tuple[str, ...], rows: int, *,
                 has_champion: bool, has_proba: dict[str, bool], bad_proba: dict,
                 sliced: bool = False, slice_column: str | None = None, cached=None,
                 table: np.ndarray | None = None, centre: float | None = None):
        self.spark = spark
        self.frame = frame
        self.task = task
        self.labels = labels
        self.rows = int(rows)
        self._has_champion = has_champion
        self._has_proba = dict(has_proba)
        if not has_champion:
            self._has_proba.setdefault("champion", False)
        self._bad_proba = dict(bad_proba)
        self._sliced = sliced
        self._slice_column = slice_column
        self._cached = cached
        self._table = table
        self._centre = centre
        self._means: dict[str, np.ndarray] = {}
        self._hist: np.ndarray | None = None
        self._slices: list | None = None

    # -- the protocol's attributes

    @property
    def has_champion(self) -> bool:
        return self._has_champion

    @property
    def k(self) -> int:
        return len(self.labels)

    def close(self) -> None:
        """Drop the cached scores from Spark's memory."""
        if self._cached is not None:
            self._cached.unpersist()
            self._cached = None

    # -- checks shared with ArrayScores

    def _check_role(self, role: Role) -> None:
        if role == "champion" and not self._has_champion:
            raise MetricError("there is no champion to score")

    def _check_proba(self, metric: Metric, role: Role) -> None:
        self._check_role(role)
        if metric.needs_proba and not self._has_proba.get(role):
            raise MetricError(f"{metric.name} needs predicted probabilities and the {role} "
                              "gives none (it has no predict_proba)")

    def _probe(self, metric: Metric, pair: bool, role: Role = "candidate") -> None:
        """Run prepare_pair on a tiny stand-in so every refusal is the pandas engine's."""
        if self.task == REGRESSION:
            if metric.task != REGRESSION:
                prepare_pair(metric, np.zeros(1), np.zeros(1))
            return
        k = self.k
        y = np.arange(k)

        def proba(r: str):
            if not self._has_proba.get(r):
                return None
            if self._bad_proba.get(r) and metric.needs_proba:
                raise MetricError(f"{r} probabilities hold NaN or infinite values")
            return np.full((k, k), 1.0 / k)

        if pair:
            prepare_pair(metric, y, y, y, proba("champion"), proba("candidate"),
                         labels=np.arange(k))
        else:
            prepare_pair(metric, y, y, None, proba(role), None, labels=np.arange(k))

    # -- the joint count table

    def _joint(self) -> np.ndarray:
        if self._table is None:
            k = self.k
            with spark_errors("Spark aggregate failed"):
                got = self.frame.groupBy("y", "a", "b").count().collect()
            table = np.zeros(k ** 3, dtype=np.int64)
            for r in got:
                table[(int(r["y"]) * k + int(r["a"])) * k + int(r["b"])] += int(r["count"])
            self._table = table
        return self._table

    def _confusion(self, role: Role) -> np.ndarray:
        k = self.k
        t = self._joint().reshape(k, k, k)
        return t.sum(axis=2) if role == "champion" else t.sum(axis=1)

    # -- mean metrics

    def _y_centre(self) -> float:
        if self._centre is None:
            from pyspark.sql import functions as F

            with spark_errors("Spark aggregate failed"):
                self._centre = float(self.frame.agg(F.avg("y")).collect()[0][0])
        return self._centre

    def _mean_columns(self, metric: Metric) -> list[str]:
        cols = ["y", "a", "b"]
        if self.task != REGRESSION and metric.needs_proba:
            cols += ["pa", "pb"] if self._has_proba.get("champion") else ["pb"]
        return cols

    def _mean_run(self, metric: Metric, resamples: int, seed: int) -> np.ndarray:
        """(1 + resamples, 1 + s + 2k): plain column sums, then the Poisson-weighted sums."""
        if metric.name == "mape":
            from pyspark.sql import functions as F

            with spark_errors("Spark aggregate failed"):
                zeros = self.frame.where(F.col("y") == 0).count()
            if zeros:
                raise MetricError(f"mape is undefined: the target is zero in {zeros} row(s); "
                                  "use mae or rmse for such targets")
        centre = self._y_centre() if metric.shared is not None else 0.0
        return spark_stats.mean_sums(self.frame, metric, self._mean_columns(metric), self.k,
                                     self.task, centre, resamples, seed)

    def _mean_value(self, metric: Metric, role: Role) -> float:
        if metric.name not in self._means:
            self._means[metric.name] = self._mean_run(metric, 0, 0)[0]
        sums = self._means[metric.name]
        means = sums[1:] / sums[0]
        s = 2 if metric.shared is not None else 0
        own = means[s + 1:] if role == "candidate" else means[s:s + 1]
        return float(metric.reduce(np.concatenate([means[:s], own])))

    def _mean_deltas(self, metric: Metric, resamples: int, seed: int) -> np.ndarray:
        sums = self._mean_run(metric, resamples, seed)[1:]
        total = sums[:, :1]
        with np.errstate(divide="ignore", invalid="ignore"):
            means = sums[:, 1:] / total
        s = 2 if metric.shared is not None else 0
        ma = means[:, : s + 1]
        mb = np.concatenate([means[:, :s], means[:, s + 1:]], axis=1)
        out = metric.reduce(mb) - metric.reduce(ma)
        return np.where(total[:, 0] > 0, out, np.nan)

    # -- ROC AUC from histograms

    def _classes(self) -> list[int]:
        return [1] if self.k == 2 else list(range(self.k))

    def _histograms(self) -> np.ndarray:
        """(2 models, C classes, positive / negative, AUC_BINS) row counts."""
        if self._hist is None:
            self._hist = spark_stats.auc_histograms(self.frame, self.k, self._classes(),
                                                    self._has_proba)
        return self._hist

    def _auc_parts(self, role: Role) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per class: (numerator, positives, negatives) of the binned Mann-Whitney AUC."""
        return spark_stats.auc_parts(self._histograms()[0 if role == "champion" else 1])

    def _auc_value(self, role: Role) -> float:
        num, n_p, n_n = self._auc_parts(role)
        with np.errstate(divide="ignore", invalid="ignore"):
            per = np.where((n_p > 0) & (n_n > 0), num / (n_p * n_n), np.nan)
        value = float(np.mean(per))
        if np.isnan(value):
            raise MetricError("roc_auc is undefined: the target holds a single class"
                              + ("" if self.k == 2 else " for some one-vs-rest split"))
        return value

    def max_bin_tie_share(self, role: Role = "candidate") -> float:
        """Upper bound of |binned AUC - exact AUC| per class (`spark_stats.bin_tie_share`)."""
        return spark_stats.bin_tie_share(self._histograms()[0 if role == "champion" else 1])

    def _auc_deltas(self, resamples: int, seed: int) -> np.ndarray:
        return spark_stats.auc_deltas(self.frame, self._histograms(), self.k, self._classes(),
                                      bool(self._has_proba.get("champion")), resamples, seed)

    # -- the protocol

    def value(self, metric: Metric, role: Role) -> float:
        self._check_proba(metric, role)
        self._probe(metric, False, role)
        if metric.confusion is not None:
            return float(metric.confusion(self._confusion(role)))
        if metric.rank_based:
            return self._auc_value(role)
        return self._mean_value(metric, role)

    def interval(self, metric: Metric, resamples: int, confidence: float,
                 seed: int) -> Interval:
        for role in ("champion", "candidate"):
            self._check_proba(metric, role)  # type: ignore[arg-type]
        if isinstance(resamples, bool) or not isinstance(resamples, (int, np.integer)) \
                or resamples < 1:
            raise MetricError(f"resamples must be a positive integer, got {resamples!r}")
        if not 0.0 < float(confidence) < 1.0:
            raise MetricError(f"confidence must be between 0 and 1 exclusive, got "
                              f"{confidence!r}")
        self._probe(metric, True)
        resamples = int(resamples)
        delta = self.value(metric, "candidate") - self.value(metric, "champion")
        if metric.confusion is not None:
            counts = self._joint()
            n = int(counts.sum())
            rng = np.random.default_rng(seed)       # the pandas engine's "table" route
            tables = rng.multinomial(n, counts / n, size=resamples)
            ca, cb = stats._confusions(tables, self.k)
            deltas = metric.confusion(cb) - metric.confusion(ca)
        elif metric.rank_based:
            deltas = self._auc_deltas(resamples, seed)
        else:
            deltas = self._mean_deltas(metric, resamples, seed)
        return percentile_interval(metric, float(delta), deltas, confidence)

    def significance(self, metric: Metric) -> tuple[str, float] | None:
        """McNemar from the joint table's two off-diagonal counts; Wilcoxon on the per-row
        losses (see `spark_stats`); none for ROC AUC."""
        self._check_role("champion")
        if metric.rank_based:
            return None
        if self.task != REGRESSION and not metric.needs_proba:
            from scipy.stats import binomtest

            k = self.k
            t = self._joint().reshape(k, k, k)
            right = np.eye(k, dtype=bool)
            ok_a = right[:, :, None]            # y == a
            ok_b = right[:, None, :]            # y == b
            only_a = int(t[ok_a & ~ok_b].sum())
            only_b = int(t[ok_b & ~ok_a].sum())
            if only_a + only_b == 0:
                return "mcnemar-exact", 1.0
            return "mcnemar-exact", float(binomtest(only_a, only_a + only_b, 0.5).pvalue)
        self._probe(metric, True)
        return "wilcoxon", self._wilcoxon(metric)

    def _wilcoxon(self, metric: Metric) -> float:
        if metric.rows is None:
            raise MetricError(f"{metric.name} has no per-row loss")
        if metric.name == "mape":
            self._mean_value(metric, "candidate")   # the zero-target refusal
        fn = spark_stats.loss_diff_fn(metric, self.k, self.task,
                                      bool(self._has_proba.get("champion")))
        return spark_stats.wilcoxon(self.frame, metric, self._mean_columns(metric), fn,
                                    self.rows)

    def slices(self) -> list[tuple[str, SparkScores]]:
        if not self._sliced:
            return []
        if self._slices is None:
            from pyspark.sql import functions as F

            with spark_errors("slices: Spark aggregate failed"):
                keys = [r[0] for r in self.frame.select("s").distinct()
                        .limit(MAX_SLICES + 1).collect()]
            check_slice_count(self._slice_column, len(keys))
            keys = sorted(str(k) for k in keys)
            k = self.k
            tables = {key: np.zeros(k ** 3, dtype=np.int64) for key in keys}
            rows = dict.fromkeys(keys, 0)
            centres: dict[str, float | None] = dict.fromkeys(keys)
            with spark_errors("slices: Spark aggregate failed"):
                if self.task == REGRESSION:
                    for r in self.frame.groupBy("s").agg(F.count(F.lit(1)).alias("n"),
                                                         F.avg("y").alias("m")).collect():
                        rows[r["s"]] = int(r["n"])
                        centres[r["s"]] = float(r["m"])
                else:
                    for r in self.frame.groupBy("s", "y", "a", "b").count().collect():
                        cell = (int(r["y"]) * k + int(r["a"])) * k + int(r["b"])
                        tables[r["s"]][cell] += int(r["count"])
                        rows[r["s"]] += int(r["count"])
            out = []
            for key in keys:
                sub = self.frame.where(F.col("s") == F.lit(key))
                out.append((key, SparkScores(
                    self.spark, sub, self.task, self.labels, rows[key],
                    has_champion=self._has_champion, has_proba=self._has_proba,
                    bad_proba=self._bad_proba,
                    table=None if self.task == REGRESSION else tables[key],
                    centre=centres[key])))
            self._slices = out
        return list(self._slices)

    def curves(self) -> Curves:
        curves = Curves()
        roles: list[Role] = ["champion", "candidate"] if self._has_champion else ["candidate"]
        if self.task == REGRESSION:
            fraction = min(1.0, 2.5 * _RESIDUAL_POINTS / max(self.rows, 1))
            with spark_errors("curves: Spark sample failed"):
                got = (self.frame.sample(False, fraction, seed=0).limit(_RESIDUAL_POINTS)
                       .select("y", "a", "b").collect())
            y = np.array([r["y"] for r in got], dtype=np.float64)
            for role in roles:
                pred = np.array([r["a" if role == "champion" else "b"] for r in got],
                                dtype=np.float64)
                curves.residuals[role] = Curve(tuple(pred.tolist()), tuple((y - pred).tolist()))
            return curves
        classes = self._classes()
        roles = [r for r in roles if self._has_proba.get(r) and not self._bad_proba.get(r)]
        if not roles:
            return curves
        hist = self._histograms()
        for role in roles:
            for ci, c in enumerate(classes):
                pos, neg = hist[0 if role == "champion" else 1, ci]
                if pos.sum() == 0 or neg.sum() == 0:
                    continue
                key = role if self.k == 2 else f"{role}:{self.labels[c]}"
                roc, pr = spark_stats.binned_curves(pos, neg)
                curves.roc[key] = roc
                curves.pr[key] = pr
        return curves