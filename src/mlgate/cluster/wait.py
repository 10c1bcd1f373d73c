"""The wait: poll the controller until it applied this revision and is healthy, then the
workloads until they rolled out, one request per resource per interval, within the timeout.

Fail-safe by construction: a resource is done only when its rule says ready; anything the rule
cannot read is progressing, so an unreadable state ends in a timeout, never in "healthy". A
controller that reports failure for this revision ends the wait at once; Degraded health ends
it once it outlasts the grace period (a rollout passes through Degraded while pods restart).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mlgate.cluster.config import WaitSyncConfig
from mlgate.cluster.result import ResourceState, WaitSyncResult

Read = Callable[[], Mapping[str, Any]]
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
Progress = Callable[[str], None]



@dataclass
class Watched:
    """One resource being waited for: how to read it, the rule that judges it."""

    label: str
    read: Read
    rule: Callable[[Mapping[str, Any]], Any]
    reports_revision: bool
    state: str = "progressing"
    revision: str | None = None
    message: str = ""
    degraded_since: float | None = None
    done_at: float | None = None
    shown: bool = False      # a line was printed for it (its first read always is)


@dataclass
class Clock:
    now: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


@dataclass
class _Run:
    cfg: WaitSyncConfig
    clock: Clock
    progress: Progress
    started: float = 0.0
    requests: int = 0
    watched: list[Watched] = field(default_factory=list)


def wait(cfg: WaitSyncConfig, controller: Watched, workloads: list[Watched], *,
         progress: Progress, clock: Clock | None = None) -> WaitSyncResult:
    """Wait for `controller`, then for every workload; see the module docstring."""
    clock = clock or Clock()
    run = _Run(cfg, clock, progress, started=clock.now(), watched=[controller, *workloads])
    deadline = run.started + cfg.timeout
    phase = [controller]
    while True:
        tick = clock.now()
        for item in phase:
            if item.done_at is not None:
                continue
            ended = _poll(run, item, tick)
            if ended is not None:
                return ended
        if all(w.done_at is not None for w in phase):
            if phase is workloads or not workloads:
                return _finish(run, "ready", f"{controller.label}: synced to "
                               f"{_short(controller.revision)} and healthy"
                               + (f"; {len(workloads)} workload(s) rolled out" if workloads
                                  else ""))
            phase = workloads
            continue          # read the workloads now, not an interval later
        # the next round starts an interval after this one *ended*: a read's request can
        # reach the server late (a new connection, a blocking refresh), and the next one
        # must still arrive at least an interval after it
        now = clock.now()
        if now + cfg.interval > deadline:
            # no read fits before the deadline without reading twice within one interval
            clock.sleep(max(0.0, deadline - now))
            pending = next(w for w in phase if w.done_at is None)
            return _finish(run, "timeout", f"timed out after {cfg.timeout:g} s waiting for "
                           f"{pending.label}: {pending.state}"
                           + (f" at {_short(pending.revision)}" if pending.revision else "")
                           + (f" ({pending.message})" if pending.message else ""))
        clock.sleep(cfg.interval)


def _poll(run: _Run, item: Watched, now: float) -> WaitSyncResult | None:
    run.requests += 1
    seen = item.rule(item.read())
    # the first read is always shown (where each resource starts), then every change of
    # state, revision or the controller's message: one line per resource per interval at most
    before = (item.state, item.revision, item.message) if item.shown else None
    item.shown = True
    item.revision = seen.revision if item.reports_revision else None
    item.message = seen.message
    if seen.state == "failed":
        item.state = "failed"
        return _finish(run, "failed", f"{item.label}: failed"
                       + (f" at {_short(item.revision)}" if item.revision else "")
                       + (f": {seen.message}" if seen.message else ""))
    if seen.degraded:
        item.degraded_since = item.degraded_since if item.degraded_since is not None else now
        item.state = "degraded"
        if now - item.degraded_since >= run.cfg.degraded_grace:
            return _finish(run, "failed", f"{item.label}: Degraded for more than "
                           f"{run.cfg.degraded_grace:g} s"
                           + (f": {seen.message}" if seen.message else ""))
    else:
        item.degraded_since = None
        item.state = "paused" if seen.paused else seen.state
    if seen.state == "ready" and not seen.degraded:
        item.state, item.done_at = "ready", now
    if (item.state, item.revision, item.message) != before:
        run.progress(f"{item.label}: {item.state}"
                     + (f" at {_short(item.revision)}" if item.revision else "")
                     + (f" - {item.message}" if item.message and item.state != "ready" else ""))
    return None


def _finish(run: _Run, outcome: str, message: str) -> WaitSyncResult:
    end = run.clock.now()
    controller = run.watched[0]
    synced = controller.done_at is not None
    states = tuple(ResourceState(w.label, w.state, w.revision, w.message,
                                 round((w.done_at if w.done_at is not None else end)
                                       - run.started, 2))
                   for w in run.watched)
    return WaitSyncResult(run.cfg.revision, outcome, synced,  # type: ignore[arg-type]
                          outcome == "ready", controller.revision,
                          round(end - run.started, 2), message, states, run.requests)


def _short(revision: str | None) -> str:
    """`main@sha1:<40 hex>` -> `main@sha1:<12 hex>`, a bare sha -> 12 hex, anything else (a
    KServe revision's name) as is, None -> "?"."""
    if not revision:
        return "?"
    head, colon, sha = revision.rpartition(":")
    return head + colon + (sha[:12] if _SHA.fullmatch(sha) else sha)
