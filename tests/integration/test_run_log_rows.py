"""A run's log lines and change-report rows, written as the sink flushes them and read
back as the views read them, on each database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import select

from synchub.core.clock import FakeClock
from synchub.services import Services
from synchub.services.jobs.fields import JobFields
from synchub.store import logs as log_store
from synchub.store.db import transaction
from synchub.store.tables import RunFileRow, RunLogRow


def test_lines_and_files_come_back_as_written(svc: Services, clock: FakeClock) -> None:
    svc.jobs.add("j", JobFields(kind="scripted", params={"result": "ok"}))
    run_id = svc.runs.request("j")
    at = clock.now()
    paris = at.astimezone(timezone(timedelta(hours=2)))  # the same instant, another zone
    with transaction(svc.sessions) as session:
        log_store.append(
            session, run_id, [(1, at, "info", "héllo ✓"), (2, paris, "error", "x: boom")], [],
            dropped_lines=0, dropped_bytes=0,
        )  # fmt: skip
        log_store.add_files(
            session,
            run_id,
            [
                ("a/ü.bin", "copied", 123, None, at),
                ("b.txt", "failed", None, "no space", paris, None),
                ("c.txt", "replaced", 2**40, None, at, ".versions/c.txt"),
            ],
            0,
        )
    with transaction(svc.sessions) as session:
        lines = [(r.seq, r.at, r.level, r.message) for r in log_store.lines(session, run_id)]
        files = [
            (r.path, r.action, r.size, r.error, r.at, r.kept_at)
            for r in log_store.files(session, run_id)
        ]
        # stored as the database's own comparisons write a time (SQLite: its text)
        at_seqs = session.scalars(select(RunLogRow.seq).where(RunLogRow.at == at)).all()
        at_paths = session.scalars(select(RunFileRow.path).where(RunFileRow.at == paris)).all()
    assert lines == [(1, at, "info", "héllo ✓"), (2, at, "error", "x: boom")]
    assert files == [
        ("a/ü.bin", "copied", 123, None, at, None),
        ("b.txt", "failed", None, "no space", at, None),
        ("c.txt", "replaced", 2**40, None, at, ".versions/c.txt"),
    ]
    assert sorted(at_seqs) == [1, 2] and sorted(at_paths) == ["a/ü.bin", "b.txt", "c.txt"]
    assert all(line[1].tzinfo is not None and line[1].utcoffset() == timedelta(0) for line in lines)
    assert at == datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
