"""The contract between the runner and the kinds of work a job can do."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from synchub.core.errors import CommandsDisabled
from synchub.core.runs import FileChange, Progress, RunStats


@dataclass(frozen=True)
class RemoteConfig:
    """A remote as the engine needs it: secrets already decrypted, never logged."""

    name: str  #: synchub's name for it, used as the rclone remote name
    type: str  #: rclone backend, e.g. "sftp"
    options: Mapping[str, str] = field(default_factory=dict)  #: plain values, secrets included

    def __repr__(self) -> str:  # keep secrets out of tracebacks and logs
        return f"RemoteConfig(name={self.name!r}, type={self.type!r})"


class RunSink(Protocol):
    """Where an engine reports while it works. Calls come from the engine's thread."""

    def log(self, level: str, message: str, fields: Mapping[str, Any] | None = None) -> None: ...

    def progress(self, snapshot: Progress) -> None: ...

    def file(self, change: FileChange) -> None: ...


@dataclass
class RunContext:
    """Everything one attempt of one job needs to do its work."""

    run_id: int
    job_name: str
    params: Mapping[str, Any]  #: the kind's parameters, as its `validate` returned them
    attempt: int
    #: no earlier attempt of this job has succeeded, or a resync was asked for (bisync
    #: then passes --resync)
    first_run: bool
    remotes: Mapping[str, RemoteConfig]  #: the remotes `remotes_used(params)` names
    sink: RunSink
    #: set by the runner on cancel or timeout; the engine stops its work promptly
    stop: threading.Event = field(default_factory=threading.Event)
    timeout_s: int | None = None
    dry_run: bool = False  #: change nothing; report what a real run would change
    allow_deletes: bool = False  #: this run may pass the delete guard and empty-source stop
    #: when the run started (the runner's clock): names its kept versions' folder, and
    #: is the "now" their pruning counts from; None: the system clock's now
    started_at: datetime | None = None
    #: seconds until the job's run window closes (None: no window): an engine that can
    #: wind down at a time (rclone's --max-duration) does then, and says "window_closed"
    window_s: int | None = None


@dataclass(frozen=True)
class Outcome:
    """How the work ended."""

    ok: bool
    exit_code: int | None = None
    error_class: str | None = None  #: short machine-readable class, e.g. "temporary"
    error: str | None = None  #: a message for people
    permanent: bool = False  #: True when a retry cannot help
    stats: RunStats = field(default_factory=RunStats)
    dry_run: bool = False  #: the work changed nothing: a preview (e.g. a job's --dry-run)


class Engine(Protocol):
    """A kind of job. Registered under its `kind` name.

    A kind that starts programs its jobs name (the `command` kind) says so with a
    class attribute `starts_programs = True`: its jobs are then saved and run only
    where command jobs are allowed. A kind without the attribute starts none.
    """

    kind: str

    def validate(self, params: Mapping[str, Any], known_remotes: frozenset[str]) -> dict[str, Any]:
        """Normalised parameters, or raise InvalidInput saying which one is wrong."""
        ...

    def remotes_used(self, params: Mapping[str, Any]) -> frozenset[str]:
        """Names of the remotes a run with these parameters reads or writes."""
        ...

    def run(self, ctx: RunContext) -> Outcome:
        """Do the work, blocking; return promptly after `ctx.stop` is set."""
        ...


def starts_programs(engine: Engine) -> bool:
    """Whether `engine`'s jobs start programs they name (see `Engine`)."""
    return bool(getattr(engine, "starts_programs", False))


def check_may_start(engine: Engine, *, allowed: bool) -> None:
    """Raise CommandsDisabled when `engine` starts programs and `allowed` is False."""
    if starts_programs(engine) and not allowed:
        raise CommandsDisabled
