"""The measuring loop on a fake clock: the schedule (initial delay, then one measurement per
interval, each due on a fixed grid), early ends, and the per-check results."""

from __future__ import annotations

import calendar
import math
import re
import time

import pytest

from mlgate.cluster.wait import Clock
from mlgate.verify.analysis import Limits
from mlgate.verify.check import parse_check
from mlgate.verify.measure import MeasureError, Prepared, measure
from mlgate.verify.result import CheckResult, Measurement


class FakeClock:
    def __init__(self, query_cost: float = 0.0):
        self.t = 100.0
        self.sleeps: list[float] = []
        self.cost = query_cost

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.t += seconds

    def clock(self) -> Clock:
        return Clock(self.now, self.sleep)


def series(clock: FakeClock, values):
    """A reader returning the next value set each call (a value, None -> no data, an
    exception instance -> raised), costing the clock `cost` seconds per call."""
    it = iter(values)
    calls: list[float] = []

    def read():
        calls.append(clock.t)
        clock.t += clock.cost
        v = next(it)
        if isinstance(v, Exception):
            raise v
        return [] if v is None else (v if isinstance(v, list) else [v])
    read.calls = calls  # type: ignore[attr-defined]
    return read


def prepared(spec: str, read, low=None, high=None) -> Prepared:
    check = parse_check(spec)
    return Prepared(check, check.query, check.min if low is None else low,
                    check.max if high is None else high, read)


def run(checks, limits=Limits(count=5), interval=10.0, delay=0.0, clock=None, started=None):
    clock = clock or FakeClock()
    lines: list[str] = []
    results, seconds = measure(checks, limits, interval, delay, lines.append, clock.clock(),
                               wall=lambda: 1_700_000_000_000_000_000, started=started)
    return results, seconds, lines


def test_a_healthy_run_takes_count_measurements_one_interval_apart_after_the_delay():
    clock = FakeClock()
    read = series(clock, [0.001] * 5)
    (result,), seconds, lines = run([prepared("error-rate:max=1%", read)], delay=30.0,
                                    clock=clock)
    assert result.phase == "Successful"
    assert [m.at for m in result.measurements] == [40.0, 50.0, 60.0, 70.0, 80.0]
    assert read.calls == [140.0, 150.0, 160.0, 170.0, 180.0]
    assert seconds == 80.0          # initial delay + count x interval
    assert result.failed == result.inconclusive == result.errors == 0
    assert result.reason == ""
    assert all(m.time == "2023-11-14T22:13:20Z" for m in result.measurements)
    assert "waiting 30 s" in lines[0]
    assert lines[-1] == "error-rate: 0.001 successful (5/5) -> Successful"


def test_slow_queries_do_not_stretch_the_schedule():
    clock = FakeClock(query_cost=3.0)
    read = series(clock, [0.0] * 3)
    (result,), seconds, _ = run([prepared("error-rate:max=1%", read)], Limits(count=3),
                                clock=clock)
    assert read.calls == [110.0, 120.0, 130.0]
    assert seconds == 33.0
    assert clock.sleeps == [10.0, 7.0, 7.0]


def test_a_query_slower_than_the_interval_is_followed_at_once_not_skipped():
    clock = FakeClock(query_cost=15.0)
    read = series(clock, [0.0] * 3)
    (result,), _, _ = run([prepared("error-rate:max=1%", read)], Limits(count=3), clock=clock)
    assert read.calls == [110.0, 125.0, 140.0]
    assert len(result.measurements) == 3


def test_a_breach_fails_the_check_at_the_measurement_that_breaks_the_limit_and_stops():
    clock = FakeClock()
    bad = series(clock, [0.001, 0.002, 0.034, 0.05, 0.0])
    good = series(clock, [0.1] * 5)
    failed, passing = run([prepared("error-rate:max=1%", bad),
                           prepared("p95-latency:max=500ms", good)],
                          Limits(count=5, failure_limit=1), clock=clock)[0]
    assert failed.phase == "Failed"
    assert [m.phase for m in failed.measurements] == ["Successful", "Successful", "Failed",
                                                      "Failed"]
    assert failed.reason == "error-rate 0.05 > 0.01 (2 of 4 measurements)"
    # the run ended there: the other check is left Running after 4 measurements
    assert passing.phase == "Running" and len(passing.measurements) == 4


