"""The benchmark's report writers (Markdown with a Mermaid chart, self-contained HTML with
matplotlib figures, OpenMetrics for GitLab's metrics report) and its CLI presentation, on
hand-built results: classification against a champion, regression, no champion, slices and
latency, a failing gate, and names crafted to break out of each format."""

from __future__ import annotations

import base64
import json
import math
import re
import shlex
from dataclasses import replace
from pathlib import Path

import pytest

from mlgate.benchmark.result import (
    BenchmarkResult,
    Check,
    Curve,
    Curves,
    Latency,
    LatencyCheck,
    MetricResult,
    ModelInfo,
    SliceResult,
)
from mlgate.errors import BadInput
from mlgate.report.benchmark import OUTPUT_KEYS, outputs, present
from mlgate.report.benchmark_files import write_reports
from mlgate.report.benchmark_html import html
from mlgate.report.benchmark_markdown import NO_CHAMPION_NOTE, markdown, mermaid_label
from mlgate.report.benchmark_openmetrics import openmetrics

NASTY = 'evil <script>alert(1)</script> "q" | `t` [x](javascript:alert(1))\nline2 #h \\b'
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# --------------------------------------------------------------------------- builders


def _cand(**kw) -> ModelInfo:
    base = dict(role="candidate", uri="models:/churn/4", format="mlflow-sklearn-skops",
                size_bytes=3_400_000, name="churn", version="4", run_id="run-cand")
    base.update(kw)
    return ModelInfo(**base)


def _champ(**kw) -> ModelInfo:
    base = dict(role="champion", uri="models:/churn@champion", format="mlflow-sklearn-skops",
                size_bytes=1_200, name="churn", version="3", run_id="run-champ")
    base.update(kw)
    return ModelInfo(**base)


def _margin(passed: bool = True, by_point: bool = True) -> Check:
    return Check("margin", -0.01, -0.004 if passed else -0.02, 0.01, passed, by_point,
                 "worse by at most 0.01 (0.01): 95% bound of the change -0.004 (point 0.01)")


def _threshold(passed: bool = True) -> Check:
    return Check("threshold", 0.8, 0.85, 0.85, passed, passed, "at least 0.8: candidate 0.85")


def _base(**kw) -> BenchmarkResult:
    base = dict(task="classification", engine="pandas", data="holdout.parquet", rows=5000,
                target="churned", confidence=0.95, resamples=1000, seed=7,
                candidate=_cand(), champion=_champ(), metrics=(), passed=True)
    base.update(kw)
    return BenchmarkResult(**base)


def classification() -> BenchmarkResult:
    acc = MetricResult("accuracy", True, 0.93, 0.92, 0.01, -0.0041, 0.0123, "mcnemar-exact",
                       0.031, checks=(_margin(),))
    # the interesting case: the point estimate clears the bar, the bound does not
    f1 = MetricResult("f1", True, 0.85, 0.84, 0.0123, -0.003, 0.02, "mcnemar-exact", 0.2,
                      checks=(_threshold(), Check(
                          "min_absolute_change", 0.005, -0.003, 0.0123, False, True,
                          "better by more than 0.005: 95% bound of the gain -0.003")),
                      passed=False)
    loss = MetricResult("log_loss", False, 0.25, 0.27, -0.02, -0.03, -0.01, "wilcoxon",
                        0.001, gated=False)
    return _base(metrics=(acc, f1, loss), passed=False,
                 reasons=("f1: better by more than 0.005 failed: bound -0.003",))


def regression() -> BenchmarkResult:
    rmse = MetricResult("rmse", False, 2.5, 2.6, -0.1, -0.2, 0.000012, "wilcoxon", 0.04,
                        checks=(_margin(),))
    mae = MetricResult("mae", False, 1.9, 2.0, -0.1, -0.15, -0.05, "wilcoxon", 0.01,
                       gated=False)
    return _base(task="regression", target="price", metrics=(rmse, mae))


