"""Scrubbing known secret values out of text bound for a run's log or error.

A value shorter than MIN_SECRET_LEN is left in place: a short value (a job's
`MODE=full`, a port, `true`) would blank out ordinary words all over the log,
and a credential that short is guessed faster than it is read from a log.
Views mask secrets whatever their length; only this scrubbing has the floor.
"""

from __future__ import annotations

from collections.abc import Iterable

#: Values shorter than this are not scrubbed from logs (see the module's docstring).
MIN_SECRET_LEN = 8
#: What a scrubbed value becomes.
REDACTED = "***"


def secret_list(values: Iterable[str]) -> list[str]:
    """Secrets worth redacting, longest first (so no secret is half-replaced)."""
    return sorted({v for v in values if len(v) >= MIN_SECRET_LEN}, key=len, reverse=True)


def redact(text: str, secrets: list[str]) -> str:
    """`text` with every value of `secrets` (from secret_list) replaced by "***"."""
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text
