"""rclone runs that cannot wipe a destination by mistake.

- The mount marker (any op): the run stops before rclone starts unless the file
  or folder the job names exists at the source root.
- A guarded `sync` is two rclone processes:
  1. the preview: the job's own sync with `--dry-run --combined FILE`, one listing
     of both sides, which writes every path with what the sync would do to it
     ("+" copy, "*" replace, "-" delete, "=" nothing, "!" error);
  2. only when the source is there and not empty, the deletes are within the
     job's delete guard and something is to be done: the same sync with
     `--max-delete` set to the deletes counted, so a change between the two
     passes can never make it delete more; and, when few of the listed paths
     change, `--files-from-raw` (the paths the preview named) with `--no-traverse`,
     so it touches exactly those paths without listing everything again.
  A sync into a local destination that is empty (or not there yet) skips the
  preview: nothing can be deleted there, and `--max-delete=0` keeps it so should a
  file appear before rclone lists it. The empty-source stop needs destination files
  too, so only a missing source is left to say, from the sync's own exit status.
  A stopped run has changed nothing; its change report lists what it would
  have deleted (`would_delete`). The lists go through files, never all in memory.
- A guarded `bisync` passes the guard's share as bisync's own `--max-delete`
  (a percentage; bisync stops before any change when it is exceeded), after the
  looks of `bisync` (missing, unreadable or empty roots, the access check).
- A dry run (asked for, or a job's `--dry-run`) reports `would_*` rows and counts
  nothing as transferred or deleted.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from synchub.core.runs import FileAction, FileChange, Progress, RunStats
from synchub.core.safety import (
    GUARDED_OPS,
    KEEP_OPS,
    TRASH,
    expired_folders,
    keep_seconds,
    kept_folder,
)
from synchub.engines.base import Outcome, RunContext, RunSink
from synchub.engines.process import spawn, stream_lines
from synchub.engines.rclone.bisync import Bisync, Seen, list_top, unusable
from synchub.engines.rclone.exits import outcome_for
from synchub.engines.rclone.flags import flag_name
from synchub.engines.rclone.log import RcloneLog
from synchub.engines.rclone.params import Location, parse_location
from synchub.engines.rclone.preview import Counts, count_preview, lines_of
from synchub.engines.rclone.safety_settings import guard_of

Execute = Callable[[list[str]], Outcome]

#: What the preview's --combined lines mean for the destination.
_ROWS = {"+": FileAction.WOULD_COPY, "*": FileAction.WOULD_REPLACE, "-": FileAction.WOULD_DELETE}
#: Preview lines for paths a sync changes though their content matches.
_TOUCHED_SKIPS = frozenset({"update modification time", "set modification time"})
_ERROR_LEVELS = frozenset({"error", "critical", "alert", "emergency"})
_QUIET_PREVIEW_S = 1.0
#: rclone's filter flags, which it refuses next to --files-from-raw.
_FILTER_FLAGS = frozenset(
    {"--filter", "--filter-from", "--include", "--exclude", "--include-from",
     "--exclude-from", "--max-size", "--min-size", "--max-age", "--min-age",
     "--exclude-if-present"}
)  # fmt: skip
#: What rclone logs for each delete past --max-delete.
_THRESHOLD = "--max-delete threshold reached"


class _RowFilter:
    """A sink that drops the `would_*` rows a dry run's log gives: the preview file
    says more (a replace from a copy), and gives those rows instead."""

    def __init__(self, sink: RunSink) -> None:
        self.sink = sink

    def log(self, level: str, message: str, fields: Mapping[str, Any] | None = None) -> None:
        self.sink.log(level, message, fields)

    def progress(self, snapshot: Progress) -> None:
        self.sink.progress(snapshot)

    def file(self, change: FileChange) -> None:
        if not change.action.value.startswith("would_"):
            self.sink.file(change)


class SafeRun:
    """One rclone run with the job's safety settings applied (see the module)."""

    def __init__(self, ctx: RunContext, env: Mapping[str, str], log: RcloneLog,
                 binary: str, grace_s: float) -> None:  # fmt: skip
        self.ctx, self.env, self.log = ctx, env, log
        self.binary, self.grace_s = binary, grace_s
        self.params = ctx.params
        self.op: str = ctx.params.get("op", "sync")
        self.options: list[str] = list(ctx.params.get("options", []))

    def run(self, argv: list[str], execute: Execute) -> Outcome:
        """Run `argv` (the job's rclone command line) through `execute`, or stop first;
        a job keeping versions then prunes the old ones."""
        keep = keep_seconds(self.params) if self.op in KEEP_OPS else None
        outcome = self._run(self._with_trash(argv, keep), execute)
        if keep is not None and outcome.ok and not outcome.dry_run:
            self._prune(keep)
        return outcome

    def _run(self, argv: list[str], execute: Execute) -> Outcome:
        marker = self.params.get("require_marker")
        if marker:
            stopped = self._marker_missing(marker)
            if stopped is not None:
                return stopped
        if self.ctx.dry_run or "--dry-run" in self.options:
            return self._dry_run(argv, execute)
        if self.op not in GUARDED_OPS:
            return execute(argv)
        if self.ctx.allow_deletes:
            self.ctx.sink.log(
                "warning", "deletes allowed for this run: the delete guard and the "
                "empty-source stop are off", None,
            )  # fmt: skip
        if self.op == "bisync":
            return self._bisync(argv, execute)
        if self.ctx.allow_deletes:
            outcome = execute(argv)  # rclone deletes nothing after a read error
            if outcome.ok or outcome.exit_code == 3:
                return outcome
            return self._unreadable_source(outcome.stats) or outcome
        return self._guarded_sync(argv, execute)

    # -- kept versions ---------------------------------------------------------------

    def _with_trash(self, argv: list[str], keep: int | None) -> list[str]:
        """`argv` excluding the trash folder on both sides, first among the filters so
        no rule of the job's can take it in (a job whose versions are no longer kept
        must not delete the ones it kept); keeping versions (`keep`), moving what the run
        deletes or overwrites into this run's folder there."""
        if self.op not in KEEP_OPS:
            return argv
        argv = [*argv[:4], f"--filter=- /{TRASH}/**", *argv[4:]]
        if keep is None:
            return argv
        started = self.ctx.started_at or datetime.now(UTC)
        self.log.kept_in = self._at_destination(kept_folder(started, self.ctx.run_id))
        return [*argv, f"--backup-dir={self.log.kept_in}"]

    def _at_destination(self, path: str) -> str:
        """`path` (relative to the destination root) as remote:path."""
        destination = parse_location(self.params["destination"])
        return str(Location(destination.remote, _joined(destination.path, path)))

    def _prune(self, keep_s: int) -> None:
        """Purge the folders of kept versions older than the job's period.

        Pruning is the last step of each successful run of the job rather than a
        maintenance pass of its own: a job runs once at a time, so no other run of it
        fills the trash meanwhile; the run has the destination's remote and its
        credentials at hand; and the run's start, from synchub's clock, is the "now"
        it counts from. A job that stops running keeps its versions until it runs again:
        kept longer, never shorter. Only folders named as synchub names them, inside
        the trash, are ever purged; a failure is logged and fails nothing."""
        trash = self._at_destination(TRASH)
        code, names, error = self._listed([self.binary, "lsf", "--dirs-only", trash])
        if code in (3, 4):
            return  # nothing kept yet
        if code != 0:
            self.ctx.sink.log("warning", f"cannot list the kept versions at {trash}: {error}")
            return
        now = self.ctx.started_at or datetime.now(UTC)
        for name in expired_folders(names, now, keep_s):
            where = f"{trash}/{name}"
            code, _, error = self._listed([self.binary, "purge", where])
            if code == 0:
                self.ctx.sink.log("info", f"pruned kept versions older than "
                                  f"{self.params['keep_deleted']}: {where}")  # fmt: skip
            else:
                self.ctx.sink.log("warning", f"cannot prune {where}: {error}")

    def _listed(self, argv: list[str]) -> tuple[int, list[str], str]:
        """Run a short rclone command: (exit status, its output lines, its first error)."""
        try:
            proc = spawn(argv, env=dict(self.env))
        except OSError as exc:
            return -1, [], str(exc)
        out: list[str] = []
        errors: list[str] = []
        for stream, line in stream_lines(proc, self.ctx.stop, grace_s=self.grace_s):
            if stream == "stdout":
                out.append(line.removesuffix("\n"))
            elif line.strip():
                errors.append(self.log.redact(line.strip()))
        code = int(proc.returncode if proc.returncode is not None else -1)
        return code, out, (errors or [""])[0]

    # -- the marker --------------------------------------------------------------

    def _marker_missing(self, marker: str) -> Outcome | None:
        """`rclone lsf SOURCE/MARKER`: a file lists itself, a folder its content;
        exit 3 (not found) means the marker is missing."""
        source = parse_location(self.params["source"])
        where = str(Location(source.remote, _joined(source.path, marker)))
        code, errors = self._quiet([self.binary, "lsf", "--max-depth", "1", where])
        if code == 0:
            return None
        if code in (3, 4):
            return _stop(
                "marker_missing",
                f"marker missing: {where} does not exist, so the source may not be "
                "mounted or may be the wrong place; nothing was changed",
            )
        return Outcome(
            ok=False, exit_code=code, error_class="error",
            error=f"cannot look for the marker {where}: {errors or 'rclone failed'}",
        )  # fmt: skip

    # -- dry runs ------------------------------------------------------------------

    def _dry_run(self, argv: list[str], execute: Execute) -> Outcome:
        extra = [] if "--dry-run" in self.options else ["--dry-run"]
        if self.op == "bisync":
            bisync = Bisync(self.ctx, self.env, self.log, self.binary, self.grace_s)
            return _previewed(bisync.run(argv + extra, execute, dry_run=True))
        if self.op not in ("sync", "copy"):
            return _previewed(execute(argv + extra))
        with tempfile.TemporaryDirectory(prefix="synchub-dry-") as tmp:
            combined = Path(tmp) / "combined"
            self.log.sink = _RowFilter(self.ctx.sink)
            try:
                outcome = execute([*argv, *extra, f"--combined={combined}"])
            finally:
                self.log.sink = self.ctx.sink
            deletes = self.op == "sync"
            counts = Counts()
            for sign, path in lines_of(combined):
                counts.source += sign in "=*+"
                counts.destination += sign in "=*-"
                counts.deletes += sign == "-"
                action = _ROWS.get(sign)
                if action is not None and (deletes or action is not FileAction.WOULD_DELETE):
                    self.ctx.sink.file(FileChange(path, action))
        if deletes and outcome.ok and not self.ctx.allow_deletes:
            self._warn_if_stopped(counts)
        return _previewed(outcome)

    def _warn_if_stopped(self, counts: Counts) -> None:
        """A preview must not promise what a real run would refuse: say so."""
        if counts.source == 0 and counts.destination > 0:
            why = "the source holds no files (empty source)"
        elif not guard_of(self.params).allows(counts.deletes, counts.destination):
            why = (f"it would delete {counts.deletes} of the {counts.destination} files, "
                   f"more than the delete guard of {guard_of(self.params)} allows")  # fmt: skip
        else:
            return
        self.ctx.sink.log("warning", f"a real run would stop before any change: {why}")

    # -- bisync ------------------------------------------------------------------

    def _bisync(self, argv: list[str], execute: Execute) -> Outcome:
        return Bisync(self.ctx, self.env, self.log, self.binary, self.grace_s).run(argv, execute)

    # -- the guarded sync ------------------------------------------------------------

    def _guarded_sync(self, argv: list[str], execute: Execute) -> Outcome:
        if _empty_local(self.params["destination"]):
            return self._into_empty(argv, execute)
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="synchub-guard-") as tmp:
            combined, touched, touch = (Path(tmp) / n for n in ("combined", "touched", "touch"))
            code = self._preview([*argv, "--dry-run", f"--combined={combined}"], touched)
            elapsed = time.monotonic() - started
            if code != 0:
                return self._preview_failed(code, elapsed)
            counts = count_preview(combined, touched, touch)
            stopped = self._decide(counts, combined)
            if stopped is not None:
                return replace(stopped, stats=RunStats(elapsed_s=elapsed))
            if counts.touched == 0:
                return Outcome(ok=True, exit_code=0, stats=RunStats(
                    checks=counts.destination, elapsed_s=elapsed))  # fmt: skip
            outcome = self._run_second_pass(self._second_pass(argv, touch, counts), execute,
                                            counts.deletes + counts.leftovers)  # fmt: skip
        stats = replace(outcome.stats, elapsed_s=outcome.stats.elapsed_s + elapsed)
        return replace(outcome, stats=stats)

    def _into_empty(self, argv: list[str], execute: Execute) -> Outcome:
        """One pass into an empty local destination: nothing to delete, so no preview
        (it costs a second rclone start and listing, bench guard); --max-delete=0 makes
        a file put there meanwhile stop the run rather than go."""
        self.ctx.sink.log("info", "the destination is empty: nothing to delete, one pass")
        outcome = self._run_second_pass([*argv, "--max-delete=0"], execute, 0)
        if outcome.ok or self.ctx.stop.is_set():
            return outcome
        if outcome.exit_code == 3:
            return self._preview_failed(3, outcome.stats.elapsed_s)
        return self._unreadable_source(outcome.stats) or outcome

    def _run_second_pass(self, argv: list[str], execute: Execute, decided: int) -> Outcome:
        """The second pass; rclone stopping at the deletes decided is said as the source
        having changed meanwhile (a retry decides again)."""
        seen = Seen(self.ctx.sink, (_THRESHOLD,))
        self.log.sink = seen
        try:
            outcome = execute(argv)
        finally:
            self.log.sink = self.ctx.sink
        if outcome.ok or not seen.found or f"--max-delete={decided}" not in argv:
            return outcome
        return replace(outcome, error_class="source_changed", permanent=False, error=(
            f"source changed: more files went missing from {self.params['source']} while "
            f"this run decided; rclone stopped at the {decided} deletes decided, so no more "
            "were made. The next run decides again"
        ))  # fmt: skip

    def _preview(self, argv: list[str], touched: Path) -> int:
        """Run the preview; its errors go to the run's log, its figures to progress,
        and the paths whose time it would set to `touched`. Returns its exit status."""
        self.ctx.sink.log("info", "listing both sides to decide what this run may change")
        try:
            proc = spawn(argv, env=dict(self.env))
        except OSError as exc:
            self.ctx.sink.log("error", f"cannot start rclone: {exc}")
            return -1
        started = time.monotonic()
        with touched.open("w", encoding="utf-8", errors="surrogateescape") as out:
            for stream, line in stream_lines(proc, self.ctx.stop, grace_s=self.grace_s):
                obj = _json(line) if stream == "stderr" else None
                if obj is None or str(obj.get("level")) in _ERROR_LEVELS:
                    self.log.feed(stream, line)
                elif isinstance(obj.get("stats"), dict):
                    # A long listing shows as scanning; a short one's figures would
                    # only flash by before the sync's own.
                    if time.monotonic() - started >= _QUIET_PREVIEW_S:
                        self.ctx.sink.progress(_listing(obj["stats"]))
                elif obj.get("skipped") in _TOUCHED_SKIPS and isinstance(obj.get("object"), str):
                    out.write(obj["object"] + "\n")
        return int(proc.returncode if proc.returncode is not None else -1)

    def _preview_failed(self, code: int, elapsed: float) -> Outcome:
        if code == 3 and not self.ctx.stop.is_set():
            missing = _stop(
                "source_missing",
                f"source missing: {self.params['source']} was not found (not mounted, "
                "removed or mistyped?); nothing was changed",
            )
            return replace(missing, exit_code=code)
        stats = RunStats(elapsed_s=elapsed)
        stopped = self._unreadable_source(stats)
        if stopped is not None:
            return stopped
        return outcome_for(code, self.log, stats, stopped=self.ctx.stop.is_set(), timeout_set=False)

    def _unreadable_source(self, stats: RunStats) -> Outcome | None:
        """After rclone failed: the stop for a source root that cannot be listed, said
        apart from a failure deeper down; None when the root lists."""
        if self.ctx.stop.is_set():
            return None
        root = list_top(
            self.params["source"], binary=self.binary, env=self.env, stop=self.ctx.stop,
            grace_s=self.grace_s, redact=self.log.redact,
        )  # fmt: skip
        stopped = unusable(root, "source")
        return None if stopped is None else replace(stopped, stats=stats)

    def _decide(self, counts: Counts, combined: Path) -> Outcome | None:
        """None when the sync may go on; else the stop, its would-be deletes reported."""
        source, destination = self.params["source"], self.params["destination"]
        guard, name = guard_of(self.params), self.ctx.job_name
        if counts.source == 0 and counts.destination > 0:
            error_class, error = (
                "empty_source",
                (
                    f"empty source: {source} holds no files while {destination} holds "
                    f"{counts.destination}; a sync would delete them all, so nothing was "
                    "changed (an unmounted drive or a wrong path?). If the source really is "
                    f"meant to be empty: synchub job run {name} --allow-deletes"
                ),
            )
        elif not guard.allows(counts.deletes, counts.destination):
            share = counts.deletes * 100 / counts.destination
            error_class, error = (
                "delete_guard",
                (
                    f"delete guard: this run would delete {counts.deletes} of the "
                    f"{counts.destination} files at {destination} ({share:.0f}%), more than "
                    f"the job's guard of {guard} allows; nothing was changed. To let these "
                    f"deletes happen once: synchub job run {name} --allow-deletes (or change "
                    f"the guard: synchub job edit {name} --delete-guard ...)"
                ),
            )
        else:
            return None
        for sign, path in lines_of(combined):
            if sign == "-":
                self.ctx.sink.file(FileChange(path, FileAction.WOULD_DELETE))
        return _stop(error_class, error)

    def _second_pass(self, argv: list[str], touch: Path, counts: Counts) -> list[str]:
        # Keeping versions on a remote without server-side moves (S3), rclone moves a
        # file aside by a copy and a delete, which --max-delete counts: once for an
        # overwritten file, twice for a deleted one (its delete, then the move's).
        # Nothing is destroyed then, so the bound may count them.
        keeping = keep_seconds(self.params) is not None
        aside = counts.deletes + counts.replaces if keeping else 0
        limits = [counts.deletes + counts.leftovers + aside]
        for option in self.options:
            if flag_name(option) == "--max-delete" and option.partition("=")[2].isdigit():
                limits.append(int(option.partition("=")[2]) + counts.leftovers + aside)
        extra = [f"--max-delete={min(limits)}"]
        if any(flag_name(o) == "--delete-excluded" for o in self.options):
            # rclone then lists the destination unfiltered: a files-from list would make
            # it delete everything else. That sync lists both sides again.
            return argv + extra
        if counts.touched * 2 > counts.source + counts.destination:
            # Most of the listing changes: listing again costs less than rclone's
            # files-from path, which copied 20 x 50 MiB ≈ 10 % slower (bench guard).
            return argv + extra
        # rclone takes a files-from list alone: the preview applied the filters already.
        kept = [a for a in argv if flag_name(a) not in _FILTER_FLAGS]
        return [*kept, *extra, f"--files-from-raw={touch}", "--no-traverse"]

    def _quiet(self, argv: list[str]) -> tuple[int, str]:
        """Run a short rclone command; (exit status, its first error line)."""
        code, _, error = self._listed(argv)
        return code, error


