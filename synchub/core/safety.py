"""Data safety: the delete guard, the mount marker and dry runs, as values and rules.

A `sync` (and a `bisync`) deletes at the destination what the source lacks, so an
emptied, unmounted or mistyped source can wipe a backup. The delete guard bounds
how much one run may delete; the marker proves the source is the right place.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from synchub.core.errors import InvalidInput

#: The operations that delete at the destination what the source lacks.
GUARDED_OPS = frozenset({"sync", "bisync"})
#: Every sync and bisync job has this guard unless it says otherwise.
DEFAULT_DELETE_GUARD = "50%"
#: rclone bisync's access-check file: it must be at the same places on both sides.
CHECK_FILE = "RCLONE_TEST"

_PERCENT = re.compile(r"(\d{1,3})\s*%")
_COUNT = re.compile(r"\d{1,12}")


@dataclass(frozen=True)
class DeleteGuard:
    """How many of the destination's files one run may delete; neither: no limit."""

    percent: int | None = None  #: at most this share (0-100) of the destination's files
    count: int | None = None  #: at most this many files

    def __str__(self) -> str:
        if self.percent is not None:
            return f"{self.percent}%"
        return "off" if self.count is None else str(self.count)

    @property
    def off(self) -> bool:
        return self.percent is None and self.count is None

    def allows(self, deletes: int, total: int) -> bool:
        """Whether deleting `deletes` of the destination's `total` files is within it."""
        if self.percent is not None:
            return deletes * 100 <= self.percent * total
        return self.count is None or deletes <= self.count


def parse_delete_guard(value: Any) -> DeleteGuard:
    """`50%` (a share of the destination's files), `N` (a number of files) or `off`.
    InvalidInput for anything else, e.g. 150%, -1 or abc."""
    text = str(value).strip().lower() if isinstance(value, str | int) else None
    if isinstance(value, bool) or text is None:
        raise InvalidInput("Bad delete guard: use a share such as 50%, a number of files, or off")
    if text == "off":
        return DeleteGuard()
    percent = _PERCENT.fullmatch(text)
    if percent and int(percent[1]) <= 100:
        return DeleteGuard(percent=int(percent[1]))
    if _COUNT.fullmatch(text):
        return DeleteGuard(count=int(text))
    raise InvalidInput(
        f"Bad delete guard {value!r}: use a share from 0% to 100%, a number of files "
        "(0 or more), or off"
    )


def check_marker(name: Any) -> str:
    """A marker's name: one file name at the source root, never a path."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("Bad marker: give a file name, e.g. .synchub-marker")
    if "/" in name or "\\" in name or name == "." or ".." in name:
        raise InvalidInput(f"Bad marker {name!r}: a file name at the source root, not a path")
    if any(c in name for c in "\0\r\n") or len(name) > 255:
        raise InvalidInput(f"Bad marker {name!r}: one line of at most 255 characters")
    return name


def dry_run_option(params: Mapping[str, Any]) -> bool:
    """Whether an rclone job's own options make every run of it a dry run."""
    options = params.get("options")
    return isinstance(options, list) and "--dry-run" in options
