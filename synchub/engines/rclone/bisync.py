"""A bisync that stops before rclone can make a mess, and says why when rclone stops.

rclone's bisync treats a root it cannot list, an empty side or a failed access
check as a critical error: it changes nothing, but it locks the job out until a
`--resync`, which copies both ways and brings deleted files back. So before each
real bisync synchub lists the top level of both roots (`rclone lsf --max-depth 1`,
both at once) and stops first, with nothing to recover from once the cause is gone:

- a root missing (`source missing:`) or unreadable (`source unreadable:`);
- on a run that is not a resync, a source holding nothing (its access-check file
  aside) while the destination holds files (`empty source:`), unless this run may
  delete past the guard;
- the access check (bisync's `--check-access`, on unless the job turns it off): the
  check file (`RCLONE_TEST`, or the job's `--check-filename`) at one root but not
  the other (`access check:`). At neither root it is put at both first: the job's
  first run with the check, or a pair whose files were both removed. Then bisync
  runs with `--check-access`, which also compares the check files deeper in the tree.

When bisync itself stops (its delete share, every file changed, its access check,
anything that needs a resync), the run's error says what happened and what to do.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from synchub.core.runs import FileChange
from synchub.core.safety import CHECK_FILE, parse_delete_guard
from synchub.engines.base import Outcome, RunContext, RunSink
from synchub.engines.process import spawn, stream_lines
from synchub.engines.rclone.flags import flag_name
from synchub.engines.rclone.log import RcloneLog

Execute = Callable[[list[str]], Outcome]

#: What bisync logs when it stops, and what each stop is called in a run's error.
_EMPTY = "Empty current Path1 listing"
_TOO_MANY = "too many deletes"
_ALL_CHANGED = "all files were changed"
_ACCESS = "Access test failed"
_RESYNC = "Must run --resync to recover"
_CRITICAL = "Bisync critical error: "
_NEEDLES = (_EMPTY, _TOO_MANY, _ALL_CHANGED, _ACCESS, _RESYNC, _CRITICAL)


@dataclass(frozen=True)
class Root:
    """What one listing of a root's top level found."""

    location: str  #: the root, as rclone reads it
    code: int  #: rclone's exit status: 0 listed, 3 not found
    entries: int = 0  #: top-level files and folders, the check file not counted
    has_check_file: bool = False  #: the access-check file is there
    error: str = ""  #: rclone's first error line, when it failed


def check_access(params: Mapping[str, Any]) -> bool:
    """Whether a bisync job's runs check access (on unless the job turned it off)."""
    options = params.get("options") or []
    return params.get("check_access", True) is not False or "--check-access" in options


def check_file(params: Mapping[str, Any]) -> str:
    """The access-check file's name: the job's --check-filename, or RCLONE_TEST."""
    for option in params.get("options") or []:
        if flag_name(option) == "--check-filename" and "=" in option:
            return str(option).partition("=")[2]
    return CHECK_FILE


