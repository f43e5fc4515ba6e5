"""API tokens: TokenCreate, TokenPublic, TokenCreated (with its secret), TokensPublic."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from synchub.services.tokens import MAX_VALUE_CHARS, Scope, TokenView


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    role: Literal["viewer", "operator", "admin"] = "viewer"
    expires: str | None = Field(default=None, examples=["30d"])  #: lifetime; absent: never
    #: the secret to use, for a client with a fixed token; absent: a generated one
    #: (stronger). 1-200 visible ASCII characters, not starting with "shub_".
    value: str | None = Field(default=None, max_length=MAX_VALUE_CHARS)
    #: where the token may be used: "compat-rsh" (only under /compat/rsh); absent: everywhere
    scope: Scope | None = None


class TokenPublic(BaseModel):
    name: str
    role: str
    scope: Scope | None  #: where the token may be used; None: everywhere
    state: Literal["active", "expired", "revoked"]
    hint: str  #: the first characters of the secret
    given: bool  #: its value was given at creation rather than generated: weaker
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, view: TokenView) -> TokenPublic:
        return cls.model_validate(view.as_dict())


class TokenCreated(TokenPublic):
    token: str  #: the secret: shown only in this response

    @classmethod
    def with_secret(cls, view: TokenView, secret: str) -> TokenCreated:
        return cls.model_validate({**view.as_dict(), "token": secret})


class TokensPublic(BaseModel):
    data: list[TokenPublic]
    count: int
