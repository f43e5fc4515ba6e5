"""The console's one vocabulary: a state is an icon, a word and a tone, never colour
alone; an operation is said in words."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from synchub.core.runs import Trigger
from synchub.services.overview import JobStatus
from synchub.services.run_views import RunView
from synchub.services.tasks import TaskView, WatchedFolder
from synchub.web import format as fmt


@dataclass(frozen=True)
class Badge:
    state: str  #: the run's or job's state, for `data-state`
    icon: str
    word: str
    tone: str  #: ok, bad, info, warn, muted


_ENDED = {
    "succeeded": ("✓", "succeeded", "ok"),
    "failed": ("✕", "failed", "bad"),
    "timed_out": ("✕", "timed out", "bad"),
    "lost": ("✕", "lost", "bad"),
    "cancelled": ("—", "cancelled", "muted"),
    "skipped": ("—", "skipped", "muted"),
}


def run_badge(run: RunView, now: datetime) -> Badge:
    state = run.state.value
    if state == "running":
        progress = run.progress or {}
        total = progress.get("total_bytes") or 0
        word = "running"
        if total and not progress.get("scanning"):
            word += f" {fmt.percent(progress.get('bytes') or 0, total)} %"
        return Badge(state, "▶", word, "info")
    if state in ("pending", "queued"):
        wait = fmt.parse(run.not_before)
        if run.trigger is Trigger.RETRY and wait is not None and wait > now:
            return Badge(state, "↻", f"retry {fmt.relative(wait, now)}", "warn")
        return Badge(state, "◷", "queued", "muted")
    icon, word, tone = _ENDED.get(state, ("?", state, "muted"))
    reason = run.reason
    if state == "skipped" and reason:
        word += f" ({reason})"
    return Badge(state, icon, word, tone)


def job_badge(status: JobStatus, now: datetime) -> Badge:
    if not status.job.enabled:
        return Badge("disabled", "‖", "disabled", "muted")
    if status.failing and status.last is not None:
        return Badge("failing", "✕", run_badge(status.last, now).word, "bad")
    if status.stale_for is not None:
        return Badge("stale", "⚠", f"no success for {fmt.age(status.stale_for)}", "warn")
    if status.last is None:
        return Badge("new", "◌", "never run", "muted")
    return run_badge(status.last, now)


_OPS = {
    "sync": "makes the destination match the source: files missing from the source "
    "are deleted at the destination",
    "copy": "copies new and changed files to the destination; nothing is deleted",
    "move": "moves files to the destination: they are deleted from the source once copied",
    "check": "compares source and destination; nothing is changed",
    "bisync": "syncs both ways: changes on either side, deletions included, reach the other",
}


def op_words(kind: str, params: Mapping[str, Any]) -> str:
    """What a job of `kind` with `params` does, said plainly: 'sync: makes the
    destination match …'."""
    if kind != "rclone":
        return f"{kind} job"
    op = params.get("op", "sync")
    return f"{op}: {_OPS.get(op, op)}"


def route(params: Mapping[str, Any]) -> tuple[str, str] | None:
    """(source, destination) of an rclone job's `params`, None for other kinds."""
    if "source" not in params:
        return None
    return str(params.get("source")), str(params.get("destination"))


def duration_of(run: RunView, now: datetime) -> float | None:
    """Seconds from start to end (or to now, while running)."""
    start = fmt.parse(run.started_at)
    if start is None:
        return None
    end = fmt.parse(run.finished_at) or now
    return max(0.0, (end - start).total_seconds())


def folder_badge(folder: WatchedFolder) -> Badge:
    """A watched folder's state: scanning while a run of it runs, not watched when its
    folder is missing or unreadable (its problem says why), disabled, or watching."""
    if folder.running:
        return Badge("scanning", "▶", "scanning", "info")
    if not folder.job.enabled:
        return Badge("disabled", "‖", "disabled", "muted")
    if folder.job.watch_problem:
        return Badge("not-watched", "⚠", "not watched", "warn")
    return Badge("watching", "◉", "watching", "ok")


_TASKS = {
    "pending": ("◌", "pending", "muted"),
    "queued": ("◷", "queued", "muted"),
    "transferring": ("▶", "transferring", "info"),
    "done": ("✓", "done", "ok"),
    "failed": ("✕", "failed", "bad"),
}


def task_badge(task: TaskView) -> Badge:
    """A file task's state; a transfer says how far it is."""
    state = task.state.value
    icon, word, tone = _TASKS.get(state, ("?", state, "muted"))
    if state == "transferring" and task.percent is not None:
        word += f" {task.percent} %"
    return Badge(state, icon, word, tone)


def staleness(status: JobStatus) -> Badge:
    """How the age of a job's last success looks: fresh (green), stale (amber ⚠:
    longer than the overview's rule allows), or never (red ✕ while failing)."""
    if status.stale_for is not None:
        return Badge("stale", "⚠", "stale", "warn")
    if status.last_success_at is None:
        return Badge(
            "never", "✕" if status.failing else "—", "never", "bad" if status.failing else "muted"
        )
    return Badge("fresh", "✓", "fresh", "ok")


def changed_fields(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[str]:
    """The top-level fields an audit event changed, by name: what differs between its
    before and after; none when one is missing (an add or a removal: its action
    says it all)."""
    if before is None or after is None:
        return []
    skip = {"updated_at", "next_fire_at", "watch_problem"}  # follow from others, or time
    keys = before.keys() | after.keys()
    return sorted(k for k in keys if k not in skip and before.get(k) != after.get(k))
