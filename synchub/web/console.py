"""The console's plumbing: who is signed in, CSRF checks, rendering, and the headers
every console answer carries. Rules stay in the services: this only asks them."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, Undefined, select_autoescape
from sqlalchemy.exc import DBAPIError

from synchub.core.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    Refused,
    SynchubError,
    Unauthenticated,
)
from synchub.services import Services
from synchub.services.faults import database_fault
from synchub.services.tokens import Principal, Role, TokenService
from synchub.web import format as fmt
from synchub.web import session, snippets, words
from synchub.web.static import Asset

log = logging.getLogger(__name__)

#: Only this origin's scripts, styles, streams and forms; never framed.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
#: Beside the app's own on every answer (nosniff, no referrer, see api.edge).
HEADERS = {"content-security-policy": CSP, "x-frame-options": "DENY"}
#: Where the token is given: the edge counts its failures like a bad bearer token's.
SIGN_IN = "/login"
FLASH_COOKIE = "synchub_flash"


class SignInNeeded(Exception):
    """No live session: the visitor goes to the sign-in page and comes back."""


class BadCsrf(Refused):
    """The form was not sent from a console page of this session: reload the page and
    try again."""


@dataclass(frozen=True)
class Visit:
    """A signed-in request: the services acting for the token's name, who that is,
    and the CSRF token its forms carry."""

    svc: Services
    who: Principal
    csrf: str

    @property
    def can_operate(self) -> bool:
        return self.who.role.allows(Role.OPERATOR)

    @property
    def is_admin(self) -> bool:
        return self.who.role.allows(Role.ADMIN)


def services(request: Request) -> Services:
    svc: Services = request.app.state.svc
    return svc


def principal(svc: Services, token: str) -> Principal:
    """The principal of a token that may use the console: Unauthenticated or
    Forbidden (a token limited to other paths) otherwise."""
    who = svc.tokens.authenticate(token)
    TokenService.check_scope(who, "/")
    return who


def visit(request: Request) -> Visit:
    """The request's visit; SignInNeeded without a live session."""
    svc = services(request)
    opened = session.unseal(svc, request.cookies.get(session.COOKIE))
    if opened is None:
        raise SignInNeeded()
    try:
        who = principal(svc, opened.token)
    except (Unauthenticated, Refused):
        raise SignInNeeded() from None
    csrf = session.csrf_token(svc, "session", opened.sid)
    request.state.visit = Visit(svc.for_actor(who.name, who.role), who, csrf)
    return request.state.visit  # type: ignore[no-any-return]


async def form(request: Request) -> dict[str, str]:
    """The request's url-encoded form, one value per field (the first)."""
    body = (await request.body()).decode("utf-8", errors="replace")
    try:
        fields = parse_qs(body, keep_blank_values=True, max_num_fields=100)
    except ValueError:
        raise InvalidInput("Bad form: it has more than 100 fields") from None
    return {name: values[0] for name, values in fields.items()}


async def writer(request: Request, needed: Role) -> Visit:
    """A write by a signed-in visitor whose role allows `needed`: BadCsrf (403)
    without this session's CSRF token in its form or header, Forbidden (403) for a
    weaker role."""
    from anyio.to_thread import run_sync

    current = await run_sync(visit, request)
    fields = await form(request)
    given = fields.get(session.CSRF_FIELD) or request.headers.get(session.CSRF_HEADER)
    if not given or given != current.csrf:
        raise BadCsrf()
    TokenService.authorize(current.who, needed)
    return current


