"""API tokens: TokenCreate, TokenPublic, TokenCreated (with its secret), TokensPublic."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    role: Literal["viewer", "operator", "admin"] = "viewer"
    expires: str | None = Field(default=None, examples=["30d"])  #: lifetime; absent: never


class TokenPublic(BaseModel):
    name: str
    role: str
    state: Literal["active", "expired", "revoked"]
    hint: str  #: the first characters of the secret
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenPublic):
    token: str  #: the secret: shown only in this response


class TokensPublic(BaseModel):
    data: list[TokenPublic]
    count: int
