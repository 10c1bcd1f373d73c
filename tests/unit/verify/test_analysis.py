"""The verdict rules as Argo Rollouts' AnalysisRun states them (analysis_types.go and
analysis/analysis.go): a metric is Failed once `failed > failureLimit` (default 0),
Inconclusive once `inconclusive > inconclusiveLimit` (default 0), Error once
`consecutiveError > consecutiveErrorLimit` (default 4), and Successful once `count`
measurements were taken, where count is "the number of times the metric was measured without
Error"; the run takes the worst completed phase (Failed, Error, Inconclusive, Successful).
mlgate ends the run at the first check that is Failed, Error or Inconclusive."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlgate.errors import BadInput
from mlgate.verify.analysis import (
    Limits,
    check_phase,
    consecutive_errors,
    finished,
    judge,
    longest_error_run,
    reason,
    run_phase,
    show,
)
from mlgate.verify.result import Measurement

NAN = float("nan")
INF = float("inf")


def m(phase: str, value: float | None = None, message: str = "") -> Measurement:
    return Measurement(at=0.0, time="2026-01-01T00:00:00Z", value=value, phase=phase,
                       message=message)


def seq(code: str) -> list[Measurement]:
    """S F I E, one letter a measurement."""
    names = {"S": "Successful", "F": "Failed", "I": "Inconclusive", "E": "Error"}
    return [m(names[c], 1.0 if c in "SF" else None) for c in code]


# -- Limits -------------------------------------------------------------------------------

def test_the_limits_default_to_argo_rollouts_own():
    assert Limits() == Limits(count=5, failure_limit=0, inconclusive_limit=0,
                              consecutive_error_limit=4)


def test_the_smallest_limits_are_allowed():
    assert Limits(count=1, failure_limit=0, inconclusive_limit=0, consecutive_error_limit=0)


@pytest.mark.parametrize("kw, message", [
    ({"count": 0}, "count 0: at least 1 measurement"),
    ({"count": -3}, "count -3: at least 1 measurement"),
    ({"failure_limit": -1}, "failure-limit -1: at least 0"),
    ({"inconclusive_limit": -1}, "inconclusive-limit -1: at least 0"),
    ({"consecutive_error_limit": -2}, "consecutive-error-limit -2: at least 0"),
])
def test_a_count_below_one_or_a_negative_limit_is_refused(kw, message):
    # count 0 would pass a check that measured nothing
    with pytest.raises(BadInput) as raised:
        Limits(**kw)
    assert str(raised.value) == message


# -- judge: one measurement ---------------------------------------------------------------

@pytest.mark.parametrize("values", [[], [NAN], [0.1, NAN], [NAN, 5.0]])
def test_no_series_or_a_nan_is_inconclusive(values):
    assert judge(values, 0.0, 1.0) == (None, "Inconclusive")
    assert judge(values, None, None) == (None, "Inconclusive")


def test_inside_the_range_is_successful_showing_the_largest_against_a_max():
    assert judge([0.2, 0.7, 0.4], 0.0, 1.0) == (0.7, "Successful")
    assert judge([0.2, 0.7, 0.4], None, 1.0) == (0.7, "Successful")


def test_against_a_min_alone_the_smallest_is_shown():
    assert judge([0.95, 0.91, 0.99], 0.9, None) == (0.91, "Successful")


def test_without_limits_everything_passes_showing_the_smallest():
    assert judge([3.0, -1.0, 2.0], None, None) == (-1.0, "Successful")


def test_the_limits_are_inclusive():
    assert judge([1.0], 0.0, 1.0) == (1.0, "Successful")
    assert judge([0.0], 0.0, 1.0) == (0.0, "Successful")
    assert judge([0.5], 0.5, 0.5) == (0.5, "Successful")


def test_every_series_must_be_in_range_the_first_outside_is_shown():
    assert judge([0.5, 2.0, 3.0], 0.0, 1.0) == (2.0, "Failed")
    assert judge([0.5, -2.0, 3.0], 0.0, 1.0) == (-2.0, "Failed")
    assert judge([0.5, 1.0000001], None, 1.0) == (1.0000001, "Failed")
    assert judge([0.95, 0.89], 0.9, None) == (0.89, "Failed")


def test_infinities_are_judged_not_skipped():
    assert judge([INF], None, 1.0) == (INF, "Failed")
    assert judge([-INF], 0.0, None) == (-INF, "Failed")
    assert judge([INF], 0.0, None) == (INF, "Successful")


@settings(max_examples=300)
@given(st.lists(st.floats(allow_nan=False), min_size=1, max_size=6),
       st.none() | st.floats(allow_nan=False, allow_infinity=False),
       st.none() | st.floats(allow_nan=False, allow_infinity=False))
def test_judge_fails_exactly_when_a_series_leaves_the_range(values, low, high):
    value, phase = judge(values, low, high)
    outside = [v for v in values
               if (low is not None and v < low) or (high is not None and v > high)]
    assert phase == ("Failed" if outside else "Successful")
    assert value == (outside[0] if outside else max(values) if high is not None
                     else min(values))


# -- check_phase: one check ---------------------------------------------------------------

@pytest.mark.parametrize("code, phase", [
    ("", "Running"),
    ("S", "Running"),
    ("SSSS", "Running"),
    ("SSSSS", "Successful"),
    ("SSSSSS", "Successful"),
    ("F", "Failed"),                   # failureLimit 0: the first failure
    ("SSSSF", "Failed"),
    ("I", "Inconclusive"),
    ("SSI", "Inconclusive"),
    ("EEEE", "Running"),               # 4 errors in a row: at the limit, not past it
    ("EEEEE", "Error"),
    ("SEEEEE", "Error"),
    ("EEEESEEEE", "Running"),          # a measurement resets the run of errors
    ("EEEESEEEES", "Running"),
    ("EEEES", "Running"),             # one measurement after four errors: 1 of 5
    ("SESESESES", "Successful"),       # 5 measurements without an error
    ("SESESESE", "Running"),           # errors are no measurements: 4 of 5
    ("EEEESSSS", "Running"),
    ("EEEESSSSS", "Successful"),
])
def test_check_phase_with_the_default_limits(code, phase):
    assert check_phase(seq(code), Limits()) == phase


def test_errors_do_not_count_towards_the_count():
    # four errors and one success used to complete a check of count 5: Prometheus down for
    # most of the run is not a verified model
    assert check_phase(seq("EEEES"), Limits(count=5)) == "Running"
    assert check_phase(seq("EEEE"), Limits(count=4)) == "Running"
    assert check_phase(seq("EESES"), Limits(count=2)) == "Successful"
    assert check_phase(seq("EESE"), Limits(count=2)) == "Running"


def test_inconclusive_and_failed_measurements_count_towards_the_count():
    limits = Limits(count=3, failure_limit=1, inconclusive_limit=1)
    assert check_phase(seq("SFI"), limits) == "Successful"
    assert check_phase(seq("FI"), limits) == "Running"


@pytest.mark.parametrize("code, phase", [
    ("FF", "Running"), ("FFSSS", "Successful"), ("FFF", "Failed"), ("SFSFSF", "Failed"),
])
def test_failure_limit_is_how_many_failures_are_allowed(code, phase):
    assert check_phase(seq(code), Limits(failure_limit=2)) == phase


@pytest.mark.parametrize("code, phase", [
    ("II", "Running"), ("IISSS", "Successful"), ("III", "Inconclusive"),
])
def test_inconclusive_limit_is_how_many_inconclusive_are_allowed(code, phase):
    assert check_phase(seq(code), Limits(inconclusive_limit=2)) == phase


@pytest.mark.parametrize("limit, code, phase", [
    (0, "E", "Error"), (0, "S", "Successful"), (1, "E", "Running"), (1, "EE", "Error"),
    (1, "ESE", "Running"), (2, "EEE", "Error"), (2, "EESEE", "Running"),
])
def test_consecutive_error_limit_counts_errors_in_a_row(limit, code, phase):
    assert check_phase(seq(code), Limits(count=1 if code == "S" else 5,
                                         consecutive_error_limit=limit)) == phase


def test_a_limit_reached_wins_over_the_count():
    assert check_phase(seq("SSSSF"), Limits(count=5)) == "Failed"
    assert check_phase(seq("SSSSI"), Limits(count=5)) == "Inconclusive"
    assert check_phase(seq("SSSSSEEEEE"), Limits(count=5)) == "Error"


def test_failed_wins_over_error_and_inconclusive_when_both_are_past_their_limits():
    # only reachable when phases are judged after several measurements at once; the worse
    # verdict (a rollback) is the safe one
    assert check_phase(seq("IEEEEEF"), Limits()) == "Failed"
    assert check_phase(seq("FI"), Limits()) == "Failed"
    assert check_phase(seq("IEEEEE"), Limits()) == "Error"


@settings(max_examples=300)
@given(st.text(st.sampled_from("SFIE"), max_size=12),
       st.integers(1, 6), st.integers(0, 3), st.integers(0, 3), st.integers(0, 5))
def test_check_phase_is_argo_rollouts_assess_metric_status(code, count, fl, il, cel):
    limits = Limits(count=count, failure_limit=fl, inconclusive_limit=il,
                    consecutive_error_limit=cel)
    measurements = seq(code)
    run = len(code) - len(code.rstrip("E"))
    if code.count("F") > fl:
        expected = "Failed"
    elif run > cel:
        expected = "Error"
    elif code.count("I") > il:
        expected = "Inconclusive"
    elif len(code) - code.count("E") >= count:
        expected = "Successful"
    else:
        expected = "Running"
    assert check_phase(measurements, limits) == expected


# -- runs of errors -----------------------------------------------------------------------

@pytest.mark.parametrize("code, trailing, longest", [
    ("", 0, 0), ("S", 0, 0), ("E", 1, 1), ("EE", 2, 2), ("EES", 0, 2), ("SEEESE", 1, 3),
    ("EFEIE", 1, 1), ("EEESEE", 2, 3), ("SSEEEE", 4, 4),
])
def test_errors_in_a_row(code, trailing, longest):
    assert consecutive_errors(seq(code)) == trailing
    assert longest_error_run(seq(code)) == longest


# -- the run ------------------------------------------------------------------------------

WORST_FIRST = ["Failed", "Error", "Inconclusive", "Running", "Successful"]


def test_the_run_takes_its_worst_check():
    assert run_phase([]) == "Successful"
    for i, worst in enumerate(WORST_FIRST):
        for better in WORST_FIRST[i:]:
            assert run_phase([better, worst, better]) == worst
            assert run_phase([worst]) == worst


@pytest.mark.parametrize("phases", list(itertools.permutations(WORST_FIRST, 2)))
def test_the_run_phase_does_not_depend_on_the_order(phases):
    assert run_phase(list(phases)) == run_phase(list(reversed(phases)))
    assert run_phase(list(phases)) == min(phases, key=WORST_FIRST.index)


@pytest.mark.parametrize("phases, done", [
    ([], True),
    (["Successful"], True),
    (["Successful", "Successful"], True),
    (["Running"], False),
    (["Running", "Successful"], False),
    (["Successful", "Running"], False),
    (["Running", "Failed"], True),            # a failed check ends the run at once
    (["Running", "Error"], True),
    (["Inconclusive", "Running"], True),
    (["Running", "Running", "Error"], True),
])
def test_the_run_ends_when_all_are_done_or_one_went_wrong(phases, done):
    assert finished(phases) is done


# -- how it reads -------------------------------------------------------------------------

@pytest.mark.parametrize("value, unit, text", [
    (0.5, "seconds", "500ms"), (0.0123, "seconds", "12.3ms"), (0.99999, "seconds", "1000ms"),
    (1.0, "seconds", "1s"), (2.5, "seconds", "2.5s"), (-0.5, "seconds", "-500ms"),
    (-1.0, "seconds", "-1s"), (0.0, "seconds", "0ms"), (123.456, "seconds", "123.5s"),
    (0.034, "ratio", "0.034"), (0.01, "", "0.01"), (123456.0, "", "1.235e+05"),
    (1.23456, "ratio", "1.235"), (0.5, "", "0.5"),
])
def test_show(value, unit, text):
    assert show(value, unit) == text


def test_reason_of_a_failed_check_above_its_max():
    ms = [m("Successful", 0.001), m("Failed", 0.02), m("Failed", 0.034), m("Successful", 0.0),
          m("Failed", 0.05)]
    assert reason("error-rate", "ratio", None, 0.01, ms, "Failed") == (
        "error-rate 0.05 > 0.01 (3 of 5 measurements)")


def test_reason_of_a_failed_latency_in_milliseconds():
    ms = [m("Failed", 0.734)]
    assert reason("p95-latency", "seconds", None, 0.5, ms, "Failed") == (
        "p95-latency 734ms > 500ms (1 of 1 measurements)")


def test_reason_of_a_failed_check_below_its_min():
    ms = [m("Successful", 0.95), m("Failed", 0.81)]
    assert reason("accuracy", "", 0.9, None, ms, "Failed") == (
        "accuracy 0.81 < 0.9 (1 of 2 measurements)")
    assert reason("accuracy", "", 0.9, 1.0, ms, "Failed") == (
        "accuracy 0.81 < 0.9 (1 of 2 measurements)")


def test_reason_of_a_latency_below_its_min_in_milliseconds():
    assert reason("p95-latency", "seconds", 0.1, None, [m("Failed", 0.05)], "Failed") == (
        "p95-latency 50ms < 100ms (1 of 1 measurements)")


def test_reason_of_a_failed_value_at_its_max_is_not_above_it():
    assert reason("c", "", None, 1.0, [m("Failed", 1.0)], "Failed") == (
        "c 1 out of range (1 of 1 measurements)")
    assert reason("c", "", 0.5, 1.0, [m("Failed", 1.0)], "Failed") == (
        "c 1 < 0.5 (1 of 1 measurements)")


def test_reason_of_an_inconclusive_check_gives_the_latest_why():
    ms = [m("Inconclusive", message="no series"), m("Successful", 0.1),
          m("Inconclusive", message="NaN"), m("Inconclusive"), m("Error", message="down")]
    assert reason("drift", "", None, 0.5, ms, "Inconclusive") == (
        "drift: NaN (3 of 5 measurements inconclusive)")
    assert reason("drift", "", None, 0.5, [m("Inconclusive")], "Inconclusive") == (
        "drift: no data (1 of 1 measurements inconclusive)")


def test_reason_of_an_error_gives_the_latest_error_and_the_run():
    ms = [m("Error", message="first"), m("Successful", 0.1), m("Error", message="timeout"),
          m("Error", message="connection refused")]
    assert reason("error-rate", "ratio", None, 0.01, ms, "Error") == (
        "error-rate: connection refused (2 errors in a row)")
    # told Error with no error among the measurements (check_phase never does): still one line
    assert reason("error-rate", "ratio", None, 0.01, [m("Successful", 0.0)], "Error") == (
        "error-rate:  (0 errors in a row)")


@pytest.mark.parametrize("phase", ["Successful", "Running"])
def test_a_check_that_did_not_go_wrong_has_no_reason(phase):
    assert reason("c", "", None, 1.0, [m("Failed", 2.0), m("Inconclusive"), m("Error")],
                  phase) == ""
