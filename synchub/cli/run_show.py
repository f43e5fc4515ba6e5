"""`synchub runs show` and `runs logs`: one run as aligned fields, its log lines
coloured by level, for people (`--json` is the data)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from synchub.core.runs import RunStats
    from synchub.services.run_views import LogLine, RunView

#: the width of the label column
LABEL = 12
LEVEL_STYLE = {"error": "red", "warning": "yellow", "notice": "cyan", "info": "", "debug": "dim"}


def size(n: float) -> str:
    """Bytes for people: '512 B', '1.5 KiB', '3.2 GiB'."""
    if n < 1024:
        return f"{int(n)} B"
    for unit in ("KiB", "MiB", "GiB"):
        n /= 1024
        if n < 1024:
            return f"{n:.1f} {unit}"
    return f"{n / 1024:.1f} TiB"


def duration(seconds: float) -> str:
    """'0.4s', '12.0s', '3m05s', '2h01m'."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def local_time(iso: str | None) -> str:
    """'2025-06-02 09:00:05' in this machine's zone; '-' for none."""
    if iso is None:
        return "-"
    return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def run_lines(view: RunView) -> list[str]:
    """The run as lines: a heading, then label/value pairs in one column."""
    attempt = f", attempt {view.attempt}" if view.attempt > 1 else ""
    kind = "dry run" if view.dry_run else "run"
    deleted = " (job deleted)" if view.job_deleted else ""
    lines = [f"{kind} {view.id} of {view.job}{deleted}: {view.state} ({view.trigger}{attempt})"]
    lines += [f"  {label:<{LABEL}}{value}" for label, value in _fields(view) if value]
    lines += _in_flight(view.progress or {})
    return lines


def _fields(view: RunView) -> list[tuple[str, str]]:
    s = view.stats
    ended = view.ended
    return [
        ("reason", _reason(view)),
        ("error", view.error or ""),
        ("next", view.next_step or ""),
        ("retry of", f"run {view.retry_of}" if view.retry_of else ""),
        ("after", f"run {view.chained_from}" if view.chained_from else ""),
        ("fire time", local_time(view.scheduled_for) if view.scheduled_for else ""),
        ("created", local_time(view.created_at)),
        ("started", local_time(view.started_at) if view.started_at else ""),
        ("finished", _finished(view) if ended else ""),
        ("worker", f"{view.worker or '-'} (queue {view.queue})"),
        ("exit code", _exit(view)),
        ("transferred", _totals(s) if ended and view.started_at else ""),
        ("progress", _progress(view.progress) if not ended else ""),
        ("changes", _changes(view)),
        ("only", view.only_path or ""),
        ("flags", _flags(view)),
        ("log", _pruned(view) or _dropped(view.log_dropped_lines, "line(s) of the log")),
        ("report", _dropped(view.files_dropped, "row(s) of the change report")),
    ]


def _flags(view: RunView) -> str:
    flags = {"allow_deletes": view.allow_deletes, "resync": view.resync}
    return ", ".join(name for name, on in flags.items() if on)


def _pruned(view: RunView) -> str:
    if not view.logs_pruned:
        return ""
    return "pruned with its change report (retention; the run stays)"


def _dropped(count: int, what: str) -> str:
    return f"{count} {what} dropped (size cap)" if count else ""


def _reason(view: RunView) -> str:
    reason = view.reason
    if reason is None:
        return ""
    return {
        "overlap": "its job was already running (overlap policy skip)",
        "missed": "its fire time was missed",
        "job_deleted": "its job was removed before it started",
        "hook": "its before hook exited 75 (the error says why)",
        "window": "its job's run window was shut (another run waited for it, or it "
        "could start only after the close)",
        "disabled": "its job was disabled while it waited for its run window",
        "cancelled": "",  # the error says who cancelled it
    }.get(reason, reason)


def _finished(view: RunView) -> str:
    took = view.stats.elapsed_s
    shown = local_time(view.finished_at)
    return f"{shown}, took {duration(took)}" if view.started_at else shown


def _exit(view: RunView) -> str:
    code, klass = view.exit_code, view.error_class
    if code is None:
        return klass or ""
    return f"{code} ({klass})" if klass else str(code)


def _totals(s: RunStats) -> str:
    return (
        f"{s.files} file(s), {size(s.bytes)} at {size(s.speed_bps)}/s; "
        f"{s.checks} checked, {s.deletes} deleted, {s.renames} renamed, "
        f"{s.errors} error(s)"
    )


def _progress(p: dict[str, Any] | None) -> str:
    if not p:
        return ""
    total = f" of {size(p['total_bytes'])}" if p.get("total_bytes") else ""
    eta = f", {duration(p['eta_s'])} left" if p.get("eta_s") is not None else ""
    files = f"{p.get('transfers', 0)} of {p.get('total_transfers', 0)} file(s)"
    scanning = ", still listing" if p.get("scanning") else ""
    return (
        f"{size(p.get('bytes', 0))}{total} at {size(p.get('speed_bps', 0))}/s{eta}; "
        f"{files}, {p.get('errors', 0)} error(s){scanning}"
    )


def _in_flight(p: dict[str, Any]) -> list[str]:
    items = p.get("transferring") or []
    if not items:
        return []
    lines = ["  in flight"]
    for t in items:
        done = size(t.get("bytes") or 0)
        of = f" of {size(t['size'])}" if isinstance(t.get("size"), int) else ""
        pct = f" ({t['percentage']}%)" if t.get("percentage") is not None else ""
        speed = f" at {size(t.get('speed') or 0)}/s"
        lines.append(f"    {t.get('name')}  {done}{of}{pct}{speed}")
    return lines


def _changes(view: RunView) -> str:
    counts = view.files_summary or {}
    if not counts:
        return ""
    parts = ", ".join(f"{n} {a.replace('_', ' ')}" for a, n in sorted(counts.items()))
    return f"{parts} (runs show {view.id} --files)"


def print_line(out: Console, line: LogLine) -> None:
    """One log line: time, level, message, in the level's colour."""
    style = LEVEL_STYLE.get(line.level, "")
    out.print(f"{line.at} {line.level.upper():<7} {line.message}", style=style, markup=False)
