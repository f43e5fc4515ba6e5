"""Watched folders settle: a burst of changes gives one run once it has been quiet."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from synchub.core.clock import FakeClock
from synchub.core.watch import Dirty

T0 = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


def test_a_job_settles_once_quiet_for_the_settle_time(clock: FakeClock) -> None:
    dirty = Dirty(settle_s=10)
    dirty.mark(1, clock.now())
    clock.advance(9.999)
    assert dirty.settled(clock.now()) == []
    clock.advance(0.001)
    assert [s.job_id for s in dirty.settled(clock.now())] == [1]


def test_a_burst_of_ten_thousand_changes_settles_once_after_the_last(clock: FakeClock) -> None:
    dirty = Dirty(settle_s=10)
    for _ in range(10_000):
        last = clock.now()
        dirty.mark(7, last)
        clock.advance(0.001)  # ten seconds of changes, a millisecond apart
    # It should wait for the burst to end, not count from its start.
    assert dirty.settled(clock.now()) == []
    assert dirty.due_at() == last + dirty.settle
    clock.advance(10)
    (settled,) = dirty.settled(clock.now())
    assert settled.job_id == 7
    assert dirty.clear(settled)
    # It should be clean afterwards: one run for the whole burst.
    assert dirty.settled(clock.now()) == []
    assert 7 not in dirty
    assert dirty.due_at() is None


def test_a_late_mark_keeps_its_time_and_an_early_one_does_not_roll_it_back(
    clock: FakeClock,
) -> None:
    dirty = Dirty(settle_s=10)
    dirty.mark(1, T0.replace(second=5))
    dirty.mark(1, T0)  # delivered late by the watcher thread
    assert dirty.due_at() == T0.replace(second=15)


def test_a_change_during_the_fire_keeps_the_job_dirty(clock: FakeClock) -> None:
    dirty = Dirty(settle_s=10)
    dirty.mark(1, clock.now())
    clock.advance(10)
    (settled,) = dirty.settled(clock.now())
    dirty.mark(1, clock.now())  # the watcher saw more while the run was created
    # It should not forget the newer change.
    assert not dirty.clear(settled)
    assert 1 in dirty
    assert dirty.due_at() == clock.now() + dirty.settle


def test_a_deferred_job_does_not_ask_to_be_woken_but_is_still_settled(
    clock: FakeClock,
) -> None:
    dirty = Dirty(settle_s=10)
    dirty.mark(1, clock.now())
    dirty.mark(2, clock.now())
    clock.advance(10)
    dirty.defer(1)  # its run is running
    assert dirty.due_at() == T0.replace(second=10)
    dirty.defer(2)
    # It should not wake the scheduler for jobs waiting on their runs (a busy loop)...
    assert dirty.due_at() is None
    # ...yet offer them on every pass, until they are cleared.
    assert [s.job_id for s in dirty.settled(clock.now())] == [1, 2]
    # A new change un-defers the job: it settles again from then.
    dirty.mark(1, clock.now())
    assert dirty.due_at() == clock.now() + dirty.settle


def test_jobs_no_longer_watched_are_forgotten(clock: FakeClock) -> None:
    dirty = Dirty(settle_s=0)
    for job_id in (1, 2, 3):
        dirty.mark(job_id, clock.now())
    dirty.keep_only({2})
    assert [s.job_id for s in dirty.settled(clock.now())] == [2]


def test_a_zero_settle_time_fires_at_once_and_a_negative_one_is_refused(
    clock: FakeClock,
) -> None:
    dirty = Dirty(settle_s=0)
    dirty.mark(1, clock.now())
    assert [s.job_id for s in dirty.settled(clock.now())] == [1]
    with pytest.raises(ValueError, match="settle_s"):
        Dirty(settle_s=-1)
