"""Benchmark: `mlgate benchmark` on a 1,000,000-row test set with two small models.

Prints, measured in this one run:
- mlgate's total wall time (loading both models, reading the data, predicting, the paired
  bootstrap, McNemar and the decision) as a ratio of reading the data plus the two models'
  `predict` calls (target <= 1.5x), in-process with the libraries already imported; and the
  same through the CLI in a fresh process, for reference (interpreter start and imports
  included);
- the time of 1,000 bootstrap resamples over the 1M rows, per metric (target <= 3 s on 2 cores;
  <= 0.1 s for confusion-matrix metrics, whose bootstrap depends only on the joint count table);
- peak memory of the in-process run above the data's own size (target <= 3x the data's size in
  memory), measured with tracemalloc (numpy and pandas report their buffers to it).

Not a timed test: `.venv/bin/python bench/benchmark.py [ROWS]`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
RESAMPLES = 1000


def main() -> int:
    import numpy as np
    import pandas as pd
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import GaussianNB

    from mlgate.benchmark.metrics import get_metric
    from mlgate.benchmark.config import BenchmarkConfig
    from mlgate.benchmark.run import run
    from mlgate.benchmark.stats import paired_bootstrap
    from support.mlmodels import classification_frame, fit, regression_frame, split

    tmp = Path(tempfile.mkdtemp(prefix="mlgate-bench-"))
    train, test = split(classification_frame(ROWS + 20_000, 0), 20_000)
    champion = fit(GaussianNB(), train, "label")
    candidate = fit(LogisticRegression(max_iter=500), train, "label")
    sio.dump(champion, tmp / "champion.skops")
    sio.dump(candidate, tmp / "candidate.skops")
    data = tmp / "test.parquet"
    test.to_parquet(data)
    data_bytes = int(test.memory_usage(deep=True).sum())
    print(f"test set: {ROWS:,} rows x {test.shape[1]} columns, {data_bytes / 2**20:.1f} MiB in "
          f"memory, {data.stat().st_size / 2**20:.1f} MiB Parquet")

    def baseline() -> float:
        t0 = time.perf_counter()
        frame = pd.read_parquet(data)
        x = frame.drop(columns=["label"])
        champion.predict(x)
        candidate.predict(x)
        return time.perf_counter() - t0

    cfg = BenchmarkConfig(candidate=str(tmp / "candidate.skops"),
                          champion=str(tmp / "champion.skops"), data=str(data),
                          target="label", resamples=RESAMPLES)

    def mlgate() -> float:
        t0 = time.perf_counter()
        run(cfg)
        return time.perf_counter() - t0

    baseline(), mlgate()                      # warm caches and lazy imports for both
    base = min(baseline() for _ in range(3))
    ours = min(mlgate() for _ in range(3))
    ratio = ours / base
    print(f"read + 2 x predict      {base:7.3f} s")
    print(f"mlgate (in-process)     {ours:7.3f} s   ratio {ratio:.2f}x (target <= 1.5x)  "
          f"{'OK' if ratio <= 1.5 else 'MISSED'}")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "mlgate", "benchmark", "--candidate",
                           cfg.candidate, "--champion", cfg.champion or "", "--data",
                           str(data), "--target", "label"], capture_output=True,
                          env={**os.environ, "MLGATE_CI": "local",
                               "PYTHONPATH": str(ROOT / "src")})
    cli = time.perf_counter() - t0
    print(f"mlgate (CLI, new process) {cli:5.3f} s   exit {proc.returncode} "
          f"(includes interpreter start and imports)")

    tracemalloc.start()
    run(cfg)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    mem = peak / data_bytes
    print(f"peak traced memory      {peak / 2**20:7.1f} MiB = {mem:.2f}x the data "
          f"(target <= 3x)  {'OK' if mem <= 3 else 'MISSED'}")

    # the bootstrap alone, per metric, on these models' real outputs
    frame = pd.read_parquet(data)
    x, y = frame.drop(columns=["label"]), frame["label"].to_numpy()
    pa, pb = champion.predict(x), candidate.predict(x)
    qa, qb = champion.predict_proba(x), candidate.predict_proba(x)
    rows = []
    for name in ("accuracy", "balanced_accuracy", "f1", "precision_macro", "recall_weighted",
                 "f1_micro", "roc_auc", "log_loss", "brier"):
        m = get_metric(name)
        t0 = time.perf_counter()
        paired_bootstrap(m, y, pa, pb, qa if m.needs_proba else None,
                         qb if m.needs_proba else None, resamples=RESAMPLES, seed=0,
                         labels=np.array([0, 1]))
        rows.append((name, time.perf_counter() - t0, 0.1 if m.from_confusion else 3.0))
    rtrain, rtest = split(regression_frame(ROWS + 20_000, 1), 20_000)
    from sklearn.linear_model import LinearRegression, Ridge

    xr = rtest.drop(columns=["y"])
    ra = fit(LinearRegression(), rtrain, "y").predict(xr)
    rb = fit(Ridge(alpha=10.0), rtrain, "y").predict(xr)
    for name in ("rmse", "mae", "r2", "mape"):
        t0 = time.perf_counter()
        paired_bootstrap(name, rtest["y"].to_numpy(), ra, rb, resamples=RESAMPLES, seed=0)
        rows.append((name, time.perf_counter() - t0, 3.0))
    print(f"bootstrap, {RESAMPLES} resamples x {ROWS:,} rows:")
    for name, secs, target in rows:
        print(f"  {name:<20} {secs:7.3f} s  (target <= {target:g} s)  "
              f"{'OK' if secs <= target else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
