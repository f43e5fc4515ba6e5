"""How much each remote holds, measured in the background and kept in memory.

`refresh()` starts one `rclone size --json REMOTE:` per remote (or joins the one
already running) and returns at once; `figures()` reads what was measured last,
with its age and the state of the latest attempt. A measurement is killed after
`timeout_s`. At most `parallel` run at a time; the others wait their turn, shown
as measuring.

The figures live in this process only: several API processes each keep their own,
and a restart forgets them (the state is then "never" until the next refresh).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from synchub.core.errors import SynchubError
from synchub.engines.base import RemoteConfig
from synchub.engines.rclone.probe import RemoteSize, measure_size

if TYPE_CHECKING:
    from synchub.services.context import Services

log = logging.getLogger(__name__)

#: The longest one measurement may take before rclone is killed.
TIMEOUT_S = 600.0
#: The most measurements running at once.
PARALLEL = 4


class SizeState(StrEnum):
    NEVER = "never"  #: not measured since this process started
    MEASURING = "measuring"  #: rclone size runs (or waits its turn); older figures shown
    OK = "ok"  #: the latest measurement succeeded
    FAILED = "failed"  #: the latest measurement failed: `error` says why


@dataclass(frozen=True)
class RemoteSizeView:
    """A remote's figures as last measured, and the state of its latest measurement."""

    name: str
    count: int | None  #: files; None before a first success
    bytes: int | None
    sizeless: int | None  #: objects of no known size
    measured_at: str | None  #: ISO 8601
    age_s: float | None  #: seconds since then
    state: SizeState
    started_at: str | None  #: when the running measurement was asked for (ISO 8601)
    error: str | None  #: why the latest measurement failed

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "count": self.count,
            "bytes": self.bytes,
            "sizeless": self.sizeless,
            "measured_at": self.measured_at,
            "age_s": self.age_s,
            "state": self.state.value,
            "started_at": self.started_at,
            "error": self.error,
        }


@dataclass(frozen=True)
class Refreshing:
    """What `RemoteSizes.refresh` started, and the measurements it joined."""

    started: list[str]
    running: list[str]


@dataclass
class _Entry:
    """One remote's figures; changed only under RemoteSizes._lock."""

    state: SizeState = SizeState.NEVER
    size: RemoteSize | None = None  #: from the latest successful measurement
    measured_at: datetime | None = None  #: when `size` was measured
    started_at: datetime | None = None  #: when the running measurement was asked for
    error: str | None = None  #: why the latest measurement failed
    thread: threading.Thread | None = None  #: the running measurement


class RemoteSizes:
    """The size cache of one process: see the module's docstring."""

    def __init__(
        self, svc: Services, *, timeout_s: float = TIMEOUT_S, parallel: int = PARALLEL
    ) -> None:
        self.svc = svc
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._slots = threading.BoundedSemaphore(parallel)
        self._stop = threading.Event()

    def figures(self) -> list[RemoteSizeView]:
        """One per configured remote, by name."""
        names = [remote.name for remote in self.svc.remotes.list()]
        now = self.svc.clock.now()
        with self._lock:
            for gone in set(self._entries) - set(names):  # removed remotes
                if self._entries[gone].thread is None:
                    del self._entries[gone]
            return [_view(name, self._entries.get(name) or _Entry(), now) for name in names]

    def refresh(self) -> Refreshing:
        """Start measuring every remote not being measured already; return at once
        with the remotes `started` and those `running` before (joined)."""
        names = [remote.name for remote in self.svc.remotes.list()]
        started, running = [], []
        for name in names:
            with self._lock:
                entry = self._entries.setdefault(name, _Entry())
                if entry.thread is not None:
                    running.append(name)
                    continue
                entry.state = SizeState.MEASURING
                entry.started_at = self.svc.clock.now()
                entry.error = None
                entry.thread = threading.Thread(
                    target=self._measure, args=(name,), name=f"size-{name}", daemon=True
                )
                thread = entry.thread
            started.append(name)
            thread.start()
        return Refreshing(started, running)

    def stop(self) -> None:
        """Kill the running measurements (at shutdown); they end as failed."""
        self._stop.set()

    def wait(self, timeout_s: float) -> bool:
        """Wait for the running measurements to end; False if some still run."""
        with self._lock:
            threads = [e.thread for e in self._entries.values() if e.thread is not None]
        for thread in threads:
            thread.join(timeout_s)
        return not any(thread.is_alive() for thread in threads)

    def _measure(self, name: str) -> None:
        """The body of one measurement's thread. rclone is spawned from this thread,
        which lives as long as rclone does, so that the kernel's parent-death signal
        reaches rclone if the server dies."""
        size: RemoteSize | None = None
        error: str | None = None
        try:
            with self._slots:
                size = self._run(name)
        except SynchubError as exc:
            error = exc.message
        except Exception as exc:  # a bug: logged, and shown as a failure, not a hang
            log.exception("measuring remote %s failed", name, extra={"action": "remote_size"})
            error = f"internal error: {type(exc).__name__}"
        now = self.svc.clock.now()
        with self._lock:
            entry = self._entries.setdefault(name, _Entry())
            entry.thread = None
            if size is not None:
                entry.state, entry.size, entry.measured_at = SizeState.OK, size, now
            else:
                entry.state, entry.error = SizeState.FAILED, error
        if error is not None:
            # The engine redacts secrets from rclone's messages; the name is no secret.
            log.warning(
                "measuring remote %s failed: %s", name, error, extra={"action": "remote_size"}
            )

    def _run(self, name: str) -> RemoteSize:
        configs: dict[str, RemoteConfig] = self.svc.remotes.configs(frozenset({name}))
        remote = configs.pop(name)
        return measure_size(
            remote,
            self.timeout_s,
            binary=self.svc.settings.rclone or None,
            others=configs,
            grace_s=self.svc.settings.kill_grace,
            stop=self._stop,
            allow_programs=self.svc.settings.allow_command_jobs,
        )


def _view(name: str, entry: _Entry, now: datetime) -> RemoteSizeView:
    size = entry.size
    measured = entry.measured_at
    return RemoteSizeView(
        name=name,
        count=size.count if size else None,
        bytes=size.bytes if size else None,
        sizeless=size.sizeless if size else None,
        measured_at=measured.isoformat() if measured else None,
        age_s=round((now - measured).total_seconds(), 3) if measured else None,
        state=entry.state,
        started_at=entry.started_at.isoformat() if entry.started_at else None,
        error=entry.error,
    )
