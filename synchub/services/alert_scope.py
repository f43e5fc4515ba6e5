"""Which jobs an alert speaks for: the ones it names or tags, or every job."""

from __future__ import annotations

from synchub.store.tables import AlertRow, JobRow


def covers(alert: AlertRow, job: JobRow) -> bool:
    if not alert.jobs and not alert.tags:
        return True
    return job.name in alert.jobs or bool(set(alert.tags) & set(job.tags))
