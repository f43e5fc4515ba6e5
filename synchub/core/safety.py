"""Data safety: the delete guard, the mount marker, dry runs and kept versions, as
values and rules.

A `sync` (and a `bisync`) deletes at the destination what the source lacks, so an
emptied, unmounted or mistyped source can wipe a backup. The delete guard bounds
how much one run may delete; the marker proves the source is the right place. Kept
versions move what a run deletes or overwrites into a trash folder at the
destination root instead, for a period.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from synchub.core.durations import format_duration, parse_duration
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


#: The folder at a destination's root that holds the versions runs kept.
TRASH = ".synchub-trash"
#: The operations whose deletes and overwrites can be kept (rclone's --backup-dir).
KEEP_OPS = frozenset({"sync", "copy"})
#: The shortest and longest keep periods.
MIN_KEEP_S, MAX_KEEP_S = 3600, 10 * 366 * 86400
_STAMP = "%Y%m%dT%H%M%SZ"
#: A folder in TRASH: the start of the run (or restore) that filled it, and its id.
_KEPT = re.compile(r"([0-9]{8}T[0-9]{6}Z)-(run|restore)([0-9]+)")


def parse_keep_deleted(value: Any) -> str | None:
    """A keep period as stored (e.g. "30d"), or None for `off`; InvalidInput for
    anything else, e.g. 0s, -1d or abc."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("Bad keep period: use a duration such as 30d, or off")
    if value.strip().lower() == "off":
        return None
    seconds = parse_duration(value, what="keep period", minimum=MIN_KEEP_S)
    if seconds > MAX_KEEP_S:
        raise InvalidInput(f"Bad keep period {value!r}: it must be at most 10 years")
    return format_duration(seconds)


def keep_seconds(params: Mapping[str, Any]) -> int | None:
    """The keep period of rclone job `params` in seconds; None when nothing is kept."""
    value = params.get("keep_deleted")
    return parse_duration(value) if isinstance(value, str) and value else None


def kept_folder(started: datetime, run_id: int, kind: str = "run") -> str:
    """The folder, relative to the destination root, that receives what run `run_id`
    (started at `started`) deletes or overwrites; `kind` "restore" for a restore."""
    return f"{TRASH}/{started.astimezone(UTC).strftime(_STAMP)}-{kind}{run_id}"


def expired_folders(names: list[str], now: datetime, keep_s: int) -> list[str]:
    """The `names` (folders in TRASH) filled more than `keep_s` seconds before `now`.
    Names synchub did not make are never among them."""
    old = []
    for name in names:
        match = _KEPT.fullmatch(name.rstrip("/"))
        if match is None:
            continue
        filled = datetime.strptime(match[1], _STAMP).replace(tzinfo=UTC)
        if filled + timedelta(seconds=keep_s) < now:
            old.append(match[0])
    return old
