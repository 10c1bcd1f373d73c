"""The wait loop on a simulated clock: one read per resource per interval, the controller
before the workloads, failure at once, Degraded only past its grace, a timeout naming what was
pending, and nothing unreadable taken as healthy."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from mlgate.cluster.config import WaitSyncConfig, parse_duration
from mlgate.cluster.result import ResourceState
from mlgate.cluster.wait import Clock, Watched, _short, wait
from mlgate.errors import BadInput

SHA = "a" * 40


@dataclass
class Seen:
    state: str
    revision: str | None = None
    message: str = ""
    degraded: bool = False
    paused: bool = False


class FakeClock(Clock):
    def __init__(self) -> None:
        self.t = 1000.0
        self.sleeps: list[float] = []
        super().__init__(now=lambda: self.t, sleep=self._sleep)

    def _sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.t += seconds


def script(*states: Seen, clock: FakeClock | None = None, reads: list | None = None):
    """A reader returning one scripted observation per read (the last one repeats)."""
    seq = list(states)
    log = reads if reads is not None else []

    def read():
        log.append(clock.t if clock else None)
        return seq.pop(0) if len(seq) > 1 else seq[0]

    return read


def watched(label: str, read, revision: bool = True) -> Watched:
    return Watched(label, read, lambda seen: seen, revision)


def config(**kw) -> WaitSyncConfig:
    base = dict(revision=SHA, controller="argocd", namespace="", name="churn", timeout=60.0,
                interval=5.0, degraded_grace=20.0)
    return WaitSyncConfig(**{**base, **kw})


def test_progressing_then_ready_reads_once_per_interval() -> None:
    clock, reads, lines = FakeClock(), [], []
    app = watched("app churn", script(Seen("progressing", "main@sha1:" + "b" * 40),
                                      Seen("progressing", "main@sha1:" + SHA, "Syncing"),
                                      Seen("ready", "main@sha1:" + SHA), clock=clock,
                                      reads=reads))
    result = wait(config(), app, [], progress=lines.append, clock=clock)
    assert result.outcome == "ready" and result.synced and result.healthy and result.passed
    assert result.applied == "main@sha1:" + SHA and result.requests == 3
    assert reads == [1000.0, 1005.0, 1010.0]          # one read per interval, no more
    assert result.seconds == 10.0 and result.resources[0].seconds == 10.0
    assert lines[0].startswith("app churn: progressing at main@sha1:bbbbbbbbbbbb")
    assert "Syncing" in lines[1] and lines[-1] == "app churn: ready at main@sha1:aaaaaaaaaaaa"


def test_workloads_are_read_only_after_the_controller_is_synced() -> None:
    clock, app_reads, deploy_reads = FakeClock(), [], []
    app = watched("app", script(Seen("progressing"), Seen("ready", SHA), clock=clock,
                                reads=app_reads))
    deploy = watched("deployment ml/churn", script(Seen("progressing", None, "1 of 2 updated"),
                                                   Seen("ready"), clock=clock,
                                                   reads=deploy_reads), revision=False)
    result = wait(config(), app, [deploy], progress=lambda _l: None, clock=clock)
    assert result.outcome == "ready" and "1 workload(s) rolled out" in result.message
    assert app_reads == [1000.0, 1005.0]
    assert deploy_reads == [1005.0, 1010.0]            # first read right after the sync
    assert [r.state for r in result.resources] == ["ready", "ready"]
    assert result.resources[1].revision is None and result.requests == 4


def test_a_failure_ends_the_wait_at_once_with_the_controllers_message() -> None:
    clock = FakeClock()
    app = watched("app churn", script(Seen("progressing"), Seen(
        "failed", "main@sha1:" + SHA, "one or more objects failed to apply"), clock=clock))
    result = wait(config(), app, [], progress=lambda _l: None, clock=clock)
    assert result.outcome == "failed" and not result.synced and not result.healthy
    assert result.message == ("app churn: failed at main@sha1:aaaaaaaaaaaa: one or more "
                              "objects failed to apply")
    assert result.seconds == 5.0 and result.resources[0].state == "failed"


def test_a_failed_workload_fails_the_wait_though_the_sync_was_fine() -> None:
    clock = FakeClock()
    app = watched("app", script(Seen("ready", SHA), clock=clock))
    deploy = watched("deployment ml/churn", script(
        Seen("failed", None, 'deployment "churn" exceeded its progress deadline'),
        clock=clock), revision=False)
    result = wait(config(), app, [deploy], progress=lambda _l: None, clock=clock)
    assert result.outcome == "failed" and result.synced and not result.healthy
    assert "exceeded its progress deadline" in result.message


def test_degraded_fails_only_once_it_outlasts_the_grace() -> None:
    clock = FakeClock()
    degraded = Seen("progressing", SHA, "Back-off restarting", degraded=True)
    app = watched("app", script(degraded, degraded, degraded, Seen("ready", SHA), clock=clock))
    result = wait(config(degraded_grace=20.0), app, [], progress=lambda _l: None, clock=clock)
    assert result.outcome == "ready"                   # 10 s of Degraded, grace 20 s

    clock = FakeClock()
    app = watched("app", script(degraded, clock=clock))
    result = wait(config(degraded_grace=20.0), app, [], progress=lambda _l: None, clock=clock)
    assert result.outcome == "failed" and result.seconds == 20.0
    assert result.message == "app: Degraded for more than 20 s: Back-off restarting"


def test_degraded_grace_restarts_after_a_healthy_read() -> None:
    clock = FakeClock()
    bad = Seen("progressing", SHA, "restarting", degraded=True)
    ok = Seen("progressing", SHA, "rolling")
    app = watched("app", script(bad, bad, ok, bad, bad, bad, Seen("ready", SHA), clock=clock))
    result = wait(config(degraded_grace=12.0), app, [], progress=lambda _l: None, clock=clock)
    assert result.outcome == "ready"                  # never 12 s of Degraded in a row


def test_ready_but_degraded_is_not_done() -> None:
    clock = FakeClock()
    app = watched("app", script(Seen("ready", SHA, "", degraded=True), clock=clock))
    result = wait(config(degraded_grace=10.0), app, [], progress=lambda _l: None, clock=clock)
    assert result.outcome == "failed"


def test_timeout_names_the_pending_resource_and_its_state() -> None:
    clock, reads = FakeClock(), []
    old = Seen("progressing", "main@sha1:" + "b" * 40, "waiting for the next sync")
    app = watched("app churn", script(old, clock=clock, reads=reads))
    result = wait(config(timeout=12.0), app, [], progress=lambda _l: None, clock=clock)
    assert result.outcome == "timeout" and not result.synced
    assert result.message == ("timed out after 12 s waiting for app churn: progressing at "
                              "main@sha1:bbbbbbbbbbbb (waiting for the next sync)")
    assert reads == [1000.0, 1005.0, 1010.0] and result.seconds == 12.0
    assert clock.sleeps == [5.0, 5.0, 2.0]             # never sleeps past the deadline


def test_paused_is_reported_and_not_done() -> None:
    clock, lines = FakeClock(), []
    app = watched("app", script(Seen("ready", SHA), clock=clock))
    rollout = watched("rollout ml/churn", script(Seen("progressing", None, "canary paused",
                                                      paused=True), clock=clock), False)
    result = wait(config(timeout=10.0), app, [rollout], progress=lines.append, clock=clock)
    assert result.outcome == "timeout" and result.resources[1].state == "paused"
    assert "rollout ml/churn: paused - canary paused" in lines


@pytest.mark.parametrize("text,seconds", [("90s", 90), ("10m", 600), ("1h30m", 5400),
                                          ("500ms", 0.5), ("2", 2), ("1.5", 1.5),
                                          ("1m30s", 90), ("1.5m", 90), ("0.5s", 0.5)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text, "--timeout") == seconds


@pytest.mark.parametrize("text", ["", "ten", "10x", "-5s", "1d", "５s", "10m 5s", "s", ".5s", "1e3s"])
def test_bad_durations_name_the_option(text: str) -> None:
    with pytest.raises(BadInput, match="--timeout"):
        parse_duration(text, "--timeout")


def test_a_duration_below_the_minimum_is_refused() -> None:
    with pytest.raises(BadInput, match=r"--interval '0s': at least 0.1 s"):
        parse_duration("0s", "--interval", minimum=0.1)


# -- exact messages, progress lines and per-resource states ------------------------------------


def test_ready_reports_every_resource_with_its_own_time_and_the_exact_message() -> None:
    clock, lines = FakeClock(), []
    app = watched("app churn", script(Seen("progressing", "main@sha1:" + "b" * 40),
                                      Seen("ready", "main@sha1:" + SHA, "Synced"), clock=clock))
    web = watched("deployment ml/web", script(Seen("ready", "ignored", "rolled out"),
                                              clock=clock), revision=False)
    churn = watched("deployment ml/churn", script(Seen("progressing", None, "1 of 2 updated"),
                                                  Seen("ready"), clock=clock), revision=False)
    result = wait(config(), app, [web, churn], progress=lines.append, clock=clock)
    assert result.outcome == "ready" and result.revision == SHA
    assert result.message == ("app churn: synced to main@sha1:aaaaaaaaaaaa and healthy; "
                              "2 workload(s) rolled out")
    # the controller was done at 5 s, the first workload at once, the second at 10 s
    assert result.resources == (
        ResourceState("app churn", "ready", "main@sha1:" + SHA, "Synced", 5.0),
        ResourceState("deployment ml/web", "ready", None, "rolled out", 5.0),
        ResourceState("deployment ml/churn", "ready", None, "", 10.0))
    assert result.seconds == 10.0 and result.requests == 5
    # every resource's first read, then a line when its state, revision or message changes;
    # a ready line carries no message; a workload's revision is never reported, whatever its
    # object says
    assert lines == ["app churn: progressing at main@sha1:bbbbbbbbbbbb",
                     "app churn: ready at main@sha1:aaaaaaaaaaaa",
                     "deployment ml/web: ready",
                     "deployment ml/churn: progressing - 1 of 2 updated",
                     "deployment ml/churn: ready"]


def test_a_line_for_the_first_read_and_each_change_of_state_revision_or_message() -> None:
    clock, lines = FakeClock(), []
    app = watched("app", script(Seen("progressing", None, "Refreshing"),
                                Seen("progressing", None, "Refreshing"),
                                Seen("progressing", SHA), Seen("progressing", SHA, "Syncing"),
                                Seen("progressing", SHA, "Syncing"),
                                Seen("progressing", SHA, "Suspended", paused=True),
                                Seen("ready", SHA, "Synced"), clock=clock))
    result = wait(config(), app, [], progress=lines.append, clock=clock)
    assert result.outcome == "ready" and result.requests == 7
    # the same state, revision and message read again is no line
    assert lines == ["app: progressing - Refreshing",
                     "app: progressing at aaaaaaaaaaaa",
                     "app: progressing at aaaaaaaaaaaa - Syncing",
                     "app: paused at aaaaaaaaaaaa - Suspended", "app: ready at aaaaaaaaaaaa"]


def test_the_first_read_is_shown_even_as_the_state_the_wait_starts_from() -> None:
    clock, lines = FakeClock(), []
    app = watched("app", script(Seen("progressing"), Seen("progressing"), Seen("ready", SHA),
                                clock=clock))
    wait(config(), app, [], progress=lines.append, clock=clock)
    assert lines == ["app: progressing", "app: ready at aaaaaaaaaaaa"]


def test_ready_without_a_revision_and_without_workloads() -> None:
    clock = FakeClock()
    app = watched("app", script(Seen("ready", SHA), clock=clock), revision=False)
    result = wait(config(), app, [], progress=lambda _l: None, clock=clock)
    assert result.message == "app: synced to ? and healthy"
    assert result.applied is None and result.resources[0].revision is None


def test_fractional_times_are_rounded_to_hundredths() -> None:
    clock = FakeClock()
    app = watched("app", script(Seen("progressing"), Seen("ready", SHA), clock=clock))
    result = wait(config(interval=1.2345), app, [], progress=lambda _l: None, clock=clock)
    assert result.seconds == 1.23 and result.resources[0].seconds == 1.23
    assert clock.sleeps == [pytest.approx(1.2345)]


def test_a_failed_workload_without_a_revision_names_only_its_message() -> None:
    clock = FakeClock()
    app = watched("app", script(Seen("ready", SHA), clock=clock))
    deploy = watched("deployment ml/churn", script(Seen("failed", SHA, "deadline exceeded"),
                                                   clock=clock), revision=False)
    result = wait(config(), app, [deploy], progress=lambda _l: None, clock=clock)
    assert result.message == "deployment ml/churn: failed: deadline exceeded"
    assert result.resources[1] == ResourceState("deployment ml/churn", "failed", None,
                                                "deadline exceeded", 0.0)


def test_a_failure_without_a_message() -> None:
    clock = FakeClock()
    app = watched("app", script(Seen("failed", SHA), clock=clock))
    result = wait(config(), app, [], progress=lambda _l: None, clock=clock)
    assert result.message == "app: failed at aaaaaaaaaaaa" and result.requests == 1


def test_degraded_is_the_reported_state_while_it_lasts() -> None:
    clock, lines = FakeClock(), []
    app = watched("app", script(Seen("progressing", SHA, "Back-off restarting", degraded=True),
                                clock=clock))
    result = wait(config(degraded_grace=10.0), app, [], progress=lines.append, clock=clock)
    assert lines == ["app: degraded at aaaaaaaaaaaa - Back-off restarting"]
    assert result.resources == (
        ResourceState("app", "degraded", SHA, "Back-off restarting", 10.0),)
    assert result.requests == 3 and not result.synced and not result.healthy


def test_degraded_past_the_grace_without_a_message() -> None:
    clock = FakeClock()
    app = watched("app", script(Seen("progressing", SHA, degraded=True), clock=clock))
    result = wait(config(degraded_grace=5.0), app, [], progress=lambda _l: None, clock=clock)
    assert result.message == "app: Degraded for more than 5 s"


def test_a_done_workload_does_not_stop_the_next_from_being_read() -> None:
    clock, reads = FakeClock(), []
    app = watched("app", script(Seen("ready", SHA), clock=clock))
    first = watched("deployment ml/a", script(Seen("ready"), clock=clock), revision=False)
    second = watched("deployment ml/b", script(Seen("progressing"), Seen("ready"), clock=clock,
                                               reads=reads), revision=False)
    result = wait(config(), app, [first, second], progress=lambda _l: None, clock=clock)
    assert result.outcome == "ready" and reads == [1000.0, 1005.0]
    assert result.requests == 4                        # the done workload is not read again


def test_a_read_exactly_at_the_deadline_still_counts() -> None:
    clock, reads = FakeClock(), []
    app = watched("app", script(Seen("progressing"), Seen("progressing"), Seen("ready", SHA),
                                clock=clock, reads=reads))
    result = wait(config(timeout=10.0), app, [], progress=lambda _l: None, clock=clock)
    assert result.outcome == "ready" and reads == [1000.0, 1005.0, 1010.0]


def test_a_timeout_at_the_last_read_sleeps_no_more() -> None:
    clock = FakeClock()
    app = watched("app", script(Seen("progressing", SHA), clock=clock))
    result = wait(config(timeout=10.0), app, [], progress=lambda _l: None, clock=clock)
    assert result.outcome == "timeout" and clock.sleeps == [5.0, 5.0, 0.0]
    assert result.seconds == 10.0 and result.requests == 3
    assert result.message == "timed out after 10 s waiting for app: progressing at aaaaaaaaaaaa"


def test_a_short_interval_sleeps_exactly_the_interval() -> None:
    clock = FakeClock()
    app = watched("app", script(Seen("progressing"), Seen("progressing", SHA),
                                Seen("ready", SHA), clock=clock))
    result = wait(config(interval=0.5), app, [], progress=lambda _l: None, clock=clock)
    assert result.outcome == "ready" and clock.sleeps == [0.5, 0.5] and result.seconds == 1.0


def test_a_timeout_on_a_workload_without_a_revision() -> None:
    clock = FakeClock()
    app = watched("app", script(Seen("ready", SHA), clock=clock))
    rollout = watched("rollout ml/churn", script(Seen("progressing", None, "canary paused",
                                                      paused=True), clock=clock), False)
    result = wait(config(timeout=10.0), app, [rollout], progress=lambda _l: None, clock=clock)
    assert result.message == ("timed out after 10 s waiting for rollout ml/churn: paused "
                              "(canary paused)")
    assert result.synced and not result.healthy and result.applied == SHA


@pytest.mark.parametrize("revision,short", [
    ("main@sha1:" + SHA, "main@sha1:aaaaaaaaaaaa"),
    (SHA, "aaaaaaaaaaaa"),
    ("v1.2.0", "v1.2.0"),
    ("abcdef012345", "abcdef012345"),                  # 12 characters: as is
    ("churn-predictor-00002", "churn-predictor-00002"),  # a KServe revision: whole
    ("oci://reg:5000/app@sha256:" + "c" * 64, "oci://reg:5000/app@sha256:cccccccccccc"),
    (None, "?"),
    ("", "?"),
])
def test_short_revisions(revision: str | None, short: str) -> None:
    assert _short(revision) == short


def test_a_duration_equal_to_the_minimum_is_accepted() -> None:
    assert parse_duration("1s", "--interval", minimum=1.0) == 1.0


def test_a_bad_duration_is_quoted_only_up_to_40_characters() -> None:
    with pytest.raises(BadInput) as bad:
        parse_duration("x" * 50, "--timeout")
    assert str(bad.value) == ("--timeout '" + "x" * 40 + "': not a duration "
                              "(e.g. 30s, 10m, 1h30m, 500ms)")
    zero = "000000.000000h000000.000000m000000.000000s000000.000000ms"   # 57 characters
    with pytest.raises(BadInput) as low:
        parse_duration(zero, "--interval", minimum=0.1)
    assert str(low.value) == f"--interval {zero[:40]!r}: at least 0.1 s"
