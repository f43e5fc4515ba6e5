"""SYNCHUB_BWLIMIT reaches rclone for jobs without a --bwlimit of their own, over both
databases and the real rclone; a job's own --bwlimit (even off) wins."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from synchub.config import Settings
from synchub.core.clock import FakeClock
from synchub.services import Services
from synchub.services.jobs.fields import JobFields
from tests.integration.engines.helpers import write
from tests.support.harness import Harness

#: Both slots the same rate, so rclone's message does not depend on the hour.
TIMETABLE = "00:00,300k 12:00,300k"


@pytest.fixture
def svc_with_bwlimit(settings: Settings, clock: FakeClock) -> Iterator[Services]:
    """Services whose settings give a default bandwidth timetable."""
    # engines=None: the kinds are built from the settings, as in serve and worker.
    services = Services(settings.model_copy(update={"bwlimit": TIMETABLE}), clock=clock)
    yield services
    services.close()


def run_job(svc: Services, clock: FakeClock, name: str, src: Path, dst: Path,
            options: list[str]) -> list[str]:  # fmt: skip
    params = {"op": "copy", "source": str(src), "destination": str(dst), "options": options}
    svc.jobs.add(name, JobFields(params=params))
    run_id = svc.runs.request(name)
    Harness(svc, clock).step()
    assert svc.runs.show(run_id).state == "succeeded"
    return [str(line.message) for line in svc.runs.logs(run_id)]


def test_the_default_timetable_reaches_rclone(
    svc_with_bwlimit: Services, clock: FakeClock, src: Path, dst: Path
) -> None:
    write(src, {"a.txt": "a"})
    engine = svc_with_bwlimit.engines["rclone"]
    params = {"source": str(src), "destination": str(dst), "options": ["--checksum"]}
    argv = engine.argv(engine.validate(params, frozenset()), first_run=False)  # type: ignore[attr-defined]
    assert argv.count(f"--bwlimit={TIMETABLE}") == 1

    messages = run_job(svc_with_bwlimit, clock, "plain", src, dst, ["--checksum"])

    assert any("Starting bandwidth limiter at 300Ki" in m for m in messages), messages


def test_a_jobs_own_bwlimit_wins_over_the_default(
    svc_with_bwlimit: Services, clock: FakeClock, src: Path, dst: Path
) -> None:
    write(src, {"a.txt": "a"})
    messages = run_job(svc_with_bwlimit, clock, "own", src, dst, ["--bwlimit=700k"])
    assert any("Starting bandwidth limiter at 700Ki" in m for m in messages), messages
    assert not any("300Ki" in m for m in messages)

    messages = run_job(svc_with_bwlimit, clock, "unlimited", src, dst / "2", ["--bwlimit=off"])
    assert not any("bandwidth limiter" in m for m in messages), messages
