"""The daily alert digest: one message per alert summarising, per covered job, what
happened since the last digest, instead of a message per event.

Each day's digest is queued once through the outbox: a conditional write on the
alert (`digest_sent_for`) lets one pass queue it, however many schedulers run.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from synchub.core.alerts import AlertEvent, digest_due, stale_deadline
from synchub.core.runs import RunState, SkipReason
from synchub.services.alert_scope import covers
from synchub.store import alerts as store
from synchub.store import jobs as job_store
from synchub.store.db import reading, transaction
from synchub.store.tables import AlertMessageRow, AlertRow, JobRow, RunRow

if TYPE_CHECKING:
    from synchub.services import Services

#: Why a scheduled run was skipped that counts as a missed fire time.
SKIPS = (SkipReason.MISSED.value, SkipReason.OVERLAP.value)


@dataclass
class JobSummary:
    """What one job did between two digests."""

    outcomes: Counter[str] = field(default_factory=Counter)
    failures: int = 0
    recoveries: int = 0
    missed: int = 0
    bytes: int = 0
    stale_since: datetime | None = None
    #: whether the job's last chain end so far succeeded (None: none yet)
    last_ok: bool | None = None

    def line(self, name: str) -> str:
        runs = ", ".join(
            f"{n} {state.replace('_', ' ')}" for state, n in sorted(self.outcomes.items())
        )
        parts = [f"runs: {runs or 'none'}", f"{_size(self.bytes)} moved"]
        told = {
            "failure": self.failures,
            "recovery": self.recoveries,
            "missed fire time": self.missed,
        }
        parts += [_count_of(n, what) for what, n in told.items() if n]
        if self.stale_since is not None:
            parts.append(
                f"stale: no success since {self.stale_since.isoformat(timespec='minutes')}"
            )
        return f"- {name}: " + "; ".join(parts)


#: A digest composed, not queued yet: (alert id, when it was due, title, body).
Composed = tuple[int, datetime, str, str]


def queue_digests(svc: Services, now: datetime) -> int:
    """Queue the digests that are due; returns how many. Each is composed from reads,
    then told and queued in a short transaction of its own (SQLite's write lock is
    not held while a day of runs is read)."""
    return queue_composed(svc, compose_due(svc, now), now)


def compose_due(svc: Services, now: datetime) -> list[Composed]:
    """The digests due and not queued yet, as read now."""
    tz = svc.settings.default_tz or _local_zone()
    composed: list[Composed] = []
    with reading(svc.sessions) as session:
        alerts = [a for a in store.all_alerts(session) if AlertEvent.DIGEST.value in a.events]
        for alert in alerts:
            due = digest_due(alert.digest_at, tz, now)
            if alert.digest_sent_for is not None and alert.digest_sent_for >= due:
                continue
            if alert.digest_sent_for is None and due <= alert.updated_at:
                continue  # the first digest is the first one due after it was asked for
            start = alert.digest_sent_for or due - timedelta(days=1)
            composed.append((alert.id, due, *compose_digest(session, alert, start, due)))
    return composed


def queue_composed(svc: Services, composed: list[Composed], now: datetime) -> int:
    """Queue each digest unless another pass queued it since it was read (the
    conditional write decides); returns how many this pass queued."""
    queued = 0
    for alert_id, due, title, body in composed:
        with transaction(svc.sessions) as session:
            if not store.tell_digest(session, alert_id, due):
                continue  # another pass queued it
            session.add(
                AlertMessageRow(
                    alert_id=alert_id,
                    event=AlertEvent.DIGEST.value,
                    job_name="",
                    run_id=None,
                    title=title,
                    body=body,
                    created_at=now,
                    attempts=0,
                    next_attempt_at=now,
                )
            )
            queued += 1
    return queued


def compose_digest(
    session: Any, alert: AlertRow, start: datetime, end: datetime
) -> tuple[str, str]:
    """The digest's title and body for runs that ended in [start, end)."""
    jobs = {j.id: j for j in job_store.all_jobs(session) if covers(alert, j)}
    summaries: dict[int, JobSummary] = {}
    for run in store.ended_between(session, start, end):
        if run.job_id in jobs:
            _count(session, _summary_of(session, summaries, run), run)
    successes = store.last_successes(session)
    for job in jobs.values():
        since = _stale_since(job, successes, end)
        if since is not None:
            summaries.setdefault(job.id, JobSummary()).stale_since = since
    period = f"{start.isoformat(timespec='minutes')} to {end.isoformat(timespec='minutes')}"
    lines = [summaries[i].line(jobs[i].name) for i in sorted(summaries, key=lambda i: jobs[i].name)]
    quiet = len(jobs) - len(summaries)
    if quiet:
        lines.append(f"{quiet} other job{'s' if quiet > 1 else ''}: no runs")
    failing = sum(s.failures for s in summaries.values())
    title = f"synchub: daily digest ({_count_of(failing, 'failure')})"
    return title, f"From {period} (UTC):\n" + "\n".join(lines or ["No jobs covered."])


def _summary_of(session: Any, summaries: dict[int, JobSummary], run: RunRow) -> JobSummary:
    """The job's summary, made at its first run of the period with its chain end
    before it (so the first success can be told a recovery)."""
    assert run.job_id is not None
    if run.job_id not in summaries:
        before = store.chain_ends(session, run.job_id, run.id - 1, 1)
        summaries[run.job_id] = JobSummary(last_ok=before[0] if before else None)
    return summaries[run.job_id]


def _count(session: Any, summary: JobSummary, run: RunRow) -> None:
    """Count one run; runs come oldest first. Only failed attempts can be retried, so
    only they cost a look-up."""
    summary.outcomes[run.state] += 1
    summary.bytes += int((run.stats or {}).get("bytes") or 0)
    if run.state == "skipped" and run.trigger == "schedule" and run.reason in SKIPS:
        summary.missed += 1
    if run.state not in store.CHAIN_ENDS:
        return
    succeeded = run.state == RunState.SUCCEEDED.value
    if not succeeded and store.is_retried(session, run.id):
        return  # an attempt, not the chain's end
    if not succeeded:
        summary.failures += 1
    elif summary.last_ok is False:
        summary.recoveries += 1
    summary.last_ok = succeeded


def _stale_since(job: JobRow, successes: dict[int, datetime], at: datetime) -> datetime | None:
    """When the job's last success was, if it is stale at `at`; else None."""
    if not job.enabled or job.schedule_kind == "none":
        return None
    last = successes.get(job.id, job.updated_at)
    since = max(last, job.updated_at)
    deadline = stale_deadline(job_store.schedule_of(job), since, job.stale_after_s)
    return since if deadline is not None and at >= deadline else None


def _local_zone() -> str:
    from synchub.core.schedules import local_zone_name

    return local_zone_name()


def _size(count: int) -> str:
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{count} B"


def _count_of(count: int, what: str) -> str:
    plural = what[:-1] + "ies" if what.endswith("y") else what + "s"
    return f"{count} {what if count == 1 else plural}"
