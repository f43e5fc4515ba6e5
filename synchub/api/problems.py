"""Every error as `application/problem+json` (RFC 9457), mapped in one place.

    {"type": "urn:synchub:problem:job-not-found", "title": "Not Found", "status": 404,
     "detail": "No job named 'x'"}

Validation errors add `errors`: [{"field": "body.cron", "message": ..., "type": ...}].
No stack trace or input value ever reaches a client. A compatibility layer's clients
read errors in their own shape, so paths under a prefix given to
`install(..., shapes={prefix: shape})` get that shape, with the same status code:

- `seed_envelope` (the Celery-scheduler endpoints):
  {"code": <status>, "msg": <detail>, "data": null or {"errors": [...]}}
- `message_only` (the rclone-sync-hub console, which reads `message` alone):
  {"message": <detail>}

Routes document the errors they can answer with `responses=problem_responses(404, 422)`
(or `envelope_responses(...)`, `message_responses(...)` under those prefixes), so the
OpenAPI document is true.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DataError, DBAPIError
from starlette.exceptions import HTTPException

from synchub.core.errors import (
    Conflict,
    EngineError,
    InvalidFields,
    InvalidInput,
    NotFound,
    Refused,
    SchemaOutdated,
    SynchubError,
    Unauthenticated,
)
from synchub.core.text import shown
from synchub.services.faults import database_fault

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

#: Most specific first: the first class an error is an instance of decides.
STATUS_OF: Sequence[tuple[type[SynchubError], int]] = (
    (Unauthenticated, 401),
    (Refused, 403),  # a token's weak role or scope (Forbidden) among others
    (InvalidInput, 422),
    (NotFound, 404),
    (Conflict, 409),
    (SchemaOutdated, 503),
    (EngineError, 502),
)


#: What each error status means, as the OpenAPI document says it.
MEANING: dict[int, str] = {
    400: "The body cannot be read: it is not text in the encoding it claims",
    401: "No valid token: send `Authorization: Bearer <token>`",
    403: "Not allowed: the token's role or scope, or the object, forbids it",
    404: "No such object",
    409: "The request conflicts with the current state",
    413: "The request body is too large",
    422: "Invalid input: `detail` (and `errors`, for a malformed request) says what",
    502: "rclone failed: `detail` gives its error",
}


class FieldError(BaseModel):
    field: str  #: where, e.g. body.cron or query.limit
    message: str
    type: str


class Problem(BaseModel):
    """An error, as application/problem+json (RFC 9457)."""

    type: str  #: urn:synchub:problem:<kind>, e.g. job-not-found
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = None  #: a malformed request's fields at fault


class EnvelopedErrors(BaseModel):
    errors: list[FieldError]


class EnvelopedProblem(BaseModel):
    """An error under an enveloped prefix: the seed systems' envelope."""

    code: int  #: the HTTP status
    msg: str
    data: EnvelopedErrors | None


class MessageProblem(BaseModel):
    """An error for a client that reads only a message (the rclone-sync-hub console)."""

    message: str  #: what is wrong, for a person


#: An error body in one layer's shape: (status, detail, field errors or None) -> JSON.
Shape = Callable[[int, str, list[dict[str, Any]] | None], dict[str, Any]]


def seed_envelope(status: int, detail: str, errors: list[dict[str, Any]] | None) -> dict[str, Any]:
    """The Celery-based seed systems' {"code", "msg", "data"} envelope."""
    return {"code": status, "msg": detail, "data": {"errors": errors} if errors else None}


def message_only(status: int, detail: str, errors: list[dict[str, Any]] | None) -> dict[str, Any]:
    """{"message": detail}: the field errors are already summed up in `detail`."""
    return {"message": detail}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these error statuses, each a problem document."""
    content = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    return {status: {"description": MEANING[status], "content": content} for status in statuses}


def envelope_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these error statuses, in the seed systems' envelope."""
    return {
        status: {"description": MEANING[status], "model": EnvelopedProblem} for status in statuses
    }


def message_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these error statuses, as {"message": ...}."""
    return {
        status: {"description": MEANING[status], "model": MessageProblem} for status in statuses
    }


def route_path(request: Request) -> str:
    """The request's path as the router matched it: without the root path a reverse
    proxy may have put in front (`--root-path`), already percent-decoded."""
    path: str = request.scope["path"]
    root: str = request.scope.get("root_path", "")
    if root and path.startswith(root + "/"):
        return path[len(root) :]
    return path


def _shape_for(request: Request) -> Shape | None:
    """The shape of errors on this request's path; None for problem documents."""
    shapes: Mapping[str, Shape] = getattr(request.app.state, "error_shapes", {})
    path = route_path(request)
    for prefix, shape in shapes.items():
        if path.startswith(prefix):
            return shape
    return None


