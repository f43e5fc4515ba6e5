"""Time, passed in so tests control it instead of sleeping."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


def iso(value: datetime | None) -> str | None:
    """`value` in ISO 8601, as views show times; None for none."""
    return value.isoformat() if value else None


class Clock(Protocol):
    def now(self) -> datetime:
        """Aware UTC now."""
        ...

    def sleep(self, seconds: float, wake: threading.Event) -> bool:
        """Wait up to `seconds` or until `wake` is set; True when woken."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float, wake: threading.Event) -> bool:
        return wake.wait(max(0.0, seconds))


class FakeClock:
    """A clock that only moves when told to. `sleep` returns at once."""

    def __init__(self, start: datetime) -> None:
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()
        self.slept: list[float] = []

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float = 0, **delta: float) -> datetime:
        with self._lock:
            self._now += timedelta(seconds=seconds, **delta)
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = when.astimezone(UTC)

    def sleep(self, seconds: float, wake: threading.Event) -> bool:
        self.slept.append(seconds)
        return wake.is_set()


def monotonic() -> float:
    return time.monotonic()
