"""DORA's four keys and two model metrics, from the config repo's history alone.

Every promotion, rollback and canary step is a commit with trailers (mlgate.audit.log reads
them in one pass), so the delivery figures teams are asked for need no CI API and no
database: deployment frequency, lead time for changes (from the model repo's commit time the
promotion recorded, Mlgate-Source-Time), change failure rate and time to restore (from the
rollbacks naming what they undid), how old each production model is, and how much of the
environments' history mlgate wrote (one more `git log`, limited to their folders).
"""

from __future__ import annotations

import math
import re
import statistics
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from mlgate.audit.log import ConfigLog, Touching
from mlgate.audit.outcome import Outcome
from mlgate.audit.metrics_result import (
    Automation,
    Bucket,
    ChangeFailure,
    Deployment,
    EnvironmentFrequency,
    Freshness,
    LeadTime,
    MetricsResult,
    Restore,
    Week,
)
from mlgate.audit.trail import iso, model_version, parse_since
from mlgate.errors import BadInput
from mlgate.promote.history import Recorded, live_promotions
from mlgate.promote.message import utc_iso

HOUR, DAY = 3600, 86400
# DORA's lead-time answers: less than an hour, a day, a week, a month, six months, more
BUCKETS = (("< 1 hour", HOUR), ("1 hour - 1 day", DAY), ("1 day - 1 week", 7 * DAY),
           ("1 week - 1 month", 30 * DAY), ("1 - 6 months", 182 * DAY), (">= 6 months", None))
MAX_OTHERS = 20
_WINDOW = re.compile(r"([0-9]{1,4})([dw])", re.ASCII)
_DATE_ONLY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_window(text: str, what: str = "--failure-window") -> int:
    """`7d`, `2w`, or a Go duration (`12h`, `90m`): whole seconds, at least one."""
    found = _WINDOW.fullmatch(text.strip())
    if found:
        seconds = int(found[1]) * (DAY if found[2] == "d" else 7 * DAY)
    else:
        from mlgate.cluster.config import parse_duration

        try:
            seconds = int(parse_duration(text, what))
        except BadInput:
            raise BadInput(f"{what} {text[:40]!r}: a window like 7d, 2w, 12h or 90m") from None
    if seconds < 1:
        raise BadInput(f"{what} {text[:40]!r}: at least 1 s")
    return seconds


def parse_until(text: str) -> int:
    """`--until`: like --since, but a date alone means the end of that day (UTC)."""
    moment = parse_since(text, "--until")
    return moment + DAY - 1 if _DATE_ONLY.fullmatch(text.strip()) else moment


@dataclass
class _Group:
    """A deployment being assembled from its commits, oldest first."""

    records: list[Recorded]
    failed_at: Recorded | None = None  # the rollback or abort that ended it


def metrics(log: ConfigLog, *, repo: str, base: str, app: str | None, production: str,
            since: str | None, until: str | None, failure_window: int,
            now: float | None = None) -> MetricsResult:
    """Every metric over commits made in [since, until] (until: now by default)."""
    start = parse_since(since) if since else None
    end = parse_until(until) if until else int(now if now is not None else time.time())
    if start is not None and start > end:
        raise BadInput(f"--since {since!r} is after --until {until or 'now'!r}")
    clock = time.perf_counter()
    with log.start_touching(log.recent_folders()) as touching:  # beside the records' log
        started = time.perf_counter() - clock
        records = [r for r in log.records(app) if r.when <= end]
        clock = time.perf_counter()
        found = _automation(touching, records, start, end)
        automation = Automation(found.folders, found.mlgate, found.other, found.rate,
                                found.other_commits,
                                round(started + time.perf_counter() - clock, 3))
    groups = _groups(records)
    kept = [g for g in groups if start is None or g.records[0].when >= start]
    # verify's recorded outcomes, for the production deployments only (one notes read)
    notes = log.outcomes([r.sha for g in kept if g.records[0].environment == production
                          for r in g.records])
    deployments = tuple(_deployment(g, failure_window, notes) for g in kept)
    prod = [d for d in deployments if d.environment == production]
    weeks = _weeks(deployments, start, end)
    environments = sorted({d.environment for d in deployments})
    frequency = tuple(EnvironmentFrequency(
        env, n := sum(1 for d in deployments if d.environment == env),
        round(n / len(weeks), 2) if weeks else 0.0) for env in environments)
    failed = [d for d in prod if d.failed]
    restored = [d.restore_seconds for d in failed if d.restore_seconds is not None]
    freshness = _freshness(records, production, end)
    return MetricsResult(
        repo=repo, base=base, app=app, production=production,
        since=iso(start) if start is not None else None, until=iso(end),
        failure_window_seconds=failure_window,
        frequency=frequency, weeks=weeks,
        lead_time=_lead_time([d.lead_seconds for d in prod]),
        change_failure=ChangeFailure(len(prod), len(failed),
                                     round(len(failed) / len(prod), 4) if prod else None),
        restore=Restore(len(restored), _median(restored)),
        freshness=freshness,
        freshness_average_seconds=(round(statistics.fmean(f.age_seconds for f in freshness))
                                   if freshness else None),
        automation=automation,
        deployments=tuple(prod),
        lead_time_to_verified=_lead_time([d.verified_lead_seconds for d in prod]),
    )


