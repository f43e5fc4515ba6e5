"""Remotes: RemoteCreate, RemoteUpdate, RemotePublic, RemotesPublic, RemoteTestResult."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from synchub.services.remote_views import RemoteView

Name = Field(min_length=1, max_length=64, examples=["nas"])


class RemoteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Name
    type: str = Field(min_length=1, max_length=64, examples=["sftp"])  #: rclone backend
    #: the backend's options; secret ones (passwords, keys, tokens) are encrypted at rest
    options: dict[str, str] = Field(default_factory=dict, examples=[{"host": "nas.lan"}])
    max_concurrency: StrictInt | None = Field(default=None, ge=1, le=10_000)


class RemoteUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: a value replaces, null removes the option, "********" keeps the stored secret
    options: dict[str, str | None] = Field(default_factory=dict)
    #: runs using it at once; 0 removes the limit; absent keeps it
    max_concurrency: StrictInt | None = Field(default=None, ge=0, le=10_000)


class RemotePublic(BaseModel):
    name: str
    type: str
    options: dict[str, str]  #: secret values shown as "********"
    max_concurrency: int | None
    used_by: list[str]  #: jobs that read or write it
    #: why the secret options cannot be read ("wrong secret key", "no secret key"; they
    #: are missing from `options` then); null when they can
    unreadable: str | None = None

    @classmethod
    def of(cls, view: RemoteView) -> RemotePublic:
        return cls.model_validate(view.as_dict())


class RemotesPublic(BaseModel):
    data: list[RemotePublic]
    count: int


class RemotesImported(RemotesPublic):
    """The remotes an import added or replaced (`data`), and what it left alone."""

    replaced: list[str]  #: names of remotes it overwrote (on_conflict=replace)
    skipped: list[str]  #: names already taken, left as they were (on_conflict=skip)


class RemoteTestResult(BaseModel):
    name: str
    ok: bool  #: rclone could list the remote's root
    message: str
