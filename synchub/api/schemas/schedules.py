"""Schedules: ScheduleCheck (a schedule to try) and ScheduleVerdict."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from synchub.api.params import Instant


class ScheduleCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cron: str | None = Field(default=None, max_length=200, examples=["0 2 * * 1-5"])
    every: StrictInt | str | None = Field(default=None, examples=["15m"])  #: instead of cron
    tz: str | None = Field(default=None, max_length=64, examples=["Europe/Berlin"])
    count: StrictInt = Field(default=5, ge=1, le=100)  #: how many next fire times
    after: Instant | None = None  #: count from here instead of now


class ScheduleVerdict(BaseModel):
    valid: bool
    kind: Literal["cron", "interval"] | None = None
    tz: str | None = None
    description: str | None = None
    next: list[datetime] = Field(default_factory=list)
    error: str | None = None  #: why it is not valid
    field: Literal["cron", "every", "tz"] | None = None  #: the input at fault
    part: str | None = None  #: the cron field at fault, e.g. "minute"
