"""/api/v1/runs: what happened, what is happening; cancel and retry."""

from __future__ import annotations

import json
from datetime import datetime
from functools import partial
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Response, status
from fastapi.responses import PlainTextResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials

from synchub.api import sse
from synchub.api.deps import OperatorServices, ViewerServices, bearer
from synchub.api.pagination import decode_cursor, encode_cursor
from synchub.api.params import (
    MAX_SEQ,
    Cursor,
    Filter,
    Limit,
    RunId,
    Since,
    States,
    Triggers,
    Until,
)
from synchub.api.problems import problem_responses as errors
from synchub.api.schemas.runs import (
    FilesPublic,
    RestorePublic,
    RestoreRequest,
    RunPublic,
    RunsPublic,
)
from synchub.services import Services

router = APIRouter(prefix="/runs", tags=["runs"], responses=errors(401, 403))


def _split(values: list[str] | None) -> list[str]:
    return [part for value in values or () for part in value.split(",") if part]


def runs_page(
    svc: Services,
    *,
    job: str | None,
    state: list[str] | None,
    trigger: list[str] | None,
    since: datetime | None,
    until: datetime | None,
    cursor: str | None,
    limit: int,
) -> RunsPublic:
    """One keyset page of runs, newest first, and the cursor of the next one."""
    views = svc.runs.page(
        job=job,
        states=_split(state),
        triggers=_split(trigger),
        since=since,
        until=until,
        before_id=decode_cursor(cursor),
        limit=limit,
    )
    data = [RunPublic.of(v) for v in views]
    next_cursor = encode_cursor(data[-1].id) if len(data) == limit else None
    return RunsPublic(data=data, count=len(data), next_cursor=next_cursor)


@router.get("", responses=errors(404, 422))
def list_runs(
    svc: ViewerServices,
    job: Filter = None,
    state: States = None,
    trigger: Triggers = None,
    since: Since = None,
    until: Until = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> RunsPublic:
    """Runs newest first, filtered; follow `next_cursor` for older ones."""
    return runs_page(
        svc, job=job, state=state, trigger=trigger, since=since, until=until,
        cursor=cursor, limit=limit,
    )  # fmt: skip


@router.get("/{run_id}", responses=errors(404, 422))
def show_run(run_id: RunId, svc: ViewerServices) -> RunPublic:
    """A run: state (and its Celery name), outcome, stats, live progress."""
    return RunPublic.of(svc.runs.show(run_id))


@router.post("/{run_id}/cancel", responses=errors(404, 409, 422))
def cancel_run(run_id: RunId, svc: OperatorServices) -> RunPublic:
    """Cancel a run: at once if it has not started, else its runner stops it (the run
    stays `running` until then). 409 when it has already ended."""
    return RunPublic.of(svc.runs.cancel(run_id))


@router.post(
    "/{run_id}/retry", status_code=status.HTTP_202_ACCEPTED, responses=errors(404, 409, 422)
)
def retry_run(run_id: RunId, svc: OperatorServices) -> RunPublic:
    """A new attempt of an ended run, now. 409 while it has not ended."""
    return RunPublic.of(svc.runs.show(svc.runs.retry(run_id)))


@router.post("/{run_id}/restore", responses=errors(400, 404, 409, 413, 422, 502))
def restore_run(
    run_id: RunId, svc: OperatorServices, body: RestoreRequest | None = None
) -> RestorePublic:
    """Copy back to the destination what the run kept (the files it deleted or
    overwrote, for a job keeping versions), or only `path`, a file or folder relative to
    the destination root. What the restore overwrites is kept in turn. It answers once
    the copy is done. 409 when the run kept nothing, its versions were pruned, or a run
    of its job is running; 422 when `path` matches nothing it kept. Audited."""
    path = body.path if body is not None else None
    return RestorePublic.of(svc.runs.restore(run_id, path))


@router.get(
    "/{run_id}/log",
    response_class=PlainTextResponse,
    responses={
        200: {
            "description": "Log lines: `time LEVEL message` text, or one JSON object a line",
            "content": {"text/plain": {}, "application/x-ndjson": {}},
        },
        **errors(404, 422),
    },
)
def run_log(
    run_id: RunId,
    svc: ViewerServices,
    after: Annotated[int, Query(ge=0, le=MAX_SEQ, description="lines after this seq")] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    format: Annotated[Literal["text", "jsonl"], Query()] = "text",
) -> Response:
    """A range of the run's log. The `X-Next-After` header is the seq to continue
    after; a gap in seq marks lines the size cap dropped."""
    lines = svc.runs.log_page(run_id, after_seq=after, limit=limit)
    headers = {"X-Next-After": str(lines[-1].seq if lines else after)}
    if format == "jsonl":
        body = "".join(json.dumps(line.as_dict()) + "\n" for line in lines)
        return Response(body, media_type="application/x-ndjson", headers=headers)
    body = "".join(f"{x.at} {x.level.upper():<7} {x.message}\n" for x in lines)
    return PlainTextResponse(body, headers=headers)


@router.get(
    "/{run_id}/events",
    response_class=StreamingResponse,
    responses={
        200: {"description": sse.__doc__, "content": {"text/event-stream": {}}},
        **errors(404, 422),
    },
)
def run_events(
    run_id: RunId,
    svc: ViewerServices,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    last_event_id: Annotated[
        int | None, Header(alias="Last-Event-ID", ge=0, le=MAX_SEQ, include_in_schema=False)
    ] = None,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_SEQ, description="resume after this log seq")
    ] = None,
) -> StreamingResponse:
    """Live progress, log lines and state changes as Server-Sent Events, until the
    run ends; `Last-Event-ID` (or `after`) resumes after that log line."""
    svc.runs.show(run_id)  # 404 now, not inside the stream
    start = last_event_id if last_event_id is not None else after or 0
    secret = credentials.credentials if credentials else None
    return StreamingResponse(
        sse.run_events(
            svc,
            run_id,
            still_allowed=partial(svc.tokens.authenticate, secret),
            credential=secret or "",
            after_seq=start,
        ),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/{run_id}/files", responses=errors(404, 422))
def run_files(run_id: RunId, svc: ViewerServices) -> FilesPublic:
    """The run's change report: each file copied, replaced, deleted, moved or failed."""
    dropped = svc.runs.show(run_id).files_dropped
    return FilesPublic.of(svc.runs.files(run_id), dropped)
