"""Benchmark: mlgate validate against the same Great Expectations validation called directly.

Prints, measured in this one run, for a 1,000,000-row x 20-column Parquet file and a suite of
20 expectations (pandas engine):
- mlgate's wall time (`mlgate validate --data X --suite S --json R`, a fresh process) as a ratio
  of a plain script doing the same GX validation (same suite, same result format, same
  ephemeral context settings) in a fresh process (target <= 1.2x);
- the same as a ratio of reading the file with pyarrow alone in a fresh process (reported);
- the in-process split of mlgate's time: reading the data, the GX run, everything else;
- the import time of `mlgate validate`: `mlgate validate --help` (nothing heavy) and the
  import of great_expectations that a run pays.
Each figure is the median of 3 runs (mlgate and the direct script interleaved). Not a timed test: run `.venv/bin/python bench/validate.py`.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src")]

ROWS = 1_000_000
REPEAT = 3
BIN = Path(sys.executable).parent

# 20 expectations over the 20 columns: null checks, ranges, sets, aggregates, table checks.
SUITE = """\
name: bench
expectations:
  - {expectation: expect_table_row_count_to_be_between, kwargs: {min_value: 1, max_value: 2000000}}
  - {expectation: expect_table_column_count_to_equal, kwargs: {value: 20}}
  - {expectation: expect_column_values_to_not_be_null, kwargs: {column: id}}
  - {expectation: expect_column_values_to_be_unique, kwargs: {column: id}}
  - {expectation: expect_column_values_to_be_between, kwargs: {column: f0, min_value: -10, max_value: 10}}
  - {expectation: expect_column_values_to_be_between, kwargs: {column: f1, min_value: -10, max_value: 10}}
  - {expectation: expect_column_values_to_be_between, kwargs: {column: f2, min_value: -10, max_value: 10}, severity: warning}
  - {expectation: expect_column_values_to_not_be_null, kwargs: {column: f3}}
  - {expectation: expect_column_values_to_not_be_null, kwargs: {column: f4}, severity: warning}
  - {expectation: expect_column_mean_to_be_between, kwargs: {column: f5, min_value: -0.1, max_value: 0.1}}
  - {expectation: expect_column_stdev_to_be_between, kwargs: {column: f6, min_value: 0.9, max_value: 1.1}}
  - {expectation: expect_column_min_to_be_between, kwargs: {column: f7, min_value: -10, max_value: 0}}
  - {expectation: expect_column_max_to_be_between, kwargs: {column: f8, min_value: 0, max_value: 10}}
  - {expectation: expect_column_median_to_be_between, kwargs: {column: f9, min_value: -0.1, max_value: 0.1}, severity: info}
  - {expectation: expect_column_values_to_be_between, kwargs: {column: age, min_value: 18, max_value: 100}}
  - {expectation: expect_column_values_to_be_in_set, kwargs: {column: plan, value_set: [basic, plus, pro]}}
  - {expectation: expect_column_values_to_be_in_set, kwargs: {column: region, value_set: [north, south, east, west]}, severity: warning}
  - {expectation: expect_column_distinct_values_to_be_in_set, kwargs: {column: label, value_set: [0, 1]}}
  - {expectation: expect_column_proportion_of_unique_values_to_be_between, kwargs: {column: plan, min_value: 0, max_value: 0.01}, severity: info}
  - {expectation: expect_column_values_to_match_regex, kwargs: {column: code, regex: "^[A-Z]{3}[0-9]{3}$"}, severity: warning}
"""

# The same validation written directly against GX, as a user's script would.
DIRECT = textwrap.dedent("""\
    import os, sys
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    import yaml
    import pandas as pd
    import great_expectations as gx
    from great_expectations.expectations.registry import get_expectation_impl
    from great_expectations.data_context.types.base import (
        DataContextConfig, InMemoryStoreBackendDefaults, ProgressBarsConfig)

    data, suite_path = sys.argv[1], sys.argv[2]
    spec = yaml.safe_load(open(suite_path))
    suite = gx.ExpectationSuite(name=spec["name"], expectations=[
        get_expectation_impl(e["expectation"])(**e["kwargs"], severity=e.get("severity", "critical"))
        for e in spec["expectations"]])
    context = gx.get_context(mode="ephemeral", project_config=DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(), analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False)))
    batch = context.data_sources.add_pandas("p").add_dataframe_asset("a") \\
        .add_batch_definition_whole_dataframe("b")
    suite = context.suites.add(suite)
    vd = context.validation_definitions.add(gx.ValidationDefinition(name="v", data=batch, suite=suite))
    result = vd.run(batch_parameters={"dataframe": pd.read_parquet(data)},
                    result_format={"result_format": "SUMMARY", "partial_unexpected_count": 5})
    print(result.success, result.statistics["evaluated_expectations"])
