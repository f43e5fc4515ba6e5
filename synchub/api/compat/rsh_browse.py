"""What the rclone-sync-hub console browses: remote names, local directories (under
the browse roots) and how much each remote holds (measured in the background).

    GET /rclone/list      ["nas", "s3", ...]                          viewer
    GET /folders/tree     {"children": [{name, path, is_dir}]}        viewer
    GET /origins/list     {"items": [{name, count, bytes, ...}], ...} viewer
    GET /origins/refresh  starts `rclone size` per remote, at once    operator
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from synchub.api.compat.rsh_query import parse_query
from synchub.api.deps import OperatorServices, ViewerServices
from synchub.api.problems import message_responses as errors
from synchub.services import browse

router = APIRouter()


class TreeChild(BaseModel):
    name: str  #: the directory's name; a browse root's full path
    path: str  #: its absolute path: what the console sends as `path` next
    is_dir: Literal[True] = True


class Tree(BaseModel):
    children: list[TreeChild]  #: directories only, sorted by name
    truncated: bool  #: more than the listing limit; the first ones by name are given


class Origin(BaseModel):
    name: str  #: the remote
    #: files, by the latest successful measurement; before one, what the console
    #: shows instead: "not measured yet", "measuring…" or "failed: ..."
    count: int | str
    bytes: int | str  #: their total size; before a first success, as `count`
    sizeless: int | None  #: files whose size the remote does not know
    measured_at: str | None  #: ISO-8601: when these figures were measured
    age_s: float | None  #: seconds since then
    state: Literal["never", "measuring", "ok", "failed"]  #: of the latest measurement
    started_at: str | None  #: ISO-8601: when the latest measurement was asked for
    error: str | None  #: why the latest measurement failed


class Origins(BaseModel):
    items: list[Origin]
    page: int
    per_page: int
    total_items: int
    total_pages: int


class Refreshing(BaseModel):
    message: str
    started: list[str]  #: remotes whose measurement started now
    running: list[str]  #: remotes already being measured (joined, not restarted)


@router.get("/rclone/list")
def rclone_list(svc: ViewerServices) -> list[str]:
    """The names of the configured remotes, as a bare array."""
    return [remote.name for remote in svc.remotes.list()]


@router.get("/folders/tree", responses=errors(404))
def folders_tree(
    svc: ViewerServices,
    path: Annotated[str, Query(description="`/` for the browse roots, then a child's path")] = "/",
) -> Tree:
    """The directories in `path`, which must be under a browse root
    (SYNCHUB_BROWSE_ROOTS) once symlinks and `..` are resolved; 403 otherwise."""
    listing = browse.list_directories(svc.settings.browse_roots, path)
    return Tree(
        children=[TreeChild(name=e.name, path=e.path) for e in listing.entries],
        truncated=listing.truncated,
    )


@router.get("/origins/list")
def origins_list(
    svc: ViewerServices,
    page: Annotated[int, Query(ge=1)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 100,
    query: Annotated[str | None, Query(description='e.g. {"name": {"$regex": "nas"}}')] = None,
) -> Origins:
    """Each remote's size as last measured, with its age; /origins/refresh measures."""
    conditions = parse_query(query, {"name": str})
    # A condition names a field of the figures as the console's query language does.
    every = [f.as_dict() for f in svc.sizes.figures()]
    figures = [f for f in every if all(c.matches(f[c.field]) for c in conditions)]
    start = (page - 1) * per_page
    return Origins(
        items=[_origin(f) for f in figures[start : start + per_page]],
        page=page,
        per_page=per_page,
        total_items=len(figures),
        total_pages=math.ceil(len(figures) / per_page),
    )


#: What the console shows for a remote with no figures yet, by the state of its
#: latest measurement. It prints `count` as it is and `bytes` as a number of KB,
#: where null would read "0.00KB" and text reads as nothing.
NO_FIGURES = {"never": "not measured yet: refresh", "measuring": "measuring…"}


def _origin(figures: dict[str, Any]) -> Origin:
    if figures["count"] is None:
        said = NO_FIGURES.get(figures["state"]) or f"failed: {figures['error']}"
        figures = {**figures, "count": said, "bytes": said}
    return Origin.model_validate(figures)


@router.get("/origins/refresh")
def origins_refresh(svc: OperatorServices) -> Refreshing:
    """Start measuring every remote in the background (joining measurements already
    running) and answer at once; /origins/list shows the figures as they come."""
    started = svc.sizes.refresh()
    return Refreshing(
        message=f"measuring {len(started.started) + len(started.running)} remote(s)",
        started=started.started,
        running=started.running,
    )
