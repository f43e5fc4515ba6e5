"""Opaque keyset cursors: the client passes back what the last page gave it.

A cursor is `KIND:KEY` in URL-safe base64, the key being the sort key of the last
item of a page:

- `before:ID` for lists newest first by id (runs, audit events): the next page
  holds the ids below it;
- `after:NAME` for lists by name (jobs): the next page holds the names after it.

Each list decodes only its own kind, so a cursor of one list given to another is a
bad cursor, not a silently wrong page.
"""

from __future__ import annotations

import base64
import binascii

from synchub.core.errors import InvalidInput, InvalidName
from synchub.core.names import check_name

BAD_CURSOR = "Bad cursor: pass back the next_cursor of a previous page"


def encode_cursor(last: int | str) -> str:
    """A cursor continuing after `last`: an id (lists newest first by id) or a name
    (lists by name)."""
    text = f"before:{last}" if isinstance(last, int) else f"after:{last}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    """The id a cursor continues before; InvalidInput for one we did not make."""
    number = _decode(cursor, "before")
    if number is None:
        return None
    if not number.isascii() or not number.isdigit() or len(number) > 18:
        raise InvalidInput(BAD_CURSOR)
    return int(number)


def decode_name_cursor(cursor: str | None) -> str | None:
    """The name a cursor continues after; InvalidInput for one we did not make."""
    name = _decode(cursor, "after")
    if name is None:
        return None
    try:
        return check_name(name, what="cursor")
    except InvalidName:
        raise InvalidInput(BAD_CURSOR) from None


def _decode(cursor: str | None, kind: str) -> str | None:
    """The key of a cursor of `kind`, None for no cursor."""
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInput(BAD_CURSOR) from None
    found, _, key = text.partition(":")
    if found != kind:
        raise InvalidInput(BAD_CURSOR)
    return key
