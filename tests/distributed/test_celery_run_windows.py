"""A run window through Celery workers: the worker's clock decides how long the run
has, rclone winds down when the window closes, and the run is not retried.

The window is open now (an hour either side) for the process that records the
chained run and the scheduler that hands it over; the clock of the worker that runs
it is set (libfaketime) to shortly before the window's close, so the close comes
during the run without waiting an hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from synchub.core.runs import RunState
from synchub.services.jobs.fields import JobFields
from tests.distributed.conftest import Cluster, wait_for
from tests.support.faketime import faketime_env

#: Seconds between the window worker's start and the window's close on its clock: room
#: for it to start and the chained run to reach it, well short of the copy's time.
CLOSES_AFTER_S = 30
MIB = 1024 * 1024


# The broker only carries the run's message, as for any run: one is enough.
@pytest.mark.parametrize("broker", ["redis"], indirect=True)
def test_a_window_closing_on_a_worker_winds_the_copy_down_and_no_retry_follows(
    cluster: Cluster, tmp_path: Path
) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    for i in range(16):
        (src / f"f{i:02}.bin").write_bytes(bytes([i]) * MIB)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    opens, closes = now - timedelta(hours=1), now + timedelta(hours=1)
    window = f"{opens:%H:%M}-{closes:%H:%M}"
    cluster.worker()  # the upstream job's, on the real clock
    cluster.start_scheduler()
    cluster.command_job("upstream", ["sh", "-c", "echo ready"], retries=0)
    params = {
        "op": "copy",
        "source": str(src),
        "destination": str(dst),
        "options": ["--bwlimit=256k", "--transfers=1"],  # 16 MiB: a minute
    }
    queue = f"{cluster.queue}-window"
    cluster.svc.jobs.add(
        "nightly",
        JobFields(
            kind="rclone",
            params=params,
            queue=queue,
            retries=2,
            retry_delay="1s",
            after=["upstream:success"],
            cron="0 3 1 1 *",  # its own schedule is far off: the chain starts it
            tz="UTC",
            windows=[window],
        ),
    )
    ahead = round((closes - datetime.now(UTC)).total_seconds()) - CLOSES_AFTER_S
    cluster.worker(queues=queue, env=faketime_env(f"+{ahead}"))
    # A chained run keeps to the window (a manual one would not).
    assert cluster.wait_state(cluster.run("upstream")).state == "succeeded"
    (chained,) = wait_for("the chained run", lambda: cluster.svc.runs.list(job="nightly"))
    run = cluster.wait_state(chained.id, timeout=150)
    assert (run.state, run.error_class) == (RunState.FAILED.value, "window_closed"), run
    assert run.trigger == "chain"
    # It should be wound down, not retried, and leave no half-written file.
    assert [r.id for r in cluster.svc.runs.list(job="nightly")] == [chained.id]
    copied = sorted(p.name for p in dst.iterdir()) if dst.exists() else []
    assert len(copied) < 16, "the copy was not cut short"
    for name in copied:
        assert (dst / name).stat().st_size == MIB, name
