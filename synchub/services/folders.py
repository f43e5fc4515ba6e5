"""Watched folders as the rclone-sync-hub console adds and removes them: the one way
in which a token below admin (the console's operator token) makes or deletes a job.
So it is confined, here and not in a router, whoever calls:

- The source is a directory that exists inside the browse roots
  (SYNCHUB_BROWSE_ROOTS) once symlinks and `..` are resolved (the check of
  `browse.resolve_directory`, the one `/folders/tree` makes), and that neither
  holds nor is inside synchub's own data (the secret key, the database). The job
  keeps the resolved path. A remote source (REMOTE:PATH) reaches beyond the
  roots: only an admin adds one.
- The destination is ORIGIN:PATH. ORIGIN names a remote defined in synchub (not a
  local path, not an rclone connection string) that has a root of its own: a bare
  `local` remote reaches the whole file system, so it is refused (an `alias` remote
  pointing at a directory is the way). PATH is normalised and never climbs above
  the remote's root (see `remote_path`).
- Nothing else: a copy, watched, with an optional max depth. No filters, options,
  kind, schedule or environment: those stay an admin's, through the jobs.

An operator removes a watched folder whose source is inside the browse roots; any
other watched job needs an admin. A refusal changes nothing and audits nothing.
"""

from __future__ import annotations

import os
import posixpath
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from synchub.core.errors import (
    DirectoryNotFound,
    Forbidden,
    InvalidInput,
    InvalidPath,
    InvalidRemote,
    JobNotFound,
    Refused,
)
from synchub.core.names import is_name
from synchub.engines.rclone.params import parse_location
from synchub.scheduler.watch import local_folder
from synchub.services import browse
from synchub.services.jobs.fields import JobFields
from synchub.services.jobs.job_views import JobView
from synchub.services.tokens import Role
from synchub.store import remotes as remote_store
from synchub.store.db import reading

if TYPE_CHECKING:
    from synchub.services.context import Services

#: Percent-encoded ".", "/" and "\": a server that decodes them would see a way up.
_ENCODED = re.compile(r"%(2e|2f|5c)", re.IGNORECASE)
#: How much of a refused value a message repeats.
_SHOWN_CHARS = 100


@dataclass(frozen=True)
class NewFolder:
    """A watched folder to add: one of `local_path` and `remote_source`."""

    name: str
    origin: str  #: the destination remote
    remote_path: str = ""  #: where in it; "" or "/" for its root
    local_path: str | None = None  #: a directory inside the browse roots
    remote_source: str | None = None  #: REMOTE:PATH (admins only)
    max_depth: int | None = None  #: levels scanned; None for every level


