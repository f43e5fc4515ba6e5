"""How long run history is kept, and which runs may go. No I/O.

A run is kept while its job's rule keeps it: by default, runs younger than
`keep_runs_days` or among the job's last `keep_runs_last`. A job's own `keep_runs`
replaces that rule: `30d` keeps the runs of the last 30 days, `500` the last 500.
Whatever the rule, a job always keeps its last success and last failure, every run
that has not ended (or that the alert pass has not looked at, for a day), and every run a kept
run retries (a retry chain is never cut in the middle).

Logs and change reports go sooner (`keep_logs`); rows of a change report that say
where a deleted or overwritten version was kept stay as long as their run, so that
`runs restore` still finds them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from synchub.core.durations import format_duration, parse_duration
from synchub.core.errors import InvalidInput

DAY_S = 86400
#: The longest keep: ten years, as for every other duration (fits 32-bit columns).
MAX_KEEP_S = 10 * 365 * DAY_S
#: The most runs a job may be told to keep by count.
MAX_KEEP_COUNT = 10_000_000
#: What a user types for "back to the defaults".
DEFAULT_WORDS = frozenset({"", "default"})


@dataclass(frozen=True)
class KeepRuns:
    """A rule for which runs stay: those younger than `age_s` or among the last
    `count` (None: that part of the rule is off). Both None keeps nothing by rule."""

    age_s: int | None = None
    count: int | None = None

    def text(self) -> str:
        """As a user would type it: "30d", "500", or "90d or last 100"."""
        parts = [format_duration(self.age_s)] if self.age_s else []
        parts += [str(self.count)] if self.count is not None else []
        return " or last ".join(parts)


@dataclass(frozen=True)
class Retention:
    """The rules one job's history is pruned by."""

    runs: KeepRuns
    logs_s: int  #: logs and change reports of runs older than this go

    def runs_cutoff(self, now: datetime) -> datetime | None:
        """Runs created before this may go (by age); None: age keeps none."""
        return now - timedelta(seconds=self.runs.age_s) if self.runs.age_s else None

    def logs_cutoff(self, now: datetime) -> datetime:
        return now - timedelta(seconds=self.logs_s)


def parse_keep_runs(text: str) -> KeepRuns | None:
    """A job's `--keep-runs`: a period ("30d") or a number of runs ("500"); None for
    "default" or "" (the global rule). InvalidInput for anything else, zero included."""
    cleaned = text.strip().lower()
    if cleaned in DEFAULT_WORDS:
        return None
    if cleaned.isascii() and cleaned.isdigit():
        # Too many digits for int() to read are too many runs, said as such.
        count = int(cleaned) if len(cleaned) <= 12 else MAX_KEEP_COUNT + 1
        if not 1 <= count <= MAX_KEEP_COUNT:
            raise InvalidInput(
                f"Bad keep-runs {text!r}: keep from 1 to {MAX_KEEP_COUNT} runs, "
                "or give a period such as 30d"
            )
        return KeepRuns(count=count)
    return KeepRuns(age_s=_period(text, "keep-runs"))


def parse_keep_logs(text: str) -> int | None:
    """A job's `--keep-logs` in seconds ("14d"); None for "default" or ""."""
    if text.strip().lower() in DEFAULT_WORDS:
        return None
    return _period(text, "keep-logs")


def _period(text: str, what: str) -> int:
    """Seconds of a keep period: a whole number of hours at least, ten years at most."""
    try:
        seconds = parse_duration(text, what=what, minimum=3600)
    except InvalidInput as exc:
        raise InvalidInput(f"{exc} (a period such as 30d, or a number of runs)") from None
    if seconds > MAX_KEEP_S:
        raise InvalidInput(f"Bad {what} {text!r}: it must be at most 10 years")
    return seconds


@dataclass(frozen=True)
class Candidate:
    """A run looked at for pruning."""

    id: int
    retry_of: int | None
    removable: bool  #: ended, seen by the alert pass, not protected, and old enough


def removable_ids(candidates: Iterable[Candidate], retries: Mapping[int, list[int]]) -> set[int]:
    """The candidates that may go: those removable whose every retry goes too.

    `retries` maps a run to the runs that retry it (known candidates or not): a
    retry that is not a removable candidate keeps the run it retries, and so on
    down the chain.
    """
    by_id = {c.id: c for c in candidates}
    decided: dict[int, bool] = {}

    def goes(run_id: int) -> bool:
        if run_id not in decided:
            found = by_id.get(run_id)
            decided[run_id] = False  # a cycle (never made by synchub) keeps its runs
            decided[run_id] = (
                found is not None
                and found.removable
                and all(goes(child) for child in retries.get(run_id, []))
            )
        return decided[run_id]

    return {run_id for run_id in by_id if goes(run_id)}
