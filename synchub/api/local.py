"""The local socket's requests: those that came through the Unix socket `serve`
listens on in its data directory (synchub/cli/local_socket.py).

Whoever can open that socket (mode 0600) can read the database and the secret key
beside it already, so such a request acts as the local CLI, an administrator,
without a token: but it may only read (GET, HEAD); anything else is refused (403).
A request is local by the address its connection was accepted on, which the
server knows and a client cannot choose: a TCP connection's local address is a
(host, port) pair, never the socket's path. No header makes a request local.

Every answer on the socket names this server's version and database, so a CLI of
another version, or one set to another database, reads the database itself."""

from __future__ import annotations

import json

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from synchub import __version__
from synchub.api.problems import PROBLEM_JSON

#: The audit's actor for what the local socket asks: the CLI, as when it reads the
#: database itself.
LOCAL_ACTOR = "cli"
READS = frozenset({"GET", "HEAD"})
VERSION_HEADER = b"x-synchub-version"
DATABASE_HEADER = b"x-synchub-database"


def is_local(scope: Scope) -> bool:
    """True for a connection accepted on the app's local socket (`app.state.local_socket`,
    its address as the server names it; None without one)."""
    name = getattr(scope["app"].state, "local_socket", None)
    return name is not None and scope.get("server") == (name, None)


def local_request(connection: HTTPConnection) -> bool:
    return is_local(connection.scope)


class LocalOwner:
    """ASGI middleware: refuse what is not a read on the local socket, and put the
    server's version and database on the socket's answers."""

    def __init__(self, app: ASGIApp, database_id: str) -> None:
        self.app = app
        self.marks = [
            (VERSION_HEADER, __version__.encode()),
            (DATABASE_HEADER, database_id.encode()),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not is_local(scope):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":  # none is served; none may come to be by the socket
            await send({"type": "websocket.close", "code": 1008})
            return

        async def marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *self.marks]}
            await send(message)

        if scope["method"] in READS:
            await self.app(scope, receive, marked)
            return
        await _refuse(marked)


async def _refuse(send: Send) -> None:
    body = json.dumps({
        "type": "urn:synchub:problem:local-socket-read-only",
        "title": "Forbidden",
        "status": 403,
        "detail": "The local socket only reads: send changes over HTTP with a token, "
        "or use the synchub command",
    }).encode()  # fmt: skip
    await send({
        "type": "http.response.start",
        "status": 403,
        "headers": [(b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(body)).encode())],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": body})
