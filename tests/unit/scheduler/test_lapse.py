"""LapseWatch: a stamp lapses when it stays the same for long enough on our clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from synchub.scheduler.lapse import LapseWatch

T0 = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_a_stamp_lapses_after_it_stays_the_same_for_the_lease() -> None:
    watch = LapseWatch()
    # It should count from when it first saw the stamp, however old the stamp says it is.
    assert not watch.lapsed("run", "1999-01-01", at(0), 30)
    assert not watch.lapsed("run", "1999-01-01", at(29), 30)
    assert watch.lapsed("run", "1999-01-01", at(30), 30)


def test_a_new_stamp_starts_the_count_again() -> None:
    watch = LapseWatch()
    assert not watch.lapsed("run", 1, at(0), 30)
    assert not watch.lapsed("run", 2, at(25), 30)
    assert not watch.lapsed("run", 2, at(54), 30)
    assert watch.lapsed("run", 2, at(55), 30)


def test_keep_forgets_the_other_keys() -> None:
    watch = LapseWatch()
    watch.lapsed("a", 1, at(0), 30)
    watch.lapsed("b", 1, at(0), 30)
    watch.keep(["a"])
    assert watch.lapsed("a", 1, at(30), 30)
    # It should start b's count again: it was forgotten.
    assert not watch.lapsed("b", 1, at(30), 30)
