"""The benchmark verdict on given figures: each rule of a metric spec, its boundary, and slices.

`decide` is judged here on scores whose values and intervals are fixed by the test (a stand-in
for the engine's `Scores`), so each case can sit exactly on a rule's limit: a candidate exactly
at the threshold, a bound exactly at the margin, a lower-is-better metric whose change must be
flipped before it is compared. The figures are binary fractions (0.25, 0.125...) so that the
boundaries are exact in floating point. `test_run.py` covers the same rules end to end
on real models.
"""

from __future__ import annotations

import math

import pytest

from mlgate.benchmark.decide import (
    MAX_SLICES,
    MIN_SLICE_ROWS,
    check_slice_count,
    judge_metric,
    judge_slices,
)
from mlgate.benchmark.metrics import MetricError
from mlgate.benchmark.result import Check, MetricResult
from mlgate.benchmark.spec import parse_spec
from mlgate.benchmark.stats import Interval
from mlgate.errors import BadInput

SETTINGS = {"resamples": 500, "confidence": 0.95, "seed": 7}


class FixedScores:
    """`Scores` with the figures given: per metric a candidate and champion value, an interval
    of candidate - champion and a significance test; an exception instead of a value raises."""

    def __init__(self, values: dict, interval: Interval | None = None, *, rows: int = 1000,
                 champion: bool = True, significance=("mcnemar-exact", 0.03125),
                 interval_error: Exception | None = None):
        self.values = values
        self.fixed_interval = interval
        self.rows = rows
        self.task = "classification"
        self.labels = ("0", "1")
        self.has_champion = champion
        self.fixed_significance = significance
        self.interval_error = interval_error
        self.interval_calls: list[tuple] = []

    def value(self, metric, role):
        found = self.values[role]
        if isinstance(found, Exception):
            raise found
        return found

    def interval(self, metric, resamples, confidence, seed):
        self.interval_calls.append((metric.name, resamples, confidence, seed))
        if self.interval_error is not None:
            raise self.interval_error
        assert self.fixed_interval is not None
        return self.fixed_interval

    def significance(self, metric):
        # as the engines do: no test for a rank-based metric (its interval is the evidence)
        return None if metric.rank_based else self.fixed_significance

    def slices(self):
        return []


def scores(candidate: float, champion: float | None, delta: float = 0.0, low: float = 0.0,
           high: float = 0.0, **kw) -> FixedScores:
    values = {"candidate": candidate, "champion": champion}
    return FixedScores(values, Interval(delta, low, high), champion=champion is not None, **kw)


def judge(text: str, s: FixedScores, **kw) -> MetricResult:
    return judge_metric(parse_spec(text), s, **SETTINGS, **kw)


def only(result: MetricResult, kind: str) -> Check:
    found = [c for c in result.checks if c.kind == kind]
    assert len(found) == 1, result.checks
    return found[0]


# --- thresholds --------------------------------------------------------------------------


def test_threshold_greater_is_better_holds_at_the_limit_and_fails_below_it() -> None:
    at = judge("accuracy:threshold=0.75", scores(0.75, None))
    assert at.passed
    assert only(at, "threshold") == Check("threshold", 0.75, 0.75, 0.75, True, True,
                                          "at least 0.75: candidate 0.75")
    below = judge("accuracy:threshold=0.75", scores(0.625, None))
    assert not below.passed
    assert only(below, "threshold") == Check("threshold", 0.75, 0.625, 0.625, False, False,
                                             "at least 0.75: candidate 0.625")
    assert judge("accuracy:threshold=0.75", scores(0.875, None)).passed


def test_threshold_lower_is_better_holds_at_the_limit_and_fails_above_it() -> None:
    at = judge("rmse:threshold=0.5", scores(0.5, None))
    assert at.passed
    assert only(at, "threshold").text == "at most 0.5: candidate 0.5"
    above = judge("rmse:threshold=0.5", scores(0.625, None))
    assert not above.passed
    assert only(above, "threshold") == Check("threshold", 0.5, 0.625, 0.625, False, False,
                                             "at most 0.5: candidate 0.625")
    assert judge("rmse:threshold=0.5", scores(0.375, None)).passed


