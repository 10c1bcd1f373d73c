"""The Spark engine: the same suite through GX's Spark data source, on a small dataset in
local mode. One SparkSession for the module (starting the JVM is the slow part); mlgate uses
the active session, as it would inside a Spark job."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from support.tools import missing_tool
from support.validatedata import customers, write_suite

from mlgate.cli import main

pytest.importorskip("pyspark", reason="the spark extra is not installed")
pytest.importorskip("great_expectations", reason="the validate extra is not installed")


@pytest.fixture(scope="module", autouse=True)
def _java() -> None:
    """The Spark engine needs Java 17+: a failure under ./scripts/test and CI without it."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        missing_tool("java", "the Spark engine needs Java 17+: apt-get install "
                     "default-jre-headless, or set JAVA_HOME")


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    from mlgate.validate.run import spark_session

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    session, _ = spark_session("local[1]")
    session.conf.set("spark.sql.shuffle.partitions", "1")
    yield session
    session.stop()


def run(tmp_path, *args):
    out = tmp_path / "result.json"
    code = main(["validate", "--engine", "spark", *args, "--json", str(out)],
                environ={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)})
    return code, json.loads(out.read_text())


def test_spark_engine_runs_the_suite_on_a_glob(spark, tmp_path):
    suite = write_suite(tmp_path / "churn.yaml")
    frame = customers()
    frame.loc[:9, "age"] = 150  # ten rows out of range: the critical expectation fails
    frame.iloc[:200].to_csv(tmp_path / "part-0.csv", index=False)
    frame.iloc[200:].to_csv(tmp_path / "part-1.csv", index=False)
    reference = tmp_path / "train.parquet"
    customers(seed=3).to_parquet(reference)

    code, data = run(tmp_path, "--data", str(tmp_path / "part-*.csv"), "--suite", str(suite),
                     "--reference", str(reference))

    assert code == 1
    result = data["result"]
    assert result["engine"] == "spark" and result["rows"] == 400
    age = next(o for o in result["outcomes"] if o["column"] == "age")
    assert not age["success"] and age["unexpected_count"] == 10 and age["blocking"]
    assert age["unexpected_values"] == ["150"]
    assert [o["success"] for o in result["outcomes"]] == [True, False, True, True]
    drift = result["drift"]
    assert {c["column"] for c in drift["columns"]} >= {"income", "plan"}
    assert spark.sparkContext._jsc is not None  # mlgate left the caller's session running


def test_spark_engine_reports_an_unreadable_file(spark, tmp_path):
    suite = write_suite(tmp_path / "churn.yaml")
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet" * 20)
    out = tmp_path / "result.json"
    code = main(["validate", "--engine", "spark", "--data", str(bad), "--suite", str(suite),
                 "--json", str(out)], environ={"PATH": os.environ.get("PATH", "")})
    assert code == 2
    assert "Spark cannot read it as parquet" in json.loads(out.read_text())["result"]["error"]
