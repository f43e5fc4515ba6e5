"""/api/v1/remotes: where files live. Reads for viewers, changes for admins."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Query, Response, status

from synchub.api.deps import AdminServices, OperatorServices, ViewerServices
from synchub.api.problems import problem_responses as errors
from synchub.api.schemas.remotes import (
    RemoteCreate,
    RemotePublic,
    RemotesImported,
    RemotesPublic,
    RemoteTestResult,
    RemoteUpdate,
)

router = APIRouter(prefix="/remotes", tags=["remotes"], responses=errors(401, 403))

CONF_EXAMPLE = "[nas]\ntype = sftp\nhost = nas.lan\nuser = backup\npass = <obscured>\n"


@router.get("")
def list_remotes(svc: ViewerServices) -> RemotesPublic:
    """Every remote, secrets masked."""
    data = [RemotePublic.of(v) for v in svc.remotes.list()]
    return RemotesPublic(data=data, count=len(data))


@router.post("", status_code=status.HTTP_201_CREATED, responses=errors(400, 409, 413, 422))
def create_remote(body: RemoteCreate, svc: AdminServices) -> RemotePublic:
    """Add a remote; its secret options are encrypted at rest and never shown again."""
    view = svc.remotes.add(body.name, body.type, body.options, max_concurrency=body.max_concurrency)
    return RemotePublic.of(view)


@router.post("/import", status_code=status.HTTP_201_CREATED, responses=errors(400, 409, 413, 422))
def import_remotes(
    svc: AdminServices,
    conf: Annotated[
        str,
        Body(media_type="text/plain", description="An rclone.conf", examples=[CONF_EXAMPLE]),
    ],
    on_conflict: Annotated[
        Literal["fail", "skip", "replace"],
        Query(description="a name already taken: fail (409, nothing imported), skip, replace"),
    ] = "fail",
) -> RemotesImported:
    """Add every remote of an rclone.conf (sent as the body); all or nothing. `data`
    holds the remotes added and replaced."""
    done = svc.remotes.import_text(conf, on_conflict)
    data = [RemotePublic.of(v) for v in [*done.added, *done.replaced]]
    return RemotesImported(
        data=data,
        count=len(data),
        replaced=[v.name for v in done.replaced],
        skipped=done.skipped,
    )


@router.get("/{name}", responses=errors(404, 422))
def show_remote(name: str, svc: ViewerServices) -> RemotePublic:
    """One remote, secrets masked."""
    return RemotePublic.of(svc.remotes.show(name))


@router.patch("/{name}", responses=errors(400, 404, 413, 422))
def update_remote(name: str, body: RemoteUpdate, svc: AdminServices) -> RemotePublic:
    """Change options (null removes one; the mask keeps a secret) or the limit."""
    view = svc.remotes.edit(name, body.options, max_concurrency=body.max_concurrency)
    return RemotePublic.of(view)


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(404, 409, 422))
def delete_remote(name: str, svc: AdminServices) -> Response:
    """Remove a remote; 409, naming them, while jobs or other remotes (alias, crypt,
    union …) use it."""
    svc.remotes.remove(name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{name}/test", responses=errors(404, 422))
def test_remote(name: str, svc: OperatorServices) -> RemoteTestResult:
    """Check the remote answers: rclone lists its root with a short timeout."""
    ok, message = svc.remotes.test(name)
    return RemoteTestResult(name=name, ok=ok, message=message)
