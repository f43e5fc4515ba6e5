"""GET over a connected socket, for `local_socket.fetch`: apart, so that http.client
(with ssl and the e-mail parser) is imported only when a server's socket is there."""

from __future__ import annotations

import http.client
import socket
from http.client import HTTPException

__all__ = ["HTTPException", "get"]


def get(sock: socket.socket, target: str) -> tuple[int, http.client.HTTPMessage, bytes]:
    """The status, headers and body of GET `target` on `sock`, which it closes."""
    connection = _Connection(sock)
    try:
        connection.request("GET", target, headers={"Accept": "application/json"})
        answer = connection.getresponse()
        return answer.status, answer.headers, answer.read()
    finally:
        connection.close()


class _Connection(http.client.HTTPConnection):
    def __init__(self, sock: socket.socket) -> None:
        super().__init__("localhost")
        self.sock = sock

    def connect(self) -> None:
        raise HTTPException("the socket's connection was closed")  # never made again