def safe_next(target: str | None) -> str:
    """`target` when it is a path on this site, else "/": never an open redirect."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    if any(c in target for c in "\\\r\n\t") or not target.isprintable():
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


def sign_in_url(request: Request) -> str:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/login?" + urlencode({"next": here}) if here != "/" else "/login"


def redirect(url: str, flash: str | None = None) -> RedirectResponse:
    """303 to `url`, with a message for the next page."""
    response = RedirectResponse(url, status_code=303)
    if flash:
        response.set_cookie(
            FLASH_COOKIE, quote(flash), max_age=60, httponly=True, samesite="strict"
        )
    return response


class Templates:
    def __init__(self, assets: dict[str, Asset]) -> None:
        self.env = Environment(
            loader=PackageLoader("synchub.web", "templates"),
            autoescape=select_autoescape(default=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.globals["static"] = lambda name: assets[name].url
        for said in (words.run_badge, words.job_badge, words.op_words, words.route,
                     words.duration_of, words.folder_badge, words.task_badge,
                     words.staleness, words.changed_fields):  # fmt: skip
            self.env.globals[said.__name__] = said
        for snippet in (snippets.when, snippets.badge, snippets.path, snippets.dry):
            self.env.globals[snippet.__name__] = snippet
        for name in ("size", "speed", "duration", "relative", "exact", "soon", "middle", "percent"):
            self.env.filters[name] = _lenient(getattr(fmt, name))

    def render(self, name: str, **context: Any) -> str:
        return self.env.get_template(name).render(**context)

    def page(self, request: Request, name: str, code: int = 200, **context: Any) -> HTMLResponse:
        """A whole page for the request's visitor (or nobody, on the sign-in page)."""
        current: Visit | None = getattr(request.state, "visit", None)
        svc = current.svc if current is not None else services(request)
        flash = request.cookies.get(FLASH_COOKIE)
        html = self.render(
            name,
            request=request,
            visit=current,
            now=svc.clock.now(),
            flash=unquote(flash) if flash else None,
            **context,
        )
        response = HTMLResponse(html, status_code=code)
        if flash:
            response.delete_cookie(FLASH_COOKIE)
        return response


def _lenient(filter_: Callable[..., str]) -> Callable[..., str]:
    """`filter_`, writing "—" for a figure a snapshot does not have (yet)."""

    def lenient(value: Any, *args: Any) -> str:
        return "—" if isinstance(value, Undefined) else filter_(value, *args)

    return lenient


STATUS_OF: tuple[tuple[type[SynchubError], int], ...] = (
    (Refused, 403),
    (InvalidInput, 422),
    (NotFound, 404),
    (Conflict, 409),
)


def status_of(exc: SynchubError) -> int:
    return next((status for kind, status in STATUS_OF if isinstance(exc, kind)), 500)


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def console_route(templates: Templates) -> type[APIRoute]:
    """A route class for console pages: a visitor without a session is sent to sign
    in; an error is a page that says what went wrong; every answer gets the
    console's security headers."""

    class ConsoleRoute(APIRoute):
        def get_route_handler(self) -> Handler:
            handler = super().get_route_handler()

            async def guarded(request: Request) -> Response:
                try:
                    response = await handler(request)
                except SignInNeeded:
                    response = _to_sign_in(request)
                except SynchubError as exc:
                    status = status_of(exc)
                    response = templates.page(
                        request, "error.html", status, status=status, message=exc.message
                    )
                except DBAPIError as exc:
                    response = _database_fault(templates, request, exc)
                except Exception:
                    log.exception("console page %s failed", request.url.path)
                    message = "Something went wrong on the server: its log says what."
                    response = templates.page(
                        request, "error.html", 500, status=500, message=message
                    )
                for header, value in HEADERS.items():
                    response.headers.setdefault(header, value)
                response.headers.setdefault("cache-control", "no-store")
                return response

            return guarded

    return ConsoleRoute


def _database_fault(templates: Templates, request: Request, exc: DBAPIError) -> Response:
    """A full disk, a lock or an unreachable database: 503 and a page that says which,
    one warning line; any other driver error is a bug, logged with its trace."""
    message = database_fault(exc)
    if message is None:
        log.exception("console page %s failed", request.url.path)
        message, status = "Something went wrong on the server: its log says what.", 500
    else:
        reason = (str(exc.orig or exc).strip().splitlines() or [""])[0]
        log.warning("console page %s failed: %s", request.url.path, reason)
        status = 503
    return templates.page(request, "error.html", status, status=status, message=message)


def _to_sign_in(request: Request) -> Response:
    url = sign_in_url(request)
    if request.headers.get("hx-request"):  # htmx follows this header, not a 303
        response: Response = Response(status_code=204, headers={"hx-redirect": url})
    elif request.method == "GET":
        response = RedirectResponse(url, status_code=303)
    else:
        response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(session.COOKIE)
    return response