def test_flapping_within_the_failure_limit_passes():
    clock = FakeClock()
    read = series(clock, [0.02, 0.0, 0.02, 0.0, 0.0])
    (result,), _, _ = run([prepared("error-rate:max=1%", read)],
                          Limits(count=5, failure_limit=2), clock=clock)
    assert result.phase == "Successful" and result.failed == 2


def test_no_data_is_inconclusive_not_passed():
    clock = FakeClock()
    read = series(clock, [None, None])
    (result,), _, _ = run([prepared("accuracy:min=0.9", read)],
                          Limits(count=5, inconclusive_limit=1), clock=clock)
    assert result.phase == "Inconclusive"
    assert result.reason.startswith("accuracy: no data")
    assert "(2 of 2 measurements inconclusive)" in result.reason


def test_nan_is_inconclusive():
    clock = FakeClock()
    read = series(clock, [math.nan])
    (result,), _, _ = run([prepared("error-rate:max=1%", read)], clock=clock)
    assert result.phase == "Inconclusive" and result.measurements[0].message == "NaN"
    assert result.measurements[0].value is None


def test_errors_in_a_row_past_the_limit_end_in_error_and_a_value_resets_the_count():
    clock = FakeClock()
    down = MeasureError("Prometheus unreachable: Connection refused")
    read = series(clock, [down, down, 0.0, down, down, down])
    (result,), _, lines = run([prepared("error-rate:max=1%", read)],
                              Limits(count=10, consecutive_error_limit=2), clock=clock)
    assert result.phase == "Error"
    assert result.errors == 5 and result.consecutive_errors == 3
    assert result.reason == ("error-rate: Prometheus unreachable: Connection refused "
                             "(3 errors in a row)")
    assert "Prometheus unreachable" in lines[0]


def test_an_error_is_no_measurement_so_the_check_measures_longer():
    clock = FakeClock()
    down = MeasureError("Prometheus unreachable: timed out")
    read = series(clock, [0.0, down, 0.0, down, down, 0.0])
    (result,), seconds, lines = run([prepared("error-rate:max=1%", read)],
                                    Limits(count=3, consecutive_error_limit=2), clock=clock)
    assert result.phase == "Successful"
    assert [m.phase for m in result.measurements] == [
        "Successful", "Error", "Successful", "Error", "Error", "Successful"]
    assert seconds == 60.0
    assert lines[-1] == "error-rate: 0 successful (3/3) -> Successful"


def test_several_series_all_judged():
    clock = FakeClock()
    read = series(clock, [[0.001, 0.5]])
    (result,), _, _ = run([prepared("error-rate:max=1%", read)], Limits(count=1), clock=clock)
    assert result.phase == "Failed" and result.measurements[0].value == 0.5


@pytest.mark.parametrize("count", [1, 3])
def test_the_last_measurement_ends_the_run_without_a_trailing_sleep(count):
    clock = FakeClock()
    read = series(clock, [0.0] * count)
    _, seconds, _ = run([prepared("error-rate:max=1%", read)], Limits(count=count),
                        clock=clock)
    assert seconds == 10.0 * count
    assert len(clock.sleeps) == count


def test_the_schedule_counts_from_when_verify_began_so_its_setup_is_part_of_the_delay():
    clock = FakeClock()       # now is 100: verify began 4 s ago (imports, client, evidence)
    read = series(clock, [0.0] * 3)
    (result,), seconds, _ = run([prepared("error-rate:max=1%", read)], Limits(count=3),
                                delay=30.0, clock=clock, started=96.0)
    assert read.calls == [136.0, 146.0, 156.0]     # not 140, 150, 160
    assert [m.at for m in result.measurements] == [40.0, 50.0, 60.0]
    assert seconds == 60.0                          # initial delay + count x interval
    assert clock.sleeps == [36.0, 10.0, 10.0]


def test_a_setup_longer_than_the_delay_and_an_interval_moves_the_schedule_not_bunches_it():
    clock = FakeClock()       # verify began 100 s ago: the first two measurements are overdue
    read = series(clock, [0.0] * 3)
    (result,), seconds, _ = run([prepared("error-rate:max=1%", read)], Limits(count=3),
                                delay=5.0, clock=clock, started=0.0)
    assert read.calls == [100.0, 110.0, 120.0]     # the first at once, then one interval apart
    assert [m.at for m in result.measurements] == [15.0, 25.0, 35.0]
    assert seconds == 35.0