def test_figures_are_shown_with_four_significant_digits() -> None:
    r = judge("accuracy:threshold=0.8", scores(0.8123456, None))
    assert only(r, "threshold").text == "at least 0.8: candidate 0.8123"


# --- without a champion ------------------------------------------------------------------


def test_without_a_champion_only_thresholds_count_and_no_change_is_reported() -> None:
    s = scores(0.875, None)
    r = judge("accuracy:threshold=0.75,min_absolute_change=0.125,margin=0.25", s)
    assert [c.kind for c in r.checks] == ["threshold"]
    assert r.passed and r.gated
    assert (r.name, r.greater_is_better, r.candidate) == ("accuracy", True, 0.875)
    assert (r.champion, r.delta, r.low, r.high, r.test, r.p_value) == (None,) * 6
    assert s.interval_calls == []  # nothing to compare with: no bootstrap
    failed = judge("accuracy:threshold=0.9,margin=0.25", scores(0.875, None))
    assert not failed.passed


def test_a_bare_metric_without_a_champion_is_reported_not_gated() -> None:
    r = judge("accuracy", scores(0.5, None))
    assert r.checks == () and r.passed and not r.gated and r.candidate == 0.5


def test_a_bare_metric_gates_nothing_and_passes() -> None:
    r = judge("accuracy", scores(0.5, 0.75, -0.25, -0.375, -0.125))
    assert r.checks == () and r.passed and not r.gated
    assert (r.champion, r.delta, r.low, r.high) == (0.75, -0.25, -0.375, -0.125)


# --- change rules on the confidence bound -------------------------------------------------


def test_the_whole_result_is_reported_with_the_interval_and_the_test() -> None:
    s = scores(0.875, 0.75, 0.125, 0.0625, 0.1875, significance=("mcnemar-exact", 0.03125))
    r = judge("accuracy:margin=0.01", s)
    assert r == MetricResult("accuracy", True, 0.875, 0.75, 0.125, 0.0625, 0.1875,
                             "mcnemar-exact", 0.03125, gated=True, checks=r.checks, passed=True)
    assert s.interval_calls == [("accuracy", 500, 0.95, 7)]


def test_a_rank_based_metric_has_no_significance_test() -> None:
    r = judge("roc_auc:margin=0.01", scores(0.875, 0.75, 0.125, 0.0625, 0.1875))
    assert (r.test, r.p_value) == (None, None)


def test_no_significance_test_leaves_test_and_p_value_empty() -> None:
    r = judge("accuracy:margin=0.01", scores(0.875, 0.75, 0.125, 0.0625, 0.1875,
                                              significance=None))
    assert (r.test, r.p_value) == (None, None)
    assert r.delta == 0.125


def test_min_absolute_change_needs_the_bound_strictly_beyond_the_requirement() -> None:
    # greater is better: the bound is the low end of the interval
    clear = judge("accuracy:min_absolute_change=0.125", scores(0.9, 0.6, 0.25, 0.1875, 0.3125))
    assert clear.passed
    assert only(clear, "min_absolute_change") == Check(
        "min_absolute_change", 0.125, 0.1875, 0.25, True, True,
        "better by more than 0.125: 95% bound of the gain 0.1875 (point 0.25)")
    at = judge("accuracy:min_absolute_change=0.125", scores(0.9, 0.6, 0.25, 0.125, 0.375))
    assert not at.passed  # the interval touches the requirement: not shown to be better
    assert only(at, "min_absolute_change").passed_by_point
    point_at = only(judge("accuracy:min_absolute_change=0.25",
                          scores(0.9, 0.6, 0.25, 0.125, 0.375)), "min_absolute_change")
    assert (point_at.passed, point_at.passed_by_point) == (False, False)


def test_point_and_bound_verdicts_can_disagree() -> None:
    # the point estimate clears 0.0625 but the interval reaches below it
    r = judge("accuracy:min_absolute_change=0.0625", scores(0.8, 0.7, 0.125, -0.0625, 0.25))
    check = only(r, "min_absolute_change")
    assert (check.passed, check.passed_by_point) == (False, True)
    assert not r.passed