def _groups(records: list[Recorded]) -> list[_Group]:
    """Deployments, oldest first, each with what ended it: a canary's steps (one id) are one
    deployment; an abort or a rollback naming any of its commits marks it failed; rollbacks
    themselves are not deployments."""
    groups: list[_Group] = []
    by_commit: dict[str, _Group] = {}
    canaries: dict[tuple[str, str, str], _Group] = {}
    for record in reversed(records):  # oldest first
        if record.is_rollback:
            for sha in record.rollback_of:
                group = by_commit.get(sha)
                if group is not None and group.failed_at is None:
                    group.failed_at = record
            continue
        key = (record.app, record.environment, record.canary_id or "")
        group = canaries.get(key) if record.canary_id else None
        if record.canary == "aborted":
            if group is not None and group.failed_at is None:
                group.failed_at = record
            if group is not None:
                by_commit[record.sha] = group
            continue
        if group is None:
            group = _Group([record])
            groups.append(group)
            if record.canary_id:
                canaries[key] = group
        else:
            group.records.append(record)
        by_commit[record.sha] = group
    return groups


def _deployment(group: _Group, window: int,
                notes: dict[str, tuple[Outcome, ...]] | None = None) -> Deployment:
    first = group.records[0]
    source_time = _stamp(first.source_time)
    lead = first.when - source_time if source_time is not None else None
    end = group.failed_at
    checked = sorted((o for r in group.records for o in (notes or {}).get(r.sha, ())
                      if o.kind == "verify"), key=lambda o: o.timestamp)
    passed = next((o for o in checked if o.outcome == "Successful"), None)
    # a failed verify is a failed change even when nothing rolled back (on-failure none, a
    # rollback refused): within the window, as a rollback is
    verify_failed = any(o.outcome in ("Failed", "Error") and o.timestamp - first.when <= window
                        for o in checked)
    verified_lead = passed.timestamp - source_time if passed and source_time is not None \
        else None
    rolled = end is not None and end.when - first.when <= window
    failed = rolled or verify_failed
    restore = None
    if rolled and end is not None:
        before = [r for r in group.records if r.when <= end.when]
        restore = end.when - (before[-1] if before else first).when
    return Deployment(
        app=first.app, environment=first.environment, commit=first.sha, when=iso(first.when),
        timestamp=first.when, commits=tuple(r.sha for r in group.records),
        source=first.source, source_time=iso(source_time) if source_time is not None else None,
        lead_seconds=lead if lead is not None and lead >= 0 else None,
        canary_id=first.canary_id, failed=failed,
        restored_by=end.sha if rolled and end is not None else None,
        restore_seconds=restore,
        verify=checked[-1].outcome if checked else None,
        verified=passed.when if passed else None,
        verified_lead_seconds=verified_lead if verified_lead is not None
        and verified_lead >= 0 else None,
        verify_failed=verify_failed)


