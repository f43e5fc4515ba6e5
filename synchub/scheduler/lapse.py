"""Telling that another process stopped renewing, without trusting its clock.

A worker stamps its heartbeat and a leader its lease with their own clocks. Comparing
those stamps with this machine's clock would make a skew between the two machines
shorten or lengthen the lease: a clock behind by more than the lease would have
healthy runs taken for lost, or a second scheduler lead. So the stamps are only
compared with each other: a stamp that has not changed for the lease, measured on
this process's clock, has lapsed. Only the rates of the clocks matter, never their
offsets. The price: a process that starts watching (a new leader) waits a whole lease
before it can call anything lapsed.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from datetime import datetime


class LapseWatch:
    """Remembers, per key, the last value seen and when it was first seen."""

    def __init__(self) -> None:
        self._seen: dict[Hashable, tuple[Hashable, datetime]] = {}

    def lapsed(self, key: Hashable, value: Hashable, now: datetime, after_s: float) -> bool:
        """True when `key` has shown `value` for at least `after_s` up to `now`."""
        seen = self._seen.get(key)
        if seen is None or seen[0] != value:
            self._seen[key] = (value, now)
            return False
        return (now - seen[1]).total_seconds() >= after_s

    def keep(self, keys: Iterable[Hashable]) -> None:
        """Forget every key but these (the ones still to watch)."""
        wanted = set(keys)
        for key in [k for k in self._seen if k not in wanted]:
            del self._seen[key]
