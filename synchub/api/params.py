"""Path and query parameters shared by several routers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import AfterValidator, BeforeValidator, Field

from synchub.core.runs import RunState, Trigger

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
Cursor = Annotated[str | None, Query(min_length=1, description="next_cursor of the previous page")]
#: A filter's value: given empty, it is a 422, not "match everything" or "match nothing".
Filter = Annotated[str | None, Query(min_length=1)]


def _names_of(values: type[RunState] | type[Trigger]) -> Any:
    """A check of text naming one or more of `values`, comma-separated, and the pattern
    that says so in the schema: an empty or unknown value is a documented 422."""
    names = [v.value for v in values]
    one = "|".join(names)

    def check(value: str) -> str:
        if not value or any(part not in names for part in value.split(",")):
            raise ValueError(f"use one or more of {', '.join(names)}, comma-separated")
        return value

    return AfterValidator(check), Field(json_schema_extra={"pattern": f"^({one})(,({one}))*$"})


_STATE, _STATE_PATTERN = _names_of(RunState)
_TRIGGER, _TRIGGER_PATTERN = _names_of(Trigger)
States = Annotated[
    list[Annotated[str, _STATE, _STATE_PATTERN]] | None,
    Query(description="repeat or comma-separate, e.g. failed,lost"),
]
Triggers = Annotated[
    list[Annotated[str, _TRIGGER, _TRIGGER_PATTERN]] | None,
    Query(description="repeat or comma-separate: schedule, manual, api, retry, watch"),
]
