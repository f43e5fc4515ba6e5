"""The database schema. Timestamps are aware UTC; see `UtcDateTime`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC in, aware UTC out, on SQLite (which drops the zone) and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# BigInteger ids on PostgreSQL, plain INTEGER PRIMARY KEY (rowid) on SQLite.
Id = BigInteger().with_variant(Integer(), "sqlite")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime,
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class RemoteRow(Base):
    __tablename__ = "remotes"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    type: Mapped[str] = mapped_column(String(64))
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)  #: non-secret options
    secrets: Mapped[bytes | None] = mapped_column(LargeBinary)  #: Fernet token of a JSON dict
    max_concurrency: Mapped[int | None] = mapped_column(Integer)  #: running runs using it
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class JobRow(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        # A page of watched folders reads the watched jobs' names only (0025). The
        # predicates are the ones the queries write (`watch.is_(True)`), so that both
        # databases see that the index holds every row asked for.
        Index(
            "ix_jobs_watched_name",
            "name",
            sqlite_where=text("watch IS 1"),
            postgresql_where=text("watch IS true"),
        ),
        # An id names a folder to the rclone-sync-hub console: SQLite must not give a
        # deleted job's id again (a stale page would delete the new job).
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: Fernet token of the values of `params["env"]`, which holds them masked
    secret_env: Mapped[bytes | None] = mapped_column(LargeBinary)
    schedule_kind: Mapped[str] = mapped_column(String(16))
    cron: Mapped[str | None] = mapped_column(String(200))
    tz: Mapped[str] = mapped_column(String(64))
    every_s: Mapped[int | None] = mapped_column(Integer)
    anchor_at: Mapped[datetime | None]
    misfire: Mapped[str] = mapped_column(String(8))
    queue: Mapped[str] = mapped_column(String(64))
    retries: Mapped[int] = mapped_column(Integer)
    retry_delay_s: Mapped[int] = mapped_column(Integer)
    timeout_s: Mapped[int | None] = mapped_column(Integer)
    overlap: Mapped[str] = mapped_column(String(8))
    enabled: Mapped[bool] = mapped_column(Boolean)
    #: a watched folder: changes in the (local) source trigger runs too
    watch: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    tags: Mapped[list[Any]] = mapped_column(default=list)
    #: commands run around its runs, by event (core.hooks.stored); {} for none
    hooks: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    #: files its runs sent (copied, replaced, moved) as a watched folder: a count
    #: that deleting file tasks does not lower
    files_sent: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    #: its own rule for which runs stay: younger than this (seconds) ...
    keep_runs_s: Mapped[int | None] = mapped_column(Integer)
    #: ... or among its last this many; both None: the settings' rule
    keep_runs_count: Mapped[int | None] = mapped_column(Integer)
    #: seconds its runs' logs and change reports stay; None: the settings' keep_logs_days
    keep_logs_s: Mapped[int | None] = mapped_column(Integer)
    #: the hours of the week its automatic runs may run ("Mon-Fri 22:00-06:00"); [] always
    windows: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    #: the zone `windows` are read in; None without windows
    windows_tz: Mapped[str | None] = mapped_column(String(64))
    #: a query hint for the scheduler; recomputed from the schedule before acting
    next_fire_at: Mapped[datetime | None] = mapped_column(index=True)
    #: `job mute`: no alert is queued for the job until then
    muted_until: Mapped[datetime | None]
    #: alert `stale` after this long without a success; None: from the schedule
    stale_after_s: Mapped[int | None] = mapped_column(Integer)
    #: the success (its end; the job's creation when none) its `stale` alert was told for
    stale_told_for: Mapped[datetime | None]
    #: alert `long` for a run going longer; None: from its successful runs
    long_after_s: Mapped[int | None] = mapped_column(Integer)
    #: a `watch` alert was told for its folder's present problem (once per change)
    watch_told: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class JobRemoteRow(Base):
    """Which remotes a job reads or writes: for per-remote limits and delete checks."""

    __tablename__ = "job_remotes"

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    remote_id: Mapped[int] = mapped_column(ForeignKey("remotes.id"), primary_key=True, index=True)


class JobChainRow(Base):
    """A job runs after another: the downstream job's own setting (`--after`), kept
    as rows so that a run's end finds what follows it by an index. The upstream job
    holds nothing; removing it is refused while links name it."""

    __tablename__ = "job_chains"

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    upstream_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"), primary_key=True, index=True)
    on: Mapped[str] = mapped_column(String(16))  #: success, failure or always (core.chains)


class RunRow(Base):
    __tablename__ = "runs"
    __table_args__ = (
        # Promise 1: a fire time runs once. Only scheduled runs carry a fire time key.
        Index(
            "uq_runs_job_fire",
            "job_id",
            "scheduled_for",
            unique=True,
            sqlite_where=text("trigger = 'schedule'"),
            postgresql_where=text("trigger = 'schedule'"),
        ),
        Index("ix_runs_state_not_before", "state", "not_before"),
        Index("ix_runs_job_id_id", "job_id", "id"),
        Index("ix_runs_job_name_id", "job_name", "id"),
        # The console's charts count the runs that ended each day (migration 0015).
        Index("ix_runs_finished_at", "finished_at"),
        # When each watched folder's last run ended: one probe a job (0025).
        Index("ix_runs_job_id_finished_at", "job_id", "finished_at"),
        # A page of runs asks which failed runs have a retry; only retries are indexed.
        Index(
            "ix_runs_retry_of",
            "retry_of",
            sqlite_where=text("retry_of IS NOT NULL"),
            postgresql_where=text("retry_of IS NOT NULL"),
        ),
        # The alert pass looks at each ended run once; only unseen runs are indexed.
        Index(
            "ix_runs_alert_unseen",
            "id",
            sqlite_where=text("alert_examined = false"),
            postgresql_where=text("alert_examined = false"),
        ),
        # A run's end requests each chained run once, however often it is ended.
        Index(
            "uq_runs_job_chained_from",
            "job_id",
            "chained_from",
            unique=True,
            sqlite_where=text("chained_from IS NOT NULL"),
            postgresql_where=text("chained_from IS NOT NULL"),
        ),
        # Pruning looks for the runs whose logs may still have to go.
        Index(
            "ix_runs_logs_kept",
            "job_id",
            "id",
            sqlite_where=text("logs_pruned = false"),
            postgresql_where=text("logs_pruned = false"),
        ),
        # An id is a Celery task id: SQLite must not give a deleted run's id again.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    #: None once its job was deleted with its history kept
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    #: the job's name when the run was created: kept runs still say whose they were
    job_name: Mapped[str] = mapped_column(String(64))
    trigger: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(32))  #: why skipped or cancelled
    scheduled_for: Mapped[datetime | None]  #: the fire time it serves
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    retry_of: Mapped[int | None] = mapped_column(Id)
    #: a chained run (trigger chain): the upstream run whose end requested it
    chained_from: Mapped[int | None] = mapped_column(Id)
    queue: Mapped[str] = mapped_column(String(64))
    not_before: Mapped[datetime]  #: do not dispatch earlier (retries wait here)
    created_at: Mapped[datetime]
    queued_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    worker: Mapped[str | None] = mapped_column(String(200))
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    exit_code: Mapped[int | None] = mapped_column(Integer)
    error_class: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    #: what follows an unsuccessful end: the retry's attempt and time, or why none
    next_step: Mapped[str | None] = mapped_column(Text)
    stats: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    progress: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    log_dropped_lines: Mapped[int] = mapped_column(Integer, default=0)
    log_dropped_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    files_dropped: Mapped[int] = mapped_column(Integer, default=0)
    #: a run of one file of a watched folder (a task's retry); None: the whole job
    only_path: Mapped[str | None] = mapped_column(Text)
    #: changes nothing (asked for, or its job passes --dry-run); never a job's success
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: let past the delete guard and the empty-source stop, this once
    allow_deletes: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: a bisync run asked to rebuild its listings (`job resync`)
    resync: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: the alert pass has looked at it (once it ended), in the transaction that
    #: queued its messages
    alert_examined: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: a `long` alert was told for it (once per run)
    alert_long_told: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: its log and change report were pruned (rows naming kept versions stay)
    logs_pruned: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class JobSummaryRow(Base):
    """What a job's ended runs add up to, kept by the database's own triggers on
    `runs` and `jobs` (store/sql/job_summary_*.sql) so that no writer can forget it:
    the console asks which jobs fail or may be stale through an index, not by looking
    at every job's runs. Deleting or pruning runs leaves it as it is: a success that
    happened stays known when its row goes."""

    __tablename__ = "job_summaries"

    job_id: Mapped[int] = mapped_column(
        Id, ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True
    )
    #: its newest ended run (by id) that was not skipped, and that run's state
    last_id: Mapped[int | None] = mapped_column(Id)
    last_state: Mapped[str | None] = mapped_column(String(16), index=True)
    #: its newest successful run (not a dry run) and when it ended
    success_id: Mapped[int | None] = mapped_column(Id)
    success_at: Mapped[datetime | None]
    #: the first run that failed, timed out or was lost after that success, and its end
    failing_id: Mapped[int | None] = mapped_column(Id)
    failing_since: Mapped[datetime | None]
    #: seconds without a success below which its schedule never makes it stale, and
    #: above which it always does (core.staleness.stale_after_bounds); None: not
    #: worked out yet (an hour counts as the least, nothing as the most)
    stale_min_s: Mapped[int | None] = mapped_column(Integer)
    stale_max_s: Mapped[int | None] = mapped_column(Integer)
    #: its last success (or its creation) plus the least: not stale before; None: it
    #: has no schedule, never stale
    stale_from: Mapped[datetime | None] = mapped_column(index=True)
    #: ... plus the most: stale after it, whenever asked
    surely_stale_from: Mapped[datetime | None] = mapped_column(index=True)


class RunLogRow(Base):
    __tablename__ = "run_logs"
    __table_args__ = (UniqueConstraint("run_id", "seq"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime]
    level: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)


class RunFileRow(Base):
    """One row of a run's change report."""

    __tablename__ = "run_files"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(16))
    size: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime]
    #: where the version it deleted or overwrote was kept (remote:path/.synchub-trash/...)
    kept_at: Mapped[str | None] = mapped_column(Text)


