"""A job's run windows as the jobs service saves and shows them."""

from __future__ import annotations

from collections.abc import Sequence

from synchub.core.errors import InvalidSchedule
from synchub.core.schedules import Schedule, ScheduleKind, local_zone_name
from synchub.core.windows import parse_windows

#: What a user types for "no window": the job may run at any hour.
_NONE = frozenset({"none", "off", "always"})
#: Enough for any week; more is a mistake, not a timetable.
MAX_WINDOWS = 50


def checked_windows(given: Sequence[str] | None) -> list[str]:
    """The windows to store, normalised ("mon-fri 22:00-06:00" -> as typed, days kept,
    the same one twice once); [] for none. InvalidSchedule naming the bad one."""
    if not given or (len(given) == 1 and str(given[0]).strip().lower() in _NONE):
        return []
    if len(given) > MAX_WINDOWS:
        raise InvalidSchedule(f"Too many windows: at most {MAX_WINDOWS}", field="windows")
    for text in given:
        if not isinstance(text, str):
            raise InvalidSchedule(f"Bad window {text!r}: give text such as 22:00-06:00",
                                  field="windows")  # fmt: skip
    return [str(w) for w in parse_windows(given)]


def windows_zone(schedule: Schedule, default_tz: str) -> str:
    """The zone a job's windows are read in: its cron schedule's, else the default one
    (an interval counts elapsed time in no zone)."""
    if schedule.kind is ScheduleKind.CRON:
        return schedule.tz
    return default_tz or local_zone_name()
