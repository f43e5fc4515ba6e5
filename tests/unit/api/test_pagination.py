"""Keyset cursors: opaque, round-tripping, and each list taking only its own."""

from __future__ import annotations

import base64

import pytest

from synchub.api.pagination import decode_cursor, decode_name_cursor, encode_cursor
from synchub.core.errors import InvalidInput


def raw(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def test_a_cursor_gives_back_the_id_or_name_it_was_made_from() -> None:
    assert decode_cursor(encode_cursor(42)) == 42
    assert decode_name_cursor(encode_cursor("photos-daily")) == "photos-daily"
    assert decode_cursor(None) is None and decode_name_cursor("") is None


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!",  # not base64
        raw("after:\xe9t\xe9"),  # not ASCII
        raw("after:"),  # no name
        raw("after:a b"),  # not a name
        raw("after:" + "a" * 65),  # longer than a name
        raw("before:42"),  # a cursor of a list by id
    ],
)
def test_a_name_cursor_we_did_not_make_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidInput, match="Bad cursor"):
        decode_name_cursor(cursor)


@pytest.mark.parametrize(
    "cursor", [raw("before:"), raw("before:-1"), raw("before:" + "9" * 19), raw("after:j")]
)
def test_an_id_cursor_we_did_not_make_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidInput, match="Bad cursor"):
        decode_cursor(cursor)