def test_lower_is_better_change_is_the_champion_minus_the_candidate() -> None:
    # rmse fell by 0.25 (candidate - champion = -0.25): a gain of 0.25, at worst 0.125
    better = judge("rmse:min_absolute_change=0.0625", scores(1.0, 1.25, -0.25, -0.375, -0.125))
    assert only(better, "min_absolute_change") == Check(
        "min_absolute_change", 0.0625, 0.125, 0.25, True, True,
        "better by more than 0.0625: 95% bound of the gain 0.125 (point 0.25)")
    assert better.passed
    assert better.delta == -0.25  # the reported change stays candidate - champion
    # rmse rose by 0.25: a loss, whatever its interval says about the best case
    worse = judge("rmse:min_absolute_change=0.0625", scores(1.25, 1.0, 0.25, 0.125, 0.375))
    check = only(worse, "min_absolute_change")
    assert (check.bound, check.point, check.passed, check.passed_by_point) == (
        -0.375, -0.25, False, False)
    assert not worse.passed


def test_min_relative_change_scales_with_the_size_of_the_champion() -> None:
    r = judge("accuracy:min_relative_change=25%", scores(0.75, 0.5, 0.25, 0.1875, 0.3125))
    check = only(r, "min_relative_change")
    assert check == Check(
        "min_relative_change", 0.125, 0.1875, 0.25, True, True,
        "better by more than 25% of the champion (0.125): 95% bound of the gain 0.1875 "
        "(point 0.25)")
    at = only(judge("accuracy:min_relative_change=0.25", scores(0.75, 0.5, 0.125, 0.125, 0.25)),
              "min_relative_change")
    assert (at.passed, at.passed_by_point) == (False, False)  # exactly 25 %: not more


def test_min_relative_change_of_a_negative_champion_uses_its_size() -> None:
    # r2 can be negative; 50 % of a champion at -0.5 is 0.25, not -0.25
    r = judge("r2:min_relative_change=0.5", scores(-0.375, -0.5, 0.125, 0.0625, 0.1875))
    check = only(r, "min_relative_change")
    assert check.required == 0.25
    assert not r.passed


def test_confidence_is_named_in_each_change_line() -> None:
    r = judge_metric(parse_spec("accuracy:min_absolute_change=0.125"),
                     scores(0.9, 0.6, 0.25, 0.1875, 0.3125), resamples=100, confidence=0.9,
                     seed=1)
    assert "90% bound of the gain" in only(r, "min_absolute_change").text


# --- the non-inferiority margin ----------------------------------------------------------


def test_margin_allows_a_regression_up_to_and_including_the_margin() -> None:
    at = judge("accuracy:margin=0.25", scores(0.5, 0.75, -0.125, -0.25, 0.0))
    assert at.passed
    assert only(at, "margin") == Check(
        "margin", -0.25, -0.25, -0.125, True, True,
        "worse by at most 0.25 (0.25): 95% bound of the change -0.25 (point -0.125)")
    beyond = judge("accuracy:margin=0.25", scores(0.5, 0.75, -0.125, -0.375, 0.0))
    assert not beyond.passed
    assert only(beyond, "margin").passed_by_point
    better = judge("accuracy:margin=0.25", scores(0.8, 0.75, 0.0625, -0.125, 0.25))
    assert better.passed


def test_margin_zero_passes_equal_models_and_fails_any_possible_loss() -> None:
    equal = judge("accuracy:margin=0", scores(0.75, 0.75, 0.0, 0.0, 0.0))
    check = only(equal, "margin")
    assert (check.required, check.bound, check.point) == (0.0, 0.0, 0.0)
    assert equal.passed and check.passed_by_point
    tiny_loss = judge("accuracy:margin=0", scores(0.75, 0.75, 0.0, -0.0625, 0.0625))
    assert not tiny_loss.passed
    assert only(tiny_loss, "margin").passed_by_point


