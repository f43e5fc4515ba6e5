"""/api/v1/jobs: what to sync and when; running them on demand."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Response, status

from synchub.api.deps import AdminServices, OperatorServices, ViewerServices
from synchub.api.pagination import decode_name_cursor, encode_cursor
from synchub.api.params import Cursor, Filter, Limit, Since, States, Triggers, Until
from synchub.api.problems import problem_responses as errors
from synchub.api.routes.runs import runs_page
from synchub.api.schemas.jobs import (
    JobCreate,
    JobPublic,
    JobsPublic,
    JobUpdate,
    MuteRequest,
    RunManyRequest,
    RunRequest,
)
from synchub.api.schemas.runs import RunPublic, RunsPublic
from synchub.core.runs import Trigger
from synchub.services import Services

router = APIRouter(prefix="/jobs", tags=["jobs"], responses=errors(401, 403))


def _shown(svc: Services, name: str) -> JobPublic:
    view = svc.jobs.show(name)
    last = svc.overview.last_runs([view.id]).get(view.id)
    return JobPublic.of(view, last, next_fires=svc.jobs.next(name, 5))


@router.get("", responses=errors(422))
def list_jobs(
    svc: ViewerServices,
    tag: Filter = None,
    enabled: bool | None = None,
    queue: Filter = None,
    remote: Annotated[
        str | None, Query(min_length=1, description="jobs reading or writing it")
    ] = None,
    search: Annotated[
        str | None, Query(min_length=1, description="part of the name, any case")
    ] = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> JobsPublic:
    """Jobs by name, filtered by every parameter given; follow `next_cursor` for the
    rest."""
    views, more = svc.jobs.page(
        tag=tag, enabled=enabled, queue=queue, remote=remote, search=search,
        after=decode_name_cursor(cursor), limit=limit,
    )  # fmt: skip
    last = svc.overview.last_runs([v.id for v in views])
    data = [JobPublic.of(v, last.get(v.id)) for v in views]
    next_cursor = encode_cursor(data[-1].name) if more else None
    return JobsPublic(data=data, count=len(data), next_cursor=next_cursor)


@router.post("", status_code=status.HTTP_201_CREATED, responses=errors(400, 409, 413, 422))
def create_job(body: JobCreate, svc: AdminServices) -> JobPublic:
    """Define a job. Without cron or every it runs only when asked."""
    svc.jobs.add(body.name, body.fields())
    return _shown(svc, body.name)


@router.post("/run", status_code=status.HTTP_202_ACCEPTED, responses=errors(400, 404, 413, 422))
def run_jobs(body: RunManyRequest, svc: OperatorServices) -> RunsPublic:
    """Run several jobs now, one run each: by names (all or none), or by tag."""
    if body.names is not None:
        names = body.names
    else:
        enabled = True if body.only_enabled else None
        names = [v.name for v in svc.jobs.find(tag=body.tag, enabled=enabled)]
    ids = svc.runs.request_many(names, trigger=Trigger.API, queue=body.queue)
    data = [RunPublic.of(svc.runs.show(i)) for i in ids]
    return RunsPublic(data=data, count=len(data), next_cursor=None)


@router.get("/{name}", responses=errors(404, 422))
def show_job(name: str, svc: ViewerServices) -> JobPublic:
    """A job, its schedule described and its next 5 fire times."""
    return _shown(svc, name)


@router.patch("/{name}", responses=errors(400, 404, 413, 422))
def update_job(name: str, body: JobUpdate, svc: AdminServices) -> JobPublic:
    """Change what is given; a new schedule counts from now and the scheduler sees it
    at once."""
    svc.jobs.edit(name, body.edit())
    return _shown(svc, name)


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(404, 409, 422))
def delete_job(
    name: str,
    svc: AdminServices,
    keep_history: Annotated[
        bool,
        Query(description="keep its runs, logs and change reports, to read (not retry)"),
    ] = False,
) -> Response:
    """Remove a job with its runs, logs and change reports, or with `keep_history`
    keep them. Its pending and queued runs are cancelled first; 409 while one of its
    runs is running (cancel it and let it end first)."""
    svc.jobs.remove(name, keep_history=keep_history)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{name}/enable", responses=errors(404, 422))
def enable_job(name: str, svc: OperatorServices) -> JobPublic:
    """Switch a job on; its schedule counts from now."""
    svc.jobs.set_enabled(name, True)
    return _shown(svc, name)


@router.post("/{name}/disable", responses=errors(404, 422))
def disable_job(name: str, svc: OperatorServices) -> JobPublic:
    """Switch a job off; running runs go on."""
    svc.jobs.set_enabled(name, False)
    return _shown(svc, name)


@router.post("/{name}/mute", responses=errors(400, 404, 413, 422))
def mute_job(name: str, body: MuteRequest, svc: OperatorServices) -> JobPublic:
    """Queue no alert for the job for `duration` from now (a new mute replaces the
    old); runs go on as usual."""
    svc.jobs.mute(name, body.duration)
    return _shown(svc, name)


@router.post("/{name}/unmute", responses=errors(404, 422))
def unmute_job(name: str, svc: OperatorServices) -> JobPublic:
    """Alerts for the job again."""
    svc.jobs.unmute(name)
    return _shown(svc, name)


@router.post(
    "/{name}/run", status_code=status.HTTP_202_ACCEPTED, responses=errors(400, 404, 413, 422)
)
def run_job(
    name: str, svc: OperatorServices, body: Annotated[RunRequest | None, Body()] = None
) -> RunPublic:
    """Run a job now: the run is created pending and the scheduler hands it on.
    `dry_run` changes nothing and reports what would change; `allow_deletes` lets
    this one run past the job's delete guard and empty-source stop (audited);
    `resync` (bisync jobs) rebuilds bisync's listings (audited)."""
    body = body or RunRequest()
    (run_id,) = svc.runs.request_many(
        [name], trigger=Trigger.API, queue=body.queue, dry_run=body.dry_run,
        allow_deletes=body.allow_deletes, resync=body.resync,
    )  # fmt: skip
    return RunPublic.of(svc.runs.show(run_id))


@router.get("/{name}/runs", responses=errors(404, 422))
def job_runs(
    name: str,
    svc: ViewerServices,
    state: States = None,
    trigger: Triggers = None,
    since: Since = None,
    until: Until = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> RunsPublic:
    """The job's runs, newest first (see GET /runs)."""
    return runs_page(
        svc, job=name, state=state, trigger=trigger, since=since, until=until,
        cursor=cursor, limit=limit,
    )  # fmt: skip
