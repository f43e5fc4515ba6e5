"""What the remotes service answers: a remote's view (its secrets masked), what an
edit or an import did, what a form for a new remote asks for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from synchub.core.errors import SynchubError
from synchub.engines.rclone import backends as rclone_backends


class FolderUnlisted(SynchubError):
    """rclone could not list this folder of the remote."""


@dataclass(frozen=True)
class RemoteView:
    name: str
    type: str
    options: dict[str, str]  #: secrets masked
    max_concurrency: int | None
    used_by: list[str]
    #: why its secret options cannot be read ("wrong secret key", "no secret key");
    #: None when they can. Their names are sealed with them: `options` lacks them then.
    unreadable: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "options": self.options,
            "max_concurrency": self.max_concurrency,
            "used_by": self.used_by,
            "unreadable": self.unreadable,
        }


@dataclass(frozen=True)
class RemoteEdited:
    """What an edit did: the remote as it is now, and the options whose value changed
    (names only) and `max_concurrency` if it did; none when it changed nothing."""

    view: RemoteView
    changed: list[str]


@dataclass(frozen=True)
class Imported:
    """What an import did: the remotes added and replaced, the names skipped."""

    added: list[RemoteView]
    replaced: list[RemoteView]
    skipped: list[str]


@dataclass(frozen=True)
class RemoteForm:
    type: str
    options: tuple[rclone_backends.BackendOption, ...]  #: required first, advanced last
    secrets: frozenset[str]  #: encrypted at rest, masked when shown
