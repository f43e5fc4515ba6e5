"""The rclone engine: one rclone process per run, its JSON log parsed live.

A run is `rclone <op> SRC DST --filter=... <options> -v --use-json-log
--stats 1s ...`. Remotes reach rclone only through its environment, as
`RCLONE_CONFIG_<NAME>_<OPTION>` variables (password options obscured), with
`RCLONE_CONFIG=""` so that no config file is read or written: secrets are
never in an argv, never in a file, and never in the run's log.

rclone's environment names: the remote name is upper-cased as it is, so
"my-nas.home" becomes `RCLONE_CONFIG_MY-NAS.HOME_TYPE` (legal in an
environment, though no shell can set it); in option names "-" becomes "_".
Two remotes whose names differ only in case would share variables, so a
run using both is refused.
"""

from __future__ import annotations

import functools
import json
import os
import posixpath
import re
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from synchub.core.errors import (
    EngineError,
    InvalidInput,
    InvalidOption,
    InvalidPath,
    InvalidRemote,
    Problems,
    blame,
)
from synchub.core.redact import redact, secret_list
from synchub.core.runs import FileAction, FileChange, Progress, RunStats
from synchub.engines import rclone_flags, rclone_window
from synchub.engines.base import Outcome, RemoteConfig, RunContext, RunSink
from synchub.engines.obscure import obscure
from synchub.engines.process import exec_size_problem, minimal_env, spawn, stream_lines
from synchub.engines.rclone_backends import (
    backend,
    password_options,
    rclone_binary,
    referenced_remotes,
    secret_options,
)

OPS = ("sync", "copy", "move", "check", "bisync")
#: rclone's temporary name for a file it is copying: NAME.<8 hex>.partial, renamed to
#: NAME once complete (synchub allows no --partial-suffix of another form).
TEMPORARY = re.compile(r"\.[0-9a-f]{8}\.partial$")
PARAMS = frozenset(
    {"op", "source", "destination", "filters", "options", "delete_guard", "require_marker",
     "check_access", "keep_deleted"}
)  # fmt: skip

#: What synchub adds to every run: JSON log lines on stderr, stats every second.
LOG_ARGS = (
    "-v",
    "--use-json-log",
    "--stats",
    "1s",
    "--stats-log-level",
    "NOTICE",
    "--color",
    "NEVER",
)


# --- parameters -------------------------------------------------------------