def test_a_start_in_the_future_counts_from_now():
    clock = FakeClock()
    read = series(clock, [0.0])
    _, seconds, _ = run([prepared("error-rate:max=1%", read)], Limits(count=1), clock=clock,
                        started=500.0)
    assert read.calls == [110.0] and seconds == 10.0


def test_the_check_result_carries_the_check_the_filled_query_the_range_and_the_baseline():
    clock = FakeClock()
    check = parse_check("accuracy:max-drop=5%,on-failure=none")
    read = series(clock, [0.95, 0.5])
    p = Prepared(check, 'max(mlgate_model_accuracy{namespace="shop",app="fraud"})', 0.9,
                 0.99, read, baseline=0.947)
    (result,), seconds, _ = run([p], Limits(count=3), clock=clock)
    assert result == CheckResult(
        name="accuracy", query='max(mlgate_model_accuracy{namespace="shop",app="fraud"})',
        min=0.9, max=0.99, unit="", on_failure="none", phase="Failed",
        measurements=(Measurement(10.0, "2023-11-14T22:13:20Z", 0.95, "Successful"),
                      Measurement(20.0, "2023-11-14T22:13:20Z", 0.5, "Failed")),
        failed=1, inconclusive=0, errors=0, consecutive_errors=0, baseline=0.947,
        # the lower limit is judged and named: 0.5 is below the range, not above it
        reason="accuracy 0.5 < 0.9 (1 of 2 measurements)")
    assert seconds == 20.0


def test_a_check_without_a_baseline_has_none_and_its_reason_shows_its_unit():
    clock = FakeClock()
    read = series(clock, [0.75])
    (result,), _, _ = run([prepared("p95-latency:max=500ms", read)], clock=clock)
    assert result.baseline is None
    assert (result.name, result.unit, result.on_failure) == ("p95-latency", "seconds",
                                                             "rollback")
    assert (result.min, result.max) == (None, 0.5)
    assert result.query.startswith("histogram_quantile(0.95")
    assert result.reason == "p95-latency 750ms > 500ms (1 of 1 measurements)"


def test_each_kind_of_measurement_is_counted_on_its_own():
    clock = FakeClock()
    down = MeasureError("Prometheus unreachable: timed out")
    read = series(clock, [None, 0.02, down, math.nan, down, down, 0.0, 0.0])
    (result,), _, _ = run([prepared("error-rate:max=1%", read)],
                          Limits(count=5, failure_limit=1, inconclusive_limit=2,
                                 consecutive_error_limit=2), clock=clock)
    # every limit reached, none passed: 5 counted measurements and the check passes
    assert [m.phase for m in result.measurements] == [
        "Inconclusive", "Failed", "Error", "Inconclusive", "Error", "Error", "Successful",
        "Successful"]
    assert result.phase == "Successful" and result.reason == ""
    assert (result.failed, result.inconclusive, result.errors,
            result.consecutive_errors) == (1, 2, 3, 2)


def test_a_measurement_says_why_it_has_no_value_and_only_then():
    clock = FakeClock()
    down = MeasureError("Prometheus answered 422: parse error at char 5")
    read = series(clock, [0.001, None, math.nan, down, 0.02])
    (result,), _, _ = run([prepared("error-rate:max=1%", read)],
                          Limits(count=5, inconclusive_limit=2), clock=clock)
    assert [(m.value, m.phase, m.message) for m in result.measurements] == [
        (0.001, "Successful", ""),
        (None, "Inconclusive", "no data (the query returned no series)"),
        (None, "Inconclusive", "NaN"),
        (None, "Error", "Prometheus answered 422: parse error at char 5"),
        (0.02, "Failed", ""),
    ]


