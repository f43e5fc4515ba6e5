"""The console's forms and the writes that change jobs and remotes: add, edit,
duplicate, remove, dry run, test. Each goes through the same service call as the
API, with the role the API needs for it; what the services refuse comes back as
the form, each error beside its input and what was typed kept (secrets never).

Its routes come before the pages', so `/jobs/new` is this form and never a job's
page (the services refuse "new" as a job or remote name)."""

from __future__ import annotations

import functools
from typing import Annotated
from zoneinfo import available_timezones

from anyio.to_thread import run_sync
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse

from synchub.core.errors import AlreadyExists, InvalidInput
from synchub.services.jobs.fields import JobFields
from synchub.services.jobs.job_views import JobView, ScheduleChecked
from synchub.services.tokens import Role, TokenService
from synchub.web import console
from synchub.web.console import Templates, Visit, redirect, writer
from synchub.web.job_form import JobForm
from synchub.web.remote_form import RemoteEntry

VisitDep = Annotated[Visit, Depends(console.visit)]


@functools.cache
def zones() -> list[str]:
    return sorted(available_timezones())


def router(templates: Templates) -> APIRouter:
    edits = APIRouter(include_in_schema=False, route_class=console.console_route(templates))

    def job_page(
        request: Request, visit: Visit, form: JobForm, editing: str = "", code: int = 200
    ) -> HTMLResponse:
        svc = visit.svc
        return templates.page(
            request,
            "job_form.html",
            code,
            form=form.shown(),
            editing=editing,
            remotes=[r.name for r in svc.remotes.list()],
            allowed=svc.jobs.allowed_options(),
            zones=zones(),
            preview=_preview(visit, form["schedule"], form["cron"], form["tz"], form["every"]),
        )

    # -- jobs ------------------------------------------------------------------

    @edits.get("/jobs/new")
    def new_job(request: Request, visit: VisitDep, copy: str = "") -> HTMLResponse:
        TokenService.authorize(visit.who, Role.ADMIN)
        form = JobForm.blank()
        if copy:  # duplicate: the job's settings under a name still to choose
            form = JobForm.of_job(visit.svc.jobs.show(copy), name=f"{copy}-copy")
        return job_page(request, visit, form)

    @edits.get("/jobs/new/schedule")
    def schedule_preview(
        request: Request,
        visit: VisitDep,
        schedule: str = "none",
        cron: str = "",
        tz: str = "",
        every: str = "",
    ) -> HTMLResponse:
        """The schedule's words and next fire times, as typed (htmx swaps it in)."""
        preview = _preview(visit, schedule, cron, tz, every)
        html = templates.render(
            "_schedule_preview.html", preview=preview, now=visit.svc.clock.now()
        )
        return HTMLResponse(html, headers=console.HEADERS)

    @edits.post("/jobs/new")
    async def add_job(request: Request) -> Response:
        visit = await writer(request, Role.ADMIN)
        form = JobForm.posted(await console.form(request))
        name = form["name"].strip()
        try:
            spec = await run_sync(_spec, visit, form, name, None)
            view = await run_sync(visit.svc.jobs.add, name, spec)
        except InvalidInput as exc:
            return job_page(request, visit, form.with_errors(exc), code=422)
        except AlreadyExists as exc:
            form = JobForm(form.values, form.kind, {"name": [exc.message]}, form.hooks)
            return job_page(request, visit, form, code=409)
        return redirect(f"/jobs/{name}", f"Job {name} added: {view.schedule.description}.")

    async def checked(visit: Visit, form: JobForm, name: str, job: JobView | None) -> Response:
        """Every input's errors as the services see them now, each swapped in beside
        its input (htmx out-of-band): nothing is saved."""
        try:
            spec = await run_sync(_spec, visit, form, name, job)
            await run_sync(
                functools.partial(visit.svc.jobs.check, name, spec, editing=job is not None)
            )
            form = JobForm(form.values, form.kind, {}, form.hooks)
        except InvalidInput as exc:
            form = form.with_errors(exc)
        html = templates.render("_form_checks.html", inputs=form.inputs, errors=form.errors)
        return HTMLResponse(html, headers=console.HEADERS)

    @edits.post("/jobs/new/check")
    async def check_new_job(request: Request) -> Response:
        visit = await writer(request, Role.ADMIN)
        form = JobForm.posted(await console.form(request))
        return await checked(visit, form, form["name"].strip(), None)

    @edits.post("/jobs/{name}/check")
    async def check_job_edit(request: Request, name: str) -> Response:
        visit = await writer(request, Role.ADMIN)
        current = await run_sync(visit.svc.jobs.show, name)
        form = JobForm.posted(await console.form(request), kind=current.kind)
        return await checked(visit, form, name, current)

    @edits.get("/jobs/{name}/edit")
    def edit_job_form(request: Request, visit: VisitDep, name: str) -> HTMLResponse:
        TokenService.authorize(visit.who, Role.ADMIN)
        form = JobForm.of_job(visit.svc.jobs.show(name), name=name)
        return job_page(request, visit, form, editing=name)

    @edits.post("/jobs/{name}/edit")
    async def edit_job(request: Request, name: str) -> Response:
        visit = await writer(request, Role.ADMIN)
        current = await run_sync(visit.svc.jobs.show, name)
        form = JobForm.posted(await console.form(request), kind=current.kind)
        form = JobForm({**form.values, "name": name}, form.kind, hooks=form.hooks)
        try:
            spec = await run_sync(_spec, visit, form, name, current)
            await run_sync(visit.svc.jobs.edit, name, spec)
        except InvalidInput as exc:
            return job_page(request, visit, form.with_errors(exc), editing=name, code=422)
        return redirect(f"/jobs/{name}", f"Job {name} saved.")

    @edits.post("/jobs/{name}/dry-run")
    async def dry_run(request: Request, name: str) -> Response:
        visit = await writer(request, Role.OPERATOR)
        run_id = await run_sync(functools.partial(visit.svc.runs.request, name, dry_run=True))
        return redirect(
            f"/runs/{run_id}", f"Dry run {run_id} of {name} requested: it changes nothing."
        )

    @edits.post("/jobs/{name}/remove")
    async def remove_job(request: Request, name: str) -> Response:
        visit = await writer(request, Role.ADMIN)
        keep = bool((await console.form(request)).get("keep_history"))
        done = await run_sync(functools.partial(visit.svc.jobs.remove, name, keep_history=keep))
        count = done.runs_kept if keep else done.runs_deleted
        runs = f"its {count} {'run' if count == 1 else 'runs'} " + (
            "kept, to read" if keep else "deleted"
        )
        return redirect("/jobs", f"Job {name} removed; {runs}.")

    # -- remotes ---------------------------------------------------------------

    def remote_page(
        request: Request,
        visit: Visit,
        entry: RemoteEntry,
        editing: bool = False,
        code: int = 200,
        stored: dict[str, str] | None = None,
    ) -> HTMLResponse:
        svc = visit.svc
        spec = svc.remotes.form(entry.type, entry.provider) if entry.type else None
        return templates.page(
            request,
            "remote_form.html",
            code,
            entry=entry if spec is None else entry.shown(spec),
            spec=spec,
            types=svc.remotes.types(),
            editing=editing,
            stored=stored or {},
        )

    @edits.get("/remotes/new")
    def new_remote(
        request: Request, visit: VisitDep, type: str = "", provider: str = ""
    ) -> HTMLResponse:
        TokenService.authorize(visit.who, Role.ADMIN)
        values = {"provider": provider} if provider else {}
        entry = RemoteEntry(name="", type=type, values=values)
        if type:
            visit.svc.remotes.form(type, provider)  # an unknown type: 422, in words
        return remote_page(request, visit, entry)

    @edits.post("/remotes/new")
    async def add_remote(request: Request) -> Response:
        visit = await writer(request, Role.ADMIN)
        fields = await console.form(request)
        spec = await run_sync(
            visit.svc.remotes.form, fields.get("type", ""), fields.get("options.provider", "")
        )
        entry = RemoteEntry.posted(fields, spec)
        try:
            limit = entry.limit(editing=False)
            await run_sync(
                functools.partial(
                    visit.svc.remotes.add,
                    entry.name,
                    entry.type,
                    entry.to_add(),
                    max_concurrency=limit,
                )
            )
        except InvalidInput as exc:
            return remote_page(request, visit, entry.with_errors(exc, spec), code=422)
        except AlreadyExists as exc:
            errors = {"name": [exc.message]}
            entry = RemoteEntry(entry.name, entry.type, entry.values, entry.max_concurrency, errors)
            return remote_page(request, visit, entry, code=409)
        return redirect(f"/remotes/{entry.name}", f"Remote {entry.name} added.")

    @edits.get("/remotes/{name}/edit")
    def edit_remote_form(
        request: Request, visit: VisitDep, name: str, provider: str = ""
    ) -> HTMLResponse:
        TokenService.authorize(visit.who, Role.ADMIN)
        view = visit.svc.remotes.show(name)
        values = dict(view.options)
        if provider:
            values["provider"] = provider
        limit = str(view.max_concurrency or "")
        entry = RemoteEntry(name, view.type, values, limit)
        return remote_page(request, visit, entry, editing=True, stored=view.options)

    @edits.post("/remotes/{name}/edit")
    async def edit_remote(request: Request, name: str) -> Response:
        visit = await writer(request, Role.ADMIN)
        fields = await console.form(request)
        view = await run_sync(visit.svc.remotes.show, name)
        provider = fields.get("options.provider", view.options.get("provider", ""))
        spec = await run_sync(visit.svc.remotes.form, view.type, provider)
        entry = RemoteEntry.posted(fields, spec, name=name)
        entry = RemoteEntry(name, entry.type, entry.values, entry.max_concurrency)
        try:
            limit = entry.limit(editing=True)
            change = entry.to_edit(spec, view.options)
            await run_sync(
                functools.partial(visit.svc.remotes.edit, name, change, max_concurrency=limit)
            )
        except InvalidInput as exc:
            page = entry.with_errors(exc, spec)
            return remote_page(request, visit, page, editing=True, code=422, stored=view.options)
        return redirect(f"/remotes/{name}", f"Remote {name} saved.")

    @edits.post("/remotes/{name}/test")
    async def test_remote(request: Request, name: str) -> Response:
        visit = await writer(request, Role.OPERATOR)
        ok, message = await run_sync(visit.svc.remotes.test, name)
        said = f"Remote {name} answers: {message}" if ok else f"Remote {name} failed: {message}"
        if request.headers.get("hx-request"):
            html = templates.render("_test_result.html", ok=ok, said=said)
            return HTMLResponse(html, headers=console.HEADERS)
        return redirect(f"/remotes/{name}", said)

    return edits


def _spec(visit: Visit, form: JobForm, name: str, current: JobView | None) -> JobFields:
    """The form's JobFields. An input that is not even of its type (a hook that is no
    command) is refused with every problem the services find in the rest, at once."""
    spec, problems = form.spec(current)
    if problems:
        with problems.about(""):
            visit.svc.jobs.check(name, spec, editing=current is not None)
        problems.raise_any()
    return spec


def _preview(visit: Visit, schedule: str, cron: str, tz: str, every: str) -> ScheduleChecked | None:
    """check_schedule's answer for the schedule typed; None for manual runs only."""
    if schedule == "cron":
        return visit.svc.jobs.check_schedule(cron=cron, tz=tz.strip() or None)
    if schedule == "every":
        return visit.svc.jobs.check_schedule(every=every, tz=tz.strip() or None)
    return None
