"""A run still going when its window closes, with the real rclone over both databases:
rclone winds down (--max-duration, --cutoff-mode soft: the file in flight is finished,
no more are started), the run ends "window closed" and is not retried, and the next
window's run copies what is left."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from synchub.core.clock import FakeClock
from synchub.services import Services
from synchub.services.jobs.fields import JobFields
from tests.integration.engines.helpers import write
from tests.support.harness import Harness

BERLIN = ZoneInfo("Europe/Berlin")  # the settings' default zone
SIZE = 300 * 1024
#: Four files at 100 KiB/s, one at a time: twelve seconds, far past a window closing in two.
SLOW = ["--bwlimit=100k", "--transfers=1"]


def test_a_run_going_when_the_window_closes_winds_down_and_is_not_retried(
    svc: Services, clock: FakeClock, src: Path, dst: Path
) -> None:
    files = {f"f{i}.bin": str(i) * SIZE for i in range(4)}
    write(src, files)
    clock.set(datetime(2025, 6, 2, 21, 58, 30, tzinfo=BERLIN))
    params = {"op": "copy", "source": str(src), "destination": str(dst), "options": SLOW}
    svc.jobs.add("slow", JobFields(params=params, cron="59 21 * * *", windows=["21:00-22:00"]))
    h = Harness(svc, clock)
    clock.advance(88)  # the 21:59 fire starts at 21:59:58: two seconds of window left

    (run_id,) = h.step()

    run = svc.runs.show(run_id)
    assert (run.state, run.error_class, run.exit_code) == ("failed", "window_closed", 10)
    assert str(run.error).startswith("The job's run window closed")
    assert str(run.next_step).startswith("not retried: the job's run window closed")
    assert [r.id for r in svc.runs.list(job="slow")] == [run_id]  # no retry
    # Soft: every file there is whole, and rclone started no more after the close.
    copied = sorted(p.name for p in dst.iterdir())
    assert 0 < len(copied) < len(files)
    assert all((dst / name).read_text() == files[name] for name in copied)

    # The next window's run picks up: it copies only what is left.
    svc.jobs.change("slow", JobFields(remove_options=["--bwlimit"]))
    clock.set(datetime(2025, 6, 3, 21, 59, tzinfo=BERLIN))
    (next_id,) = h.step()
    following = svc.runs.show(next_id)
    assert following.state == "succeeded"
    assert following.stats.files == len(files) - len(copied)
    assert sorted(p.name for p in dst.iterdir()) == sorted(files)
