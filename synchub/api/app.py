"""The FastAPI application: /healthz and /readyz, the REST API under /api/v1, the
Celery-scheduler compatibility endpoints under /api/v1/task/scheduler, and the
rclone-sync-hub console's backend under /compat/rsh."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import text

from synchub import __version__, web
from synchub.api import edge, metrics, problems, text_guard
from synchub.api.compat import celery_scheduler, rsh
from synchub.api.deps import MetricsReader, ViewerServices
from synchub.api.limits import BodyLimit
from synchub.api.local import LocalOwner
from synchub.api.routes import (
    alerts,
    audit,
    config,
    health,
    jobs,
    remotes,
    runs,
    scheduler,
    schedules,
    tasks,
    tokens,
    workers,
)
from synchub.processes.node import Node
from synchub.services import Services

API_PREFIX = "/api/v1"
#: Answers shorter than this are sent as they are: compressing them saves nothing.
GZIP_MIN_BYTES = 1024
#: zlib's default: within a few per cent of the smallest, at a third of level 9's time.
GZIP_LEVEL = 6


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
    #: the address of the Unix socket `serve` also listens on (synchub/api/local.py)
    app.state.local_socket = None

    problems.install(
        app,
        shapes={
            celery_scheduler.PREFIX + "/": problems.seed_envelope,
            rsh.PREFIX + "/": problems.message_only,
        },
    )
    text_guard.install(app)  # before any router: every route checks its request's text
    app.add_middleware(LocalOwner, database_id=settings.database_id)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
        )

    # Direct connections get compressed answers too, not only those behind a proxy.
    # Event streams are left alone (Starlette never compresses text/event-stream),
    # so each event reaches the browser when it is sent. A page's CSRF token cannot
    # be guessed through its compressed size: the session cookie is SameSite=Strict,
    # so another site's requests get no page that holds one.
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MIN_BYTES, compresslevel=GZIP_LEVEL)
    edge.install(app, settings, services.clock)  # outermost: its headers on every answer

    api = APIRouter(prefix=API_PREFIX)
    for module in (
        remotes, jobs, runs, tasks, schedules, scheduler, workers, audit, tokens, alerts,
        config, health,
    ):  # fmt: skip
        api.include_router(module.router)
    app.include_router(api)
    app.include_router(celery_scheduler.router)
    app.include_router(rsh.router)
    if settings.console:
        web.install(app)  # the console's pages at /, beside the API

    @app.get(
        "/metrics",
        tags=["health"],
        response_class=PlainTextResponse,
        responses={
            200: {"description": metrics.__doc__, "content": {"text/plain": {}}},
            **problems.problem_responses(401, 403),
        },
    )
    def metrics_endpoint(_reader: MetricsReader) -> Response:
        """Prometheus figures; needs a token unless SYNCHUB_METRICS_PUBLIC=1."""
        return Response(metrics.render(services), media_type=metrics.CONTENT_TYPE)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, Any]:
        """Liveness: the process answers. Open, without a token."""
        return {"status": "ok", "version": __version__}

    @app.get(
        "/readyz",
        tags=["health"],
        responses={
            503: {
                "description": "The database or the broker does not answer, stored "
                "secrets cannot be read with this server's secret key, or the disk of "
                "the data directory is full"
            },
            **problems.problem_responses(401, 403),
        },
    )
    def readyz(_svc: ViewerServices) -> Response:
        """Readiness: the database answers, the secret key opens every stored secret,
        and the broker answers with the celery executor (needs a token, like all but
        /healthz). `checks` says "ok" or what failed for each; 503 when one failed,
        with the reasons in `problems`."""
        checks = readiness_checks(services)
        failed = [value for value in checks.values() if value != "ok"]
        body: dict[str, Any] = {
            "status": "fail" if failed else "ok",
            "problems": failed,
            "checks": checks,
        }
        scheduler = node.scheduler if node is not None else None
        if scheduler is not None:
            body["scheduler_leader"] = scheduler.leading
        return JSONResponse(body, status_code=503 if failed else 200)

    return app


def readiness_checks(services: Services) -> dict[str, str]:
    """Each check of readiness, "ok" or why it failed: `database`, `secrets` (when the
    database answers), `disk` (full under the data directory: nothing can be written)
    and `broker` (celery executor)."""
    checks: dict[str, str] = {}
    try:
        with services.db.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"database unreachable: {type(exc).__name__}"
    else:
        try:
            checks["secrets"] = services.secrets.problem() or "ok"
        except Exception as exc:  # a failed check is a finding, not a 500
            checks["secrets"] = f"secrets not checked: {type(exc).__name__}"
    checks["disk"] = services.doctor.disk_full() or "ok"
    settings = services.settings
    if settings.executor == "celery":
        from synchub.execution.celery_exec import broker_problem

        checks["broker"] = broker_problem(settings.broker_url) or "ok"
    return checks


def readiness_problems(services: Services) -> list[str]:
    """Why this server cannot do its work now: an empty list when it can."""
    return [value for value in readiness_checks(services).values() if value != "ok"]