def no_champion() -> BenchmarkResult:
    acc = MetricResult("accuracy", True, 0.91, checks=(_threshold(),))
    auc = MetricResult("roc_auc", True, 0.95, gated=False)
    return _base(champion=None, metrics=(auc, acc))


def sliced() -> BenchmarkResult:
    acc = MetricResult("accuracy", True, 0.93, 0.92, 0.01, -0.0041, 0.0123, "mcnemar-exact",
                       0.031, checks=(_margin(),))
    north = SliceResult("region", "north", 400, (replace(acc, checks=()),), True, True)
    tiny = SliceResult("region", "south", 12, (replace(acc, delta=-0.2, low=-0.5, high=0.1),),
                       False, True)
    odd = SliceResult("region", NASTY, 80, (MetricResult(
        "accuracy", True, float("nan"), gated=False, error="no rows of class 1"),), True, True)
    lat = (Latency("candidate", 1.234, 4.5678, 200), Latency("champion", 1.1, 3.9, 200))
    checks = (LatencyCheck("max_p95_ms", 10.0, 4.5678, True, "p95 at most 10 ms: 4.568 ms"),
              LatencyCheck("max_regression", 0.1, 0.17, False,
                           "p95 at most 10% slower than the champion: 17% slower"))
    return _base(metrics=(acc,), slice_column="region", slices=(north, tiny, odd),
                 latency=lat, latency_checks=checks, passed=False,
                 reasons=("latency: p95 17% slower than the champion", "second reason"))


def class_curves() -> Curves:
    roc = {"candidate": Curve((0.0, 0.1, 0.4, 1.0), (0.0, 0.6, 0.9, 1.0), 0.912),
           "champion": Curve((0.0, 0.2, 0.5, 1.0), (0.0, 0.5, 0.85, 1.0), 0.88)}
    pr = {"candidate": Curve((0.0, 0.5, 1.0), (1.0, 0.9, 0.5), 0.81),
          "champion": Curve((0.0, 0.5, 1.0), (1.0, 0.8, 0.5), None)}
    return Curves(roc=roc, pr=pr)


def reg_curves() -> Curves:
    xs = tuple(float(i) for i in range(50))
    return Curves(residuals={"candidate": Curve(xs, tuple(math.sin(x) for x in xs)),
                             "champion": Curve(xs, tuple(math.cos(x) for x in xs))})


# --------------------------------------------------------------------------- helpers


def _section(md: str, title: str) -> str:
    m = re.search(rf"^### {re.escape(title)}\n\n(.*?)(?=^### |\Z)", md, re.S | re.M)
    assert m, f"no section {title!r} in\n{md}"
    return m.group(1)


def _table(block: str) -> list[list[str]]:
    rows = [ln for ln in block.splitlines() if ln.startswith("|")]
    return [[c.strip() for c in re.split(r"(?<!\\)\|", r)[1:-1]] for r in rows[2:]]


def _mermaid(md: str) -> list[str]:
    m = re.search(r"^```mermaid\n(.*?)\n```$", md, re.S | re.M)
    assert m, md
    return m.group(1).splitlines()


_NUMBER = r"[+-]?(?:\d+(?:\.\d+)?|\.\d+)"  # xychart's NUMBER_WITH_DECIMAL


def _parse_chart(lines: list[str]) -> tuple[list[str], list[float], tuple[float, float]]:
    assert lines[0] == "xychart-beta"
    x = next(ln for ln in lines if ln.strip().startswith("x-axis"))
    y = next(ln for ln in lines if ln.strip().startswith("y-axis"))
    bar = next(ln for ln in lines if ln.strip().startswith("bar"))
    xm = re.fullmatch(r'\s*x-axis \[((?:"[^"\n]*")(?:, "[^"\n]*")*)\]', x)
    assert xm, x
    names = re.findall(r'"([^"]*)"', xm.group(1))
    ym = re.fullmatch(rf'\s*y-axis "[^"]*" ({_NUMBER}) --> ({_NUMBER})', y)
    assert ym, y
    bm = re.fullmatch(rf"\s*bar \[({_NUMBER}(?:, {_NUMBER})*)\]", bar)
    assert bm, bar
    values = [float(v) for v in bm.group(1).split(", ")]
    return names, values, (float(ym.group(1)), float(ym.group(2)))


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|\})')


