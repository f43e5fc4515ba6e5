"""The console's smallest pieces of HTML, written in Python rather than as template
macros: a page of jobs writes hundreds of them, and a macro call costs many times
what a function call does."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from markupsafe import Markup

from synchub.web import format as fmt
from synchub.web.words import Badge


def when(iso: Any, now: datetime, tz: str | None = None) -> Markup:
    """A moment as a `<time>`: how long ago (or until), its exact time on hover;
    "never" when there is none (or a snapshot does not have it yet)."""
    if not iso:
        return Markup('<span class="dim">never</span>')
    return Markup('<time datetime="%s" title="%s">%s</time>') % (
        iso,
        fmt.exact(iso, tz),
        fmt.relative(iso, now),
    )


def badge(b: Badge) -> Markup:
    """A state as its badge: icon and word, in the state's tone."""
    return Markup(
        '<span class="badge %s" data-state="%s"><span aria-hidden="true">%s</span> %s</span>'
    ) % (b.tone, b.state, b.icon, b.word)