def test_margin_point_verdict_is_the_point_change_against_the_margin() -> None:
    worse = only(judge("accuracy:margin=0.125", scores(0.5, 0.75, -0.25, -0.375, -0.125)),
                 "margin")
    assert (worse.passed, worse.passed_by_point) == (False, False)
    at = only(judge("accuracy:margin=0.125", scores(0.5, 0.75, -0.125, -0.25, 0.0)), "margin")
    assert (at.passed, at.passed_by_point) == (False, True)


def test_relative_margin_is_a_share_of_the_champion() -> None:
    r = judge("rmse:margin=50%", scores(1.25, 0.5, 0.75, 0.125, 0.25))
    check = only(r, "margin")
    # rmse rose by 0.75, at most 0.25: the allowed loss is 50 % of 0.5
    assert check == Check(
        "margin", -0.25, -0.25, -0.75, True, False,
        "worse by at most 50% (0.25): 95% bound of the change -0.25 (point -0.75)")
    assert r.passed


def test_lower_is_better_margin_judges_the_high_end_of_the_interval() -> None:
    # rmse up by 0.125 at best, 0.375 at worst; the margin of 0.25 is exceeded at the worst end
    r = judge("rmse:margin=0.25", scores(1.25, 1.0, 0.25, 0.125, 0.375))
    check = only(r, "margin")
    assert (check.bound, check.point) == (-0.375, -0.25)
    assert not r.passed
    ok = judge("rmse:margin=0.5", scores(1.25, 1.0, 0.25, 0.125, 0.375))
    assert ok.passed


def test_every_rule_must_hold() -> None:
    spec = "accuracy:threshold=0.75,min_absolute_change=0.0625,margin=0.25"
    r = judge(spec, scores(0.875, 0.75, 0.125, 0.0625, 0.1875))
    assert [c.kind for c in r.checks] == ["threshold", "min_absolute_change", "margin"]
    assert [c.passed for c in r.checks] == [True, False, True]
    assert not r.passed
    both = judge("accuracy:threshold=0.75,margin=0.25", scores(0.875, 0.75, 0.125, 0.0625, 0.1875))
    assert both.passed


# --- errors --------------------------------------------------------------------------------


def test_a_metric_the_candidate_cannot_give_names_the_spec() -> None:
    s = FixedScores({"candidate": MetricError("no probabilities"), "champion": 0.5})
    with pytest.raises(BadInput) as exc:
        judge("log_loss:threshold=0.5", s)
    assert str(exc.value) == "--metric log_loss:threshold=0.5: no probabilities"


def test_a_metric_the_champion_cannot_give_names_the_spec() -> None:
    s = FixedScores({"candidate": 0.25, "champion": MetricError("champion has no proba")},
                    Interval(0.0, 0.0, 0.0))
    with pytest.raises(BadInput) as exc:
        judge("log_loss:margin=0.5", s)
    assert str(exc.value) == "--metric log_loss:margin=0.5: champion has no proba"
    s = FixedScores({"candidate": 0.25, "champion": 0.5},
                    interval_error=MetricError("one class only"))
    with pytest.raises(BadInput) as exc:
        judge("log_loss:margin=0.5", s)
    assert str(exc.value) == "--metric log_loss:margin=0.5: one class only"


# --- slices ----------------------------------------------------------------------------------


def test_a_slice_is_judged_on_the_margin_only() -> None:
    spec = parse_spec("accuracy:threshold=0.9,min_absolute_change=0.125,margin=0.25")
    r = judge_metric(spec, scores(0.5, 0.625, -0.125, -0.25, 0.0), **SETTINGS, margin_only=True)
    assert [c.kind for c in r.checks] == ["margin"]
    assert r.passed  # below the threshold and no gain, but within the margin
    [result] = judge_slices([spec], [("eu", scores(0.5, 0.625, -0.125, -0.25, 0.0, rows=40))],
                            "region", **SETTINGS)
    assert result.passed and result.judged
    assert [c.kind for c in result.metrics[0].checks] == ["margin"]


