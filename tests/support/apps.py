"""One app per process for the API tests, over the services of the test being served.

Building an app costs more than most tests: FastAPI works out the dependencies of
each of its routes, at `include_router` and again at the first request to each
router, and the console compiles its templates and the OpenAPI document anew. Yet
all an app holds of its services is read at each request (`app.state.svc`, and the
services its routes close over), so one app can serve each test's own services,
clock and database through `Current`. What an app keeps between requests is either
pure (routes, templates, the OpenAPI document) or forgotten by `Apps.serving`
(the failed authentications the edge counted).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from threading import Event
from typing import Any, cast

from fastapi import FastAPI

from synchub.api.app import create_app
from synchub.api.edge import Edge, FailureLimit
from synchub.services import Services

#: Settings each test has its own of; an app reads none of them when it is built.
PER_TEST = frozenset({"home", "database_url", "secret_key"})


class CurrentClock:
    """The clock of the services being served."""

    def __init__(self, current: Current) -> None:
        self._current = current

    def now(self) -> datetime:
        return self._current.services().clock.now()

    def sleep(self, seconds: float, wake: Event) -> bool:
        return self._current.services().clock.sleep(seconds, wake)


class Current:
    """Stands for the services of the test being served: every attribute is theirs,
    but the clock, which stands for theirs too (an app keeps the clock it was built
    with)."""

    def __init__(self) -> None:
        self.svc: Services | None = None
        self.clock = CurrentClock(self)

    def services(self) -> Services:
        if self.svc is None:
            raise RuntimeError("no test's services are being served")
        return self.svc

    def __getattr__(self, name: str) -> Any:
        return getattr(self.services(), name)


class Apps:
    """The apps of this process, one per set of settings that may shape an app."""

    def __init__(self) -> None:
        self._apps: dict[str, tuple[Current, FastAPI]] = {}

    @contextmanager
    def serving(self, svc: Services) -> Iterator[FastAPI]:
        """An app over `svc` until the block ends, with no failed authentication
        counted yet."""
        key = svc.settings.model_dump_json(exclude=set(PER_TEST))
        if key not in self._apps:
            current = Current()
            current.svc = svc
            self._apps[key] = (current, create_app(svc=cast(Services, current)))
        current, app = self._apps[key]
        assert forget_failures(app) or not svc.settings.auth_failure_burst, "no edge found"
        current.svc = svc
        try:
            yield app
        finally:
            current.svc = None


def forget_failures(app: FastAPI) -> bool:
    """Forget the failed authentications the edge of `app` counted; False when it
    counts none."""
    for middleware in app.user_middleware:
        limit = middleware.kwargs.get("limit") if middleware.cls is Edge else None
        if isinstance(limit, FailureLimit):
            limit._buckets.clear()
            return True
    return False
