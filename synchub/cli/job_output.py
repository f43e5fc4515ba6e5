"""How the job commands print a job: `job list`'s rows, `job show`'s lines, and the
words `job add` and `job edit` add about what was saved."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from synchub.cli import tables
from synchub.cli.hooks import hook_lines
from synchub.cli.shared import err, out

if TYPE_CHECKING:
    from synchub.services.jobs.job_views import JobView

JOB_COLUMNS = (
    tables.Column("name", tables.Fit.END, least=16),
    tables.Column("what", tables.Fit.MIDDLE, least=16, weight=2),
    tables.Column("schedule", tables.Fit.END, least=10),
    tables.Column("next"),
    tables.Column("last run"),
    tables.Column("when"),
)


def job_row(job: dict[str, Any], layout: tables.Layout) -> list[str]:
    """`job list`'s row of a job as the API shows it (JobPublic, with its last run),
    whether the server's local socket or the database gave it."""
    p, last = job["params"], job["last_run"]
    what = (
        f"{p.get('op')} {p.get('source')}{tables.ARROW}{p.get('destination')}"
        if job["kind"] == "rclone"
        else job["kind"]
    )
    return [
        job["name"],
        what,
        short_schedule(job["schedule"]) + (" + watch" if job["watch"] else ""),
        layout.when(job["next_fire_at"]) if job["enabled"] else "disabled",
        "-" if last is None else last["state"] + (" (dry run)" if last["dry_run"] else ""),
        "-" if last is None else layout.when(last["at"]),
    ]


def short_schedule(schedule: dict[str, Any]) -> str:
    """'30 2 * * * (Europe/Berlin)', 'every 15m' or 'manual': a table's width."""
    if schedule["kind"] == "cron":
        return f"{schedule['cron']} ({schedule['tz']})"
    if schedule["kind"] == "interval" and schedule["every_s"] is not None:
        from synchub.core.durations import format_duration

        return f"every {format_duration(schedule['every_s'])}"
    return "manual"


def _retry_window(delay_s: int) -> str:
    # The policy waits half to all of the delay, at random (see RetryPolicy.delay).
    return f"{delay_s / 2:g}-{delay_s}s"


def print_job(view: JobView, next_fires: list[str]) -> None:
    p = view.params
    state = "enabled" if view.enabled else "disabled"
    out.print(f"[bold]{view.name}[/] ({view.kind}, {state})")
    if view.kind == "rclone":
        out.print(f"  {p['op']} {p['source']} -> {p['destination']}", markup=False)
        for rule in p.get("filters", []):
            out.print(f"  filter {rule}", markup=False)
        if p.get("options"):
            out.print(f"  options {' '.join(p['options'])}", markup=False)
        _print_safety(view)
    else:
        out.print(f"  params {json.dumps(p)}", markup=False)
    out.print(f"  schedule: {view.schedule.description}, misfire {view.misfire}", markup=False)
    if view.watch:
        problem = view.watch_problem
        out.print(
            f"  watched folder: {problem}" if problem else "  watched folder: changes start runs",
            markup=False,
        )
    timeout = f"{view.timeout_s}s" if view.timeout_s else "none"
    out.print(
        f"  retries {view.retries} (first after {_retry_window(view.retry_delay_s)}), "
        f"timeout {timeout}, overlap {view.overlap}, queue {view.queue}",
        markup=False,
    )
    if view.tags:
        out.print(f"  tags {', '.join(view.tags)}", markup=False)
    if view.stale_after_s or view.long_after_s:
        from synchub.core.durations import format_duration

        stale, long = view.stale_after_s, view.long_after_s
        out.print(
            f"  alerts: stale after {format_duration(stale) if stale else 'auto'}, "
            f"long after {format_duration(long) if long else 'auto'}",
            markup=False,
        )
    if view.muted_until:
        out.print(f"  alerts muted until {view.muted_until}", markup=False)
    for line in hook_lines(view):
        out.print(line, markup=False)
    if view.keep_runs or view.keep_logs:
        out.print(
            f"  keeps runs {view.keep_runs or 'by default'}, logs {view.keep_logs or 'by default'}",
            markup=False,
        )
    if view.windows:
        out.print(
            f"  runs only in {', '.join(view.windows)} ({view.windows_tz}); "
            "manual runs at any hour",
            markup=False,
        )
    if next_fires:
        out.print("  next fires:")
        for line in fire_lines(view, next_fires):
            out.print(f"    {line}", markup=False)


def fire_lines(view: JobView, fires: list[str]) -> list[str]:
    """Each fire time (ISO), with when its run may start when a run window makes it
    wait: the cron fires on time, its run starts at the window's opening."""
    windows, tz = view.windows, view.windows_tz
    if not windows or not tz or not fires:
        return list(fires)
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from synchub.core.windows import run_starts

    starts = run_starts(windows, tz, [datetime.fromisoformat(f) for f in fires])
    zone = ZoneInfo(tz)
    lines = []
    for fire, start in zip(fires, starts, strict=True):
        if start is None:
            lines.append(f"{fire}, skipped: the run before waits for the same opening")
        elif start > datetime.fromisoformat(fire):
            opens = start.astimezone(zone)
            lines.append(f"{fire}, runs when the window opens {opens:%a %Y-%m-%d %H:%M} ({tz})")
        else:
            lines.append(fire)
    return lines


def _print_safety(view: JobView) -> None:
    """An rclone job's delete guard, marker, access check and kept versions."""
    if view.delete_guard:
        out.print(f"  delete guard {view.delete_guard}", markup=False)
    if view.require_marker:
        out.print(f"  requires {view.require_marker} at the source root", markup=False)
    if view.check_access is not None:
        checked = "on (RCLONE_TEST at both roots)" if view.check_access else "off"
        out.print(f"  access check {checked}", markup=False)
    if view.keep_deleted:
        out.print(
            f"  keeps deleted and overwritten files {view.keep_deleted} in .synchub-trash/",
            markup=False,
        )


def guarded_at(guard: str) -> str:
    """The delete guard `guard` in words, for one line."""
    if guard == "off":
        return "with no delete guard (--delete-guard off)"
    limit = guard if guard.endswith("%") else f"{guard} file{'s' if guard != '1' else ''}"
    return f"guarded at {limit}: a run that would delete more stops before changing anything"


def warn_unwatched(view: JobView) -> None:
    """A watched folder that cannot be watched yet is saved (a drive may be plugged
    in later), with a word about it."""
    if view.watch_problem:
        err.print(
            f"warning: {view.watch_problem}; the job is saved, and the folder is "
            "watched once it can be (`synchub job show` tells)",
            markup=False,
        )