def test_slices_fail_when_a_metric_regresses_beyond_its_margin() -> None:
    spec = parse_spec("accuracy:margin=0.125")
    slices = [("eu", scores(0.5, 0.75, -0.25, -0.375, -0.125, rows=200)),
              ("us", scores(0.75, 0.75, 0.0, -0.0625, 0.0625, rows=200))]
    out = judge_slices([spec], slices, "region", **SETTINGS)
    assert [(s.column, s.value, s.rows, s.judged, s.passed) for s in out] == [
        ("region", "eu", 200, True, False), ("region", "us", 200, True, True)]
    assert out[0].metrics[0].champion == 0.75
    s = slices[0][1]
    assert s.interval_calls == [("accuracy", 500, 0.95, 7)]


def test_small_slices_are_reported_but_not_judged() -> None:
    spec = parse_spec("accuracy:margin=0.125")
    failing = dict(candidate=0.5, champion=0.75, delta=-0.25, low=-0.375, high=-0.125)
    out = judge_slices([spec], [
        ("tiny", scores(**failing, rows=MIN_SLICE_ROWS - 1)),
        ("enough", scores(**failing, rows=MIN_SLICE_ROWS)),
    ], "region", **SETTINGS)
    assert [(s.value, s.judged, s.passed) for s in out] == [
        ("tiny", False, True), ("enough", True, False)]
    assert not out[0].metrics[0].passed  # the figures are still there for the report
    custom = judge_slices([spec], [("x", scores(**failing, rows=10))], "region", **SETTINGS,
                          min_rows=10)
    assert (custom[0].judged, custom[0].passed) == (True, False)


def test_the_smallest_judged_slice_has_thirty_rows() -> None:
    assert MIN_SLICE_ROWS == 30


def test_slices_without_a_champion_are_not_judged() -> None:
    spec = parse_spec("accuracy:margin=0.125")
    [out] = judge_slices([spec], [("eu", scores(0.25, None, rows=500))], "region", **SETTINGS)
    assert (out.judged, out.passed) == (False, True)


def test_a_metric_undefined_on_a_slice_is_reported_with_the_reason_and_not_judged() -> None:
    specs = [parse_spec("roc_auc:margin=0.125"), parse_spec("accuracy:margin=0.125")]

    class OneClass(FixedScores):
        def value(self, metric, role):
            if metric.name == "roc_auc":
                raise MetricError("only one class in this slice")
            return super().value(metric, role)

    s = OneClass({"candidate": 0.75, "champion": 0.75}, Interval(0.0, -0.0625, 0.0625),
                 rows=100)
    [out] = judge_slices(specs, [("eu", s)], "region", **SETTINGS)
    auc, acc = out.metrics
    assert auc.name == "roc_auc" and auc.greater_is_better
    assert math.isnan(auc.candidate)
    assert auc.error == "--metric roc_auc:margin=0.125: only one class in this slice"
    assert (auc.gated, auc.passed, auc.checks) == (False, True, ())
    assert acc.error is None and acc.passed
    assert out.judged and out.passed
    # the undefined metric does not hide a real regression of another one on the same slice
    s = OneClass({"candidate": 0.5, "champion": 0.75}, Interval(-0.25, -0.375, -0.125),
                 rows=100)
    [out] = judge_slices(specs, [("eu", s)], "region", **SETTINGS)
    assert out.judged and not out.passed


def test_lower_is_better_undefined_metric_keeps_its_direction() -> None:
    class Broken(FixedScores):
        def value(self, metric, role):
            raise MetricError("no probabilities")

    [out] = judge_slices([parse_spec("log_loss:margin=0.125")],
                         [("eu", Broken({}, rows=100))], "region", **SETTINGS)
    assert out.metrics[0].greater_is_better is False


def test_more_than_max_slices_is_bad_input_naming_the_column() -> None:
    check_slice_count("region", MAX_SLICES)    # exactly the limit is fine
    with pytest.raises(BadInput) as exc:
        check_slice_count("region", MAX_SLICES + 1)
    assert str(exc.value) == (f"--slice region: more than {MAX_SLICES} distinct values; "
                              "slice by a coarser column")