def parse_openmetrics(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """A strict reader of the subset mlgate writes: every family typed before its samples and
    contiguous, label values escaped as the format says, no NaN, ending with # EOF."""
    assert text.endswith("# EOF\n")
    lines = text[:-1].split("\n")
    assert lines[-1] == "# EOF" and "# EOF" not in lines[:-1]
    typed: dict[str, str] = {}
    done: set[str] = set()
    current = None
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for line in lines[:-1]:
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind == "gauge" and name not in typed
            typed[name] = kind
            if current:
                done.add(current)
            current = name
            continue
        if line.startswith("# HELP "):
            continue
        assert not line.startswith("#"), line
        m = _SAMPLE.match(line)
        assert m, line
        name, raw_labels, value = m.groups()
        assert name == current and name not in done, f"{name} not contiguous/typed"
        labels: list[tuple[str, str]] = []
        if raw_labels:
            pos = 1
            while pos < len(raw_labels):
                lm = _LABEL.match(raw_labels, pos)
                assert lm, raw_labels[pos:]
                val = re.sub(r"\\(.)", lambda g: "\n" if g.group(1) == "n" else g.group(1),
                             lm.group(2))
                labels.append((lm.group(1), val))
                pos = lm.end()
        number = float(value)
        assert math.isfinite(number), line
        key = (name, tuple(labels))
        assert key not in out, f"duplicate {key}"
        out[key] = number
    return out


def gitlab_metrics(text: str) -> dict[str, str]:
    """What GitLab's metrics parser keeps (Gitlab::Ci::Parsers::Metrics::Generic): per line,
    everything from '#' cut, the rest shell-split, first word the key, second the value; a
    line that does not split fails the whole report."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        words = shlex.split(re.sub(r"#.*$", "", line))
        if len(words) < 2:
            continue
        assert words[0] not in out, words[0]
        out[words[0]] = words[1]
    return out


def _images(page: str) -> list[tuple[str, bytes]]:
    found = re.findall(r'<img alt="([^"]*)" src="data:image/png;base64,([A-Za-z0-9+/=]+)">',
                       page)
    return [(alt, base64.b64decode(data, validate=True)) for alt, data in found]


# --------------------------------------------------------------------------- Markdown


def test_markdown_table_has_figures_and_verdict_words():
    md = markdown(classification())
    assert md.startswith("## mlgate benchmark: churn v4 vs churn v3\n")
    assert "❌ **Failed**: f1: better by more than 0\\.005 failed" in md
    rows = _table(_section(md, "Metrics"))
    assert [r[0] for r in rows] == ["accuracy", "f1", "log\\_loss"]
    acc, f1, loss = rows
    assert acc[1:6] == ["0.92", "0.93", "+0.01", "[-0.0041, 0.0123]", "0.031 (mcnemar\\-exact)"]
    assert acc[6].endswith("passed") and f1[6].endswith("failed")
    assert loss[6] == "report only" and loss[3] == "-0.02"
    assert "| Metric | Champion | Candidate | Delta | 95% CI | p-value | Verdict |" in md


def test_markdown_checks_show_bound_and_point_verdicts():
    checks = _section(markdown(classification()), "Checks")
    assert "✓ by the 95% bound, ✓ by the point estimate" in checks
    line = next(ln for ln in checks.splitlines() if "better by more than" in ln)
    assert "✗ by the 95% bound, ✓ by the point estimate" in line
    assert "they disagree" in line
    assert "✓ on the candidate's value" in checks  # a threshold has no interval


def test_mermaid_chart_is_plausible_xychart():
    result = classification()
    names, values, (lo, hi) = _parse_chart(_mermaid(markdown(result)))
    assert names == [m.name for m in result.metrics]
    assert values == pytest.approx([m.delta for m in result.metrics])
    assert lo <= min(values + [0.0]) and hi >= max(values + [0.0])
    assert 'y-axis "candidate - champion"' in "\n".join(_mermaid(markdown(result)))


def test_mermaid_numbers_are_plain_decimals():
    result = regression()
    tiny = replace(result.metrics[1], delta=0.000012)
    names, values, _ = _parse_chart(_mermaid(markdown(replace(
        result, metrics=(result.metrics[0], tiny)))))
    assert names == ["rmse", "mae"] and values == pytest.approx([-0.1, 0.000012])


def test_mermaid_labels_cannot_break_the_chart():
    label = mermaid_label(NASTY)
    assert '"' not in label and "\n" not in label and "%" not in label and "<" not in label
    result = classification()
    odd = replace(result.metrics[0], name=NASTY)
    lines = _mermaid(markdown(replace(result, metrics=(odd, result.metrics[1]))))
    names, values, _ = _parse_chart(lines)
    assert len(names) == len(values) == 2 and names[0] == label


def test_no_champion_says_so_and_draws_no_chart():
    md = markdown(no_champion())
    assert "## mlgate benchmark: churn v4 vs no champion" in md
    assert NO_CHAMPION_NOTE in _section(md, "Notes")
    assert "```mermaid" not in md
    rows = _table(_section(md, "Metrics"))
    assert rows[0][:4] == ["roc\\_auc", "—", "0.95", "—"]
    assert "| champion | (none) |" in _section(md, "Models")


def test_no_champion_note_not_repeated_when_core_wrote_one():
    result = replace(no_champion(), notes=("No champion (models:/x@champion does not exist): "
                                           "judged on absolute thresholds alone",))
    assert markdown(result).count("No champion") == 1


def test_slices_latency_and_models():
    md = markdown(sliced())
    rows = _table(_section(md, "Slices by region"))
    assert rows[0] == ["north", "400", "+0.01", "[-0.0041, 0.0123]", "yes", "✅ yes"]
    assert rows[1][0] == "south" and rows[1][4] == "too few rows"
    assert rows[2][3].startswith("undefined: no rows of class 1")
    latency = _section(md, "Latency and size")
    lat = _table(latency)
    assert lat[0] == ["candidate", "1.234", "4.568", "200", "3.242 MiB"]
    assert lat[1][-1] == "1.172 KiB"
    assert "✓ p95 at most 10 ms" in latency and "✗ p95 at most 10% slower" in latency
    models = _table(_section(md, "Models"))
    assert models[0][1] == "models:/churn/4" and models[0][4] == "run\\-cand"
    reasons = _section(md, "Why it failed")
    assert "latency: p95 17% slower" in reasons and "second reason" in reasons
    assert "❌ **Failed**: latency: p95 17% slower than the champion (and 1 more)" in md


def test_markdown_escapes_untrusted_text():
    result = replace(sliced(), candidate=_cand(uri=NASTY, name=None),
                     data="<img src=x onerror=alert(1)>")
    md = markdown(result)
    assert "<script" not in md and "<img" not in md and "](javascript" not in md
    models = _section(md, "Models")
    assert "&lt;script&gt;" not in models  # '<' is an entity, '>' escaped by a backslash
    assert "&lt;script\\>" in models
    # a table row still has exactly its six cells
    assert len(_table(models)[0]) == 6


# --------------------------------------------------------------------------- HTML


def test_html_classification_embeds_roc_pr_and_delta_pngs():
    page = html(classification(), class_curves())
    images = _images(page)
    assert [alt for alt, _ in images][:2] == ["ROC curves", "Precision-recall curves"]
    assert any(alt.startswith("Change by metric") for alt, _ in images)
    assert all(data.startswith(PNG_MAGIC) and len(data) > 1000 for _, data in images)
    assert "<td>accuracy</td>" in page and "[-0.0041, 0.0123]" in page
    assert "report only" in page and "0.031 (mcnemar-exact)" in page


def test_html_regression_embeds_residuals():
    images = _images(html(regression(), reg_curves()))
    assert [alt for alt, _ in images][0] == "Residuals by prediction"
    assert all(data.startswith(PNG_MAGIC) for _, data in images)


def test_html_without_curves_says_why():
    page = html(classification(), Curves())
    assert "No ROC or precision-recall curves" in page
    assert [alt for alt, _ in _images(page)] == [
        "Change by metric with its confidence interval (green: the candidate is better, "
        "red: worse)"]
    page = html(no_champion(), Curves())
    assert _images(page) == [] and "there is no champion" in page
    assert NO_CHAMPION_NOTE in page
    assert "No residual plot" in html(regression(), Curves())


def test_html_escapes_and_loads_nothing():
    result = classification()
    evil = replace(result.metrics[0], name=NASTY)
    result = replace(result, metrics=(evil,) + result.metrics[1:],
                     candidate=_cand(uri=NASTY, name=None), data=NASTY)
    curves = Curves(roc={NASTY: Curve((0.0, 1.0), (0.0, 1.0), 0.5)},
                    pr={"$\\frac{": Curve((0.0, 1.0), (1.0, 0.5), 0.5)})
    page = html(result, curves)
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    tags = re.findall(r"<[a-zA-Z][^>]*>", page)
    image = re.compile(r'<img alt="[^"<>]*" src="data:image/png;base64,[A-Za-z0-9+/=]+">')
    assert not [t for t in tags if re.search(r"\s(src|href)=", t) and not image.fullmatch(t)]
    assert not [t for t in tags if re.search(r"\son[a-z]+=", t)]
    assert not re.search(r"<(script|link|iframe|object|embed)\b", page, re.I)
    assert "Content-Security-Policy" in page
    assert len(_images(page)) == 3


def test_html_is_deterministic():
    assert html(sliced(), class_curves()) == html(sliced(), class_curves())


# --------------------------------------------------------------------------- OpenMetrics


def test_openmetrics_parses_with_expected_samples():
    text = openmetrics(classification())
    samples = parse_openmetrics(text)
    p = "mlgate_benchmark_"
    assert samples[(p + "passed", ())] == 0
    assert samples[(p + "champion_missing", ())] == 0
    assert samples[(p + "rows", ())] == 5000
    assert samples[(p + "metric", (("metric", "accuracy"), ("model", "candidate")))] == 0.93
    assert samples[(p + "metric", (("metric", "accuracy"), ("model", "champion")))] == 0.92
    assert samples[(p + "delta", (("metric", "accuracy"),))] == 0.01
    assert samples[(p + "delta_low", (("metric", "accuracy"),))] == -0.0041
    assert samples[(p + "delta_high", (("metric", "accuracy"),))] == 0.0123
    assert samples[(p + "p_value", (("metric", "log_loss"),))] == 0.001
    assert samples[(p + "metric_passed", (("metric", "f1"),))] == 0
    assert (p + "metric_passed", (("metric", "log_loss"),)) not in samples  # report only
    assert samples[(p + "model_size_bytes", (("model", "candidate"),))] == 3_400_000
    assert "NaN" not in text and "nan" not in text.lower().replace("_", "")


def test_openmetrics_as_gitlab_reads_it():
    keys = gitlab_metrics(openmetrics(sliced()))
    assert keys["mlgate_benchmark_passed"] == "0"
    assert keys["mlgate_benchmark_metric{metric=accuracy,model=candidate}"] == "0.93"
    assert keys["mlgate_benchmark_latency_p95_ms{model=candidate}"] == "4.5678"
    assert keys["mlgate_benchmark_slice_delta{metric=accuracy,slice=region,value=south}"] \
        == "-0.2"


def test_openmetrics_without_champion_and_slices_skips_missing():
    samples = parse_openmetrics(openmetrics(no_champion()))
    names = {name for name, _ in samples}
    assert samples[("mlgate_benchmark_champion_missing", ())] == 1
    assert "mlgate_benchmark_delta" not in names and "mlgate_benchmark_p_value" not in names
    assert ("mlgate_benchmark_metric", (("metric", "accuracy"), ("model", "champion"))) \
        not in samples
    sl = parse_openmetrics(openmetrics(sliced()))
    odd = [labels for name, labels in sl if name == "mlgate_benchmark_slice_rows"
           and dict(labels)["value"].startswith("evil")]
    assert len(odd) == 1
    # the slice whose metric is undefined has rows and a verdict but no delta
    assert not [1 for name, labels in sl if name == "mlgate_benchmark_slice_delta"
                and dict(labels)["value"].startswith("evil")]


def test_openmetrics_label_escaping():
    text = openmetrics(sliced())
    line = next(ln for ln in text.splitlines()
                if ln.startswith("mlgate_benchmark_slice_rows") and "evil" in ln)
    assert '\\"q\\"' in line and "\\n" in line and "\\\\b" in line and "#" not in line
    samples = parse_openmetrics(text)
    value = next(dict(labels)["value"] for name, labels in samples
                 if name == "mlgate_benchmark_slice_rows" and "evil" in dict(labels)["value"])
    assert value == NASTY.replace("#", "%23")
    gitlab = gitlab_metrics(text)  # GitLab's split does not fail on it
    assert sum(1 for k in gitlab if k.startswith("mlgate_benchmark_slice_rows")) == 3


def test_openmetrics_skips_nan_and_inf():
    result = classification()
    odd = replace(result.metrics[0], candidate=float("nan"), p_value=float("inf"))
    text = openmetrics(replace(result, metrics=(odd,)))
    samples = parse_openmetrics(text)
    assert ("mlgate_benchmark_metric", (("metric", "accuracy"), ("model", "candidate"))) \
        not in samples
    assert not [1 for name, _ in samples if name == "mlgate_benchmark_p_value"]


# --------------------------------------------------------------------------- outputs, present


def test_outputs_keys_and_headline_metric():
    out = outputs(classification(), {"report": "r.md", "metrics-file": "m.txt"})
    assert tuple(out) == OUTPUT_KEYS
    assert set(out) == {"passed", "champion-missing", "metric", "champion", "candidate",
                        "delta", "ci-low", "ci-high", "p-value", "metrics", "report",
                        "html-report", "metrics-file"}
    assert all(isinstance(v, str) for v in out.values())
    assert out["passed"] == "false" and out["champion-missing"] == "false"
    assert (out["metric"], out["champion"], out["candidate"], out["delta"], out["ci-low"],
            out["ci-high"], out["p-value"]) == ("accuracy", "0.92", "0.93", "0.01", "-0.0041",
                                                "0.0123", "0.031")
    assert (out["report"], out["html-report"], out["metrics-file"]) == ("r.md", "", "m.txt")
    metrics = json.loads(out["metrics"])
    assert list(metrics) == ["accuracy", "f1", "log_loss"]
    assert metrics["f1"] == {"champion": 0.84, "candidate": 0.85, "delta": 0.0123,
                             "low": -0.003, "high": 0.02, "p_value": 0.2, "passed": False}
    assert " " not in out["metrics"]


def test_outputs_without_champion_and_rounding():
    out = outputs(no_champion(), {})
    assert out["champion-missing"] == "true" and out["passed"] == "true"
    assert out["metric"] == "accuracy"  # the first gated metric, not the first listed
    assert (out["champion"], out["delta"], out["ci-low"], out["p-value"]) == ("", "", "", "")
    assert out["candidate"] == "0.91"
    assert json.loads(out["metrics"])["roc_auc"]["champion"] is None
    noisy = replace(no_champion().metrics[1], candidate=0.1 + 0.2)
    out = outputs(replace(no_champion(), metrics=(noisy,)), {})
    assert out["candidate"] == "0.3"
    ungated = outputs(replace(no_champion(), metrics=(no_champion().metrics[0],)), {})
    assert ungated["metric"] == "roc_auc"
    assert outputs(replace(no_champion(), metrics=()), {})["metric"] == ""


def test_present_failing():
    p = present(sliced(), {"html-report": "out/r.html"})
    assert p.command == "benchmark" and p.exit_code == 1
    assert p.title == "mlgate benchmark: churn v4 vs churn v3 on 5,000 rows"
    assert p.verdict == "failed: latency: p95 17% slower than the champion"
    assert [a.message for a in p.annotations] == list(sliced().reasons)
    assert all(a.level == "error" and a.file is None for a in p.annotations)
    assert p.table is not None
    assert p.table.headers == ("metric", "champion", "candidate", "delta", "CI", "p",
                               "verdict")
    assert p.table.rows[0][:4] == ("accuracy", "0.92", "0.93", "+0.01")
    assert len(p.sections) == 1 and not p.sections[0].markdown.startswith("## ")
    assert p.sections[0].markdown.startswith("❌ **Failed**")
    assert p.result["passed"] is False and p.outputs["html-report"] == "out/r.html"
    json.dumps(p.result, allow_nan=False)  # the slice's NaN became null


def test_present_passing_without_champion():
    p = present(no_champion(), {})
    assert p.exit_code == 0 and p.verdict == "passed" and p.annotations == ()
    assert p.title == "mlgate benchmark: churn v4 (no champion) on 5,000 rows"
    assert p.result["champion"] is None and p.result["passed"] is True
    assert p.table is not None and p.table.rows[0][1] == "—"


# --------------------------------------------------------------------------- writing


def test_write_reports_writes_what_was_asked(tmp_path: Path):
    result, curves = regression(), reg_curves()
    paths = write_reports(result, curves, markdown_path=str(tmp_path / "a" / "report.md"),
                          html_path=str(tmp_path / "report.html"),
                          metrics_path=str(tmp_path / "metrics.txt"))
    assert paths == {"report": str(tmp_path / "a" / "report.md"),
                     "html-report": str(tmp_path / "report.html"),
                     "metrics-file": str(tmp_path / "metrics.txt")}
    assert (tmp_path / "a" / "report.md").read_text(encoding="utf-8") == markdown(result)
    assert (tmp_path / "metrics.txt").read_text(encoding="utf-8") == openmetrics(result)
    assert (tmp_path / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert write_reports(result, curves, markdown_path=None, html_path="",
                         metrics_path=None) == {}
    only = write_reports(result, curves, markdown_path=None, html_path=None,
                         metrics_path=str(tmp_path / "m2.txt"))
    assert only == {"metrics-file": str(tmp_path / "m2.txt")}


@pytest.mark.parametrize("option,kwarg", [("--report", "markdown_path"),
                                          ("--html-report", "html_path"),
                                          ("--metrics-file", "metrics_path")])
def test_write_error_names_the_option(tmp_path: Path, option: str, kwarg: str):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    kwargs = {"markdown_path": None, "html_path": None, "metrics_path": None}
    kwargs[kwarg] = str(blocker / "sub" / "out")
    with pytest.raises(BadInput) as exc:
        write_reports(classification(), class_curves(), **kwargs)
    assert str(exc.value).startswith(f"{option} ")
    assert "cannot write" in str(exc.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]