def _stamp(text: str | None) -> int | None:
    """Mlgate-Source-Time as seconds; None when absent or not a time (trailers are not
    trusted)."""
    if not text:
        return None
    normal = utc_iso(text)
    return int(datetime.fromisoformat(normal.replace("Z", "+00:00")).timestamp()) \
        if normal else None


def _weeks(deployments: tuple[Deployment, ...], start: int | None, end: int
           ) -> tuple[Week, ...]:
    """Every ISO week from the window's start (or the first deployment) to its end, with each
    environment's count: weeks without deployments are zeros, not gaps."""
    if start is None and not deployments:
        return ()
    environments = sorted({d.environment for d in deployments})
    first = _monday(start if start is not None else min(d.timestamp for d in deployments))
    last = _monday(end)
    counts: dict[tuple[date, str], int] = {}
    for d in deployments:
        key = (_monday(d.timestamp), d.environment)
        counts[key] = counts.get(key, 0) + 1
    weeks = []
    monday = first
    while monday <= last:
        year, number, _ = monday.isocalendar()
        weeks.append(Week(f"{year}-W{number:02d}", monday.isoformat(),
                          tuple((env, counts.get((monday, env), 0)) for env in environments)))
        monday += timedelta(days=7)
    return tuple(weeks)


def _monday(timestamp: int) -> date:
    day = datetime.fromtimestamp(timestamp, timezone.utc).date()
    return day - timedelta(days=day.weekday())


def _lead_time(values: list[int | None]) -> LeadTime:
    """The distribution of the measured values; a None is a deployment not measured."""
    leads = sorted(v for v in values if v is not None)
    buckets = []
    lower = 0
    for label, upper in BUCKETS:
        buckets.append(Bucket(label, upper, sum(1 for v in leads
                                                if v >= lower and (upper is None or v < upper))))
        lower = upper or lower
    return LeadTime(measured=len(leads), unmeasured=len(values) - len(leads),
                    median_seconds=_median(leads),
                    p90_seconds=leads[math.ceil(0.9 * len(leads)) - 1] if leads else None,
                    buckets=tuple(buckets))


def _median(values: list[int]) -> int | None:
    return round(statistics.median(values)) if values else None


def _freshness(records: list[Recorded], production: str, now: int) -> tuple[Freshness, ...]:
    """Per app, the production model live at `now` and its age: since its model commit
    (Mlgate-Source-Time) where recorded, else since the same model was first promoted in any
    environment."""
    by_app: dict[str, list[Recorded]] = {}
    for record in records:
        by_app.setdefault(record.app, []).append(record)
    out = []
    for app in sorted(by_app):
        mine = by_app[app]
        live = live_promotions([r for r in mine if r.environment == production
                                and r.canary != "aborted"])
        if not live:
            continue
        running = live[0]
        # a canary's later steps change only the traffic: the model is its first step's
        if running.canary_id:
            steps = [r for r in live if r.canary_id == running.canary_id]
            running = steps[-1]
        key = _model_key(running)
        source = _stamp(running.source_time)
        if source is not None:
            since, what = source, "model commit"
        else:
            firsts = [r.when for r in mine if not r.is_rollback and _model_key(r) == key]
            since, what = min(firsts, default=running.when), "first promotion"
        version = key[1] or ", ".join(key[0]) or "unknown"
        out.append(Freshness(app, production, running.sha, version, iso(since), what,
                             max(0, now - since)))
    return tuple(out)


def _model_key(record: Recorded) -> tuple[tuple[str, ...], str | None]:
    """What identifies the model a record put live across environments: its images and its
    model version (file paths differ per environment, the values do not)."""
    return tuple(new for _, new in record.images), model_version(record)


def _automation(touching: Touching, records: list[Recorded], start: int | None, end: int
                ) -> Automation:
    folders = sorted({r.folder for r in records if r.folder})
    mine = {r.sha for r in records}
    commits = [c for c in touching.commits(folders)
               if c[1] <= end and (start is None or c[1] >= start)]
    made = sum(1 for sha, _, _ in commits if sha in mine)
    others = tuple(sha for sha, _, _ in commits if sha not in mine)
    total = made + len(others)
    return Automation(tuple(folders), made, len(others),
                      round(made / total, 4) if total else None, others[:MAX_OTHERS], 0.0)
