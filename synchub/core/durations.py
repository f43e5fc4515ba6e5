"""Durations as users type them: `30s`, `15m`, `6h`, `1d`, `1h30m`.

Every duration a person types carries its unit: a bare `5` could mean seconds or
minutes (cron users think in minutes), so it is refused rather than guessed. Whole
numbers only: a fraction of a unit is spelled with the smaller unit (`1h30m`, not
`1.5h`). A JSON number in the API is seconds, which a client cannot mistake.
"""

from __future__ import annotations

import re

from synchub.core.errors import InvalidInput

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# ASCII digits only: str.isdigit() and \d also accept "²" or Arabic-Indic digits,
# which int() then refuses or reads in ways nobody meant.
_PART = re.compile(r"([0-9]+)([smhdw])")
_NUMBER = re.compile(r"[0-9]+")
_FRACTION = re.compile(r"[0-9]*[.,][0-9]+[smhdw]?")
#: Longer than any duration a person means ("1w6d23h59m59s" is 13): int() of
#: thousands of digits raises ValueError, not a message.
MAX_CHARS = 32


def parse_duration(text: str, *, what: str = "duration", minimum: int = 1) -> int:
    """Seconds in `text`; raise InvalidInput naming `what` when it is not a duration."""
    cleaned = text.strip().lower()
    if not cleaned:
        raise InvalidInput(f"Bad {what}: it is empty; use e.g. 30s, 15m, 6h or 1d")
    if len(cleaned) > MAX_CHARS:
        raise InvalidInput(
            f"Bad {what}: {len(cleaned)} characters is too long for a duration; "
            "use e.g. 30s, 15m, 6h or 1d"
        )
    if cleaned.startswith("-"):
        raise InvalidInput(f"Bad {what} {text!r}: it cannot be negative")
    if _NUMBER.fullmatch(cleaned):
        raise InvalidInput(
            f"Bad {what} {text!r}: give a unit, e.g. {cleaned}s, {cleaned}m, {cleaned}h "
            f"or {cleaned}d"
        )
    if _FRACTION.fullmatch(cleaned):
        raise InvalidInput(f"Bad {what} {text!r}: use whole numbers with a unit, e.g. 90s or 1h30m")
    parts = _PART.findall(cleaned)
    if not parts or "".join(n + u for n, u in parts) != cleaned:
        raise InvalidInput(
            f"Bad {what} {text!r}: use a number with a unit, e.g. 30s, 15m, 6h or 1d"
        )
    units = [u for _, u in parts]
    twice = next((u for u in units if units.count(u) > 1), None)
    if twice is not None:
        # "2h2h2h" is a slip more often than a sum: which one was meant is not guessed.
        raise InvalidInput(
            f"Bad {what} {text!r}: the unit {twice} comes more than once; "
            "give each unit once, e.g. 1h30m"
        )
    seconds = sum(int(n) * _UNITS[u] for n, u in parts)
    if seconds < minimum:
        raise InvalidInput(f"Bad {what} {text!r}: it must be at least {format_duration(minimum)}")
    return seconds


def format_duration(seconds: int) -> str:
    """The shortest exact spelling of `seconds`, e.g. 5400 -> '1h30m'; ValueError if negative."""
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative: {seconds}")
    if seconds == 0:
        return "0s"
    out = []
    for unit in ("d", "h", "m", "s"):
        size = _UNITS[unit]
        count, seconds = divmod(seconds, size)
        if count:
            out.append(f"{count}{unit}")
    return "".join(out)
