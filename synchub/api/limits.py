"""A cap on request bodies: larger ones get 413 before a handler reads them whole."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyLimit:
    """ASGI middleware refusing bodies over `max_bytes`: at once when Content-Length
    says so, else as soon as the streamed body passes the cap (chunked uploads)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", ())).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            receive = _refuse(self.max_bytes)
        else:
            receive = _counting(receive, self.max_bytes)
        await self.app(scope, receive, send)


def _too_large(max_bytes: int) -> HTTPException:
    return HTTPException(413, f"The request body is larger than {max_bytes} bytes")


def _refuse(max_bytes: int) -> Receive:
    async def receive() -> Message:
        raise _too_large(max_bytes)

    return receive


def _counting(receive: Receive, max_bytes: int) -> Receive:
    seen = 0

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > max_bytes:
                raise _too_large(max_bytes)
        return message

    return counted
