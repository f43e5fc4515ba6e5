"""Path and query parameters shared by several routers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Path, Query
from pydantic import BeforeValidator

#: Ids are 64-bit in the database: a larger number is a 422, not a database error.
MAX_ID = 2**63 - 1
#: Log line numbers (seq) are 32-bit in the database: PostgreSQL refuses a larger one.
MAX_SEQ = 2**31 - 1


def _not_a_number(value: object) -> object:
    """Refuse what pydantic would otherwise read as Unix time: the schema says ISO-8601."""
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return value
    elif not isinstance(value, int | float):
        return value
    raise ValueError("Use an ISO-8601 date and time with a zone, e.g. 2025-06-01T00:00:00Z")


#: A point in time as ISO-8601 text (pydantic alone also takes 1700000000 or "0.5").
Instant = Annotated[datetime, BeforeValidator(_not_a_number)]

RunId = Annotated[int, Path(ge=1, le=MAX_ID, description="the run's id")]
Since = Annotated[Instant | None, Query(description="at or after (ISO-8601 with a zone)")]
Until = Annotated[Instant | None, Query(description="before (ISO-8601 with a zone)")]
Limit = Annotated[int, Query(ge=1, le=1000, description="items per page")]
Cursor = Annotated[str | None, Query(description="next_cursor of the previous page")]
States = Annotated[
    list[str] | None, Query(description="repeat or comma-separate, e.g. failed,lost")
]
Triggers = Annotated[list[str] | None, Query(description="schedule, manual, api, retry, watch")]
