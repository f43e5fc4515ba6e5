"""Every error as `application/problem+json` (RFC 9457), mapped in one place.

    {"type": "urn:synchub:problem:job-not-found", "title": "Not Found", "status": 404,
     "detail": "No job named 'x'"}

Validation errors add `errors`: [{"field": "body.cron", "message": ..., "type": ...}].
No stack trace or input value ever reaches a client. Paths under a prefix given to
`install(..., enveloped=...)` (the seed systems' endpoints) get their envelope instead:
{"code": <status>, "msg": <detail>, "data": null}, with the same status code.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from synchub.core.errors import (
    Conflict,
    EngineError,
    InvalidInput,
    NotFound,
    SchemaOutdated,
    SynchubError,
)
from synchub.services.tokens import Forbidden, Unauthenticated

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

#: Most specific first: the first class an error is an instance of decides.
STATUS_OF: Sequence[tuple[type[SynchubError], int]] = (
    (Unauthenticated, 401),
    (Forbidden, 403),
    (InvalidInput, 422),
    (NotFound, 404),
    (Conflict, 409),
    (SchemaOutdated, 503),
    (EngineError, 502),
)


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
    """The error response for `request`: a problem document, or the seed envelope."""
    enveloped: tuple[str, ...] = getattr(request.app.state, "enveloped_prefixes", ())
    if request.url.path.startswith(enveloped):
        data = {"errors": errors} if errors else None
        return JSONResponse(
            {"code": status, "msg": detail, "data": data}, status_code=status, headers=headers
        )
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
    return problem_response(
        request, status, exc.message, kind=_slug(type(exc).__name__), headers=headers
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


def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own errors (unknown path 404, wrong method 405, body too large 413)."""
    assert isinstance(exc, HTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    headers = dict(exc.headers) if exc.headers else None
    return problem_response(request, exc.status_code, detail, headers=headers)


def on_unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    """A bug: logged here with its trace, answered without one."""
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return problem_response(request, 500, "Internal error: see the server log", kind="internal")


def install(app: FastAPI, *, enveloped: tuple[str, ...] = ()) -> None:
    """Route every error through these handlers; paths under `enveloped` prefixes
    answer errors in the seed systems' {"code", "msg", "data"} envelope."""
    app.state.enveloped_prefixes = enveloped
    app.add_exception_handler(SynchubError, on_synchub_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected_error)
