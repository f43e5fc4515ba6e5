"""Alerts: AlertCreate, AlertUpdate, AlertPublic, AlertsPublic, AlertTested."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from synchub.services.alerts import AlertView


class AlertCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    #: an Apprise URL (mailto://, ntfy://, json://, slack://, ...); sealed, never shown
    url: str = Field(min_length=1, max_length=2000, examples=["ntfy://synchub-alerts"])
    #: failure, recovery, stale, long, missed, watch; absent: failure, recovery, stale
    events: list[str] | None = Field(default=None, examples=[["failure", "recovery"]])
    jobs: list[str] | None = None  #: only these jobs; with `tags` absent too: every job
    tags: list[str] | None = None  #: only jobs with one of these tags
    after: int = Field(default=1, ge=1, le=1000)  #: failed chains in a row before it tells
    digest_at: str | None = None  #: HH:MM, the daily digest's time; None: 08:00


class AlertUpdate(BaseModel):
    """An edit: what is left out (or null) stays; an empty `jobs` or `tags` clears it."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, min_length=1, max_length=2000)  #: sealed, never shown
    events: list[str] | None = None
    jobs: list[str] | None = None
    tags: list[str] | None = None
    after: int | None = Field(default=None, ge=1, le=1000)
    digest_at: str | None = None


class AlertPublic(BaseModel):
    name: str
    url: str  #: the scheme and host only: the URL may hold credentials
    events: list[str]
    jobs: list[str]
    tags: list[str]
    after: int
    digest_at: str
    last_result: str | None  #: "delivered" or "failed: why", of the last attempt
    last_sent_at: datetime | None
    waiting: int  #: messages not delivered yet
    created_at: datetime

    @classmethod
    def of(cls, view: AlertView) -> AlertPublic:
        return cls.model_validate(view.as_dict())


class AlertsPublic(BaseModel):
    data: list[AlertPublic]
    count: int


class AlertTested(BaseModel):
    delivered: bool
    message: str
