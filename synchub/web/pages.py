"""The console's pages and writes. Each page reads through the services; each write
is a POST with the session's CSRF token, checked for the role the API needs for the
same change, and answered by a redirect with a message."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from anyio.to_thread import run_sync
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse, StreamingResponse

from synchub.core.errors import InvalidInput, JobNotFound, Refused, Unauthenticated
from synchub.core.runs import LOG_LEVELS, FileAction, RunState
from synchub.core.windows import run_starts
from synchub.services.tokens import Role
from synchub.web import console, live, session
from synchub.web import format as fmt
from synchub.web.console import Templates, Visit, redirect, safe_next, writer

PAGE = 50
#: Jobs the dashboard's "Needs attention" panel lists; the rest are a link away.
ATTENTION_SHOWN = 20
#: Audit events a job's page lists at a time.
AUDIT_PAGE = 20
VisitDep = Annotated[Visit, Depends(console.visit)]


@dataclass(frozen=True)
class MuteForm:
    """The job page's mute field, as typed, and why the services refused it."""

    duration: str = ""
    error: str = ""


def router(templates: Templates) -> APIRouter:
    pages = APIRouter(include_in_schema=False, route_class=console.console_route(templates))
    page = templates.page

    # -- sign-in ---------------------------------------------------------------

    @pages.get(console.SIGN_IN)
    def login_form(request: Request, next: str = "/") -> Response:
        return _login_page(templates, request, safe_next(next))

    @pages.post(console.SIGN_IN)
    async def login(request: Request) -> Response:
        svc = console.services(request)
        fields = await console.form(request)
        target = safe_next(fields.get("next"))
        nonce = request.cookies.get(session.LOGIN_COOKIE)
        if not session.csrf_ok(svc, "signin", nonce, fields.get(session.CSRF_FIELD)):
            return _login_page(templates, request, target, 403, "The form had expired: try again.")
        try:
            await run_sync(console.principal, svc, fields.get("token", "").strip())
        except (Unauthenticated, Refused):
            # A token limited to other paths is told apart from no token at all only
            # where it may be used: a guess learns nothing here.
            error = "That token is unknown, revoked, expired, or not for the console."
            return _login_page(templates, request, target, 401, error)
        response = redirect(target)
        response.set_cookie(
            session.COOKIE,
            session.seal(svc, fields["token"].strip()),
            max_age=int(session.lifetime(svc).total_seconds()),
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        response.delete_cookie(session.LOGIN_COOKIE)
        return response

    @pages.post("/logout")
    async def logout(request: Request) -> Response:
        await writer(request, Role.VIEWER)
        response = redirect("/login")
        response.delete_cookie(session.COOKIE)
        return response

    # -- dashboard and jobs ----------------------------------------------------

    @pages.get("/")
    def dashboard(
        request: Request,
        visit: VisitDep,
        q: str = "",
        tag: str = "",
        state: str = "",
        after: str = "",
    ) -> HTMLResponse:
        svc = visit.svc
        # The panel's first jobs and a page of failing ones (failing come first),
        # however many need attention: the rest are a link away.
        if state in ("failing", "stale"):
            attention = svc.overview.attention_page(ATTENTION_SHOWN)
            statuses, more = svc.overview.needing(
                state, tag=tag or None, search=q or None, after=after or None, limit=PAGE
            )
        else:
            # The first page leads with the failing jobs the panel shows: with hundreds
            # failing, the panel links to all of them, and the page stays small.
            attention, statuses, more = svc.overview.dashboard(
                ATTENTION_SHOWN,
                tag=tag or None,
                enabled={"enabled": True, "disabled": False}.get(state),
                search=q or None,
                after=after or None,
                limit=PAGE,
            )
        return page(
            request,
            "dashboard.html",
            attention=attention.shown,
            attention_count=attention.count,
            failing_count=attention.failing,
            running=svc.overview.running(),
            jobs=statuses,
            more=more,
            q=q,
            tag=tag,
            state=state,
            after=after,
            system=live.system(request, svc),
            activity=[day.as_dict() for day in svc.activity.per_day(30)],  # charts' JSON
        )

    @pages.get("/jobs")
    def jobs(
        request: Request,
        visit: VisitDep,
        q: str = "",
        tag: str = "",
        state: str = "",
        after: str = "",
    ) -> HTMLResponse:
        if state in ("failing", "stale"):
            statuses, more = visit.svc.overview.needing(
                state, tag=tag or None, search=q or None, after=after or None, limit=PAGE
            )
        else:
            enabled = {"enabled": True, "disabled": False}.get(state)
            statuses, more = visit.svc.overview.jobs(
                tag=tag or None, enabled=enabled, search=q or None, after=after or None, limit=PAGE
            )
        return page(
            request, "jobs.html", jobs=statuses, more=more, q=q, tag=tag, state=state, after=after
        )

    def job_page(
        request: Request,
        visit: Visit,
        name: str,
        before: int | None = None,
        audit_before: int | None = None,
        mute: MuteForm = MuteForm(),
        code: int = 200,
    ) -> HTMLResponse:
        svc = visit.svc
        status = svc.overview.job(name)
        runs = svc.runs.page(job=name, before_id=before, limit=PAGE + 1)
        events = svc.audit.page(
            target_type="job", target=name, before_id=audit_before, limit=AUDIT_PAGE + 1
        )
        fires = svc.jobs.next(name, 5)
        windows, zone = status.job.windows, status.job.windows_tz
        return page(
            request,
            "job.html",
            code,
            job=status.job,
            status=status,
            fires=fires,
            starts=run_starts(windows, zone, fires) if windows and zone else fires,
            runs=runs[:PAGE],
            more=len(runs) > PAGE,
            before=before,
            events=events[:AUDIT_PAGE],
            more_events=len(events) > AUDIT_PAGE,
            audit_before=audit_before,
            run_count=svc.jobs.run_count(name) if visit.is_admin else None,
            history=[run.as_dict() for run in svc.activity.job_history(name)],  # charts' JSON
            mute=mute,
        )

    @pages.get("/jobs/{name}")
    def job(
        request: Request,
        visit: VisitDep,
        name: str,
        before: int | None = None,
        audit_before: int | None = None,
    ) -> HTMLResponse:
        return job_page(request, visit, name, before, audit_before)

    @pages.post("/jobs/{name}/mute")
    async def mute_job(request: Request, name: str) -> Response:
        visit = await writer(request, Role.OPERATOR)
        duration = (await console.form(request)).get("duration", "").strip()
        try:
            view = await run_sync(visit.svc.jobs.mute, name, duration)
        except InvalidInput as exc:
            mute = MuteForm(duration[:64], exc.message)
            return await run_sync(lambda: job_page(request, visit, name, mute=mute, code=422))
        until = fmt.exact(view.muted_until, view.schedule.tz)
        return redirect(f"/jobs/{name}", f"Job {name} muted: no alert until {until}.")

    @pages.post("/jobs/{name}/unmute")
    async def unmute_job(request: Request, name: str) -> Response:
        visit = await writer(request, Role.OPERATOR)
        await run_sync(visit.svc.jobs.unmute, name)
        return redirect(f"/jobs/{name}", f"Job {name} unmuted: its alerts are sent again.")

    @pages.post("/jobs/{name}/run")
    async def run_job(request: Request, name: str) -> Response:
        visit = await writer(request, Role.OPERATOR)
        run_id = await run_sync(visit.svc.runs.request, name)
        return redirect(f"/runs/{run_id}", f"Run {run_id} of {name} requested.")

    @pages.post("/jobs/{name}/enable")
    async def enable_job(request: Request, name: str) -> Response:
        visit = await writer(request, Role.OPERATOR)
        await run_sync(visit.svc.jobs.set_enabled, name, True)
        return redirect(f"/jobs/{name}", f"Job {name} enabled: it runs on its schedule.")

    @pages.post("/jobs/{name}/disable")
    async def disable_job(request: Request, name: str) -> Response:
        visit = await writer(request, Role.OPERATOR)
        await run_sync(visit.svc.jobs.set_enabled, name, False)
        return redirect(f"/jobs/{name}", f"Job {name} disabled: it runs only when asked.")

    # -- runs ------------------------------------------------------------------

    @pages.get("/runs")
    def runs(
        request: Request,
        visit: VisitDep,
        job: str = "",
        state: str = "",
        before: int | None = None,
    ) -> HTMLResponse:
        found = visit.svc.runs.page(
            job=job or None, states=[state] if state else [], before_id=before, limit=PAGE + 1
        )
        return page(
            request,
            "runs.html",
            runs=found[:PAGE],
            more=len(found) > PAGE,
            job=job,
            state=state,
            states=[s.value for s in RunState],
        )

    @pages.get("/runs/{run_id}")
    def run(
        request: Request,
        visit: VisitDep,
        run_id: int,
        action: str = "",
        after: int = 0,
        level: str = "",
        q: str = "",
    ) -> HTMLResponse:
        svc = visit.svc
        shown = svc.runs.show(run_id)
        files, more = svc.runs.file_page(run_id, action=action or None, after=after, limit=PAGE)
        log, log_seq = svc.runs.log_search(
            run_id, limit=live.LOG_LINES, level=level or None, search=q or None
        )
        return page(
            request,
            "run.html",
            run=shown,
            retried_by=svc.runs.retried_by(run_id),
            files=files,
            more_files=more,
            action=action,
            after=after,
            actions=[a.value for a in FileAction],
            log=log,
            log_seq=log_seq,
            level=level,
            q=q,
            levels=LOG_LEVELS,
        )

    @pages.post("/runs/{run_id}/cancel")
    async def cancel_run(request: Request, run_id: int) -> Response:
        visit = await writer(request, Role.OPERATOR)
        await run_sync(visit.svc.runs.cancel, run_id)
        return redirect(f"/runs/{run_id}", f"Run {run_id}: cancel requested.")

    @pages.post("/runs/{run_id}/retry")
    async def retry_run(request: Request, run_id: int) -> Response:
        visit = await writer(request, Role.OPERATOR)
        new_id = await run_sync(visit.svc.runs.retry, run_id)
        return redirect(f"/runs/{new_id}", f"Run {new_id} retries run {run_id}.")

    @pages.get("/runs/{run_id}/events")
    def run_events(
        request: Request,
        visit: VisitDep,
        run_id: int,
        after: Annotated[int, Query(ge=0)] = 0,
        level: str = "",
        q: str = "",
    ) -> StreamingResponse:
        """The run's live panels; its log lines filtered as the page's are (`level`
        and more severe, holding `q`)."""
        # A 404 or a bad level now, in words, rather than an empty stream.
        visit.svc.runs.log_search(run_id, after_seq=after, limit=1, level=level or None)
        log = live.LogFilter(level=level or None, search=q or None)
        return live.stream(live.run_events(request, templates, run_id, after, log))

    @pages.get("/events/running")
    def running_events(request: Request, visit: VisitDep) -> StreamingResponse:
        return live.stream(live.running_events(request, templates))

    # -- everything else -------------------------------------------------------

    @pages.get("/jump")
    def jump(visit: VisitDep, q: str = "") -> Response:
        """A run id or a job name, from the top bar's box."""
        q = q.strip().lstrip("#")
        if q.isdigit() and len(q) <= 18:
            return redirect(f"/runs/{int(q)}")
        try:
            return redirect(f"/jobs/{visit.svc.jobs.resolve(q)}")
        except JobNotFound:
            return redirect(f"/jobs?q={q}", f"No job named {q!r}: jobs whose name has it.")

    @pages.get("/remotes")
    def remotes(request: Request, visit: VisitDep) -> HTMLResponse:
        return page(request, "remotes.html", remotes=visit.svc.remotes.list())

    @pages.get("/remotes/{name}")
    def remote(request: Request, visit: VisitDep, name: str) -> HTMLResponse:
        return page(request, "remote.html", remote=visit.svc.remotes.show(name))

    @pages.get("/audit")
    def audit(
        request: Request,
        visit: VisitDep,
        actor: str = "",
        action: str = "",
        target: str = "",
        before: int | None = None,
    ) -> HTMLResponse:
        events = visit.svc.audit.page(
            actor=actor or None,
            action=action or None,
            target=target or None,
            before_id=before,
            limit=PAGE + 1,
        )
        return page(
            request,
            "audit.html",
            events=events[:PAGE],
            more=len(events) > PAGE,
            actor=actor,
            action=action,
            target=target,
        )

    @pages.get("/settings")
    def settings(request: Request, visit: VisitDep) -> HTMLResponse:
        svc = visit.svc
        return page(
            request,
            "settings.html",
            tokens=svc.tokens.list() if visit.is_admin else None,
            system=live.system(request, svc),
            shown=svc.settings.shown() if visit.is_admin else None,
        )

    return pages


def _login_page(
    templates: Templates, request: Request, target: str, status: int = 200, error: str = ""
) -> HTMLResponse:
    svc = console.services(request)
    nonce = session.new_nonce()
    response = templates.page(
        request,
        "login.html",
        status,
        next=target,
        csrf=session.csrf_token(svc, "signin", nonce),
        error=error,
    )
    response.set_cookie(
        session.LOGIN_COOKIE,
        nonce,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response
