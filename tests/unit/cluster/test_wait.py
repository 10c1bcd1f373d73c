"""The wait loop on a simulated clock: one read per resource per interval, the controller
before the workloads, failure at once, Degraded only past its grace, a timeout naming what was
pending, and nothing unreadable taken as healthy."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from mlgate.cluster.config import WaitSyncConfig, parse_duration
from mlgate.cluster.wait import Clock, Watched, wait
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