def test_every_measurement_is_stamped_at_the_second_it_was_taken_to_the_millisecond():
    # the queries take 0.4567 s each: the second check is asked that much after the first
    clock = FakeClock(query_cost=0.4567)
    first = series(clock, [0.0, 0.0])
    second = series(clock, [MeasureError("Prometheus unreachable: timed out"), 0.0, 0.0])
    results, seconds, _ = run([prepared("error-rate:max=1%", first),
                               prepared("p95-latency:max=500ms", second)],
                              Limits(count=2), clock=clock)
    assert [m.at for m in results[0].measurements] == [10.0, 20.0]
    assert [(m.at, m.phase) for m in results[1].measurements] == [
        (10.457, "Error"), (20.457, "Successful"), (30.0, "Successful")]
    assert all(m.time == "2023-11-14T22:13:20Z"
               for r in results for m in r.measurements)
    assert seconds == 30.457


def test_without_a_wall_clock_the_time_stamp_is_the_current_utc_time():
    clock = FakeClock()
    read = series(clock, [MeasureError("Prometheus unreachable: timed out"), 0.0])
    before = time.time()
    (result,), _ = measure([prepared("error-rate:max=1%", read)], Limits(count=1), 10.0,
                              0.0, lambda line: None, clock.clock())
    after = time.time()
    for m in result.measurements:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z", m.time)
        stamp = calendar.timegm(time.strptime(m.time[:19], "%Y-%m-%dT%H:%M:%S"))
        assert int(before) - 1 <= stamp <= after + 1


def test_the_progress_lines_show_each_measurement_with_its_unit_and_the_end():
    clock = FakeClock()
    read = series(clock, [0.25, MeasureError(""), None, math.nan, 1.5])
    _, _, lines = run([prepared("p95-latency:max=500ms", read)],
                      Limits(count=4, inconclusive_limit=2), delay=0.5, clock=clock)
    assert lines == [
        "waiting 0.5 s before the first measurement",
        "p95-latency: 250ms successful (1/4)",
        "p95-latency: no value error (1/4)",
        "p95-latency: no data (the query returned no series) inconclusive (2/4)",
        "p95-latency: NaN inconclusive (3/4)",
        "p95-latency: 1.5s failed (4/4) -> Failed",
    ]


def test_without_an_initial_delay_nothing_is_announced():
    clock = FakeClock()
    _, _, lines = run([prepared("error-rate:max=1%", series(clock, [0.0]))], Limits(count=1),
                      clock=clock)
    assert lines == ["error-rate: 0 successful (1/1) -> Successful"]


def test_a_measurement_due_right_now_is_taken_without_sleeping():
    clock = FakeClock(query_cost=10.0)     # each query ends exactly when the next is due
    read = series(clock, [0.0] * 3)
    run([prepared("error-rate:max=1%", read)], Limits(count=3), clock=clock)
    assert read.calls == [110.0, 120.0, 130.0]
    assert clock.sleeps == [10.0]


def test_a_short_interval_is_slept_to_the_fraction_of_a_second():
    clock = FakeClock(query_cost=0.25)
    read = series(clock, [0.0] * 3)
    run([prepared("error-rate:max=1%", read)], Limits(count=3), interval=1.0, clock=clock)
    assert read.calls == [101.0, 102.0, 103.0]
    assert clock.sleeps == [1.0, 0.75, 0.75]


def test_the_longest_possible_run_is_not_cut_short():
    # each counted measurement after as many errors as the limit allows: count x (limit + 1)
    clock = FakeClock()
    down = MeasureError("Prometheus unreachable: timed out")
    read = series(clock, [down, down, 0.0] * 3)
    (result,), seconds, _ = run([prepared("error-rate:max=1%", read)],
                                Limits(count=3, consecutive_error_limit=2), clock=clock)
    assert result.phase == "Successful" and len(result.measurements) == 9
    assert seconds == 90.0


def test_the_rounds_are_bounded_even_for_a_check_that_never_settles():
    # a guard, not a path the verdict rules take: every check settles within
    # count x (limit + 1) rounds; one that did not still stops at (count + 1) x (limit + 1)
    clock = FakeClock()
    values = series(clock, [0.0] * 100)
    check = prepared("error-rate:max=1%", None)

    def read():
        check.measurements.clear()     # forgets what was measured: never reaches count
        return values()
    check.read = read
    (result,), seconds, _ = run([check], Limits(count=2, consecutive_error_limit=3),
                                clock=clock)
    assert result.phase == "Running"
    assert len(values.calls) == 12 and seconds == 120.0
