"""Every string a request brings is checked against the one text rule
(synchub/core/text.py) before any handler sees it: path parameters, query parameters
and the body, JSON strings and keys at any depth. A bad one answers 422 (in the
error shape of its path) and nothing runs.

`install` adds the check as a dependency of the app's router, so every route
included after it carries the check, and documents the 422 on every operation.
"""

from __future__ import annotations

import email.message
from typing import Any

from fastapi import Depends, FastAPI, Request
from pydantic import BaseModel

from synchub.api import problems
from synchub.core.text import check_text, check_tree


async def check_request_text(request: Request) -> None:
    """InvalidText (422) for the first path parameter, query parameter or body string
    that breaks the text rule. Async: it runs on the event loop, without a thread."""
    for name, value in request.path_params.items():
        if isinstance(value, str):
            check_text(value, f"path.{name}")
    for name, value in request.query_params.multi_items():
        check_text(name, "a query parameter's name")
        check_text(value, f"query.{name}")
    body = await request.body()
    if not body:
        return
    if _is_json(request.headers.get("content-type")):
        try:
            # Already parsed (and cached) by FastAPI when the route takes a body.
            data = await request.json()
        except ValueError:
            return  # not JSON: FastAPI answers that itself, or the route reads no body
        check_tree(data, "body")
        return
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return  # not text: the route's own validation refuses it
    # A text body (an rclone.conf) has lines; its reader checks each value's own rule.
    check_text(text, "body", multiline=True)


def _is_json(content_type: str | None) -> bool:
    """FastAPI's test for a JSON body: application/json or application/*+json."""
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def install(app: FastAPI) -> None:
    """Check the text of every request to a route included from now on, and say so in
    the OpenAPI document. Call it before including any router."""
    app.router.dependencies.append(Depends(check_request_text))
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = build()
        _document_422(app, document)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


#: FastAPI's own 422 (a list of pydantic errors), which synchub never answers.
_FASTAPI_422 = "#/components/schemas/HTTPValidationError"


def _document_422(app: FastAPI, document: dict[str, Any]) -> None:
    """Give every operation a 422 in its path's error shape, where it has none or has
    FastAPI's default one."""
    shapes: dict[str, problems.Shape] = getattr(app.state, "error_shapes", {})
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for path, item in document.get("paths", {}).items():
        shape = next((s for p, s in shapes.items() if path.startswith(p)), None)
        response = _response_422(shape, schemas)
        for method, operation in item.items():
            if method not in problems.METHODS:
                continue
            responses = operation.setdefault("responses", {})
            current = responses.get("422")
            if current is None or _FASTAPI_422 in str(current):
                responses["422"] = response


def _response_422(shape: problems.Shape | None, schemas: dict[str, Any]) -> dict[str, Any]:
    model: type[BaseModel]
    if shape is problems.seed_envelope:
        model, media_type = problems.EnvelopedProblem, "application/json"
    elif shape is problems.message_only:
        model, media_type = problems.MessageProblem, "application/json"
    else:
        model, media_type = problems.Problem, problems.PROBLEM_JSON
    name = model.__name__
    if name not in schemas:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[name] = schema
    return {
        "description": problems.MEANING[422],
        "content": {media_type: {"schema": {"$ref": f"#/components/schemas/{name}"}}},
    }
