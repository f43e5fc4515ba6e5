"""The web console at `/`: server-rendered pages over the same services as the API,
htmx for partial updates and Server-Sent Events for live progress, every file it
needs vendored in the package (see static/VENDORED.md).

`install(app)` adds it to the API's app; `SYNCHUB_CONSOLE=0` leaves it out.
"""

from __future__ import annotations

from fastapi import FastAPI

from synchub.web import edits, folders, pages, path_browser, static
from synchub.web.console import Templates


def install(app: FastAPI) -> None:
    """Serve the console's pages and static files from `app` (whose state holds the
    services, and the node when this process runs one)."""
    assets = static.load()
    app.include_router(static.router(assets))
    templates = Templates(assets)
    # First: `/jobs/new` and `/remotes/new` are forms, never the page of a name.
    app.include_router(edits.router(templates))
    app.include_router(folders.router(templates))
    app.include_router(path_browser.router(templates))
    app.include_router(pages.router(templates))
