"""Path and query parameters shared by several routers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Path, Query

#: Ids are 64-bit in the database: a larger number is a 422, not a database error.
MAX_ID = 2**63 - 1

RunId = Annotated[int, Path(ge=1, le=MAX_ID, description="the run's id")]
Since = Annotated[datetime | None, Query(description="at or after (ISO-8601 with a zone)")]
Until = Annotated[datetime | None, Query(description="before (ISO-8601 with a zone)")]
Limit = Annotated[int, Query(ge=1, le=1000, description="items per page")]
Cursor = Annotated[str | None, Query(description="next_cursor of the previous page")]
States = Annotated[
    list[str] | None, Query(description="repeat or comma-separate, e.g. failed,lost")
]
Triggers = Annotated[list[str] | None, Query(description="schedule, manual, api, retry, watch")]
