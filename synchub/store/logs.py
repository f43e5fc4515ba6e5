"""Run logs and change reports."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Table, delete, func, insert, select, update
from sqlalchemy.orm import Session

from synchub.store.tables import Base, RunFileRow, RunLogRow, RunRow

# Rows go in through the tables, not the mapped classes: the ORM's bulk insert spends
# more per row than the database does (a run of many small files writes thousands).
_LOG_TABLE: Table = Base.metadata.tables[RunLogRow.__tablename__]
_FILE_TABLE: Table = Base.metadata.tables[RunFileRow.__tablename__]

LogLine = tuple[int, datetime, str, str]  # seq, at, level, message
#: path, action, size, error, at[, kept_at]
FileLine = (
    tuple[str, str, int | None, str | None, datetime]
    | tuple[str, str, int | None, str | None, datetime, str | None]
)


def append(
    session: Session,
    run_id: int,
    lines: Sequence[LogLine],
    drop: Iterable[int],
    *,
    dropped_lines: int,
    dropped_bytes: int,
    again: bool = False,
) -> None:
    """Store new lines, delete the ones the cap pushed out, and record the counts.

    `again`: some lines may be stored already, by a commit that went through though
    it failed to say so (a cut connection); those are left as they are."""
    if lines and again:
        stored = set(
            session.scalars(
                select(RunLogRow.seq).where(
                    RunLogRow.run_id == run_id, RunLogRow.seq.in_([line[0] for line in lines])
                )
            )
        )
        lines = [line for line in lines if line[0] not in stored]
    if lines:
        session.execute(
            insert(_LOG_TABLE),
            [
                {"run_id": run_id, "seq": s, "at": at, "level": level, "message": msg}
                for s, at, level, msg in lines
            ],
        )
    drop = list(drop)
    if drop:
        session.execute(
            delete(RunLogRow).where(RunLogRow.run_id == run_id, RunLogRow.seq.in_(drop))
        )
    if drop or dropped_lines:
        session.execute(
            update(RunRow)
            .where(RunRow.id == run_id)
            .values(log_dropped_lines=dropped_lines, log_dropped_bytes=dropped_bytes)
        )


def lines(
    session: Session, run_id: int, *, after_seq: int = 0, limit: int = 10_000
) -> list[RunLogRow]:
    return list(
        session.scalars(
            select(RunLogRow)
            .where(RunLogRow.run_id == run_id, RunLogRow.seq > after_seq)
            .order_by(RunLogRow.seq)
            .limit(limit)
        )
    )


def add_files(session: Session, run_id: int, rows: Sequence[FileLine], dropped: int) -> None:
    if rows:
        session.execute(
            insert(_FILE_TABLE),
            [_file_row(run_id, row) for row in rows],
        )
    if dropped:
        session.execute(update(RunRow).where(RunRow.id == run_id).values(files_dropped=dropped))


def _file_row(run_id: int, row: FileLine) -> dict[str, object]:
    path, action, size, error, at = row[:5]
    kept_at = row[5] if len(row) > 5 else None
    return {"run_id": run_id, "path": path, "action": action, "size": size, "error": error,
            "at": at, "kept_at": kept_at}  # fmt: skip


def files(session: Session, run_id: int, limit: int = 100_000) -> list[RunFileRow]:
    return list(
        session.scalars(
            select(RunFileRow)
            .where(RunFileRow.run_id == run_id)
            .order_by(RunFileRow.id)
            .limit(limit)
        )
    )


def file_counts(session: Session, run_id: int) -> dict[str, int]:
    rows = session.execute(
        select(RunFileRow.action, func.count())
        .where(RunFileRow.run_id == run_id)
        .group_by(RunFileRow.action)
    )
    return {action: int(n) for action, n in rows}


def files_page(
    session: Session, run_id: int, *, action: str | None, after_id: int, limit: int
) -> list[RunFileRow]:
    """Change-report rows of a run in the order written, after row `after_id`, of one
    action or all."""
    query = select(RunFileRow).where(RunFileRow.run_id == run_id, RunFileRow.id > after_id)
    if action is not None:
        query = query.where(RunFileRow.action == action)
    return list(session.scalars(query.order_by(RunFileRow.id).limit(limit)))


def first_kept(session: Session, run_id: int) -> tuple[str, str] | None:
    """(path, kept_at) of the first row of the run's change report that says where a
    version was kept; None when no row does."""
    row = session.execute(
        select(RunFileRow.path, RunFileRow.kept_at)
        .where(RunFileRow.run_id == run_id, RunFileRow.kept_at.is_not(None))
        .order_by(RunFileRow.id)
        .limit(1)
    ).first()
    return None if row is None or row[1] is None else (row[0], row[1])
