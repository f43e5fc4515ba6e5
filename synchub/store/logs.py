"""Run logs and change reports."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, delete, func, insert, select, update
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from synchub.store.tables import Base, RunFileRow, RunLogRow, RunRow, UtcDateTime

# Rows go in as the driver's own executemany of tuples (`_insert`): the ORM's bulk
# insert, and even Core's, spend more per row than the database does (a run of many
# small files writes thousands).
_LOG_TABLE: Table = Base.metadata.tables[RunLogRow.__tablename__]
_FILE_TABLE: Table = Base.metadata.tables[RunFileRow.__tablename__]
_LOG_COLUMNS = ("run_id", "seq", "at", "level", "message")
_FILE_COLUMNS = ("run_id", "path", "action", "size", "error", "at", "kept_at")
#: each driver's positional placeholder, by its paramstyle
_MARKERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}

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
        _insert(session, _LOG_TABLE, _LOG_COLUMNS, [(run_id, *line) for line in lines])
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
        _insert(session, _FILE_TABLE, _FILE_COLUMNS, [_file_row(run_id, row) for row in rows])
    if dropped:
        session.execute(update(RunRow).where(RunRow.id == run_id).values(files_dropped=dropped))


def _file_row(run_id: int, row: FileLine) -> tuple[Any, ...]:
    return (run_id, *row) if len(row) > 5 else (run_id, *row, None)


def _insert(
    session: Session, table: Table, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    """INSERT `rows` (tuples in `columns`' order) into `table` as one executemany of
    the driver, each value through the column type's own bind processor (as Core's
    insert would), without Core's per-row parameter dictionaries."""
    conn = session.connection()
    sql, processors = _prepared(table, columns, conn.dialect)
    if sql is None:  # a driver whose placeholders are not positional
        session.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in rows])
        return
    if processors:
        rows = [_processed(row, processors) for row in rows]
    conn.exec_driver_sql(sql, rows)


Processors = tuple[tuple[int, Callable[[Any], Any]], ...]


#: (table, columns, dialect class, paramstyle) -> `_prepared`'s answer: one entry per
#: kind of database, however many engines a process makes
_PREPARED: dict[tuple[str, tuple[str, ...], type, str], tuple[str | None, Processors]] = {}


def _prepared(
    table: Table, columns: tuple[str, ...], dialect: Dialect
) -> tuple[str | None, Processors]:
    """The statement and the processors of `columns` on `dialect`'s kind of database;
    no statement for a driver whose placeholders are not positional."""
    key = (table.name, columns, type(dialect), dialect.paramstyle)
    found = _PREPARED.get(key)
    if found is None:
        found = _PREPARED[key] = _prepare(table, columns, dialect)
    return found


def _prepare(
    table: Table, columns: tuple[str, ...], dialect: Dialect
) -> tuple[str | None, Processors]:
    marker = _MARKERS.get(dialect.paramstyle)
    if marker is None:
        return None, ()
    sql = (f"INSERT INTO {table.name} ({', '.join(columns)}) "
           f"VALUES ({', '.join([marker] * len(columns))})")  # fmt: skip
    processors = []
    for i, name in enumerate(columns):
        column_type = table.c[name].type
        process = column_type.dialect_impl(dialect).bind_processor(dialect)
        if isinstance(column_type, UtcDateTime) and _same_text(process, _sqlite_text):
            process = _sqlite_text
        if process is not None:
            processors.append((i, process))
    return sql, tuple(processors)


def _sqlite_text(value: datetime | None) -> str | None:
    """A UtcDateTime as SQLite stores it, as its own processors would write it
    (zone to UTC, then SQLAlchemy's text), at a fraction of their cost: a run of many
    small files has two of these per file."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the database")
    return value.astimezone(UTC).isoformat(" ", "microseconds")[:26]  # less its "+00:00"


#: what `_sqlite_text` must write as the column's own processors do
_SAMPLES = (datetime(2026, 1, 2, 3, 4, 5, 6, UTC), datetime(999, 12, 31, 23, 59, 59, tzinfo=UTC))


def _same_text(process: Callable[[Any], Any] | None, fast: Callable[[Any], Any]) -> bool:
    """True when `process` (a column's processors on one database) writes the text
    `fast` does: only SQLite's, and only while SQLAlchemy keeps its format."""
    if process is None:
        return False
    return all(process(sample) == fast(sample) for sample in _SAMPLES)


def _processed(row: tuple[Any, ...], processors: Processors) -> tuple[Any, ...]:
    values = list(row)
    for i, process in processors:
        values[i] = process(values[i])
    return tuple(values)


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
