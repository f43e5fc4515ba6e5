"""rclone's JSON log lines turned into progress, change-report rows and log lines.

The lines are recorded from rclone 1.75.2 runs (time and source trimmed where
they do not matter).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from synchub.core.runs import FileAction, FileChange, RunStats
from synchub.engines.rclone.exits import outcome_for
from synchub.engines.rclone.log import RcloneLog, file_change


def line(**fields: Any) -> str:
    return json.dumps({"time": "2026-11-23T12:57:55Z", **fields})


def stats(**values: Any) -> str:
    base = {
        "bytes": 0, "checks": 0, "deletedDirs": 0, "deletes": 0, "elapsedTime": 0.5,
        "errors": 0, "eta": None, "fatalError": False, "listed": 0, "renames": 0,
        "retryError": False, "serverSideMoves": 0, "speed": 0, "totalBytes": 0,
        "totalChecks": 0, "totalTransfers": 0, "transferTime": 0, "transfers": 0,
    }  # fmt: skip
    return line(level="notice", msg="\nTransferred: ...", stats={**base, **values},
                source="accounting/stats.go:549")  # fmt: skip


SYNC_RUN = [
    line(level="info", msg="Copied (replaced existing)", size=3, object="y.txt",
         objectType="*local.Object", source="operations/copy.go:382"),
    line(level="info", msg="Copied (new)", size=3, object="a/x.txt",
         objectType="*local.Object", source="operations/copy.go:382"),
    line(level="info", msg="Deleted", object="z.txt", objectType="*local.Object",
         source="operations/operations.go:581"),
    line(level="info", msg="Set directory modification time (using DirSetModTime)",
         object="a", objectType="string", source="operations/operations.go:2794"),
    stats(bytes=6, checks=3, deletes=1, elapsedTime=0.0025, listed=7, totalBytes=6,
          totalChecks=3, totalTransfers=2, transfers=2),
]  # fmt: skip


def feed(log: RcloneLog, lines: list[str]) -> None:
    for text in lines:
        log.feed("stderr", text)


def test_a_sync_reports_each_changed_file(sink: Any) -> None:
    log = RcloneLog(sink)
    feed(log, SYNC_RUN)
    assert sink.files == [
        FileChange("y.txt", FileAction.REPLACED, 3),
        FileChange("a/x.txt", FileAction.COPIED, 3),
        FileChange("z.txt", FileAction.DELETED),
    ]


def test_log_lines_read_like_rclones_text_log(sink: Any) -> None:
    feed(RcloneLog(sink), SYNC_RUN)
    assert sink.messages() == [
        "y.txt: Copied (replaced existing)",
        "a/x.txt: Copied (new)",
        "z.txt: Deleted",
        "a: Set directory modification time (using DirSetModTime)",
    ]
    level, _, fields = sink.logs[0]
    assert level == "info"
    assert fields == {"size": 3, "object": "y.txt", "objectType": "*local.Object",
                      "source": "operations/copy.go:382"}  # fmt: skip


def test_stats_lines_become_progress_not_log_lines(sink: Any) -> None:
    feed(RcloneLog(sink), SYNC_RUN)
    (snapshot,) = sink.snapshots
    assert (snapshot.bytes, snapshot.total_bytes, snapshot.transfers, snapshot.checks) == (
        6, 6, 2, 3,
    )  # fmt: skip
    assert snapshot.deletes == 1
    assert snapshot.eta_s is None  # rclone's null
    assert not any("Transferred" in m for m in sink.messages())


def test_final_stats_come_from_the_last_stats_line(sink: Any) -> None:
    log = RcloneLog(sink)
    feed(log, [stats(bytes=100, elapsedTime=1.0), stats(bytes=4000, transfers=3,
                                                         elapsedTime=2.0, errors=1)])  # fmt: skip
    assert log.run_stats(elapsed_s=9.9) == RunStats(
        bytes=4000, files=3, checks=0, deletes=0, renames=0, errors=1, elapsed_s=2.0,
        speed_bps=2000.0,
    )  # fmt: skip


def test_without_stats_the_measured_time_is_used(sink: Any) -> None:
    assert RcloneLog(sink).run_stats(elapsed_s=1.5) == RunStats(elapsed_s=1.5)


def test_it_is_scanning_while_the_listing_or_the_totals_grow(sink: Any) -> None:
    log = RcloneLog(sink)
    feed(
        log,
        [
            stats(listed=100, totalChecks=50),  # first snapshot, something listed
            stats(listed=250, totalChecks=120),  # still growing
            stats(listed=250, totalChecks=120, checks=60),  # listing done
            stats(listed=250, totalChecks=120, totalTransfers=1),  # a transfer was queued
            stats(listed=250, totalChecks=120, totalTransfers=1, checks=120),
        ],
    )
    assert [s.scanning for s in sink.snapshots] == [True, True, False, True, False]


def test_finishing_ends_scanning_with_the_final_totals(sink: Any) -> None:
    log = RcloneLog(sink)
    feed(log, [stats(listed=3, totalTransfers=3, transfers=3)])
    log.finish()
    assert [s.scanning for s in sink.snapshots] == [True, False]
    assert sink.snapshots[-1].transfers == 3


def test_a_track_renames_move_is_one_row_at_the_new_path(sink: Any) -> None:
    feed(
        RcloneLog(sink),
        [
            line(level="info", msg="Moved (server-side) to: new.txt", object="old.txt",
                 objectType="*local.Object"),
            line(level="info", msg='Renamed from "old.txt"', object="new.txt",
                 objectType="*local.Object"),
        ],
    )  # fmt: skip
    assert sink.files == [FileChange("new.txt", FileAction.MOVED)]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        # a move within one remote
        ({"level": "info", "msg": "Moved (server-side)", "object": "d/b",
          "objectType": "*local.Object"}, FileChange("d/b", FileAction.MOVED)),
        # the other copy paths of operations/copy.go
        ({"level": "info", "msg": "Copied (server-side copy)", "size": 5, "object": "s",
          "objectType": "*s3.Object"}, FileChange("s", FileAction.COPIED, 5)),
        ({"level": "info", "msg": "Multi-thread Copied (replaced existing)", "size": 9,
          "object": "big", "objectType": "*local.Object"},
         FileChange("big", FileAction.REPLACED, 9)),
        ({"level": "info", "msg": "Copied (Rcat, new)", "size": -1, "object": "stream",
          "objectType": "*local.Object"}, FileChange("stream", FileAction.COPIED, -1)),
        # --dry-run previews: what would change, never that it did
        ({"level": "notice", "msg": "Skipped copy as --dry-run is set (size 2)",
          "skipped": "copy", "size": 2, "object": "a", "objectType": "*local.Object"},
         FileChange("a", FileAction.WOULD_COPY, 2)),
        ({"level": "notice", "msg": "Skipped delete as --dry-run is set (size 2)",
          "skipped": "delete", "size": 2, "object": "z", "objectType": "*local.Object"},
         FileChange("z", FileAction.WOULD_DELETE, 2)),
        # errors about a file: from check, and from a failed copy
        ({"level": "error", "msg": "md5 differ", "object": "a",
          "objectType": "*local.Object"}, FileChange("a", FileAction.FAILED, error="md5 differ")),
        ({"level": "error", "msg": "Failed to copy: permission denied", "object": "b",
          "objectType": "*local.Object"},
         FileChange("b", FileAction.FAILED, error="Failed to copy: permission denied")),
        # a copy that failed at its temporary file: the row is the file's own
        ({"level": "error", "msg": "partial file rename failed: is a directory",
          "object": "d/a.bin.65b1f386.partial", "objectType": "*local.Object"},
         FileChange("d/a.bin", FileAction.FAILED,
                    error="partial file rename failed: is a directory")),
        # a file so named, copied, is itself
        ({"level": "info", "msg": "Copied (new)", "size": 1, "object": "x.65b1f386.partial",
          "objectType": "*local.Object"}, FileChange("x.65b1f386.partial", FileAction.COPIED, 1)),
        # a move into a new directory renames the whole tree: one row for all of it
        (
            {"level": "info", "msg": "Server side directory move succeeded",
             "object": "Local file system at /dst", "objectType": "*local.Fs"},
            FileChange(".", FileAction.MOVED),
        ),
        # not about a file
        ({"level": "error", "msg": "error reading source root directory: directory not found",
          "object": "Local file system at /nosuch", "objectType": "*local.Fs"}, None),
        ({"level": "info", "msg": "There was nothing to transfer"}, None),
        # bisync's whole-run checks: the run's stop, not a file that failed
        ({"level": "error", "msg": "too many deletes (>50%, 3 of 4) on Path1 \"a/\". Run "
          "with --force if desired.", "object": "Safety abort", "objectType": "string"}, None),
        ({"level": "error", "msg": "Failed to find any files named RCLONE_TEST",
          "object": "--check-access", "objectType": "string"}, None),
        # a folder rclone could not read is still a row
        ({"level": "error", "msg": "failed to open directory \"sub\": permission denied",
          "object": "sub", "objectType": "string"},
         FileChange("sub", FileAction.FAILED,
                    error='failed to open directory "sub": permission denied')),
        ({"level": "info", "msg": 'Renamed from "old.txt"', "object": "new.txt",
          "objectType": "*local.Object"}, None),
    ],
)  # fmt: skip
def test_file_changes(fields: dict[str, Any], expected: FileChange | None) -> None:
    assert file_change(fields) == expected


def test_errors_repeated_by_rclones_retries_are_reported_once(sink: Any) -> None:
    failed = line(level="error", msg="Failed to copy: boom", object="f", objectType="*local.Object")
    feed(RcloneLog(sink), [failed, failed, failed])
    assert len(sink.files) == 1
    assert len(sink.logs) == 3  # the log still shows every attempt


def test_secrets_never_reach_the_sink(sink: Any) -> None:
    log = RcloneLog(sink, secrets=["hunter22", "ab"])  # too short to redact safely: kept
    feed(log, [
        line(level="error", msg="auth failed for password hunter22", object="hunter22/x",
             objectType="*sftp.Object", extra="hunter22"),
        "panic: hunter22",
    ])  # fmt: skip
    everything = repr(sink.logs) + repr(sink.files)
    assert "hunter22" not in everything
    assert "auth failed for password ***" in everything


@pytest.mark.parametrize("secret", ['pass"word', "pass\\word", "päss-wörd", "a<b>c&d-e"])
def test_a_secret_the_json_log_escapes_never_reaches_the_sink(sink: Any, secret: str) -> None:
    """Lines are looked into for secrets only when one is in the line's text: a secret
    that JSON writes escaped is not, and is scrubbed all the same."""
    log = RcloneLog(sink, secrets=[secret, "hunter22"])
    written = line(level="error", msg=f"auth failed for {secret}", object=f"{secret}/x",
                   objectType="*sftp.Object")  # fmt: skip
    # Go's encoder escapes these too, where json.dumps does not
    written = written.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    assert secret not in written
    feed(log, [written])
    everything = repr(sink.logs) + repr(sink.files)
    assert secret not in everything
    assert "auth failed for ***" in everything


def test_secrets_never_reach_the_progress_of_files_in_flight(sink: Any) -> None:
    """On main the names of the files rclone was transferring were not scrubbed."""
    log = RcloneLog(sink, secrets=["hunter22"])
    stats = {"bytes": 1, "transferring": [{"name": "keys/hunter22.txt", "size": 3, "bytes": 1}]}
    feed(log, [line(level="notice", msg="stats", stats=stats)])
    assert [t["name"] for t in sink.snapshots[-1].transferring] == ["keys/***.txt"]


def test_text_lines_are_logged_and_rclones_usage_text_is_dropped(sink: Any) -> None:
    log = RcloneLog(sink)
    for text in ["Error: unknown flag: --bogus", "Usage:", "  rclone sync source:path dest:path",
                 "Flags:", "      --absolute   Put a leading /"]:  # fmt: skip
        log.feed("stderr", text)
    assert sink.logs == [("error", "Error: unknown flag: --bogus", {})]
    assert log.last_error == "Error: unknown flag: --bogus"


def test_lines_logged_before_json_logging_keep_their_level(sink: Any) -> None:
    log = RcloneLog(sink)
    log.feed("stderr", "2026/11/23 13:00:02 CRITICAL: Failed to initialise global options: x")
    assert sink.logs == [("critical", "Failed to initialise global options: x", {})]


def test_stdout_is_logged_as_info(sink: Any) -> None:
    RcloneLog(sink).feed("stdout", "a/x.txt")
    assert sink.logs == [("info", "a/x.txt", {})]


# --- outcomes -------------------------------------------------------------------


def ended(code: int, lines: list[str] = (), *, stopped: bool = False,
          timeout_set: bool = False, sides: dict[str, str] | None = None) -> Any:  # fmt: skip
    log = RcloneLog(_Discard(), sides=sides)
    feed(log, list(lines))
    return outcome_for(code, log, RunStats(), stopped=stopped, timeout_set=timeout_set)


class _Discard:
    def log(self, *args: Any) -> None: ...
    def progress(self, *args: Any) -> None: ...
    def file(self, *args: Any) -> None: ...


@pytest.mark.parametrize(
    ("code", "error_class", "permanent"),
    [
        (1, "error", False),  # uncategorised: worth another try
        (2, "usage", True),  # syntax or usage error
        (3, "not_found", True),  # directory not found
        (4, "not_found", True),  # file not found
        (5, "temporary", False),  # "more retries might fix it"
        (6, "error", False),  # less serious errors
        (7, "fatal", True),  # e.g. account suspended
        (8, "transfer_limit", True),  # --max-transfer reached: retrying would defeat it
        (9, "no_transfer", True),  # --error-on-no-transfer: the user asked to be told
        (10, "duration_limit", False),  # the user's --max-duration
        (42, "error", False),  # not documented
        (-9, "killed", False),  # killed by someone else (the OOM killer...)
        (143, "killed", False),  # SIGTERM we did not send
    ],
)
def test_exit_codes_decide_the_outcome(code: int, error_class: str, permanent: bool) -> None:
    outcome = ended(code)
    assert (outcome.ok, outcome.exit_code) == (False, code)
    assert (outcome.error_class, outcome.permanent) == (error_class, permanent)
    assert outcome.error


def test_exit_zero_is_success() -> None:
    assert ended(0).ok


def test_a_stop_we_asked_for_is_stopped() -> None:
    outcome = ended(143, stopped=True)
    assert (outcome.ok, outcome.error_class, outcome.permanent) == (False, "stopped", False)


def test_exit_ten_is_a_timeout_when_synchub_set_the_limit() -> None:
    assert ended(10, timeout_set=True).error_class == "timed_out"


def test_a_missing_side_is_named_with_the_jobs_own_path() -> None:
    # rclone's closing line says "directory not found" and never which side; its
    # earlier error about a top folder does, and the job's words say where.
    sides = {"source": "/srv/photos", "destination": "nas:backup/photos"}
    for side, shown in (("source", "/srv/photos"), ("destination", "nas:backup/photos")):
        lines = [
            line(level="error", msg=f"error reading {side} root directory: directory not found",
                 object="Local file system at /x", objectType="*local.Fs"),
            line(level="error", msg="Attempt 1/3 failed with 1 errors and: directory not found",
                 source="cmd/cmd.go:283"),
            line(level="notice", msg="Failed to copy: directory not found",
                 source="cmd/cmd.go:334"),
        ]  # fmt: skip
        assert ended(3, lines, sides=sides).error == (
            f"{side} not found: {shown} (Failed to copy: directory not found)"
        )
    denied = [line(level="error", object="Local file system at /srv/photos",
                   msg="error reading source root directory: permission denied")]  # fmt: skip
    assert ended(1, denied, sides=sides).error == (
        "cannot read the source /srv/photos: permission denied"
    )


def test_the_error_message_is_rclones_summary_or_last_error() -> None:
    not_found = [
        line(level="error", msg="error reading source root directory: directory not found",
             object="Local file system at /nosuch", objectType="*local.Fs"),
        line(level="notice", msg="Failed to copy: directory not found", source="cmd/cmd.go:334"),
    ]  # fmt: skip
    assert ended(3, not_found).error == "source not found (Failed to copy: directory not found)"
    cannot_connect = 'Failed to create file system for "n:dst": couldn\'t connect SSH'
    bad_auth = [line(level="critical", source="cmd/cmd.go:148", msg=cannot_connect)]
    assert ended(1, bad_auth).error == cannot_connect
    assert ended(2, ["Error: unknown flag: --bogus"]).error == "Error: unknown flag: --bogus"
    assert ended(7).error == "fatal error; retrying will not help"