class FileTaskRow(Base):
    """A file a watched folder must transfer: seen by the watcher or a run, then done
    or failed from the run's change report. `queued` is not stored: a pending task is
    queued while a run that will carry it waits."""

    __tablename__ = "file_tasks"
    # Ids are the console's handles, as for jobs: never given twice on SQLite.
    __table_args__ = (UniqueConstraint("job_id", "path_key"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(Text)  #: relative to the job's source, "/"-separated
    path_key: Mapped[str] = mapped_column(String(64))  #: hex SHA-256 of path: any length
    state: Mapped[str] = mapped_column(String(16), index=True)
    #: the run that carries it, carried it last, or will carry it alone (a retry)
    run_id: Mapped[int | None] = mapped_column(
        ForeignKey("runs.id", ondelete="SET NULL"), index=True
    )
    size: Mapped[int | None] = mapped_column(BigInteger)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    percent: Mapped[int | None] = mapped_column(Integer)
    speed_bps: Mapped[float | None]
    eta_s: Mapped[float | None]
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(index=True)
    seen_at: Mapped[datetime]  #: the last change seen: a run that began before must redo it
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None] = mapped_column(index=True)


class AuditRow(Base):
    """Append-only record of configuration changes, secrets redacted."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(200))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class LeaseRow(Base):
    """Who leads: one row per lease name, held until `expires_at`."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime]
    acquired_at: Mapped[datetime]


class TokenRow(Base):
    """An API bearer token. Only a SHA-256 digest of the secret is kept."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        # One live token per name; a revoked one stays for the record and frees its name.
        Index(
            "uq_api_tokens_live_name",
            "name",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))  #: the audit's actor for its requests
    role: Mapped[str] = mapped_column(String(16))  #: viewer, operator or admin
    digest: Mapped[str] = mapped_column(String(64), unique=True)  #: hex SHA-256 of the secret
    hint: Mapped[str] = mapped_column(String(16))  #: the secret's first characters
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]  #: updated at most once a minute
    revoked_at: Mapped[datetime | None]
    #: a path prefix the token is limited to ("compat-rsh": /compat/rsh); None: all
    scope: Mapped[str | None] = mapped_column(String(32))


class AlertRow(Base):
    """Where to send alerts (an Apprise URL, sealed), for which events and jobs."""

    __tablename__ = "alerts"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    url: Mapped[bytes] = mapped_column(LargeBinary)  #: sealed: URLs hold credentials
    url_hint: Mapped[str] = mapped_column(String(80))  #: what may be shown of it
    events: Mapped[list[Any]] = mapped_column()
    jobs: Mapped[list[Any]] = mapped_column()  #: job names; none and no tags: every job
    tags: Mapped[list[Any]] = mapped_column()
    after: Mapped[int] = mapped_column(Integer)  #: failed chains in a row before it tells
    #: the daily digest's time of day (HH:MM, in the default zone)
    digest_at: Mapped[str] = mapped_column(String(5), default="08:00", server_default="08:00")
    #: when the last digest queued was due: a conditional write tells each one once
    digest_sent_for: Mapped[datetime | None]
    last_result: Mapped[str | None] = mapped_column(Text)
    last_sent_at: Mapped[datetime | None]
    #: delivery attempts of its messages that pruning took from the outbox, by
    #: result: what they add to the synchub_alerts_sent counter, which never goes down
    pruned_delivered: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    pruned_failed: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AlertMessageRow(Base):
    """A message waiting to be delivered (or delivered: `sent_at`)."""

    __tablename__ = "alert_outbox"
    __table_args__ = (
        Index(
            "ix_alert_outbox_due",
            "next_attempt_at",
            sqlite_where=text("sent_at IS NULL"),
            postgresql_where=text("sent_at IS NULL"),
        ),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(16))
    job_name: Mapped[str] = mapped_column(String(64))
    run_id: Mapped[int | None] = mapped_column(Id)
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]  #: a sender holds it until then
    sent_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