class Bisync:
    """One bisync run with synchub's stops around rclone's (see the module)."""

    def __init__(self, ctx: RunContext, env: Mapping[str, str], log: RcloneLog,
                 binary: str, grace_s: float) -> None:  # fmt: skip
        self.ctx, self.env, self.log = ctx, env, log
        self.binary, self.grace_s = binary, grace_s
        self.params = ctx.params
        self.options: list[str] = list(ctx.params.get("options", []))
        self.checked = check_access(self.params)
        self.check_file = check_file(self.params)
        self.dry_run = False
        self.uncreated = False  #: a dry run found no check file where a real run puts one

    def run(self, argv: list[str], execute: Execute, *, dry_run: bool = False) -> Outcome:
        """Run `argv` (the job's bisync) through `execute`, or stop first. A `dry_run`
        (its argv says --dry-run) looks the same way and changes nothing: where a real
        run would create the check files, it says so and skips the check."""
        self.dry_run = dry_run
        stopped = self._look_first()
        if stopped is not None:
            return stopped
        extra = [] if dry_run else self._guard_args()
        if self.checked and not self.uncreated and "--check-access" not in self.options:
            extra.append("--check-access")
        seen = Seen(self.ctx.sink, _NEEDLES)
        self.log.sink = seen
        try:
            outcome = execute(argv + extra)
        finally:
            self.log.sink = self.ctx.sink
        return outcome if outcome.ok else self._explained(outcome, seen.found)

    def _guard_args(self) -> list[str]:
        guard = parse_delete_guard(self.params.get("delete_guard", "50%"))
        if self.ctx.allow_deletes or guard.off:
            return ["--force"]
        if any(flag_name(o) == "--max-delete" for o in self.options):
            return []  # the job set bisync's share itself
        return [f"--max-delete={guard.percent}"]

    # -- before bisync ---------------------------------------------------------------

    def _look_first(self) -> Outcome | None:
        """None when bisync may start; else the stop, nothing changed."""
        source, destination = self.params["source"], self.params["destination"]
        with ThreadPoolExecutor(max_workers=2) as pool:
            one, two = pool.map(self._list_top, (source, destination))
        for root, side in ((one, "source"), (two, "destination")):
            stopped = unusable(root, side)
            if stopped is not None:
                return stopped
        if (not self.ctx.first_run and not self.ctx.allow_deletes
                and one.entries == 0 and two.entries > 0):  # fmt: skip
            return _stop("empty_source", (
                f"empty source: {source} holds nothing while {destination} does; "
                "bisync would stop and need a resync, so it did not start and nothing was "
                "changed (an unmounted drive or a wrong path?). Once the source is back, "
                f"the next run goes on. If it really is meant to be empty, empty "
                f"{destination} too, then: synchub job resync {self.ctx.job_name}"
            ))  # fmt: skip
        if self.checked:
            return self._access_check(one, two)
        return None

    def _access_check(self, one: Root, two: Root) -> Outcome | None:
        name, job = self.check_file, self.ctx.job_name
        if one.has_check_file and two.has_check_file:
            return None
        if not one.has_check_file and not two.has_check_file:
            if self.dry_run:
                self.uncreated = True
                self.ctx.sink.log("info", f"access check: a real run would create {name} at "
                                  f"{one.location} and at {two.location}")  # fmt: skip
                return None
            return self._put_check_files(one, two)
        there, missing = (one, two) if one.has_check_file else (two, one)
        return _stop("access_check", (
            f"access check: {name} is at {there.location} but not at {missing.location}, so "
            f"{missing.location} may not be mounted or may be the wrong place; nothing was "
            f"changed. If both paths are right, put an empty file named {name} at the root "
            f"of {missing.location}, or turn the check off: synchub job edit {job} "
            "--no-check-access"
        ))  # fmt: skip

    def _put_check_files(self, one: Root, two: Root) -> Outcome | None:
        """Put the check file at both roots (neither has it yet): made at the source,
        copied to the destination, so both sides hold the same file (bisync's
        resync fails on two whose times differ)."""
        here, there = (_joined(r.location, self.check_file) for r in (one, two))
        for argv in ([self.binary, "touch", here], [self.binary, "copyto", here, there]):
            code, error = self._quiet(argv)
            if code != 0:
                return Outcome(ok=False, exit_code=code, error_class="access_check", error=(
                    f"access check: cannot create {argv[-1]}: {error or 'rclone failed'}"
                ))  # fmt: skip
        self.ctx.sink.log("info", (
            f"access check: created {self.check_file} at {one.location} and at "
            f"{two.location}; later runs stop if either goes missing (an unmounted drive, "
            "a wrong path)"
        ))  # fmt: skip
        return None

    def _list_top(self, location: str) -> Root:
        return list_top(location, binary=self.binary, env=self.env, stop=self.ctx.stop,
                        grace_s=self.grace_s, redact=self.log.redact,
                        check_file=self.check_file)  # fmt: skip

    def _quiet(self, argv: list[str]) -> tuple[int, str]:
        try:
            proc = spawn(argv, env=dict(self.env))
        except OSError as exc:
            return -1, str(exc)
        errors = [
            self.log.redact(line.strip())
            for stream, line in stream_lines(proc, self.ctx.stop, grace_s=self.grace_s)
            if stream == "stderr" and ("ERROR" in line or "CRITICAL" in line)
        ]
        return int(proc.returncode if proc.returncode is not None else -1), _reason(errors)

    # -- after bisync ----------------------------------------------------------------

    def _explained(self, outcome: Outcome, found: Mapping[str, str]) -> Outcome:
        """A failed bisync's outcome, its error saying what bisync did and what to do."""
        job, source = self.ctx.job_name, self.params["source"]
        resync = f"synchub job resync {job}"
        if found.get(_EMPTY):
            return replace(outcome, error_class="empty_source", permanent=True, error=(
                f"empty source: {source} holds no files; bisync changed nothing and needs a "
                f"resync before it runs again: {resync} (it copies the files back to the "
                "source; nothing is deleted)"
            ))  # fmt: skip
        if found.get(_TOO_MANY):
            return replace(outcome, error_class="delete_guard", permanent=True, error=(
                f"delete guard: {_from(found[_TOO_MANY], _TOO_MANY)}; bisync changed nothing "
                "(its --max-delete share, from the job's delete guard). To let it "
                f"through once: synchub job run {job} --allow-deletes"
            ))  # fmt: skip
        if found.get(_ALL_CHANGED):
            return replace(outcome, error_class="safety_abort", permanent=True, error=(
                f"safety abort: bisync found that {_from(found[_ALL_CHANGED], _ALL_CHANGED)} "
                "(a changed clock or time zone, a restore?) and changed nothing. If that "
                f"is right: synchub job run {job} --allow-deletes (the newer side of each "
                f"file wins), or {resync} (the source's versions win)"
            ))  # fmt: skip
        if found.get(_ACCESS):
            return replace(outcome, error_class="access_check", permanent=True, error=(
                f"access check: bisync found the {self.check_file} files differ between the "
                f"two paths ({found[_ACCESS].partition(': ')[2]}); it changed nothing and "
                "needs a resync. Check that both paths are mounted and right, put the "
                f"missing {self.check_file} files back, then: {resync}"
            ))  # fmt: skip
        if found.get(_RESYNC):
            critical = found.get(_CRITICAL)
            reason = critical.partition(_CRITICAL)[2] if critical else str(outcome.error)
            reason = reason.strip().splitlines()[0].rstrip(". ") if reason.strip() else reason
            return replace(outcome, error_class="needs_resync", permanent=True, error=(
                f"bisync stopped and needs a resync before it runs again: {reason}. Check "
                f"both paths, then: {resync}"
            ))  # fmt: skip
        return outcome


