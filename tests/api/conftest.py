"""The API served for real (uvicorn on a loopback port, in a thread) over real
databases, with one HTTP client per role and tokens made by the services."""

from __future__ import annotations

import functools
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from synchub.api.app import create_app
from synchub.config import Settings
from synchub.core.clock import FakeClock
from synchub.services import Services
from tests.support.apps import Apps

ROLES = ("viewer", "operator", "admin")
#: Named personas: the audit shows these token names as actors.
PERSONAS = {"viewer": "viewer-vic", "operator": "operator-olga", "admin": "admin-ada"}


@functools.cache
def tls() -> ssl.SSLContext:
    """One TLS context for every client of the process. The servers here speak plain
    HTTP, but each httpx client would otherwise load the CA bundle anew (≈ 20 ms)."""
    return httpx.create_ssl_context()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """`app` served by uvicorn on 127.0.0.1 from a thread, until `stop()`."""

    def __init__(self, app: ASGIApp) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, lifespan="off", log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.005)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


class Switch:
    """An ASGI app passing each request to whichever app it holds now: one server for
    the whole session, a fresh app (and database) for each test."""

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None, "no app is being served"
        await self.app(scope, receive, send)


@pytest.fixture(scope="session")
def server() -> Iterator[tuple[Served, Switch]]:
    """One uvicorn server for the session, serving the app its Switch holds."""
    switch = Switch()
    served = Served(switch)
    yield served, switch
    served.stop()


@dataclass
class Api:
    """The served app, its services and clock, and a client per role plus one
    without a token (`anonymous`)."""

    svc: Services
    app: FastAPI
    clock: FakeClock
    tokens: dict[str, str]
    served: Served
    clients: dict[str, httpx.Client] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for role, token in self.tokens.items():
            self.clients[role] = self.client(token)
        self.clients["anonymous"] = self.client(None)

    def client(self, token: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.served.url, headers=headers, timeout=30, verify=tls())

    @property
    def admin(self) -> httpx.Client:
        return self.clients["admin"]

    @property
    def operator(self) -> httpx.Client:
        return self.clients["operator"]

    @property
    def viewer(self) -> httpx.Client:
        return self.clients["viewer"]

    @property
    def anonymous(self) -> httpx.Client:
        return self.clients["anonymous"]

    def close(self) -> None:
        for client in self.clients.values():
            client.close()


def ok(response: httpx.Response, status: int = 200) -> Any:
    """The JSON body of a response that must have `status`."""
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    return response.json()


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The problem document of an error response that must have `status`."""
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert {"type", "title", "status", "detail"} <= body.keys()
    return body


@pytest.fixture(scope="session")
def apps() -> Apps:
    """The apps of this process, each serving the services of the test at hand."""
    return Apps()


def _served(
    svc: Services, clock: FakeClock, server: tuple[Served, Switch], apps: Apps
) -> Iterator[Api]:
    served, switch = server
    tokens = {role: svc.tokens.create(PERSONAS[role], role)[0] for role in ROLES}
    with apps.serving(svc) as app:
        switch.app = app
        result = Api(svc, app, clock, tokens, served)
        yield result
        result.close()
        switch.app = None


@pytest.fixture
def api(
    svc: Services, clock: FakeClock, server: tuple[Served, Switch], apps: Apps
) -> Iterator[Api]:
    """svc's API served over HTTP, with a client per role."""
    yield from _served(svc, clock, server, apps)


@pytest.fixture
def api_allowing_commands(
    svc_allowing_commands: Services, clock: FakeClock, server: tuple[Served, Switch], apps: Apps
) -> Iterator[Api]:
    """The API of a server started with SYNCHUB_ALLOW_COMMAND_JOBS=1, over svc's database."""
    yield from _served(svc_allowing_commands, clock, server, apps)


@pytest.fixture(scope="session")
def openapi(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The OpenAPI document: built from the routes alone, no database needed."""
    home = tmp_path_factory.mktemp("openapi")
    settings = Settings(home=home, database_url=f"sqlite:///{home / 'unused.db'}")
    svc = Services(settings)
    document: dict[str, Any] = create_app(svc=svc).openapi()
    svc.close()
    return document
