"""Pages of runs: a failed attempt whose next attempt exists reads RETRY wherever it
is listed, however far away its retry is."""

from __future__ import annotations

from typing import Any

from synchub.core.clock import FakeClock
from synchub.core.runs import RunState, Trigger
from synchub.services import Services
from synchub.services.jobs.fields import JobFields
from synchub.store import jobs as job_store
from synchub.store import runs as run_store
from synchub.store.db import transaction
from synchub.store.tables import JobRow


def test_a_failed_run_reads_retry_on_every_page_once_its_next_attempt_exists(
    svc: Services, clock: FakeClock
) -> None:
    for name in ("a", "b"):
        svc.jobs.add(name, JobFields(kind="scripted", params={}, retries=0))
    with transaction(svc.sessions) as session:
        a, b = job_store.get(session, "a"), job_store.get(session, "b")
        assert a is not None and b is not None

        def run(job: JobRow, state: RunState, **kw: Any) -> int:
            run_id = run_store.create(
                session, job, trigger=Trigger.MANUAL, now=clock.now(), state=state, **kw
            )
            assert run_id is not None
            return run_id

        failed = run(a, RunState.FAILED)
        succeeded = run(a, RunState.SUCCEEDED)
        lost = run(b, RunState.LOST)  # never retried
        filler = [run(b, RunState.SUCCEEDED) for _ in range(5)]
        # The retries come later, after other runs: a retry is a later run of its job.
        retry = run(a, RunState.PENDING, attempt=2, retry_of=failed)
        again = run(a, RunState.PENDING, attempt=2, retry_of=succeeded)  # asked by hand
        assert failed < succeeded < lost < filler[0] < retry < again

    states = {r.id: r.celery_state for r in svc.runs.page(limit=1000)}
    assert states[failed] == "RETRY"
    assert states[succeeded] == "SUCCESS"  # retried by hand, but it did not fail
    assert states[lost] == "FAILURE"
    assert states[retry] == states[again] == "PENDING"
    # It should say so on a page of its own, far from its retry, and shown alone.
    (alone,) = svc.runs.page(before_id=failed + 1, limit=1)
    assert (alone.id, alone.celery_state) == (failed, "RETRY")
    assert svc.runs.show(failed).celery_state == "RETRY"
    assert svc.runs.show(lost).celery_state == "FAILURE"
