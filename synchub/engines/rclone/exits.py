"""What rclone's exit code, with its log, says of a run."""

from __future__ import annotations

from dataclasses import dataclass

from synchub.core.runs import RunStats
from synchub.engines.base import Outcome
from synchub.engines.rclone.log import RcloneLog


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