class FolderService:
    def __init__(self, svc: Services) -> None:
        self.svc = svc

    def add(self, folder: NewFolder) -> JobView:
        """Add `folder` as a watched job copying its source to ORIGIN:PATH; its view.

        Raises Forbidden for a remote source unless an admin asks; InvalidInput (or a
        subclass) for a bad name, origin, path or source; OutsideBrowseRoots (a
        Refused) for a local path outside the browse roots or when none are set;
        AlreadyExists when the name is taken. Nothing changes then.
        """
        if folder.remote_source is not None:
            self._need_admin("a folder with a remote source")
        with reading(self.svc.sessions) as session:
            origin = self._remote(session, folder.origin, "origin")
            path = remote_path(folder.remote_path, "remotePath")
            if folder.remote_source is not None:
                source = self._remote_location(session, folder.remote_source)
            elif folder.local_path is None:
                raise InvalidInput("A folder needs a local path or a remote source")
            else:
                source = self._local(folder.local_path)
                _apart(source, self._local_directory(session, origin, path))
        params = {"source": source, "destination": f"{origin}:{path}"}
        return self.svc.jobs.add(
            folder.name, JobFields(params=params, watch=True, max_depth=folder.max_depth)
        )

    def remove(self, job_id: int) -> str:
        """Remove the watched job `job_id`, keeping its runs as history; its name.

        JobNotFound when no watched job has this id; Forbidden when its source is not
        a local folder inside the browse roots, unless an admin asks; JobRunning while
        a run of it runs."""
        view = next((v for v in self.svc.jobs.watched() if v.id == job_id), None)
        if view is None:
            raise JobNotFound(f"No watched folder with id {job_id}")
        with reading(self.svc.sessions) as session:

            def remote_type(name: str) -> str | None:
                row = remote_store.get(session, name)
                return row.type if row is not None else None

            folder = local_folder(view.params.get("source"), remote_type)
        roots = self.svc.settings.browse_roots
        if folder is None or not browse.inside_roots(roots, folder):
            self._need_admin("removing a watched folder whose source is not inside the roots")
        self.svc.jobs.remove(view.name, keep_history=True)
        return view.name

    def _need_admin(self, what: str) -> None:
        role = self.svc.role
        if role is not None and not role.allows(Role.ADMIN):
            raise Forbidden(f"Only an admin may do this: {what}; this token has role {role}")

    def _local(self, path: str) -> str:
        try:
            real = browse.resolve_directory(self.svc.settings.browse_roots, path)
        except DirectoryNotFound as exc:
            raise InvalidPath(f"Bad localPath: {exc.message}") from None
        for own in self._own_files():
            if _within(own, real) or _within(real, own):
                raise Refused(
                    f"{_shown(path)} holds or is inside synchub's own data (its secret key "
                    "and database), which no folder may copy"
                )
        return real

    def _own_files(self) -> list[str]:
        """What a folder must never copy: the data directory (the secret key, the
        SQLite database) and a SQLite database kept elsewhere."""
        own = [self.svc.settings.home]
        url = self.svc.db.url
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            own.append(Path(url.database))
        return [os.path.realpath(p) for p in own]

    def _remote(self, session: Session, name: str, what: str) -> str:
        """`name` when it names a remote with a root of its own; InvalidRemote if not."""
        row = remote_store.get(session, name) if is_name(name) else None
        if row is None:
            raise InvalidRemote(
                f"Bad {what} {_shown(name)}: it must be the name of a remote defined in "
                "synchub (the console lists them), not a path"
            )
        if row.type == "local":
            raise InvalidRemote(
                f"Bad {what} {name!r}: it is a `local` remote, which reaches every file of "
                "this server; the admin may add an `alias` remote pointing at one directory"
            )
        return name

    def _local_directory(
        self, session: Session, name: str, path: str, depth: int = 0
    ) -> str | None:
        """The directory of this server that NAME:PATH is, when NAME is an `alias` of
        one (directly, or through other aliases or a `local` remote); None when it is
        elsewhere or wrapped by another kind of remote."""
        row = remote_store.get(session, name) if depth < 8 else None
        if row is None or row.type not in ("alias", "local"):
            return None
        if row.type == "local":
            return os.path.abspath(path or ".")
        target = str(row.options.get("remote") or "")
        inner, colon, inner_path = target.partition(":")
        if target.startswith("/") or not colon:  # a directory (a relative one: rclone's)
            return os.path.abspath(posixpath.join(target or ".", path.lstrip("/")))
        joined = posixpath.join(inner_path, path.lstrip("/")) if path.strip("/") else inner_path
        return self._local_directory(session, inner, joined, depth + 1)

    def _remote_location(self, session: Session, text: str) -> str:
        place = parse_location(text)
        if place.remote is None:
            raise InvalidPath(
                f"Bad originPath {_shown(text)}: use REMOTE:PATH; a local folder is a "
                "`local` folder with its localPath"
            )
        name = self._remote(session, place.remote, "originPath remote")
        return f"{name}:{remote_path(place.path, 'originPath')}"


def _apart(source: str, destination: str | None) -> None:
    """InvalidPath when the local `destination` is the folder `source`, inside it or
    holds it: the watcher would see each copy as a new file, and copy it again."""
    if destination is None:
        return
    target = os.path.realpath(destination)
    if _within(target, source) or _within(source, target):
        raise InvalidPath(
            f"Bad origin and remotePath: they lead to {_shown(target)}, which overlaps the "
            "folder itself, so its copies would be copied again"
        )


def _within(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def remote_path(text: str, what: str) -> str:
    """`text` as a path in a remote, normalised: empty and "." segments dropped, a
    leading "/" kept (the remote's root). InvalidPath when it could lead above that
    root on some backend or server: a ".." segment (also as Unicode look-alikes, such
    as fullwidth dots), a backslash, a percent-encoded ".", "/" or "\\", or a
    control character."""
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in text):
        raise InvalidPath(f"Bad {what}: it holds a control character or is not valid text")
    # What a server that folds Unicode compatibility forms would read.
    folded = unicodedata.normalize("NFKC", text)
    if "\\" in folded:
        raise InvalidPath(f"Bad {what} {_shown(text)}: use '/' between folders, not '\\'")
    if _ENCODED.search(folded):
        raise InvalidPath(f"Bad {what} {_shown(text)}: percent-encoded '.', '/' or '\\'")
    if ".." in folded.split("/"):
        raise InvalidPath(f"Bad {what} {_shown(text)}: '..' may not lead above the remote")
    parts = [part for part in text.split("/") if part not in ("", ".")]
    lead = "/" if text.startswith("/") else ""
    return lead + "/".join(parts)


def _shown(text: str) -> str:
    return repr(text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "…")
