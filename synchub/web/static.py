"""The console's static files, served under names that carry their content's hash,
so a browser may keep each one for a year and a new version is a new URL."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib.resources import files

from fastapi import APIRouter, Response

PREFIX = "/static"
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
IMMUTABLE = "public, max-age=31536000, immutable"


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str
    url: str


def load() -> dict[str, Asset]:
    """Every .js and .css file of the package's static folder, by file name."""
    assets = {}
    for item in files("synchub.web").joinpath("static").iterdir():
        suffix = "." + item.name.rsplit(".", 1)[-1]
        if suffix not in TYPES:
            continue
        body = item.read_bytes()
        digest = hashlib.sha256(body).hexdigest()[:16]
        assets[item.name] = Asset(body, TYPES[suffix], f"{PREFIX}/{digest}/{item.name}")
    return assets


def router(assets: dict[str, Asset]) -> APIRouter:
    by_url = {asset.url: asset for asset in assets.values()}
    files_router = APIRouter(include_in_schema=False)

    @files_router.get(PREFIX + "/{digest}/{name}")
    def static_file(digest: str, name: str) -> Response:
        asset = by_url.get(f"{PREFIX}/{digest}/{name}")
        if asset is None:  # an old hash: the page that asked is out of date
            return Response(status_code=404, headers={"cache-control": "no-store"})
        return Response(
            asset.body,
            media_type=asset.media_type,
            headers={"cache-control": IMMUTABLE},
        )

    return files_router
