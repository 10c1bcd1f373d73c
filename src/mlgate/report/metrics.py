"""`mlgate metrics` as every emitter renders it: a table of the figures, one of deployments
per week, one of the production models' ages; the JSON result holds every deployment."""

from __future__ import annotations

import dataclasses

from mlgate.audit.metrics_result import LeadTime, MetricsResult
from mlgate.promote.config import Target
from mlgate.report.audit import markdown_table
from mlgate.report.presentation import Presentation, Section, Table

MAX_WEEK_ROWS = 26  # the Markdown shows the latest half year; JSON and HTML hold every week
MAX_FAILED_ROWS = 20


def human(seconds: int | None) -> str:
    """A duration as people read it: 45 min, 3.2 h, 4.5 d; "n/a" when not measured."""
    if seconds is None:
        return "n/a"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def percent(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate * 100:.1f} %"


def figures(r: MetricsResult) -> tuple[tuple[str, str, str], ...]:
    """(metric, value, how it was measured) rows, the same in Markdown and HTML."""
    per_env = ", ".join(f"{f.environment}: {f.deployments} ({f.per_week:g}/week)"
                        for f in r.frequency) or "none"
    lead, cf, a = r.lead_time, r.change_failure, r.automation
    verified = r.lead_time_to_verified or LeadTime(0, 0, None, None, ())
    return (
        ("deployment frequency", per_env, f"promotions landed over {len(r.weeks)} ISO weeks; a "
         "canary counts once, rollbacks do not"),
        ("lead time for changes (median)", human(lead.median_seconds),
         f"model commit to {r.production} commit; p90 {human(lead.p90_seconds)}; "
         f"{lead.measured} measured, {lead.unmeasured} without a recorded model commit time"),
        ("lead time to verified (median)", human(verified.median_seconds),
         f"model commit to the Successful `mlgate verify` recorded on the {r.production} "
         f"commit; p90 {human(verified.p90_seconds)}; {verified.measured} measured, "
         f"{verified.unmeasured} without a recorded model commit time or verify Successful"),
        ("change failure rate", percent(cf.rate),
         f"{cf.failed} of {cf.deployments} {r.production} deployments rolled back (or their "
         f"canary aborted), or recorded as failed by verify, within "
         f"{human(r.failure_window_seconds)}"),
        ("time to restore (median)", human(r.restore.median_seconds),
         f"failed commit to the restoring commit, over {r.restore.restored} failures"),
        ("model freshness (average age)", human(r.freshness_average_seconds),
         f"{len(r.freshness)} {r.production} models, as of {r.until}"),
        ("automation rate", percent(a.rate),
         f"{a.mlgate} commits by mlgate, {a.other} by hand or other tools, in "
         f"{len(a.folders)} environment folders"),
    )


def present_metrics(result: MetricsResult, target: Target) -> Presentation:
    r = result
    summary = markdown_table(Table(("metric", "value", "measured as"), figures(r)))
    sections = [Section("Metrics", summary)]
    environments = [f.environment for f in r.frequency]
    if r.weeks:
        shown = r.weeks[-MAX_WEEK_ROWS:]
        rows = tuple((w.week, w.start, *(str(n) for _, n in w.counts)) for w in shown)
        note = (f"\n\nThe latest {len(shown)} of {len(r.weeks)} weeks; the JSON result and "
                "the HTML report hold every week." if len(shown) < len(r.weeks) else "")
        sections.append(Section("Deployments per week", markdown_table(
            Table(("week", "from", *environments), rows)) + note, fold=True))
    if r.freshness:
        rows = tuple((f.app, f.version, human(f.age_seconds), f"{f.since} ({f.since_what})",
                      f.commit[:12]) for f in r.freshness)
        sections.append(Section(f"Models in {r.production}", markdown_table(
            Table(("app", "model", "age", "since", "commit"), rows)), fold=True))
    failed = [d for d in r.deployments if d.failed]
    if failed:
        rows = tuple((d.app, d.when, d.commit[:12], (d.restored_by or "")[:12],
                      human(d.restore_seconds)) for d in failed[-MAX_FAILED_ROWS:])
        note = (f"\n\nThe latest {MAX_FAILED_ROWS} of {len(failed)}; the JSON result holds "
                "every one." if len(failed) > MAX_FAILED_ROWS else "")
        sections.append(Section("Failed changes", markdown_table(
            Table(("app", "deployed", "commit", "restored by", "time to restore"), rows))
            + note, fold=True))
    total = sum(f.deployments for f in r.frequency)
    window = (f"{r.since} to {r.until}" if r.since else f"up to {r.until}")
    return Presentation(
        command="metrics",
        title=f"mlgate metrics: {r.repo} ({r.base})" + (f", {r.app}" if r.app else ""),
        verdict=f"{total} deployments, {window}",
        exit_code=0,
        outputs={
            "deployments": str(total),
            "production-deployments": str(r.change_failure.deployments),
            "lead-time-median": _seconds(r.lead_time.median_seconds),
            "change-failure-rate": "" if r.change_failure.rate is None
            else f"{r.change_failure.rate:g}",
            "time-to-restore-median": _seconds(r.restore.median_seconds),
            "freshness-average": _seconds(r.freshness_average_seconds),
            "automation-rate": "" if r.automation.rate is None else f"{r.automation.rate:g}",
        },
        sections=tuple(sections),
        secrets=(target.credentials.token,) if target.credentials else (),
        result=dataclasses.asdict(result),
    )


def _seconds(value: int | None) -> str:
    return "" if value is None else str(value)
