"""The FastAPI application: /healthz and /readyz, the REST API under /api/v1, and the
Celery-scheduler compatibility endpoints under /api/v1/task/scheduler."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import PlainTextResponse
from sqlalchemy import text

from synchub import __version__
from synchub.api import metrics, problems
from synchub.api.compat import celery_scheduler
from synchub.api.deps import MetricsReader, ViewerServices
from synchub.api.limits import BodyLimit
from synchub.api.routes import audit, jobs, remotes, runs, scheduler, schedules, tokens
from synchub.node import Node
from synchub.services import Services

API_PREFIX = "/api/v1"


def create_app(node: Node | None = None, *, svc: Services | None = None) -> FastAPI:
    """The app over `node` (serve: scheduler and pool in this process) or, without
    one, over `svc` alone (tests, or an API-only process)."""
    services = svc or (node.svc if node is not None else None)
    if services is None:
        raise ValueError("create_app needs a node or services")
    settings = services.settings
    app = FastAPI(
        title="synchub",
        version=__version__,
        description="Schedule and run rclone sync and backup jobs. "
        "Every endpoint but /healthz needs `Authorization: Bearer <token>`.",
    )
    app.state.svc = services
    app.state.node = node

    problems.install(app, enveloped=(celery_scheduler.PREFIX + "/",))
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
        )

    api = APIRouter(prefix=API_PREFIX)
    for module in (remotes, jobs, runs, schedules, scheduler, audit, tokens):
        api.include_router(module.router)
    app.include_router(api)
    app.include_router(celery_scheduler.router)

    @app.get(
        "/metrics",
        tags=["health"],
        response_class=PlainTextResponse,
        responses={200: {"description": metrics.__doc__, "content": {"text/plain": {}}}},
    )
    def metrics_endpoint(_reader: MetricsReader) -> Response:
        """Prometheus figures; needs a token unless SYNCHUB_METRICS_PUBLIC=1."""
        return Response(metrics.render(services), media_type=metrics.CONTENT_TYPE)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, Any]:
        """Liveness: the process answers. Open, without a token."""
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", tags=["health"])
    def readyz(_svc: ViewerServices) -> dict[str, Any]:
        """Readiness: the database answers (needs a token, like all but /healthz)."""
        with services.db.connect() as conn:
            conn.execute(text("SELECT 1"))
        if node is None:
            return {"status": "ok"}
        return {"status": "ok", "scheduler_leader": node.scheduler.leading}

    return app
