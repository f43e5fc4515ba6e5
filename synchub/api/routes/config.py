"""/api/v1/config: the configuration as one file (docs/config-as-code.md). Admins
apply; anyone signed in exports (it holds no secret: they are references)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from synchub.api.deps import AdminServices, ViewerServices
from synchub.api.problems import problem_response
from synchub.api.problems import problem_responses as errors
from synchub.api.schemas.config import ConfigApplied
from synchub.core.errors import InvalidText
from synchub.services.config_file import SECTIONS, ConfigInvalid, FileProblem, json_schema

router = APIRouter(prefix="/config", tags=["config"], responses=errors(401, 403))

Section = Literal["remotes", "jobs", "alerts"]

YAML = "application/yaml"

_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        # YAML (application/yaml) is read as well: the same file, as text. Only JSON is
        # described, as an object: YAML of any shape is the file's own 422, by line.
        "description": "The file as JSON, or as YAML with Content-Type application/yaml",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


@router.post("/apply", responses=errors(400, 413, 422), openapi_extra=_BODY)
async def apply_config(
    request: Request,
    svc: AdminServices,
    dry_run: Annotated[bool, Query(description="show the plan; change nothing")] = False,
    prune: Annotated[
        bool, Query(description="also remove what the file's sections do not name")
    ] = False,
) -> ConfigApplied:
    """Make the configuration what the file in the body says, in one transaction: 422
    naming each problem's line (`errors`), and then nothing changes. Secrets come
    from the server's environment variables the file names."""
    body = await request.body()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidText(f"The body is not UTF-8 text (byte {exc.start})") from None
    try:
        applied = await run_in_threadpool(
            lambda: svc.config.apply(text, dry_run=dry_run, prune=prune, source="api")
        )
    except ConfigInvalid as exc:
        return _invalid(request, exc)  # type: ignore[return-value]
    return ConfigApplied.model_validate(applied.as_dict())


def _invalid(request: Request, exc: ConfigInvalid) -> JSONResponse:
    found = [
        {
            "field": p.where if isinstance(p, FileProblem) and p.where else "body",
            "message": p.message,
            "type": "config_invalid",
        }
        for p in exc.problems
    ]
    return problem_response(request, 422, exc.message, kind="config-invalid", errors=found)


@router.get(
    "/export",
    responses={200: {"content": {YAML: {}}, "description": "The file"}, **errors(422)},
    response_class=Response,
)
def export_config(
    svc: ViewerServices,
    section: Annotated[
        list[Section] | None, Query(description="remotes, jobs, alerts (repeat); absent: all")
    ] = None,
    keep_secrets: Annotated[bool, Query(description="secrets as ${NAME:-keep}")] = False,
) -> Response:
    """The configuration as a file for apply; secrets as references to environment
    variables, never their values."""
    exported = svc.config.export(section or SECTIONS, keep=keep_secrets)
    return Response(exported.text, media_type=YAML)


@router.get("/schema", responses={200: {"content": {"application/schema+json": {}}}})
def config_schema(_svc: ViewerServices) -> Response:
    """The file's JSON Schema (also in the package: synchub/schemas/config.schema.json)."""
    return Response(json_schema(), media_type="application/schema+json")
