"""One benchmark run: load, score, judge, time. The command and the pipeline call `run`.

The pandas engine reads the file once, predicts with both models once, and then works on label
codes and probability arrays only; the Spark engine (`spark_scoring` scores the data,
`spark_scores` answers) answers the same questions from Spark aggregates. Both end in the same
`decide` calls, so a decision never depends on the engine beyond the bootstrap's random draws.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from mlgate.benchmark.config import BenchmarkConfig, LatencyLimits
from mlgate.benchmark.data import (
    check_features_agree,
    feature_columns,
    infer_task,
    read_table,
    union_labels,
)
from mlgate.benchmark.decide import (
    check_slice_count,
    judge_metric,
    judge_slices,
)
from mlgate.benchmark.metrics import CLASSIFICATION, REGRESSION
from mlgate.benchmark.models import LoadedModel, load_model
from mlgate.benchmark.result import (
    BenchmarkResult,
    Curves,
    Latency,
    LatencyCheck,
    MetricResult,
)
from mlgate.benchmark.scores import ArrayScores, ModelOutput, Scores
from mlgate.benchmark.spec import MetricSpec, parse_specs
from mlgate.errors import BadInput



@dataclass
class Outcome:
    """The result, and the scores the HTML report draws its curves from (only when asked:
    a ROC curve over a million rows is not free)."""

    result: BenchmarkResult
    scores: Scores
    candidate: LoadedModel
    champion: LoadedModel | None

    def curves(self) -> Curves:
        return self.scores.curves()


def _validate(cfg: BenchmarkConfig) -> None:
    if not 0.5 <= cfg.confidence < 1.0:
        raise BadInput(f"--confidence {cfg.confidence}: must be at least 0.5 and below 1")
    if cfg.resamples < 100:
        raise BadInput(f"--bootstrap {cfg.resamples}: at least 100 resamples are needed for a "
                       "percentile interval")
    if cfg.engine not in ("pandas", "spark"):
        raise BadInput(f"--engine {cfg.engine}: expected pandas or spark")
    if cfg.limits.max_p95_ms is not None and cfg.limits.max_p95_ms <= 0:
        raise BadInput("--max-latency-p95-ms must be positive")
    if cfg.limits.max_regression is not None and cfg.limits.max_regression < 0:
        raise BadInput("--max-latency-regression must not be negative")
    if cfg.latency_samples < 10:
        raise BadInput("--latency-samples must be at least 10")
    if cfg.min_rows < 1:
        raise BadInput(f"--min-rows {cfg.min_rows}: must be at least 1")
    if cfg.min_slice_rows < 1:
        raise BadInput(f"--min-slice-rows {cfg.min_slice_rows}: must be at least 1")


def _distinct(values):
    """Sorted distinct values; for small-range integers a bincount (no sort, no hash)."""
    import numpy as np

    arr = np.asarray(values)
    if arr.dtype.kind in "iu" and len(arr):
        lo, hi = int(arr.min()), int(arr.max())
        if hi - lo < 1 << 16:
            return np.flatnonzero(np.bincount(arr - lo if lo else arr)) + lo
    return np.unique(arr)


def _encode_labels(y, models: list[tuple[str, LoadedModel, object, object]], path: str,
                   target: str):
    """Label codes for the truth and each model's predictions, probabilities aligned to them.

    The labels are the sorted union of the truth, the predictions and each model's classes_,
    so a class one model never predicts still has its own column.
    """
    import numpy as np

    from mlgate.benchmark.metrics import _encode

    parts = [_distinct(y)]
    for _, m, pred, _ in models:
        parts.append(_distinct(pred))
        if m.classes is not None:
            parts.append(np.asarray(m.classes))
    labels = union_labels(parts, path, target)
    codes_y = _encode(labels, "the target", np.asarray(y))
    outputs = {}
    for role, m, pred, proba in models:
        codes = _encode(labels, f"{role} predictions", np.asarray(pred))
        aligned = None
        if proba is not None:
            classes = np.asarray(m.classes)
            if proba.ndim != 2 or proba.shape[1] != len(classes):
                raise BadInput(f"{role}: predict_proba gave shape {proba.shape} for "
                               f"{len(classes)} classes")
            if len(classes) == len(labels) and np.array_equal(classes, labels):
                aligned = np.asarray(proba, dtype=np.float64)
            else:
                aligned = np.zeros((len(y), len(labels)), dtype=np.float64)
                aligned[:, np.searchsorted(labels, classes)] = proba
        outputs[role] = ModelOutput(codes, aligned)
    return tuple(str(v) for v in labels.tolist()), codes_y, outputs


def _target_kind(values, path: str, target: str) -> tuple[str, int]:
    """(numpy dtype kind, distinct count) of the target; empty values are exit 2 naming the
    file, the column and the first bad row (a CSV row counts its header as line 1)."""
    import numpy as np

    arr = np.asarray(values)
    kind = arr.dtype.kind
    where = f"--data {path}: target {target!r}"
    if kind == "f":
        bad = ~np.isfinite(arr)
        if bad.any():
            raise BadInput(f"{where} holds empty or non-finite values ({int(bad.sum())} "
                           f"row(s), the first is data row {int(np.argmax(bad)) + 1})")
        if np.all(np.equal(np.mod(arr, 1), 0)):
            kind = "i"
    if kind == "O":
        try:
            if any(v is None or v != v for v in arr[:100000]):
                raise BadInput(f"{where} holds empty values")
        except TypeError:
            pass
    unique = len(_distinct(arr if arr.dtype.kind in "iu" else arr[:200_000])) \
        if kind != "f" else 1 << 30
    return kind, unique


def measure_latency(model: LoadedModel, frame, samples: int, seed: int) -> Latency:
    """p50 / p95 of single-row predict calls on rows drawn from the data, after a warm-up."""
    import numpy as np

    gen = np.random.default_rng(seed)
    rows = gen.integers(0, len(frame), size=samples + 5)
    one = [frame.iloc[[int(i)]] for i in rows]
    for f in one[:5]:
        model.predict(f)
    times = []
    for f in one[5:]:
        t0 = time.perf_counter()
        model.predict(f)
        times.append((time.perf_counter() - t0) * 1000.0)
    p50, p95 = np.percentile(times, [50, 95])
    return Latency(model.info.role, float(p50), float(p95), samples)


def latency_checks(latency: list[Latency], limits: LatencyLimits) -> list[LatencyCheck]:
    by = {lat.role: lat for lat in latency}
    out = []
    cand = by.get("candidate")
    if cand is None:
        return out
    if limits.max_p95_ms is not None:
        ok = cand.p95_ms <= limits.max_p95_ms
        out.append(LatencyCheck("max_p95_ms", limits.max_p95_ms, cand.p95_ms, ok,
                                f"candidate p95 {cand.p95_ms:.3g} ms, limit "
                                f"{limits.max_p95_ms:g} ms"))
    champ = by.get("champion")
    if limits.max_regression is not None and champ is not None:
        allowed = champ.p95_ms * (1.0 + limits.max_regression)
        ok = cand.p95_ms <= allowed
        out.append(LatencyCheck("max_regression", allowed, cand.p95_ms, ok,
                                f"candidate p95 {cand.p95_ms:.3g} ms, at most "
                                f"{limits.max_regression * 100:g}% above the champion's "
                                f"{champ.p95_ms:.3g} ms ({allowed:.3g} ms)"))
    return out


def _pandas_scores(cfg: BenchmarkConfig, candidate: LoadedModel, champion: LoadedModel | None,
                   features: list[str] | None):
    frame = read_table(cfg.data)
    cols = feature_columns(cfg.data, list(frame.columns), cfg.target, features=features,
                           slice_column=cfg.slice_column, ignore=cfg.ignore_columns,
                           sensitive=cfg.sensitive)
    y = frame[cfg.target].to_numpy()
    kind, unique = _target_kind(y, cfg.data, cfg.target)
    task = infer_task(cfg.data, cfg.target, kind, unique, len(y), candidate.is_classifier,
                      cfg.task)
    x = frame[cols]
    models = [("candidate", candidate)] + ([("champion", champion)] if champion else [])
    want_proba = task == CLASSIFICATION and (cfg.curves or any(
        s.metric.needs_proba for s in parse_specs(cfg.metrics, task)))
    preds = []
    for role, m in models:
        pred = m.predict(x)
        proba = m.predict_proba(x) if want_proba else None
        preds.append((role, m, pred, proba))
    slices = frame[cfg.slice_column].to_numpy() if cfg.slice_column else None
    if task == REGRESSION:
        import numpy as np

        outs = {}
        for role, _m, pred, _ in preds:
            try:
                arr = np.asarray(pred, dtype=np.float64)
            except (TypeError, ValueError):
                raise BadInput(f"{role}: predictions are not numbers; is it a "
                               "classifier? (pass --task classification)") from None
            outs[role] = ModelOutput(arr)
        scores = ArrayScores(task, y.astype(np.float64), outs["candidate"],
                             outs.get("champion"), (), slices, cfg.workers)
    else:
        labels, codes, outs = _encode_labels(y, preds, cfg.data, cfg.target)
        scores = ArrayScores(task, codes, outs["candidate"], outs.get("champion"), labels,
                             slices, cfg.workers)
    return scores, frame, x


def run(cfg: BenchmarkConfig, *, workdir: Path | None = None) -> Outcome:
    """Load both models, score the data, and judge every spec (and slice and latency)."""
    _validate(cfg)
    started = time.perf_counter()
    tmp = None
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="mlgate-benchmark-")
        workdir = Path(tmp.name)
    try:
        registry = {"tracking_uri": cfg.tracking_uri, "registry_uri": cfg.registry_uri}
        candidate = load_model(cfg.candidate, "candidate", workdir=workdir,
                               trust_pickle=cfg.trust_pickle, trusted_types=cfg.trusted_types,
                               registry=registry)
        assert candidate is not None
        champion = None
        if cfg.champion:
            champion = load_model(cfg.champion, "champion", workdir=workdir,
                                  trust_pickle=cfg.trust_pickle,
                                  trusted_types=cfg.trusted_types, registry=registry)
        features = check_features_agree(candidate.features, champion.features
                                        if champion else None)
        x = None
        fair: tuple = ()
        if cfg.engine == "spark":
            from mlgate.benchmark.spark_scoring import spark_scores

            if cfg.sensitive:
                raise BadInput("--sensitive: fairness is measured by the pandas engine only")
            scores: Scores = spark_scores(cfg, candidate, champion, features, workdir)
        else:
            scores, frame, x = _pandas_scores(cfg, candidate, champion, features)
            fair = _fairness(cfg, scores, frame)
        outcome = _judge(cfg, scores, candidate, champion, x, started)
        return replace(outcome, result=replace(outcome.result, fairness=fair)) if fair \
            else outcome
    finally:
        if tmp is not None:
            tmp.cleanup()


def _fairness(cfg: BenchmarkConfig, scores, frame) -> tuple:
    """Each --sensitive column's per-group figures (the sensitive values are read from the
    data, never from what the models were given)."""
    if not cfg.sensitive:
        return ()
    from mlgate.benchmark.fairness import fairness

    metrics = [s.metric for s in parse_specs(cfg.metrics, scores.task)]
    return tuple(fairness(col, frame[col], scores.task, scores.y, scores.candidate,
                          scores.champion, metrics, scores.labels) for col in cfg.sensitive)


def _too_few_rows(cfg: BenchmarkConfig, rows: int) -> list[str]:
    """Why the data is too small to judge, if it is: a gate that could not judge must not
    pass (on 3 rows every bootstrap resample agrees and the interval is [0, 0])."""
    if rows >= cfg.min_rows:
        return []
    return [f"too little data to judge: --data {cfg.data} has {rows} row(s), fewer than "
            f"--min-rows {cfg.min_rows}"]


def _judge_metrics(cfg: BenchmarkConfig, specs: list[MetricSpec], scores: Scores, *,
                   reported_only: bool) -> list[MetricResult]:
    """Every spec judged on the whole data. With too few rows the figures are only reported,
    and a metric undefined on them (one class present, say) is shown with its reason rather
    than turned into bad input: the verdict is already "cannot judge"."""
    results = []
    for spec in specs:
        try:
            results.append(judge_metric(spec, scores, resamples=cfg.resamples,
                                        confidence=cfg.confidence, seed=cfg.seed))
        except BadInput as exc:
            if not reported_only:
                raise
            results.append(MetricResult(spec.name, spec.greater_is_better, float("nan"),
                                        gated=False, passed=False, error=str(exc)))
    return results


def _judge(cfg: BenchmarkConfig, scores: Scores, candidate: LoadedModel,
           champion: LoadedModel | None, x, started: float) -> Outcome:
    specs: list[MetricSpec] = parse_specs(cfg.metrics, scores.task)
    reasons: list[str] = _too_few_rows(cfg, scores.rows)
    results = _judge_metrics(cfg, specs, scores, reported_only=bool(reasons))
    notes: list[str] = []
    if champion is None:
        why = ("no --champion given" if not cfg.champion else
               f"{cfg.champion} does not exist in the registry yet")
        if any(s.threshold is not None for s in specs):
            notes.append(f"No champion ({why}): judged on absolute thresholds alone.")
        else:
            notes.append(f"No champion ({why}) and no absolute threshold: nothing to compare "
                         "against, so the candidate passes. Add threshold= to a --metric to "
                         "require a minimum.")
        if any(s.margin or s.min_absolute_change is not None
               or s.min_relative_change is not None for s in specs):
            notes.append("Change rules and margins need a champion; they were not applied.")
    for r in results:
        for c in r.checks:
            if not c.passed:
                reasons.append(f"{r.name}: {c.text}")

    slices = []
    if cfg.slice_column:
        gated = [s for s in specs if s.margin is not None]
        if champion is None:
            notes.append(f"Slices by {cfg.slice_column} are reported without a champion to "
                         "compare against; not judged.")
        if not gated and champion is not None:
            notes.append(f"No metric has a margin; slices by {cfg.slice_column} are reported, "
                         "not judged.")
        slice_specs = specs if champion is None or not gated else gated
        parts = scores.slices()
        check_slice_count(cfg.slice_column, len(parts))
        slices = judge_slices(slice_specs, parts, cfg.slice_column, resamples=cfg.resamples,
                              confidence=cfg.confidence, seed=cfg.seed,
                              min_rows=cfg.min_slice_rows)
        if not gated:
            slices = [replace(s, judged=False, passed=True) for s in slices]
        small = [s.value for s in slices if not s.judged and s.rows < cfg.min_slice_rows]
        if small:
            notes.append(f"{len(small)} slice(s) with fewer than {cfg.min_slice_rows} rows are "
                         "reported, not judged.")
        for s in slices:
            if s.judged and not s.passed:
                for m in s.metrics:
                    for c in m.checks:
                        if not c.passed:
                            reasons.append(f"{cfg.slice_column}={s.value}: {m.name}: {c.text}")

    latency: list[Latency] = []
    checks: list[LatencyCheck] = []
    want_latency = cfg.latency or cfg.limits.max_p95_ms is not None \
        or cfg.limits.max_regression is not None
    if want_latency:
        if x is None:
            notes.append("Latency is measured by the pandas engine only; not measured.")
        else:
            for m in (champion, candidate):
                if m is not None:
                    latency.append(measure_latency(m, x, cfg.latency_samples, cfg.seed))
            checks = latency_checks(latency, cfg.limits)
            if cfg.limits.max_regression is not None and champion is None:
                notes.append("No champion: --max-latency-regression was not applied.")
            reasons += [f"latency: {c.text}" for c in checks if not c.passed]

    result = BenchmarkResult(
        task=scores.task, engine=cfg.engine, data=cfg.data, rows=scores.rows,
        target=cfg.target, confidence=cfg.confidence, resamples=cfg.resamples, seed=cfg.seed,
        candidate=candidate.info, champion=champion.info if champion else None,
        metrics=tuple(results), passed=not reasons, reasons=tuple(reasons),
        notes=tuple(notes), slice_column=cfg.slice_column, slices=tuple(slices),
        latency=tuple(latency), latency_checks=tuple(checks), labels=scores.labels,
        seconds=round(time.perf_counter() - started, 3))
    return Outcome(result, scores, candidate, champion)