def _empty_local(destination: str) -> bool:
    """Whether `destination` is a local folder holding nothing, or not there at all."""
    where = parse_location(destination)
    if where.remote is not None:
        return False
    try:
        with os.scandir(where.path) as entries:
            return next(entries, None) is None
    except FileNotFoundError:
        return True
    except OSError:
        return False


def _joined(root: str, name: str) -> str:
    if not root:
        return name
    return root + name if root.endswith("/") else f"{root}/{name}"


def _json(line: str) -> dict[str, Any] | None:
    if not line.startswith("{"):
        return None
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def _listing(stats: Mapping[str, Any]) -> Progress:
    def n(key: str) -> int:
        value = stats.get(key)
        return int(value) if isinstance(value, int | float) else 0

    return Progress(checks=n("checks"), total_checks=n("totalChecks"), scanning=True,
                    elapsed_s=float(stats.get("elapsedTime") or 0.0))  # fmt: skip


def _stop(error_class: str, error: str) -> Outcome:
    """A run stopped before any change; a retry would find the same."""
    return Outcome(ok=False, error_class=error_class, error=error, permanent=True)


def _previewed(outcome: Outcome) -> Outcome:
    """A dry run's outcome: nothing counts as transferred, deleted or renamed."""
    s = outcome.stats
    stats = RunStats(checks=s.checks, errors=s.errors, elapsed_s=s.elapsed_s)
    return replace(outcome, stats=stats, dry_run=True)
