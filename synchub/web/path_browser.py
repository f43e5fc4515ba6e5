"""The job form's folder browser: an htmx fragment listing the folders of a path on a
remote (through rclone, with a time limit) or on this server (within the browse
roots), each a step further, with a button that puts the path in the form."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from synchub.core.errors import InvalidInput, NotFound, Refused
from synchub.services import Services, browse
from synchub.services.remote_views import FolderUnlisted
from synchub.services.tokens import Role, TokenService
from synchub.web import console
from synchub.web.console import Templates, Visit

VisitDep = Annotated[Visit, Depends(console.visit)]
URL = "/jobs/new/browse"  # under /jobs/new: never the page of a job's name
SIDES = ("source", "destination")


@dataclass
class Folder:
    name: str
    path: str
    url: str


@dataclass
class View:
    side: str
    remote: str
    path: str
    folders: list[Folder] = field(default_factory=list)
    truncated: bool = False
    up: str | None = None  #: the URL one level up, when there is one
    usable: bool = True  #: `path` is a folder a job may name
    error: str = ""


def router(templates: Templates) -> APIRouter:
    folders = APIRouter(include_in_schema=False, route_class=console.console_route(templates))

    @folders.get(URL)
    def browse_folders(request: Request, visit: VisitDep, side: str = "source") -> HTMLResponse:
        """The folders at the path the form's fields (`source_remote`, `source_path`)
        or the browser's own links (`remote`, `path`) name. Admins only, as the
        job form is."""
        TokenService.authorize(visit.who, Role.ADMIN)
        side = side if side in SIDES else "source"
        query = request.query_params
        remote = query.get("remote", query.get(f"{side}_remote", "")).strip()
        path = query.get("path", query.get(f"{side}_path", "")).strip()
        view = View(side, remote, path)
        try:
            _list(visit.svc, view)
        except (FolderUnlisted, InvalidInput, NotFound, Refused) as exc:
            view.error, view.usable = exc.message, False
        return HTMLResponse(templates.render("_browse.html", view=view))

    return folders


def _url(view: View, path: str) -> str:
    return URL + "?" + urlencode({"side": view.side, "remote": view.remote, "path": path})


def _list(svc: Services, view: View) -> None:
    """Fill `view` with the folders at its path; raises what the listing raises."""
    if view.remote:
        _list_remote(svc, view)
    else:
        _list_local(svc, view)


def _list_remote(svc: Services, view: View) -> None:
    path = view.path
    bare = path.rstrip("/") or path  # "/" stays "/": a local remote's top
    if bare not in ("", "/"):
        view.up = _url(view, posixpath.dirname(bare))
    names, view.truncated = svc.remotes.folders(view.remote, path)
    for name in names:
        child = posixpath.join(bare, name) if bare else name
        view.folders.append(Folder(name, child, _url(view, child)))


def _list_local(svc: Services, view: View) -> None:
    roots = svc.settings.browse_roots
    path = view.path or "/"
    if path != "/" and not any(str(root) == path.rstrip("/") for root in roots):
        view.up = _url(view, posixpath.dirname(path.rstrip("/")) or "/")
    elif path != "/":
        view.up = _url(view, "/")  # a root: up is the list of roots
    listing = browse.list_directories(roots, path)
    view.truncated = listing.truncated
    view.usable = path != "/" or any(str(root) == "/" for root in roots)
    view.folders = [Folder(e.name, e.path, _url(view, e.path)) for e in listing.entries]
