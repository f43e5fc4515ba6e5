"""The console's smallest pieces of HTML, written in Python rather than as template
macros: a page of jobs writes hundreds of them, and a macro call costs many times
what a function call does. Each is a Markup pattern whose values it escapes."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from markupsafe import Markup

from synchub.core.runs import RunState
from synchub.services.overview import JobStatus
from synchub.services.run_views import RunView
from synchub.web import format as fmt
from synchub.web import words
from synchub.web.words import Badge


def when(iso: Any, now: datetime, tz: str | None = None) -> Markup:
    """A moment as a `<time>`: how long ago (or until), its exact time on hover;
    "never" when there is none (or a snapshot does not have it yet)."""
    if not iso:
        return _NEVER
    return _when(iso, now, tz)


_NEVER = Markup('<span class="dim">never</span>')


# A page writes the same moments again and again (a last run that was the last
# success, the next fire of many jobs on one schedule), all at the page's `now`.
@functools.lru_cache(maxsize=1024)
def _when(iso: str | datetime, now: datetime, tz: str | None) -> Markup:
    at = fmt.parse(iso)
    return Markup('<time datetime="%s" title="%s">%s</time>') % (
        iso,
        fmt.exact(at, tz),
        fmt.relative(at, now),
    )


def badge(b: Badge) -> Markup:
    """A state as its badge: icon and word, in the state's tone."""
    return Markup(
        '<span class="badge %s" data-state="%s"><span aria-hidden="true">%s</span> %s</span>'
    ) % (b.tone, b.state, b.icon, b.word)


def short_path(text: str, keep: int = 48) -> Markup:
    """A path, cut in the middle when longer than `keep` characters, the whole of it
    then in the title (a path shown whole needs none)."""
    shown = fmt.middle(text, keep)
    if shown == text:
        return Markup('<span class="path">%s</span>') % text
    return Markup('<span class="path" title="%s">%s</span>') % (text, shown)


_DRY = Markup(
    ' <span class="badge dry" data-state="dry-run" title="A preview: it changed nothing">'
    '<span aria-hidden="true">◇</span> dry run</span>'
)


def dry(run: Any) -> Markup:
    """The dry-run badge of a run that was one, else nothing."""
    return _DRY if run.dry_run else _EMPTY


_EMPTY = Markup("")


_DASH = Markup('<span class="dim">—</span>')
_JOB_ROW = Markup(
    "<tr>\n"
    "<td>{badge}</td>\n"
    '<td><a class="nowrap" href="/jobs/{name}">{name}</a>{tags}</td>\n'
    '<td class="wide-only">{route}</td>\n'
    "<td{struck}>{schedule}</td>\n"
    "<td>{last}</td>\n"
    '<td><span class="age {fresh.tone}" data-staleness="{fresh.state}">'
    '<span aria-hidden="true">{fresh.icon}</span> {success}{stale}</span></td>\n'
    "<td>{failing}</td>\n"
    "<td>{next}</td>\n"
    "</tr>\n"
)


def job_row(status: JobStatus, now: datetime) -> Markup:
    """A row of a jobs table: its state, name and tags, route, schedule, last run,
    last success (how stale), when it began failing, and its next fire. A page
    writes fifty to a hundred: one call each, not one per cell."""
    job, fresh = status.job, words.staleness(status)
    return _JOB_ROW.format(
        badge=badge(words.job_badge(status, now)),
        name=job.name,
        tags=Markup("").join(_TAG.format(tag=tag) for tag in job.tags),
        route=_route(job.kind, job.params),
        struck=_STRUCK if not job.enabled else _EMPTY,
        schedule=job.schedule.description,
        last=_last_run(status.last, now) if status.last else _NEVER_RUN,
        fresh=fresh,
        success=when(status.last_success_at, now),
        stale=_STALE if fresh.state == "stale" else _EMPTY,
        failing=_FAILING.format(at=status.failing_since, when=when(status.failing_since, now))
        if status.failing_since
        else _DASH,
        next=_next_fire(job.next_fire_at, job.schedule.tz, now),
    )


_TAG = Markup(' <a class="tag" href="/jobs?tag={tag}">{tag}</a>')
_STRUCK = Markup(' class="struck"')
_NEVER_RUN = Markup('<span class="dim">never run</span>')
_STALE = Markup(' <span class="sr">(stale)</span>')
_FAILING = Markup('<span class="bad-text" data-failing-since="{at}">{when}</span>')


def _route(kind: str, params: dict[str, Any]) -> Markup:
    found = words.route(params)
    if found is None:
        return Markup('<span class="dim">{}</span>').format(kind)
    return Markup('{} → {} <span class="dim">· {}</span>').format(
        short_path(found[0], 32), short_path(found[1], 32), params.get("op") or "sync"
    )


def _last_run(run: RunView, now: datetime) -> Markup:
    done = (run.progress or {}).get("bytes") if run.state is RunState.RUNNING else run.stats.bytes
    return Markup(
        '<a href="/runs/{id}" data-run-id="{id}">{badge}</a>{dry} {when}<br>'
        '<span class="dim">{took} · {size}</span>'
    ).format(
        id=run.id,
        badge=badge(words.run_badge(run, now)),
        dry=dry(run),
        when=when(run.finished_at or run.started_at, now),
        took=fmt.duration(words.duration_of(run, now)),
        size=fmt.size(done),
    )


def _next_fire(at: str | None, tz: str | None, now: datetime) -> Markup:
    if not at:
        return _DASH
    return Markup('{}<br><span class="dim nowrap">{}</span>').format(
        when(at, now, tz), fmt.soon(at, now, tz)
    )
