"""The edge of the API, one ASGI middleware: headers on every response, and a brake
on guessing tokens.

- Every response says `X-Content-Type-Options: nosniff` and `Referrer-Policy:
  no-referrer`, and `Cache-Control: no-store` unless its route chose its own (the
  event stream says `no-cache`): API answers hold tokens, remote options and logs,
  none of which a browser or a proxy should keep.
- Failed authentication is limited per client address. A request that presents a
  credential (a bearer token, or a token in the console's sign-in form) and gets
  401 spends one of the address's `burst` attempts; they come back at
  `per_minute`. With none left, every request from that address that
  presents a credential gets 429 with `Retry-After`, before its token is looked at:
  otherwise a guess that hit a live token would still be told so. Requests without
  any credential are neither counted nor refused: they guess nothing, and a health
  check must not fail for a guesser behind the same proxy. The client address is
  the peer's: behind a reverse proxy that is the proxy's, unless
  `SYNCHUB_TRUSTED_PROXIES` names it.

A request with a token from an address that has never failed costs a look at its
headers and one dictionary lookup.
"""

from __future__ import annotations

import ipaddress
import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from synchub.api.problems import problem_response
from synchub.config import Settings
from synchub.core.clock import Clock
from synchub.web.console import SIGN_IN

#: Headers on every response.
ALWAYS = ((b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"))
NO_STORE = (b"cache-control", b"no-store")
#: Addresses remembered at most; the least recently failed is forgotten first.
MAX_ADDRESSES = 10_000


@dataclass
class _Bucket:
    left: float  #: attempts left, fractions included
    at: datetime  #: when `left` was computed


class FailureLimit:
    """Failed attempts per client address: `burst` at once, then `per_minute`."""

    def __init__(self, burst: int, per_minute: float, now: Callable[[], datetime]) -> None:
        self.burst = burst
        self.per_s = per_minute / 60
        self.now = now
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def _refilled(self, bucket: _Bucket, now: datetime) -> float:
        elapsed = max(0.0, (now - bucket.at).total_seconds())
        return min(float(self.burst), bucket.left + elapsed * self.per_s)

    def wait_s(self, address: str) -> int:
        """Seconds until `address` may fail again; 0 when it may now."""
        bucket = self._buckets.get(address)
        if bucket is None:
            return 0
        left = self._refilled(bucket, self.now())
        return 0 if left >= 1 else max(1, math.ceil((1 - left) / self.per_s))

    def failed(self, address: str) -> None:
        """Spend one of `address`'s attempts."""
        now = self.now()
        bucket = self._buckets.pop(address, None)
        left = self.burst if bucket is None else self._refilled(bucket, now)
        self._buckets[address] = _Bucket(max(0.0, left - 1), now)
        if len(self._buckets) > MAX_ADDRESSES:
            self._buckets.popitem(last=False)


def client_key(scope: Scope) -> str:
    """The address failures are counted for: the peer's, an IPv6 one by its /64 (one
    host is usually given a whole /64)."""
    client = scope.get("client")
    host = client[0] if client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class Edge:
    """ASGI middleware: see the module's doc. `limit` None: failures are not limited."""

    def __init__(self, app: ASGIApp, limit: FailureLimit | None) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit
        address = ""
        if limit is not None and _presents_credential(scope):
            address = client_key(scope)
            wait = limit.wait_s(address)
            if wait:
                await _too_many(scope, wait)(scope, receive, _sender(send, None, address))
                return
        else:
            limit = None  # no credential, nothing guessed: neither refused nor counted
        await self.app(scope, receive, _sender(send, limit, address))


def _presents_credential(scope: Scope) -> bool:
    """A token in the header, or in the console's sign-in form."""
    if scope.get("method") == "POST" and scope.get("path") == SIGN_IN:
        return True
    return any(name == b"authorization" for name, _ in scope.get("headers", ()))


def _sender(send: Send, limit: FailureLimit | None, address: str) -> Send:
    """`send` adding the edge's headers, and counting a 401 against `address`."""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", ()))
            headers.extend(ALWAYS)
            if not any(name.lower() == b"cache-control" for name, _ in headers):
                headers.append(NO_STORE)
            message = {**message, "headers": headers}
            if limit is not None and message["status"] == 401:
                limit.failed(address)
        await send(message)

    return sending


def _too_many(scope: Scope, wait: int) -> ASGIApp:
    detail = f"Too many failed authentications from this address: try again in {wait} s"
    return problem_response(
        Request(scope),
        429,
        detail,
        kind="too-many-failed-authentications",
        headers={"Retry-After": str(wait)},
    )


def install(app: FastAPI, settings: Settings, clock: Clock) -> None:
    """Put the edge in front of everything else `app` has so far."""
    limit = None
    if settings.auth_failure_burst > 0:
        limit = FailureLimit(settings.auth_failure_burst, settings.auth_failure_rate, clock.now)
    app.add_middleware(Edge, limit=limit)
    document(app)


def document(app: FastAPI) -> None:
    """Give every operation that can answer 401 a 429 too, in the 401's shape."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = build()
        for item in document.get("paths", {}).values():
            for operation in item.values():
                responses = operation.get("responses") if isinstance(operation, dict) else None
                if responses and "401" in responses and "429" not in responses:
                    responses["429"] = {
                        **responses["401"],
                        "description": "Too many failed authentications from this address: "
                        "wait the `Retry-After` seconds",
                    }
        return document

    app.openapi = openapi  # type: ignore[method-assign]