""")

PYARROW = "import sys, pyarrow.parquet as pq\nprint(pq.read_table(sys.argv[1]).num_rows)\n"
IMPORT_GX = "import great_expectations\n"


def make_data(path: Path) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    cols = {"id": np.arange(ROWS)}
    for i in range(10):
        cols[f"f{i}"] = rng.normal(0, 1, ROWS)
    cols["age"] = rng.integers(18, 90, ROWS)
    cols["income"] = rng.normal(50_000, 10_000, ROWS)
    cols["plan"] = rng.choice(["basic", "plus", "pro"], ROWS)
    cols["region"] = rng.choice(["north", "south", "east", "west"], ROWS)
    cols["label"] = rng.integers(0, 2, ROWS)
    letters = rng.choice(list("ABCDEFGHIJ"), (ROWS, 3))
    cols["code"] = ["".join(x) for x in letters]
    cols["code"] = [c + "123" for c in cols["code"]]
    cols["score"] = rng.random(ROWS)
    cols["tenure"] = rng.integers(0, 120, ROWS)
    cols["balance"] = rng.exponential(1_000, ROWS)
    frame = pd.DataFrame(cols)
    assert frame.shape == (ROWS, 20), frame.shape
    frame.to_parquet(path)


def timed(cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        sys.exit(f"{cmd[:3]} exited {proc.returncode}: {proc.stderr[-1500:]}")
    return elapsed


def median_of(cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    return statistics.median(timed(cmd, env, cwd) for _ in range(REPEAT))


def in_process_split(data: Path, suite: Path) -> tuple[float, float, float]:
    """mlgate's own run in this process: (read, GX run, total) seconds, imports already done."""
    from mlgate.validate import run as vrun
    from mlgate.validate.config import ValidateConfig
    from mlgate.validate.data import find_files, read_pandas

    vrun.import_gx()
    start = time.perf_counter()
    read_pandas(find_files(str(data)))
    read = time.perf_counter() - start
    start = time.perf_counter()
    result = vrun.validate(ValidateConfig(data=str(data), suite=str(suite)))
    total = time.perf_counter() - start
    return read, result.duration_s - read, total


def main() -> None:
    env = dict(os.environ, GX_ANALYTICS_ENABLED="false")
    with tempfile.TemporaryDirectory(prefix="mlgate-bench-validate-") as tmp_name:
        tmp = Path(tmp_name)
        data, suite = tmp / "data.parquet", tmp / "suite.yaml"
        suite.write_text(SUITE)
        started = time.perf_counter()
        make_data(data)
        print(f"data: {ROWS:,} rows x 20 columns, {data.stat().st_size / 2**20:.0f} MiB Parquet "
              f"(made in {time.perf_counter() - started:.1f} s); suite: 20 expectations")
        (tmp / "direct.py").write_text(DIRECT)
        (tmp / "pyarrow_read.py").write_text(PYARROW)
        (tmp / "import_gx.py").write_text(IMPORT_GX)
        py = sys.executable
        mlgate = [str(BIN / "mlgate"), "validate", "--data", str(data), "--suite", str(suite),
                  "--json", str(tmp / "r.json")]
        direct = [py, str(tmp / "direct.py"), str(data), str(suite)]
        # interleaved, so a busy moment of the machine weighs on both sides alike
        pairs = [(timed(mlgate, env, tmp), timed(direct, env, tmp)) for _ in range(REPEAT)]
        t_mlgate = statistics.median(m for m, _ in pairs)
        t_direct = statistics.median(d for _, d in pairs)
        t_arrow = median_of([py, str(tmp / "pyarrow_read.py"), str(data)], env, tmp)
        t_help = median_of([str(BIN / "mlgate"), "validate", "--help"], env, tmp)
        t_import = median_of([py, str(tmp / "import_gx.py")], env, tmp)
        read, gx_run, total = in_process_split(data, suite)

    ratio = t_mlgate / t_direct
    print(f"mlgate validate (fresh process):       {t_mlgate:6.2f} s")
    print(f"same GX validation, direct script:     {t_direct:6.2f} s")
    print(f"  ratio mlgate / direct GX:            {ratio:6.2f}x  (target <= 1.2x: "
          f"{'met' if ratio <= 1.2 else 'NOT met'})")
    print(f"pyarrow read_table alone (process):    {t_arrow:6.2f} s")
    print(f"  ratio mlgate / pyarrow read:         {t_mlgate / t_arrow:6.2f}x")
    print(f"in process, imports done: read {read:.2f} s, GX run {gx_run:.2f} s, "
          f"mlgate total {total:.2f} s")
    print(f"import time: `mlgate validate --help` {t_help:.2f} s (no GX, pandas or pyspark); "
          f"import great_expectations {t_import:.2f} s")


if __name__ == "__main__":
    main()
