"""rclone's obscure/reveal, reimplemented (the real binary is checked in integration)."""

from __future__ import annotations

import pytest

from synchub.engines.obscure import obscure, reveal

# Made by `rclone obscure 'héllo wörld!'` (rclone 1.75.2).
FROM_RCLONE = "RP7OLaTvoax8SgaVXXBkSXbVU2KR_CXGyKejPDa8"


def test_it_reveals_what_rclone_obscured() -> None:
    assert reveal(FROM_RCLONE) == "héllo wörld!"


@pytest.mark.parametrize("plain", ["", "p", "s3cr:et/+=%", "ünïcødé ✓", "x" * 1000])
def test_it_round_trips(plain: str) -> None:
    assert reveal(obscure(plain)) == plain


def test_it_uses_a_fresh_iv_each_time() -> None:
    assert obscure("same") != obscure("same")


def test_its_output_is_unpadded_url_safe_base64() -> None:
    text = obscure("a" * 50)
    assert "=" not in text
    assert set(text) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@pytest.mark.parametrize(
    "bad",
    [
        "plain password!",  # characters outside the alphabet
        "c2hvcnQ",  # valid base64, shorter than the IV
        "a",  # not even base64
    ],
)
def test_it_refuses_what_is_not_obscured(bad: str) -> None:
    with pytest.raises(ValueError, match="not an obscured value"):
        reveal(bad)
