"""Scrubbing secret values from log text: longest first, short values left alone."""

from __future__ import annotations

from synchub.core.redact import MIN_SECRET_LEN, redact, secret_list


def test_it_replaces_every_occurrence_longest_secret_first() -> None:
    secrets = secret_list(["token-1234", "token-1234-and-more"])
    assert redact("a token-1234-and-more b token-1234", secrets) == "a *** b ***"


def test_it_leaves_values_too_short_to_be_credentials() -> None:
    # MODE=full or PORT=2222 would otherwise blank out ordinary words and numbers.
    assert MIN_SECRET_LEN == 8
    secrets = secret_list(["full", "2222", "seven77", "eight888"])
    assert redact("full copy on port 2222: seven77 eight888", secrets) == (
        "full copy on port 2222: seven77 ***"
    )
