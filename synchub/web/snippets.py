"""The console's smallest pieces of HTML, written in Python rather than as template
macros: a page of jobs writes hundreds of them, and a macro call costs many times
what a function call does."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from markupsafe import Markup

from synchub.web import format as fmt
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
    at, exact = _moment(iso, tz)
    return Markup('<time datetime="%s" title="%s">%s</time>') % (
        iso,
        exact,
        fmt.relative(at, now),
    )


# The next page writes the same moments at a later `now`: only "how long ago" changes.
@functools.lru_cache(maxsize=4096)
def _moment(iso: str | datetime, tz: str | None) -> tuple[datetime, str]:
    at = fmt.parse(iso)
    assert at is not None  # `when` writes "never" for no moment
    return at, fmt.exact(at, tz)


def badge(b: Badge) -> Markup:
    """A state as its badge: icon and word, in the state's tone."""
    return Markup(
        '<span class="badge %s" data-state="%s"><span aria-hidden="true">%s</span> %s</span>'
    ) % (b.tone, b.state, b.icon, b.word)


def path(text: str, keep: int = 48) -> Markup:
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
