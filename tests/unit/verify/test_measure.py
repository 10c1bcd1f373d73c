"""The measuring loop on a fake clock: the schedule (initial delay, then one measurement per
interval, each due on a fixed grid), early ends, and the per-check results."""

from __future__ import annotations

import math

import pytest

from mlgate.cluster.wait import Clock
from mlgate.verify.analysis import Limits
from mlgate.verify.check import parse_check
from mlgate.verify.measure import MeasureError, Prepared, measure


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
