"""/api/v1/workers: who takes runs, and which queues nobody serves."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from synchub.api.deps import NodeDep, ViewerServices
from synchub.api.problems import problem_responses as errors
from synchub.api.schemas.workers import QueueState, Worker, Workers

router = APIRouter(prefix="/workers", tags=["workers"], responses=errors(401, 403))


@router.get("")
def list_workers(svc: ViewerServices, node: NodeDep) -> Workers:
    """The local pool, or the Celery workers answering within a second, with the
    queues each listens on; a queue with waiting runs and no worker gets a warning."""
    found = node.describe_workers() if node is not None else []
    workers = [Worker(**asdict(w)) for w in found]
    listened = {q for w in workers for q in w.queues}
    queues = [
        QueueState(queue=q, waiting=n, served="*" in listened or q in listened)
        for q, n in sorted(svc.runs.waiting_by_queue().items())
    ]
    warnings = [
        f"{q.waiting} run(s) wait on queue {q.queue!r} and no worker listens on it"
        for q in queues
        if not q.served
    ]
    return Workers(
        executor=svc.settings.executor, workers=workers, queues=queues, warnings=warnings
    )
