"""Benchmark: the paired bootstrap of every metric over 1,000,000 rows and 1,000 resamples.

Prints, measured in this one run:
- the bootstrap time of every metric by its default route (target <= 3 s on 2 cores);
- the time of the confusion-matrix metrics through the joint count table of (label, champion
  prediction, candidate prediction) (target <= 0.1 s).
Binary data for the binary metrics, 4 classes for the averaged ones and one-vs-rest ROC AUC.
Not a timed test: run `.venv/bin/python bench/bootstrap.py [ROWS] [RESAMPLES]`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src")]

from mlgate.benchmark.metrics import METRICS  # noqa: E402
from mlgate.benchmark.stats import paired_bootstrap  # noqa: E402

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
RESAMPLES = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
TARGET_ANY = 3.0
TARGET_TABLE = 0.1


def classification(k: int, rng: np.random.Generator):
    y = rng.integers(0, k, ROWS)
    out = []
    for skill in (1.0, 1.1):
        logits = rng.normal(size=(ROWS, k))
        logits[np.arange(ROWS), y] += skill
        proba = np.exp(logits)
        proba /= proba.sum(axis=1, keepdims=True)
        out += [proba.argmax(axis=1), proba]
    return y, out


def regression(rng: np.random.Generator):
    y = rng.normal(10.0, 3.0, ROWS)
    y[np.abs(y) < 1e-3] = 1.0
    return y, [y + rng.normal(0, 1.0, ROWS), None, y + rng.normal(0, 0.98, ROWS), None]


def timed(metric, y, data, method="auto"):
    pa, qa, pb, qb = data
    t0 = time.perf_counter()
    res = paired_bootstrap(metric, y, pa, pb, qa, qb, resamples=RESAMPLES, seed=0,
                           method=method)
    return time.perf_counter() - t0, res


def line(label: str, seconds: float, target: float, res) -> str:
    verdict = "OK" if seconds <= target else "MISSED"
    return (f"{label:<28} {seconds:7.3f} s  (target <= {target:g} s)  {verdict:<6}  "
            f"delta {res.delta:+.5f} [{res.low:+.5f}, {res.high:+.5f}]")


def main() -> int:
    rng = np.random.default_rng(0)
    data = {2: classification(2, rng), 4: classification(4, rng), "r": regression(rng)}
    print(f"paired bootstrap, {ROWS:,} rows, {RESAMPLES:,} resamples")
    missed = 0
    print("-- every metric, default route")
    for name, metric in METRICS.items():
        if metric.task == "regression":
            cases = [("", data["r"])]
        elif metric.binary_only:
            cases = [("", data[2])]
        elif name == "roc_auc":
            cases = [(" (binary)", data[2]), (" (4-class ovr)", data[4])]
        else:
            cases = [(" (4 classes)", data[4])]
        for suffix, (y, preds) in cases:
            seconds, res = timed(metric, y, preds)
            missed += seconds > TARGET_ANY
            print(line(name + suffix, seconds, TARGET_ANY, res))
    print("-- confusion-matrix metrics via the joint count table (label, champion, candidate)")
    for name, metric in METRICS.items():
        if not metric.from_confusion:
            continue
        y, preds = data[2] if metric.binary_only else data[4]
        seconds, res = timed(metric, y, preds, method="table")
        missed += seconds > TARGET_TABLE
        print(line(name, seconds, TARGET_TABLE, res))
    print("all targets met" if not missed else f"{missed} target(s) missed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