_BAD_CHARS = ("\0", "\n", "\r")
#: The longest source or destination: Linux's PATH_MAX, with room for the remote's name.
MAX_PATH_BYTES = 4096
#: The longest filter rule: a pattern is a path at most, give or take its wildcards.
MAX_RULE_BYTES = 4096
_FILTER = re.compile(r"(\+|-|include|exclude)\s+(\S.*)", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class Location:
    """A source or destination: a remote and a path on it, or a local path."""

    remote: str | None  #: the remote's name; None for a local path
    path: str  #: the path on the remote, or the absolute local path

    def __str__(self) -> str:
        return self.path if self.remote is None else f"{self.remote}:{self.path}"

    def key(self) -> tuple[str | None, str]:
        """What two locations must share to be the same place."""
        return self.remote, posixpath.normpath(self.path or ".")


def parse_location(text: str) -> Location:
    """`remote:path` or an absolute local path; InvalidPath for anything else.

    Local paths start with "/" (rclone reads "/a:b" as local too, since the
    part before ":" holds a "/"). On-the-fly remotes (":s3,...:") and
    per-path overrides ("name,opt=x:") are refused: remotes are defined in
    synchub, with their secrets.
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidPath("A path must not be empty")
    if len(text.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        raise InvalidPath(f"Bad path: it is longer than {MAX_PATH_BYTES} bytes")
    if any(c in text for c in _BAD_CHARS):
        raise InvalidPath(f"Bad path {text!r}: it must not contain NUL or line breaks")
    if text.startswith("/"):
        return Location(None, posixpath.normpath(text))
    name, sep, path = text.partition(":")
    if not sep:
        raise InvalidPath(f"Bad path {text!r}: use remote:path or an absolute local path")
    if not name or "," in name:
        raise InvalidPath(f"Bad path {text!r}: name a remote defined in synchub, as remote:path")
    return Location(name, path)


def one_file(params: Mapping[str, Any], path: str) -> dict[str, Any]:
    """The parameters of a run that sends one file of a copy/move job: `rclone copyto`
    (or moveto) from SOURCE/path to DESTINATION/path, its filters dropped (they
    chose the file already)."""
    op = params.get("op", "sync")
    if op not in ("copy", "sync", "move"):
        raise InvalidInput(f"A {op} job cannot send one file alone")
    if not path or path.startswith("/") or ".." in path.split("/"):
        raise InvalidPath(f"Bad file path {path!r}: it must be relative to the source")

    def joined(location: str) -> str:
        place = parse_location(location)
        return str(Location(place.remote, posixpath.join(place.path, path)))

    return {
        **params,
        "op": "moveto" if op == "move" else "copyto",
        "source": joined(params["source"]),
        "destination": joined(params["destination"]),
        "filters": [],
    }


def _location(value: Any, what: str, known_remotes: frozenset[str]) -> Location:
    if not isinstance(value, str):
        raise InvalidPath(f"The {what} must be a string: remote:path or an absolute local path")
    location = parse_location(value)
    if location.remote is not None and location.remote not in known_remotes:
        raise InvalidPath(f"unknown remote {location.remote!r} in {value!r}")
    return location


def normalize_filter(rule: str) -> str:
    """One filter rule in rclone's `--filter` form: "+ PATTERN", "- PATTERN" or "!".

    Accepts "include PATTERN" and "exclude PATTERN" too. Only the shape is
    checked here; `check_filters` asks rclone about the patterns.
    """
    if isinstance(rule, str) and len(rule.encode("utf-8", "surrogatepass")) > MAX_RULE_BYTES:
        raise InvalidOption(f"Bad filter: a rule may be at most {MAX_RULE_BYTES} bytes long")
    if not isinstance(rule, str) or any(c in rule for c in _BAD_CHARS):
        raise InvalidOption(f"Bad filter {rule!r}: one line of text, like '- *.tmp'")
    text = rule.strip()
    if text == "!":
        return text  # rclone's "clear the rules so far"
    match = _FILTER.fullmatch(text)
    if not match:
        raise InvalidOption(
            f"Bad filter {rule!r}: use '+ PATTERN' or '- PATTERN' (or include/exclude PATTERN)"
        )
    sign = {"include": "+", "exclude": "-"}.get(match[1].lower(), match[1])
    return f"{sign} {match[2].strip()}"


@functools.lru_cache(maxsize=256)
def _rclone_filter_error(binary: str, rules: tuple[str, ...]) -> str | None:
    with tempfile.TemporaryDirectory(prefix="synchub-filter-") as empty:
        argv = [binary, "lsf", *(f"--filter={r}" for r in rules), empty]
        try:
            done = subprocess.run(
                argv,
                env=minimal_env({"RCLONE_CONFIG": ""}),
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise EngineError(f"cannot run rclone to check the filters: {exc}") from exc
    if done.returncode == 0:
        return None
    text = done.stderr.strip().splitlines()[0] if done.stderr.strip() else "rejected by rclone"
    # e.g. '... CRITICAL: Failed to initialise global options: failed to reload
    # "filter" options: mismatched '{' and '}' in glob "{a,b"'
    return text.rpartition(" options: ")[2]


def check_filters(rules: list[str], binary: str | None = None) -> None:
    """Raise InvalidOption with rclone's reason when rclone refuses `rules`."""
    if not rules:
        return
    error = _rclone_filter_error(binary or rclone_binary(), tuple(rules))
    if error is not None:
        raise InvalidOption(f"Bad filter: {error}")


def _string_list(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"The {what} must be a list of strings")
    return value


# --- the log ----------------------------------------------------------------

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
                self._json(obj)
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

    def _json(self, obj: dict[str, Any]) -> None:
        stats = obj.get("stats")
        if isinstance(stats, dict):
            self._progress(stats)
            return
        if self.secrets:
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


# --- exit codes ---------------------------------------------------------------


@dataclass(frozen=True)
class ExitClass:
    error_class: str  #: Outcome.error_class
    permanent: bool  #: a retry cannot help
    meaning: str  #: for people, when rclone said nothing better


#: rclone's documented exit codes. 0 is success; unknown codes are "error".
EXIT_CODES: dict[int, ExitClass] = {
    1: ExitClass("error", False, "rclone failed"),
    2: ExitClass("usage", True, "rclone refused its arguments"),
    3: ExitClass("not_found", True, "directory not found"),
    4: ExitClass("not_found", True, "file not found"),
    5: ExitClass("temporary", False, "temporary error; a retry may succeed"),
    # "Less serious" errors rclone would not retry at once; a later attempt may pass.
    6: ExitClass("error", False, "some files failed"),
    7: ExitClass("fatal", True, "fatal error; retrying will not help"),
    # The limit the user set was reached: retrying at once would defeat it.
    8: ExitClass("transfer_limit", True, "the --max-transfer limit was reached"),
    # Only with --error-on-no-transfer, which users add to be told: so a failure,
    # and a retry would find nothing new either.
    9: ExitClass("no_transfer", True, "no files were transferred (--error-on-no-transfer)"),
    10: ExitClass("duration_limit", False, "the --max-duration limit was reached"),
}
#: Exit 10 when synchub set --max-duration from the job's timeout.
TIMED_OUT = ExitClass("timed_out", False, "the job's timeout passed; rclone stopped")
_TERM_CODES = frozenset({143, -15, -9, 137})  # what SIGTERM / SIGKILL leave behind


def outcome_for(
    code: int, log: RcloneLog, stats: RunStats, *, stopped: bool, timeout_set: bool
) -> Outcome:
    """The Outcome of an rclone process that ended with `code`.

    `stopped`: synchub asked it to stop (cancel, timeout, shutdown); the
    runner decides which state that is. `timeout_set`: synchub passed
    --max-duration from the job's timeout, so exit 10 means timed out.
    """
    if code == 0:
        return Outcome(ok=True, exit_code=0, stats=stats)
    if stopped and code in _TERM_CODES:
        return Outcome(
            ok=False, exit_code=code, error_class="stopped", error="rclone was stopped", stats=stats
        )
    if code < 0 or code in _TERM_CODES:
        klass = ExitClass("killed", False, f"rclone was killed (exit status {code})")
    elif code == 10 and timeout_set:
        klass = TIMED_OUT
    else:
        klass = EXIT_CODES.get(code, ExitClass("error", False, f"rclone exited with code {code}"))
    detail = _side_named(log) or log.summary or log.last_error
    return Outcome(
        ok=False,
        exit_code=code,
        error_class=klass.error_class,
        error=detail or klass.meaning,
        permanent=klass.permanent,
        stats=stats,
    )


def _side_named(log: RcloneLog) -> str | None:
    """ "source not found: /srv/photos (Failed to copy: directory not found)": rclone's
    closing line says what failed, never which side; its earlier line does."""
    if log.side_error is None:
        return None
    side, cause = log.side_error
    where = log.sides.get(side, "")
    if cause == "directory not found":
        text = f"{side} not found: {where}" if where else f"{side} not found"
    else:
        text = f"cannot read the {side}{' ' + where if where else ''}: {cause}"
    return f"{text} ({log.summary})" if log.summary else text


# --- environment ---------------------------------------------------------------

_OPTION_KEY = re.compile(r"[A-Za-z0-9_-]+")


def remote_env(remotes: Mapping[str, RemoteConfig]) -> dict[str, str]:
    """RCLONE_CONFIG_* variables defining `remotes`, password options obscured.

    Raises EngineError(permanent=True) for names that clash once upper-cased,
    option names that cannot be variable names, or NUL in a value.
    """
    env: dict[str, str] = {}
    owners: dict[str, str] = {}
    for name, remote in remotes.items():
        prefix = f"RCLONE_CONFIG_{name.upper()}_"
        if prefix in owners:
            raise EngineError(
                f"remotes {owners[prefix]!r} and {name!r} differ only in case; "
                "rclone cannot tell them apart in one run",
                permanent=True,
            )
        owners[prefix] = name
        try:
            passwords = password_options(remote.type)
        except InvalidRemote as exc:
            raise EngineError(f"remote {name!r}: {exc}", permanent=True) from None
        env[prefix + "TYPE"] = remote.type
        for key, value in remote.options.items():
            if not _OPTION_KEY.fullmatch(key) or "\0" in value:
                raise EngineError(f"remote {name!r}: bad option {key!r}", permanent=True)
            env[prefix + key.upper().replace("-", "_")] = (
                obscure(value) if key in passwords else value
            )
    _check_no_stray_options(remotes, env)
    return env


def _check_no_stray_options(remotes: Mapping[str, RemoteConfig], env: Mapping[str, str]) -> None:
    """Refuse variables of one remote that rclone would read as options of another.

    rclone reads option OPT of remote NAME from RCLONE_CONFIG_NAME_OPT, so a remote
    named "az_env" with option `auth` (swift) would turn on `env_auth` of a remote
    "az" (azureblob) in the same run. Raises EngineError(permanent=True).
    """
    for name, remote in remotes.items():
        prefix = f"RCLONE_CONFIG_{name.upper()}_"
        own = {prefix + "TYPE"} | {prefix + k.upper().replace("-", "_") for k in remote.options}
        for option in sorted(backend(remote.type).option_names()):
            key = prefix + option.upper()
            if key in env and key not in own:
                raise EngineError(
                    f"remote {name!r} would get option {option!r} from another remote of "
                    "this run, whose name starts with its own: rename one of them",
                    permanent=True,
                )


def secret_values(
    remotes: Mapping[str, RemoteConfig], env: Mapping[str, str] | None = None
) -> list[str]:
    """Every secret a log line could leak: the plain values of the remotes' secret
    options (every option of a type this rclone does not know) and, given the
    environment handed to rclone, their obscured forms there."""
    values: list[str] = []
    for name, remote in remotes.items():
        try:
            secret_keys = secret_options(remote.type)
        except InvalidRemote:
            secret_keys = frozenset(remote.options)  # unknown type: treat all as secret
        for key in secret_keys & remote.options.keys():
            values.append(remote.options[key])
            env_key = f"RCLONE_CONFIG_{name.upper()}_{key.upper().replace('-', '_')}"
            values.append((env or {}).get(env_key, ""))
    return values


#: Where command jobs are off, the AWS SDK in rclone reads no AWS config files: they
#: can name a `credential_process` to run, and the server user's home, where they
#: live, is writable by jobs. Keys in the remote, or an instance role, still work.
NO_AWS_FILES = {"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}


def rclone_env(
    remotes: Mapping[str, RemoteConfig], *, allow_programs: bool = False
) -> dict[str, str]:
    """The whole environment of an rclone child: minimal, no config file, `remotes`;
    without `allow_programs` (SYNCHUB_ALLOW_COMMAND_JOBS), no AWS config file either."""
    files = {} if allow_programs else NO_AWS_FILES
    return minimal_env({"RCLONE_CONFIG": "", **files, **remote_env(remotes)})


# --- the engine ------------------------------------------------------------------


class RcloneEngine:
    """Engine for `rclone` jobs: sync, copy, move, check and bisync."""

    kind = "rclone"
    starts_programs = False  #: rclone only; remotes that would start one are refused

    def __init__(
        self,
        binary: str | None = None,
        *,
        kill_grace: float = 5.0,
        allow_programs: bool = False,
        bwlimit: str = "",
    ) -> None:
        self._binary = binary
        #: SYNCHUB_BWLIMIT: --bwlimit of runs whose job sets none (checked by Settings)
        self.bwlimit = bwlimit
        self.kill_grace = kill_grace  #: seconds between SIGTERM and SIGKILL on stop
        #: SYNCHUB_ALLOW_COMMAND_JOBS: rclone may read the AWS files (see rclone_env)
        self.allow_programs = allow_programs

    @property
    def binary(self) -> str:
        return self._binary or rclone_binary()

    def validate(self, params: Mapping[str, Any], known_remotes: frozenset[str]) -> dict[str, Any]:
        """Normalised parameters; InvalidInput (or a subclass) naming what is wrong.

        Keys: op (sync|copy|move|check|bisync, default sync), source and
        destination (remote:path with a known remote, or an absolute local
        path; not the same place), filters ("+ PAT"/"- PAT", checked by
        rclone), options (from rclone_flags' allow-list), and the safety
        settings of rclone_safety.validate. The result validates again unchanged.
        """
        unknown = sorted(set(params) - PARAMS)
        if unknown:
            raise InvalidInput(
                f"Unknown parameter {unknown[0]!r} for an rclone job; "
                f"known: {', '.join(sorted(PARAMS))}"
            )
        # Each input is checked on its own, so a form can show every problem by its field.
        problems = Problems()
        op = params.get("op", "sync")
        with problems.about("op"):
            if op not in OPS:
                raise InvalidInput(f"Bad op {op!r}: use one of {', '.join(OPS)}")
        source = destination = None
        with problems.about("source"):
            source = _location(params.get("source"), "source", known_remotes)
        with problems.about("destination"):
            destination = _location(params.get("destination"), "destination", known_remotes)
            if source is not None and source.key() == destination.key():
                raise InvalidPath(f"The source and the destination are the same: {source}")
        filters: list[str] = []
        with problems.about("filters"):
            filters = [normalize_filter(r) for r in _string_list(params.get("filters"), "filters")]
        options: list[str] = []
        with problems.about("options"):
            options = rclone_flags.normalize_options(
                _string_list(params.get("options"), "options"), op
            )
        from synchub.engines import rclone_safety  # it builds on this module

        safety: dict[str, Any] = {}
        with problems.about("delete_guard"):
            safety = rclone_safety.validate({**params, "options": options}, op)
        problems.raise_any()
        assert source is not None and destination is not None
        pieces = [str(source), str(destination), *(f"--filter={f}" for f in filters), *options]
        problem = exec_size_problem(pieces, "the paths, filters and options")
        if problem is not None:
            raise InvalidOption(f"Too much for rclone's command line: {problem}", field="options")
        with blame("filters"):
            check_filters(filters, self.binary)
        return {
            "op": op,
            "source": str(source),
            "destination": str(destination),
            "filters": filters,
            "options": options,
            **safety,
        }

    def remotes_used(self, params: Mapping[str, Any]) -> frozenset[str]:
        """Remote names in the source and destination (wrapped remotes not included)."""
        names = set()
        for key in ("source", "destination"):
            value = params.get(key)
            if isinstance(value, str):
                try:
                    remote = parse_location(value).remote
                except InvalidPath:
                    continue
                if remote is not None:
                    names.add(remote)
        return frozenset(names)

    def argv(
        self,
        params: Mapping[str, Any],
        *,
        first_run: bool,
        timeout_s: int | None = None,
        window_s: int | None = None,
    ) -> list[str]:
        """The rclone command line of a run with validated `params`."""
        op = params.get("op", "sync")
        options = list(params.get("options", []))
        argv = [self.binary, op, params["source"], params["destination"]]
        argv += [f"--filter={rule}" for rule in params.get("filters", [])]
        argv += options
        if self.bwlimit and not any(o.startswith("--bwlimit=") for o in options):
            argv.append(f"--bwlimit={self.bwlimit}")
        argv += LOG_ARGS
        if op == "bisync" and first_run:
            argv.append("--resync")  # bisync refuses to start without listings
        max_duration = _max_duration(op, options, timeout_s)
        closing = rclone_window.closes_first(op, options, max_duration, window_s)
        if closing is not None:
            argv += rclone_window.args(options, closing)
        elif max_duration is not None:
            argv.append(f"--max-duration={max_duration}s")
        return argv

    def run(self, ctx: RunContext) -> Outcome:
        """Run rclone to its end, or until `ctx.stop` (then within `kill_grace`)."""
        if ctx.stop.is_set():
            return Outcome(ok=False, error_class="stopped", error="stopped before it started")
        try:
            env = rclone_env(ctx.remotes, allow_programs=self.allow_programs)
        except EngineError as exc:
            return Outcome(ok=False, error_class="config", error=str(exc), permanent=True)
        _warn_missing_references(ctx)
        log = RcloneLog(
            ctx.sink,
            secrets=secret_values(ctx.remotes, env),
            sides={k: ctx.params[k] for k in ("source", "destination") if k in ctx.params},
        )
        argv = self.argv(
            ctx.params, first_run=ctx.first_run, timeout_s=ctx.timeout_s, window_s=ctx.window_s
        )
        op, options = ctx.params.get("op", "sync"), list(ctx.params.get("options", []))
        timeout_at = _max_duration(op, options, ctx.timeout_s)
        closing = rclone_window.closes_first(op, options, timeout_at, ctx.window_s)
        timeout_set = closing is None and timeout_at is not None
        from synchub.engines.rclone_safety import SafeRun  # it builds on this module

        safe = SafeRun(ctx, env, log, self.binary, self.kill_grace)
        if closing is None:
            return safe.run(argv, lambda args: self._execute(args, env, log, ctx, timeout_set))
        closes = rclone_window.deadline(closing)
        return rclone_window.closed(
            safe.run(
                argv,
                lambda args: self._execute(rclone_window.left(args, closes), env, log, ctx, False),
            )
        )

    def _execute(
        self,
        argv: list[str],
        env: dict[str, str],
        log: RcloneLog,
        ctx: RunContext,
        timeout_set: bool,
    ) -> Outcome:
        """Run one rclone process to its end (or `ctx.stop`); its log goes to `log`."""
        started = time.monotonic()
        try:
            proc = spawn(argv, env=env)
        except OSError as exc:
            return Outcome(
                ok=False,
                error_class="not_found",
                error=f"cannot start rclone: {exc}",
                permanent=True,
            )
        ctx.sink.log("debug", f"rclone started (pid {proc.pid})")
        for stream, line in stream_lines(proc, ctx.stop, grace_s=self.kill_grace):
            log.feed(stream, line)
        log.finish()
        stats = log.run_stats(time.monotonic() - started)
        return outcome_for(
            proc.returncode, log, stats, stopped=ctx.stop.is_set(), timeout_set=timeout_set
        )

    def test_remote(self, remote: RemoteConfig, timeout_s: float = 15) -> tuple[bool, str]:
        """See `check_remote`."""
        return check_remote(
            remote,
            timeout_s,
            binary=self._binary,
            grace_s=self.kill_grace,
            allow_programs=self.allow_programs,
        )


def _max_duration(op: str, options: list[str], timeout_s: int | None) -> int | None:
    """--max-duration seconds to pass for a job timeout, or None.

    Set a little before the runner's own deadline, so rclone stops on its own,
    with final stats, rather than being killed. Only for sync/copy/move: a
    check has nothing to cut short, and a bisync cut short needs recovery.
    Never when the user chose their own --max-duration, or for very short timeouts.
    """
    if timeout_s is None or op not in ("sync", "copy", "move"):
        return None
    if any(rclone_flags.flag_name(o) == "--max-duration" for o in options):
        return None
    margin = min(60, max(2, timeout_s // 20))
    return timeout_s - margin if timeout_s - margin >= 5 else None


def _warn_missing_references(ctx: RunContext) -> None:
    for name, remote in ctx.remotes.items():
        for missing in sorted(referenced_remotes(remote.options) - set(ctx.remotes)):
            ctx.sink.log(
                "error", f"remote {name!r} uses remote {missing!r}, which this run was not given"
            )


def check_remote(
    remote: RemoteConfig,
    timeout_s: float = 15,
    *,
    binary: str | None = None,
    others: Mapping[str, RemoteConfig] | None = None,
    grace_s: float = 2.0,
    allow_programs: bool = False,
) -> tuple[bool, str]:
    """Whether `remote` answers: (True, "ok: ...") or (False, rclone's first error).

    Runs `rclone lsf --max-depth 1 NAME:` with short connect/IO timeouts and
    no retries, and kills it if it has not finished after `timeout_s`.
    `others`: remotes a wrapping remote (crypt, alias...) refers to;
    `allow_programs`: as for `rclone_env`.
    """
    remotes = {**(others or {}), remote.name: remote}
    try:
        env = rclone_env(remotes, allow_programs=allow_programs)
    except EngineError as exc:
        return False, str(exc)
    seconds = f"{max(1, int(timeout_s))}s"
    argv = [
        binary or rclone_binary(), "lsf", "--max-depth", "1", f"{remote.name}:",
        "--contimeout", seconds, "--timeout", seconds, "--retries", "1",
        "--low-level-retries", "1", "--use-json-log", "--color", "NEVER",
    ]  # fmt: skip
    try:
        proc = spawn(argv, env=env)
    except OSError as exc:
        return False, f"cannot start rclone: {exc}"
    entries, errors = 0, []
    deadline = time.monotonic() + timeout_s
    for stream, line in stream_lines(proc, threading.Event(), grace_s=grace_s, deadline=deadline):
        if stream == "stdout":
            entries += 1
        elif line.strip():
            errors.append(_message_of(line))
    if proc.returncode == 0:
        return True, f"ok: {entries} entries at the top of {remote.name}:"
    if time.monotonic() >= deadline:
        return False, f"no answer from {remote.name}: within {timeout_s:g}s"
    first = next((e for e in errors if e), f"rclone exited with code {proc.returncode}")
    return False, redact(first, secret_list(secret_values(remotes, env)))


@dataclass(frozen=True)
class RemoteSize:
    """What `rclone size --json` reports for a whole remote."""

    count: int  #: objects (files)
    bytes: int  #: their total size
    sizeless: int  #: objects whose size the remote does not know (Google Docs, ...)


def measure_size(
    remote: RemoteConfig,
    timeout_s: float,
    *,
    binary: str | None = None,
    others: Mapping[str, RemoteConfig] | None = None,
    grace_s: float = 2.0,
    stop: threading.Event | None = None,
    allow_programs: bool = False,
) -> RemoteSize:
    """The size of everything in `remote`, by `rclone size --json NAME:`.

    `others`: remotes a wrapping remote refers to; `allow_programs`: as for
    `rclone_env`. Kills rclone when `stop` is set or
    `timeout_s` passes. Raises EngineError with rclone's first error (secrets
    redacted), saying it timed out or was stopped, or for a bare `local` remote
    (permanent: see below).
    """
    if remote.type == "local":
        # `NAME:` of a local remote is the server's working directory (often "/"
        # under systemd): nothing the user meant, and possibly the whole disk.
        raise EngineError(
            "a local remote has no directory of its own to measure; "
            "an alias remote to a directory has",
            permanent=True,
        )
    remotes = {**(others or {}), remote.name: remote}
    # EngineError for a remote rclone cannot be given
    env = rclone_env(remotes, allow_programs=allow_programs)
    argv = [binary or rclone_binary(), "size", "--json", f"{remote.name}:", "--use-json-log"]
    stop = stop or threading.Event()
    if stop.is_set():
        raise EngineError(f"stopped measuring {remote.name}:")
    try:
        proc = spawn(argv, env=env)
    except OSError as exc:
        raise EngineError(f"cannot start rclone: {exc}", permanent=True) from None
    out, errors = [], []
    deadline = time.monotonic() + timeout_s
    for stream, line in stream_lines(proc, stop, grace_s=grace_s, deadline=deadline):
        if stream == "stdout":
            out.append(line)
        elif line.strip():
            errors.append(_message_of(line))
    if stop.is_set():
        raise EngineError(f"stopped measuring {remote.name}:")
    if proc.returncode != 0 and time.monotonic() >= deadline:
        raise EngineError(f"no answer from {remote.name}: within {timeout_s:g}s")
    if proc.returncode != 0:
        first = next((e for e in errors if e), f"rclone exited with code {proc.returncode}")
        raise EngineError(redact(first, secret_list(secret_values(remotes, env))))
    try:
        figures = json.loads("".join(out))
        return RemoteSize(
            int(figures["count"]), int(figures["bytes"]), int(figures.get("sizeless", 0))
        )
    except (ValueError, TypeError, KeyError):
        raise EngineError("rclone size answered something that is not its JSON") from None


#: The name services use. Marked so pytest never collects it from a test module
#: that imports it.
test_remote = check_remote
setattr(check_remote, "__test__", False)  # noqa: B010 - mypy refuses the plain assignment


def _message_of(line: str) -> str:
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
