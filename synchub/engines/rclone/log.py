"""rclone's JSON log, parsed live: the run's log lines, its file changes, its
progress and its final figures."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from synchub.core.redact import redact, secret_list
from synchub.core.runs import FileAction, FileChange, Progress, RunStats
from synchub.engines.base import RunSink
from synchub.engines.rclone.params import TEMPORARY

_TEXT_LOG = re.compile(r"\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} ([A-Z]+)\s*: (.*)")
_ERROR_LEVELS = frozenset({"error", "critical", "alert", "emergency"})
_DRY_RUN_ACTIONS = {
    "copy": FileAction.WOULD_COPY,
    "delete": FileAction.WOULD_DELETE,
    "move": FileAction.WOULD_MOVE,
}
_LOG_FIELDS_SKIPPED = frozenset({"time", "level", "msg", "stats"})
#: Names bisync logs its whole-run checks under, where other lines name a file: a stop
#: of the run (its error says so), not a file that failed.
_RUN_CHECKS = frozenset({"Safety abort", "--check-access"})
#: Characters a JSON log writes as they are (no escape): a secret made of these alone
#: is in a line's text whenever it is in one of the line's values.
_VERBATIM_IN_JSON = frozenset(map(chr, range(0x20, 0x7F))) - set('"\\<>&')
#: rclone's words when it cannot list a side's top folder (march.go)
_ROOT_ERROR = re.compile(r"error reading (source|destination) root directory: (.+)", re.S)


def _int(stats: Mapping[str, Any], key: str) -> int:
    value = stats.get(key)
    return int(value) if isinstance(value, int | float) else 0


def _float(stats: Mapping[str, Any], key: str) -> float:
    value = stats.get(key)
    return float(value) if isinstance(value, int | float) else 0.0


def _in_flight(stats: Mapping[str, Any]) -> tuple[dict[str, object], ...]:
    keep = ("name", "size", "bytes", "percentage", "speed", "eta")
    items = stats.get("transferring") or []
    return tuple({k: t.get(k) for k in keep} for t in items if isinstance(t, dict))


def file_change(obj: Mapping[str, Any]) -> FileChange | None:
    """The change-report row a JSON log line stands for, if any.

    - "Copied (new)", "Copied (Rcat, new)", "Multi-thread Copied (new)",
      "Copied (server-side copy)" -> COPIED; "... (replaced existing)" -> REPLACED.
    - "Moved (server-side)" -> MOVED; "Moved (server-side) to: NEW" (from
      --track-renames) -> MOVED at NEW. Its companion "Renamed from ..." is skipped.
    - "Deleted" -> DELETED (for move: a source file already at the destination).
    - "Server side directory move succeeded" (a move into a new directory on
      the same remote renames the whole tree at once) -> one MOVED row for ".".
    - A --dry-run "Skipped copy/delete/move as --dry-run is set" line -> the
      change it previews (WOULD_COPY, WOULD_DELETE, WOULD_MOVE): nothing changed.
    - An error-level line about an object (not a whole remote, nor one of bisync's
      whole-run checks such as its "Safety abort") -> FAILED, at the file's own name
      when rclone names its temporary file (`real_name`).
    """
    path, kind = obj.get("object"), obj.get("objectType", "")
    msg, level = str(obj.get("msg", "")), str(obj.get("level", ""))
    if msg == "Server side directory move succeeded":
        return FileChange(".", FileAction.MOVED)
    if not isinstance(path, str) or not path or str(kind).endswith("Fs"):
        return None
    if kind == "string" and path in _RUN_CHECKS:
        return None
    size = obj.get("size") if isinstance(obj.get("size"), int) else None
    if level in _ERROR_LEVELS:
        return FileChange(real_name(path), FileAction.FAILED, size, error=msg)
    action: FileAction | None = None
    if isinstance(obj.get("skipped"), str):
        action = _DRY_RUN_ACTIONS.get(obj["skipped"])
    elif msg.startswith(("Copied (", "Multi-thread Copied (")):
        replaced = "replaced existing" in msg.partition(")")[0]
        action = FileAction.REPLACED if replaced else FileAction.COPIED
    elif msg.startswith("Moved (server-side)"):
        action = FileAction.MOVED
    elif msg == "Deleted":
        action = FileAction.DELETED
    if action is None:
        return None
    _, to, new_path = msg.partition(" to: ")
    return FileChange(new_path if to and new_path else path, action, size)


def real_name(path: str) -> str:
    """The file `path` stands for: NAME for rclone's temporary NAME.<8 hex>.partial
    (a failed copy is reported under the temporary name it was being written to)."""
    return TEMPORARY.sub("", path) or path


class RcloneLog:
    """Turns rclone's stderr into sink calls, and remembers what the outcome needs.

    JSON lines with "stats" become progress snapshots (not log lines); other
    JSON lines become log lines ("object: msg", as rclone's text log reads)
    and, when they report a file, change-report rows. Other text is logged
    as-is, except rclone's usage text after a bad argument. Known secret
    values are replaced by "***" before anything reaches the sink.
    """

    def __init__(
        self,
        sink: RunSink,
        *,
        secrets: Iterable[str] = (),
        sides: Mapping[str, str] | None = None,
    ) -> None:
        self.sink = sink
        self.secrets = secret_list(secrets)
        #: every secret would appear as written in a JSON line holding it: a line
        #: without any of them needs no look at its values
        self._verbatim = all(set(secret) <= _VERBATIM_IN_JSON for secret in self.secrets)
        #: the job's own words for "source" and "destination", to name them in errors
        self.sides = dict(sides or {})
        self.last_stats: dict[str, Any] | None = None
        self.summary: str | None = None  #: rclone's closing "Failed to sync: ..." line
        self.last_error: str | None = None  #: the latest error-level message
        #: the first error about one side's top folder: (side, cause)
        self.side_error: tuple[str, str] | None = None
        self._usage = False
        self._failed: set[tuple[str, str | None]] = set()
        self._last_progress: Progress | None = None
        #: a run keeping versions: the folder (remote:path) they go to (see `_kept`)
        self.kept_in: str | None = None
        #: files moved into `kept_in` whose delete or replacement is not logged yet
        self._moved_aside: set[str] = set()
        #: server-side copies not reported yet: the first half of a move aside, on a
        #: remote that moves by copy and delete, unless no "Deleted" follows
        self._copied: dict[str, FileChange] = {}

    def feed(self, stream: str, line: str) -> None:
        """Handle one line from rclone's `stream` ("stdout" or "stderr")."""
        if stream == "stderr" and line.startswith("{"):
            try:
                obj = json.loads(line)
            except ValueError:
                obj = None
            if isinstance(obj, dict) and "msg" in obj:
                self._json(obj, self._may_hold_secrets(line))
                return
        self._text(line)

    def finish(self) -> None:
        """Call once rclone has exited: the totals are final, scanning is over."""
        for path in sorted(self._moved_aside):  # moved aside, then its copy failed
            self.sink.file(FileChange(path, FileAction.MOVED, kept_at=self._kept_at(path)))
        for change in self._copied.values():  # copies from the source, after all
            self.sink.file(change)
        self._moved_aside.clear()
        self._copied.clear()
        last = self._last_progress
        if last is not None and last.scanning:
            self._last_progress = Progress(**{**_fields(last), "scanning": False})
            self.sink.progress(self._last_progress)

    def redact(self, text: str) -> str:
        return redact(text, self.secrets)

    def _may_hold_secrets(self, line: str) -> bool:
        if not self.secrets:
            return False
        return not self._verbatim or any(secret in line for secret in self.secrets)

    def _json(self, obj: dict[str, Any], secrets: bool) -> None:
        stats = obj.get("stats")
        if isinstance(stats, dict):
            self._progress(stats)
            return
        if secrets:
            obj = {key: self._clean(value) for key, value in obj.items()}
        level, msg = str(obj.get("level", "info")), str(obj["msg"])
        change = file_change(obj)
        if self.kept_in is not None:
            change = self._kept(obj, change)
        if change is not None and self._is_new(change):
            self.sink.file(change)
        fields = {k: v for k, v in obj.items() if k not in _LOG_FIELDS_SKIPPED}
        where = obj.get("object")
        text = f"{where}: {msg}" if where else msg
        self.sink.log(level, text, fields)
        if level in _ERROR_LEVELS:
            self.last_error = text
            side = _ROOT_ERROR.fullmatch(msg)
            if side is not None and self.side_error is None:
                self.side_error = (side[1], side[2])
        if msg.startswith("Failed to ") and str(obj.get("source", "")).startswith("cmd/"):
            self.summary = msg

    def _kept(self, obj: Mapping[str, Any], change: FileChange | None) -> FileChange | None:
        """The row of a line from a run keeping versions (rclone's --backup-dir), which
        logs no "replaced existing": a deleted file is moved aside, then "Moved into
        backup dir"; an overwritten one is moved aside, then "Copied (new)". A move
        aside is "Moved (server-side)", or "Copied (server-side copy)" then "Deleted"
        on remotes without server-side moves (S3). Such a run renames nothing else
        (sync and copy only, so a plain "Moved (server-side)" is always a move aside)."""
        path, msg = obj.get("object"), str(obj.get("msg", ""))
        if not isinstance(path, str) or not path:
            return change
        if msg == "Moved (server-side)" or (msg == "Deleted" and path in self._copied):
            self._copied.pop(path, None)
            self._moved_aside.add(path)
            return None
        if msg == "Copied (server-side copy)" and path not in self._moved_aside and change:
            self._copied[path] = change  # a move aside if "Deleted" follows
            return None
        if msg == "Moved into backup dir":
            self._moved_aside.discard(path)
            return FileChange(path, FileAction.DELETED, kept_at=self._kept_at(path))
        if change is not None and change.action is FileAction.COPIED and path in self._moved_aside:
            self._moved_aside.discard(path)
            return replace(change, action=FileAction.REPLACED, kept_at=self._kept_at(path))
        return change

    def _kept_at(self, path: str) -> str:
        return f"{self.kept_in}/{path}"

    def _is_new(self, change: FileChange) -> bool:
        # rclone retries a whole failed sync (--retries), repeating its errors.
        if change.action is not FileAction.FAILED:
            return True
        key = (change.path, change.error)
        if key in self._failed:
            return False
        self._failed.add(key)
        return True

    def _clean(self, value: Any) -> Any:
        return self.redact(value) if isinstance(value, str) else value

    def _text(self, line: str) -> None:
        if line.strip() == "Usage:":
            self._usage = True  # the rest is rclone's help text: noise in a run log
        if self._usage or not line.strip():
            return
        text = self.redact(line)
        level, match = "info", _TEXT_LOG.fullmatch(text)
        if match:  # a line logged before rclone switched to JSON
            level, text = match[1].lower(), match[2]
        elif text.startswith(("Error:", "panic:", "fatal error:")):
            level = "error"
        self.sink.log(level, text, None)
        if level in _ERROR_LEVELS:
            self.last_error = text

    def _progress(self, stats: dict[str, Any]) -> None:
        # Scanning rule: rclone lists and checks while it transfers, so its
        # totals keep growing until the listing is complete. A snapshot is
        # "scanning" when the number of listed entries or any total grew since
        # the previous one (the first snapshot: when anything was listed yet).
        previous = self.last_stats or {}
        grew = any(
            _int(stats, k) > _int(previous, k)
            for k in ("listed", "totalChecks", "totalTransfers", "totalBytes")
        )
        self.last_stats = stats
        eta = stats.get("eta")
        self._last_progress = Progress(
            bytes=_int(stats, "bytes"),
            total_bytes=_int(stats, "totalBytes"),
            transfers=_int(stats, "transfers"),
            total_transfers=_int(stats, "totalTransfers"),
            checks=_int(stats, "checks"),
            total_checks=_int(stats, "totalChecks"),
            deletes=_int(stats, "deletes"),
            renames=_int(stats, "renames") + _int(stats, "serverSideMoves"),
            errors=_int(stats, "errors"),
            speed_bps=_float(stats, "speed"),
            eta_s=float(eta) if isinstance(eta, int | float) else None,
            elapsed_s=_float(stats, "elapsedTime"),
            scanning=grew,
            transferring=tuple({**t, "name": self._clean(t["name"])} for t in _in_flight(stats)),
        )
        self.sink.progress(self._last_progress)

    def run_stats(self, elapsed_s: float) -> RunStats:
        """Final figures from the last stats line; `elapsed_s` when rclone gave none."""
        stats = self.last_stats
        if stats is None:
            return RunStats(elapsed_s=elapsed_s)
        elapsed = _float(stats, "elapsedTime") or elapsed_s
        done = _int(stats, "bytes")
        return RunStats(
            bytes=done,
            files=_int(stats, "transfers"),
            checks=_int(stats, "checks"),
            deletes=_int(stats, "deletes"),
            renames=_int(stats, "renames") + _int(stats, "serverSideMoves"),
            errors=_int(stats, "errors"),
            elapsed_s=elapsed,
            speed_bps=done / elapsed if elapsed > 0 else 0.0,
        )


def _fields(progress: Progress) -> dict[str, Any]:
    return {name: getattr(progress, name) for name in progress.__dataclass_fields__}


def message_of(line: str) -> str:
    """The message of an rclone stderr line, JSON or text; "" for non-errors."""
    try:
        obj = json.loads(line)
    except ValueError:
        match = _TEXT_LOG.fullmatch(line)
        if match:
            return match[2] if match[1] in ("ERROR", "CRITICAL") else ""
        return line if line.startswith("Error:") else ""
    if isinstance(obj, dict) and str(obj.get("level")) in _ERROR_LEVELS:
        return str(obj.get("msg", ""))
    return ""
