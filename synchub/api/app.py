"""The FastAPI application."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from sqlalchemy import text

from synchub import __version__
from synchub.node import Node


def create_app(node: Node | None = None) -> FastAPI:
    app = FastAPI(title="synchub", version=__version__)

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        """Liveness: the process answers. Open, without a token."""
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> dict[str, Any]:
        if node is None:
            return {"status": "ok"}
        with node.svc.db.connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ok", "scheduler_leader": node.scheduler.leading}

    return app