def list_top(location: str, *, binary: str, env: Mapping[str, str], stop: threading.Event,
             grace_s: float, redact: Callable[[str], str], check_file: str = CHECK_FILE
             ) -> Root:  # fmt: skip
    """List the top level of `location` (`rclone lsf --max-depth 1`), one line at a time."""
    try:
        proc = spawn([binary, "lsf", "--max-depth", "1", location], env=dict(env))
    except OSError as exc:
        return Root(location, -1, error=str(exc))
    entries, found, errors = 0, False, []
    for stream, line in stream_lines(proc, stop, grace_s=grace_s):
        if stream == "stdout":
            found = found or line == check_file
            entries += bool(line) and line != check_file
        elif "ERROR" in line or "CRITICAL" in line:
            errors.append(redact(line.strip()))
    code = int(proc.returncode if proc.returncode is not None else -1)
    return Root(location, code, entries, found, _reason(errors))


def unusable(root: Root, side: str) -> Outcome | None:
    """The stop for a root (the job's `side`) that is not there or cannot be listed;
    None when it listed."""
    if root.code == 0:
        return None
    if root.code == 3:
        return _stop(f"{side}_missing", (
            f"{side} missing: {root.location} was not found (not mounted, removed or "
            "mistyped?); nothing was changed"
        ))  # fmt: skip
    why = root.error or f"rclone exited with code {root.code}"
    unreadable = (
        f"{side} unreadable: {root.location} could not be listed ({why}); nothing was changed"
    )
    # rclone's exit 6 is an error it would not retry (permission denied): a retry
    # would find the same. Anything else (a server down) may pass later.
    return Outcome(ok=False, exit_code=root.code, error_class=f"{side}_unreadable",
                   error=unreadable, permanent=root.code == 6)  # fmt: skip


def _from(message: str, needle: str) -> str:
    """`message` from `needle` to the end of its sentence."""
    return message[message.index(needle) :].partition(". ")[0]


def _reason(errors: list[str]) -> str:
    """The gist of rclone's first error line (its text log: `date time LEVEL : text`)."""
    if not errors:
        return ""
    return errors[0].partition(" : ")[2] or errors[0]


def _joined(root: str, name: str) -> str:
    if not root or root.endswith((":", "/")):
        return root + name
    return f"{root}/{name}"


def _stop(error_class: str, error: str) -> Outcome:
    """A run stopped before any change; a retry would find the same."""
    return Outcome(ok=False, error_class=error_class, error=error, permanent=True)


class Seen:
    """A sink passing everything on, noting the first log message holding each of
    `needles`."""

    def __init__(self, sink: RunSink, needles: tuple[str, ...]) -> None:
        self.sink = sink
        self.needles = needles
        self.found: dict[str, str] = {}

    def log(self, level: str, message: str, fields: Mapping[str, Any] | None = None) -> None:
        for needle in self.needles:
            if needle in message and needle not in self.found:
                self.found[needle] = message
        self.sink.log(level, message, fields)

    def progress(self, snapshot: Any) -> None:
        self.sink.progress(snapshot)

    def file(self, change: FileChange) -> None:
        self.sink.file(change)
