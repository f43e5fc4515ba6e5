"""Runs: RunPublic, RunsPublic (a keyset page), log lines and change reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from synchub.services.restore import RunRestored
from synchub.services.run_views import FileChange, RunView

State = Literal[
    "pending", "queued", "running", "succeeded", "failed", "timed_out", "lost", "cancelled",
    "skipped",
]  # fmt: skip
CeleryState = Literal["PENDING", "STARTED", "SUCCESS", "FAILURE", "RETRY", "REVOKED"]
TriggerName = Literal["schedule", "manual", "api", "retry", "watch", "chain"]


class RunStatsPublic(BaseModel):
    bytes: int
    files: int
    checks: int
    deletes: int
    renames: int
    errors: int
    elapsed_s: float
    speed_bps: float


class RunPublic(BaseModel):
    id: int
    job: str  #: the job's name when the run was created
    job_deleted: bool  #: its job was deleted and the run kept as history (no retry)
    state: State  #: synchub's name
    celery_state: CeleryState  #: the same state under the name Celery users know
    trigger: TriggerName
    reason: str | None  #: why it was skipped or cancelled
    scheduled_for: datetime | None  #: the fire time it serves
    created_at: datetime
    queued_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    not_before: datetime | None
    attempt: int
    retry_of: int | None
    chained_from: int | None = None  #: trigger chain: the upstream run whose end asked for it
    queue: str
    worker: str | None
    exit_code: int | None
    error_class: str | None
    error: str | None
    #: after a failure, timeout or loss: "retry 1 of 3 (attempt 2) at ... UTC" or
    #: "not retried: why"
    next_step: str | None = None
    stats: RunStatsPublic
    progress: dict[str, Any] | None  #: live snapshot while it runs
    log_dropped_lines: int
    files_dropped: int
    #: its log and change report were pruned by the retention rules (the run stays)
    logs_pruned: bool = False
    only_path: str | None = None  #: a watched folder's one file this run sends (a task retry)
    files_summary: dict[str, int] | None = None  #: change report counts by action (show)
    dry_run: bool = False  #: it changed nothing; its change report is a preview
    allow_deletes: bool = False  #: let past the delete guard and empty-source stop
    resync: bool = False  #: a bisync run rebuilding its listings

    @classmethod
    def of(cls, view: RunView) -> RunPublic:
        return cls.model_validate(view.as_dict())


class RunsPublic(BaseModel):
    data: list[RunPublic]
    count: int  #: runs in this page
    next_cursor: str | None  #: pass as `cursor` for the next page; null on the last


class LogLine(BaseModel):
    seq: int  #: a gap in seq marks lines the size cap dropped
    at: datetime
    level: str
    message: str


class FileChangePublic(BaseModel):
    path: str
    #: copied, replaced, deleted, moved, failed; previews (dry runs, and the deletes a
    #: stopped run would have made): would_copy, would_replace, would_delete, would_move
    action: str
    size: int | None
    error: str | None
    at: datetime
    #: deleted or replaced, by a job that keeps versions: where the old version is now
    #: (its remote:path; `synchub runs restore` brings it back)
    kept_at: str | None = None


class FilesPublic(BaseModel):
    data: list[FileChangePublic]
    count: int
    dropped: int  #: rows beyond the report's cap, counted only

    @classmethod
    def of(cls, rows: list[FileChange], dropped: int) -> FilesPublic:
        data = [FileChangePublic.model_validate(row.as_dict()) for row in rows]
        return cls(data=data, count=len(rows), dropped=dropped)


class RestoreRequest(BaseModel):
    #: a file or folder relative to the destination root; none: all the run kept
    path: str | None = Field(default=None, min_length=1, max_length=4096, examples=["docs/a.txt"])


class RestorePublic(BaseModel):
    run: int
    kept_in: str  #: remote:path of the run's folder of kept versions
    destination: str  #: remote:path of the destination root the files went back to
    restored: list[str]  #: paths copied back, relative to the destination root
    #: paths it kept that were already at the destination as kept: nothing to copy
    unchanged: list[str]
    #: remote:path where the versions the restore overwrote were kept
    kept_aside: str
    errors: list[str]  #: rclone's errors, if some files could not be copied back

    @classmethod
    def of(cls, done: RunRestored) -> RestorePublic:
        return cls.model_validate(done.as_dict())
