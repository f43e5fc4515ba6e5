"""/api/v1/tokens: API tokens, for admins. A secret is shown once, at creation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from synchub.api.deps import AdminServices
from synchub.api.problems import problem_responses as errors
from synchub.api.schemas.tokens import TokenCreate, TokenCreated, TokenPublic, TokensPublic

router = APIRouter(prefix="/tokens", tags=["tokens"], responses=errors(401, 403))


@router.get("", responses=errors(422))
def list_tokens(
    svc: AdminServices,
    include_revoked: Annotated[bool, Query(alias="all")] = False,
) -> TokensPublic:
    """Tokens by name, never their secrets."""
    views = svc.tokens.list(include_revoked=include_revoked)
    return TokensPublic(data=[TokenPublic.of(v) for v in views], count=len(views))


@router.post("", status_code=status.HTTP_201_CREATED, responses=errors(400, 409, 413, 422))
def create_token(body: TokenCreate, svc: AdminServices) -> TokenCreated:
    """A new token; `token` in the answer is its secret, shown only this once. With
    `value`, that value is the secret (weaker than a generated one: give it a `scope`)."""
    secret, view = svc.tokens.create(
        body.name,
        body.role,
        expires=body.expires,
        value=body.value,
        scope=body.scope.value if body.scope else None,
    )
    return TokenCreated.with_secret(view, secret)


@router.delete("/{name}", responses=errors(404, 422))
def revoke_token(name: str, svc: AdminServices) -> TokenPublic:
    """Revoke a token: its requests are refused from now on."""
    return TokenPublic.of(svc.tokens.revoke(name))