def _document_problems(app: FastAPI) -> None:
    """Put `Problem` in the app's OpenAPI components, for `problem_responses` to refer to."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = build()
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas["Problem"] = schema
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def status_of(exc: SynchubError) -> int:
    for cls, status in STATUS_OF:
        if isinstance(exc, cls):
            return status
    return 500


def _slug(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def problem_response(
    request: Request,
    status: int,
    detail: str,
    *,
    kind: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The error response for `request`: a problem document, or its layer's shape."""
    detail = shown(detail)  # text a bad row or input put in a message stays encodable
    shape = _shape_for(request)
    if shape is not None:
        return JSONResponse(shape(status, detail, errors), status_code=status, headers=headers)
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body: dict[str, Any] = {
        "type": f"urn:synchub:problem:{kind or _slug(title.replace(' ', ''))}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def on_synchub_error(request: Request, exc: Exception) -> JSONResponse:
    """The one mapping from synchub's errors to HTTP: InvalidInput 422, NotFound 404,
    Conflict 409, no token 401, weak role 403, outdated schema 503, engine 502."""
    assert isinstance(exc, SynchubError)
    status = status_of(exc)
    if status >= 500:
        log.error("request failed: %s", exc.message, extra={"action": "api_error"})
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    # Several problems at once read as the first, which is what was always answered.
    first = exc.problems[0] if isinstance(exc, InvalidFields) else exc
    return problem_response(
        request, status, exc.message, kind=_slug(type(first).__name__), headers=headers
    )


def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    """Pydantic's complaints as field paths; never the value sent (it may be a secret)."""
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "field": ".".join(str(part) for part in e.get("loc", ())),
            "message": e.get("msg", "invalid"),
            "type": e.get("type", "invalid"),
        }
        for e in exc.errors()
    ]
    first = errors[0] if errors else {"field": "", "message": "invalid"}
    detail = f"Invalid request: {first['field']}: {first['message']}"
    return problem_response(request, 422, detail, kind="validation-error", errors=errors)


#: The operations a path item of the OpenAPI document may hold.
METHODS = frozenset({"delete", "get", "head", "options", "patch", "post", "put", "trace"})


@functools.lru_cache(maxsize=256)
def _template(path: str) -> re.Pattern[str]:
    """A pattern matching the paths of an OpenAPI path template like /jobs/{name}."""
    parts = re.split(r"(\{[^}/]+\})", path)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts))


def _allowed_methods(request: Request) -> str | None:
    """The methods the OpenAPI document gives the request's path, for a 405's `Allow`;
    None for a path it does not list. Where a literal path (/remotes/import) and a
    template (/remotes/{name}) both match, the literal one's methods are named."""
    path = request.scope["path"]
    best: tuple[int, dict[str, Any]] | None = None
    for template, item in request.app.openapi()["paths"].items():
        if _template(template).fullmatch(path):
            params = template.count("{")
            if best is None or params < best[0]:
                best = (params, item)
    if best is None:
        return None
    return ", ".join(sorted(method.upper() for method in best[1] if method in METHODS))


def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own errors (unknown path 404, wrong method 405, body too large 413)."""
    assert isinstance(exc, HTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    headers = dict(exc.headers) if exc.headers else None
    allowed = _allowed_methods(request) if exc.status_code == 405 else None
    if allowed is not None:
        # The router names only the methods of the first route on the path, and GET
        # and POST /jobs are two routes.
        headers = {**(headers or {}), "Allow": allowed}
    return problem_response(request, exc.status_code, detail, headers=headers)


def on_data_error(request: Request, exc: Exception) -> JSONResponse:
    """A value the database cannot hold, such as a NUL character in text on PostgreSQL
    (SQLite takes it) or a number beyond its column: bad input; nothing was changed."""
    assert isinstance(exc, DataError)
    code = getattr(exc.orig, "sqlstate", None)
    log.warning(
        "the database refused a value: %s (sqlstate %s)",
        type(exc.orig).__name__,
        code,
        extra={"action": "api_data_error"},
    )
    detail = "A value cannot be stored: text may not hold NUL characters, and numbers must fit"
    return problem_response(request, 422, detail, kind="invalid-input")


def on_database_error(request: Request, exc: Exception) -> JSONResponse:
    """A full disk, a lock or an unreachable database: 503, said for what it is; one
    warning line, no traceback. Any other driver error is a bug (500)."""
    detail = database_fault(exc)
    if detail is None:
        return on_unexpected_error(request, exc)
    reason = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""])[0]
    log.warning(
        "request failed on %s %s: %s",
        request.method,
        request.url.path,
        reason,
        extra={"action": "api_db_fault"},
    )
    return problem_response(request, 503, detail, kind="database-unavailable")


def on_unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    """A bug: logged here with its trace, answered without one."""
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return problem_response(request, 500, "Internal error: see the server log", kind="internal")


def install(app: FastAPI, *, shapes: Mapping[str, Shape] | None = None) -> None:
    """Route every error through these handlers; paths under a prefix of `shapes`
    answer errors in that prefix's shape (e.g. `seed_envelope`), others as problems.
    Give prefixes with their trailing "/" so that /compat/rshX is not under /compat/rsh."""
    app.state.error_shapes = dict(shapes or {})
    _document_problems(app)
    app.add_exception_handler(SynchubError, on_synchub_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(DataError, on_data_error)
    app.add_exception_handler(DBAPIError, on_database_error)
    app.add_exception_handler(Exception, on_unexpected_error)
