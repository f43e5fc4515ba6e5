"""Dependencies as named aliases: a handler's signature says who may call it.

    def show_job(name: str, svc: ViewerServices) -> JobPublic: ...

`ViewerServices`, `OperatorServices` and `AdminServices` authenticate the bearer
token (401 without a valid one), check its role (403 when weaker than needed) and
give the services acting for the token's name, so the audit records who did it.
A token limited by a scope (e.g. `compat-rsh`) is refused (403) outside its paths,
checked here where every request is authenticated, so no route can forget it.

The compatibility layers use the same dependencies (their errors take their own
shape, by path, in `problems`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from synchub.api.local import LOCAL_ACTOR, local_request
from synchub.api.problems import route_path
from synchub.processes.node import Node
from synchub.services import Services
from synchub.services.tokens import Principal, Role, TokenService

#: Documents the scheme in OpenAPI; errors are ours (401 problem), not FastAPI's.
bearer = HTTPBearer(auto_error=False, description="A token from `synchub token create`")


def base_services(request: Request) -> Services:
    """The app's services, acting for nobody in particular."""
    svc: Services = request.app.state.svc
    return svc


async def node_of(request: Request) -> Node | None:
    """The serving process's scheduler and pool, when it runs them (None in tests).
    Async: it only reads the app's state, so it runs on the event loop, not in a
    thread of the pool."""
    node: Node | None = request.app.state.node
    return node


def authenticated(
    request: Request, svc: Services, credentials: HTTPAuthorizationCredentials | None
) -> Principal:
    """The principal of the request's token: Unauthenticated (401) without a live one,
    Forbidden (403) when the token's scope does not cover this path. The path is the
    one routed: a route outside /compat/rsh never matches a path under it (their
    templates start with literal prefixes, and a parameter never spans a "/").
    A request on the local socket acts as the CLI, an administrator that only reads
    (synchub/api/local.py refuses the rest)."""
    if local_request(request):
        return Principal(LOCAL_ACTOR, Role.ADMIN)
    who = svc.tokens.authenticate(credentials.credentials if credentials else None)
    TokenService.check_scope(who, route_path(request))
    return who


def services_for(needed: Role) -> Callable[..., Services]:
    """A dependency: the services acting for the caller, if their role allows `needed`.

    One synchronous dependency, not three chained ones (the app's services, the
    principal, the check): FastAPI runs each synchronous dependency in a thread of its
    pool, and every such hand-over waits for a thread to be woken and for the GIL,
    which on a busy machine is what a request's tail is made of."""

    def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Services:
        svc = base_services(request)
        who = authenticated(request, svc, credentials)
        TokenService.authorize(who, needed)
        return svc.for_actor(who.name, who.role)

    dependency.__name__ = f"services_for_{needed.value}"
    return dependency


ViewerServices = Annotated[Services, Depends(services_for(Role.VIEWER))]
OperatorServices = Annotated[Services, Depends(services_for(Role.OPERATOR))]
AdminServices = Annotated[Services, Depends(services_for(Role.ADMIN))]
NodeDep = Annotated[Node | None, Depends(node_of)]


def metrics_reader(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    """Anyone when SYNCHUB_METRICS_PUBLIC is set, else a viewer's token or better
    (and not one limited to other paths)."""
    svc = base_services(request)
    if svc.settings.metrics_public:
        return
    TokenService.authorize(authenticated(request, svc, credentials), Role.VIEWER)


MetricsReader = Annotated[None, Depends(metrics_reader)]
