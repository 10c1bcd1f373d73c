"""A gate that checked nothing, or had too little data to judge, is not a pass; data a gate
cannot use is exit 2 naming the file and the column.

- a suite with `expectations: []` used to pass ("0 of 0 expectations met"): now exit 2;
- a benchmark on 3 rows used to pass with a [0, 0] interval: now exit 1 saying why, unless
  --min-rows allows it;
- a text or empty target, or a single class, names --data's file and the target column.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from support.mlmodels import classification_frame, fit, regression_frame, save_skops, split

from mlgate.benchmark.data import union_labels
from mlgate.cli import main
from mlgate.errors import BadInput

ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}


@pytest.fixture(scope="module")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from sklearn.linear_model import LinearRegression, LogisticRegression

    d = tmp_path_factory.mktemp("need-data")
    ctrain, ctest = split(classification_frame(900, 3), 500)
    rtrain, rtest = split(regression_frame(600, 4), 400)
    out = {
        "clf": save_skops(fit(LogisticRegression(), ctrain, "label"), d / "clf.skops"),
        "clf2": save_skops(fit(LogisticRegression(C=0.001), ctrain, "label"), d / "clf2.skops"),
        "reg": save_skops(fit(LinearRegression(), rtrain, "y"), d / "reg.skops"),
    }
    ctest.iloc[:3].to_csv(d / "three.csv", index=False)
    ctest.to_csv(d / "full.csv", index=False)
    ctest.assign(label=1).to_csv(d / "one-class.csv", index=False)
    rtest.assign(y=np.where(rtest.index % 2, "high", "low")).to_csv(d / "text.csv", index=False)
    gap = rtest.astype({"y": object})
    gap.loc[gap.index[7], "y"] = "n/a"   # pandas reads n/a as empty: a float column with NaN
    gap.to_csv(d / "gap.csv", index=False)
    out.update({p.stem: p for p in d.glob("*.csv")})
    return out


def bench(zoo, tmp_path: Path, candidate: str, data: str, target: str, *extra: str,
          champion: str | None = None) -> tuple[int, dict | None]:
    out = tmp_path / "r.json"
    args = ["benchmark", "--candidate", str(zoo[candidate]), "--data", str(zoo[data]),
            "--target", target, "--bootstrap", "200", "--json", str(out), *extra]
    if champion:
        args += ["--champion", str(zoo[champion])]
    code = main(args, environ=ENV)
    return code, json.loads(out.read_text()) if out.exists() else None


def test_empty_suite_is_bad_input(tmp_path: Path, capsys) -> None:
    from support.validatedata import customers

    data = tmp_path / "data.csv"
    customers().to_csv(data, index=False)
    suite = tmp_path / "empty.yaml"
    suite.write_text("name: empty\nexpectations: []\n")
    code = main(["validate", "--data", str(data), "--suite", str(suite)], environ=ENV)
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert f"--suite {suite}: the suite has no expectations" in err


@pytest.mark.timeout(120)
def test_three_rows_cannot_be_judged(zoo, tmp_path: Path, capsys) -> None:
    code, data = bench(zoo, tmp_path, "clf", "three", "label", champion="clf2")
    assert code == 1, capsys.readouterr().err
    result = data["result"]
    assert result["passed"] is False and result["rows"] == 3
    assert result["reasons"][0] == (f"too little data to judge: --data {zoo['three']} has 3 "
                                    "row(s), fewer than --min-rows 30")
    # allowed explicitly, the same data is judged on its figures alone
    code, data = bench(zoo, tmp_path, "clf", "three", "label", "--min-rows", "3",
                       champion="clf2")
    assert not any("too little data" in r for r in data["result"]["reasons"])
    assert code in (0, 1) and (code == 0) == data["result"]["passed"]


@pytest.mark.timeout(120)
def test_enough_rows_judges_as_before(zoo, tmp_path: Path) -> None:
    code, data = bench(zoo, tmp_path, "clf", "full", "label", champion="clf")
    assert code == 0 and data["result"]["rows"] == 400


def test_min_rows_must_be_positive(zoo, tmp_path: Path, capsys) -> None:
    code, _ = bench(zoo, tmp_path, "clf", "full", "label", "--min-rows", "0")
    assert code == 2 and "--min-rows 0: must be at least 1" in capsys.readouterr().err


@pytest.mark.timeout(120)
@pytest.mark.parametrize("candidate, data, target, extra, needle", [
    ("reg", "text", "y", (), "holds text or booleans"),
    ("reg", "gap", "y", (), "holds empty or non-finite values (1 row(s), the first is data "
                            "row 8)"),
    ("clf", "one-class", "label", (), "has a single class"),
    ("clf", "one-class", "label", ("--metric", "f1"), "has a single class"),
])
def test_unusable_target_names_file_and_column(zoo, tmp_path: Path, capsys, candidate: str,
                                               data: str, target: str, extra: tuple,
                                               needle: str) -> None:
    code, _ = bench(zoo, tmp_path, candidate, data, target, *extra)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert f"--data {zoo[data]}: target {target!r}" in lines[0] and needle in lines[0], err


def test_text_labels_against_numeric_predictions_name_file_and_column() -> None:
    """A model whose kind mlgate cannot tell (a pyfunc) predicting numbers for a text target."""
    with pytest.raises(BadInput, match=r"--data d\.csv: target 'y' and the models' "
                                       r"predictions or classes have different types"):
        union_labels([np.array(["a", "b"], dtype=object), np.array([1.5, 2.0])], "d.csv", "y")
