"""How the console writes sizes, speeds, durations and times: binary units, `4m 12s`,
`6 h ago`. Pure functions, used as template filters."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def size(n: float | None) -> str:
    """1288490189 -> '1.2 GiB'; bytes below 1 KiB as they are."""
    if n is None:
        return "—"
    value, unit = float(n), 0
    while abs(value) >= 1024 and unit < len(_UNITS) - 1:
        value, unit = value / 1024, unit + 1
    if unit == 0:
        return f"{int(value)} B"
    return f"{value:.1f} {_UNITS[unit]}" if value < 100 else f"{value:.0f} {_UNITS[unit]}"


def speed(bps: float | None) -> str:
    return f"{size(bps)}/s" if bps else "—"


def duration(seconds: float | None) -> str:
    """252 -> '4m 12s'; the two largest units, seconds below a minute whole."""
    if seconds is None:
        return "—"
    if seconds < 10:
        return f"{seconds:.1f}s" if seconds % 1 else f"{int(seconds)}s"
    whole = round(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    while parts and parts[0][0] == 0:
        parts.pop(0)
    return " ".join(f"{n}{unit}" for n, unit in parts[:2] if n) or "0s"


def age(seconds: float) -> str:
    """A span in its largest unit, for relative times: '3 d', '6 h', '12 min', '40 s'."""
    seconds = abs(seconds)
    for span, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= span:
            return f"{int(seconds // span)} {unit}"
    return f"{int(seconds)} s"


def parse(iso: str | datetime | None) -> datetime | None:
    if iso is None or isinstance(iso, datetime):
        return iso
    return datetime.fromisoformat(iso)


def relative(iso: str | datetime | None, now: datetime) -> str:
    """'6 h ago', 'in 18 h' or 'now'."""
    at = parse(iso)
    if at is None:
        return "never"
    delta = (at - now).total_seconds()
    if abs(delta) < 1:
        return "now"
    return f"in {age(delta)}" if delta > 0 else f"{age(delta)} ago"


def exact(iso: str | datetime | None, tz: str | None = None) -> str:
    """The instant in full, in `tz` (else UTC): '2025-06-02 09:00:00 UTC'."""
    at = parse(iso)
    if at is None:
        return ""
    zone = ZoneInfo(tz) if tz else ZoneInfo("UTC")
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")


def soon(iso: str | datetime | None, now: datetime, tz: str | None = None) -> str:
    """A coming instant in `tz`, short: 'Sun 02:30 CET' within a week, else the date."""
    at = parse(iso)
    if at is None:
        return ""
    local = at.astimezone(ZoneInfo(tz) if tz else ZoneInfo("UTC"))
    if (at - now).days < 6:
        return local.strftime("%a %H:%M %Z")
    return local.strftime("%Y-%m-%d %H:%M %Z")


def middle(text: str, keep: int = 48) -> str:
    """A long path cut in the middle: 'photos/2024/…/IMG_0001.jpg'."""
    if len(text) <= keep:
        return text
    half = (keep - 1) // 2
    return text[:half] + "…" + text[-(keep - 1 - half) :]


def percent(done: float, total: float) -> int:
    return int(100 * done / total) if total else 0
