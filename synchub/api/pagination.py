"""Opaque keyset cursors: the client passes back what the last page gave it."""

from __future__ import annotations

import base64
import binascii

from synchub.core.errors import InvalidInput


def encode_cursor(last_id: int) -> str:
    """A cursor continuing after the row `last_id` (lists run newest first)."""
    return base64.urlsafe_b64encode(f"before:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    """The id a cursor continues before; InvalidInput for one we did not make."""
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInput("Bad cursor: pass back the next_cursor of a previous page") from None
    kind, _, number = text.partition(":")
    if kind != "before" or not number.isascii() or not number.isdigit() or len(number) > 18:
        raise InvalidInput("Bad cursor: pass back the next_cursor of a previous page")
    return int(number)
