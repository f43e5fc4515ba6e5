"""`synchub cron`: check a cron expression and list its next fire times; no database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from synchub.cli.shared import JsonOpt, emit, fail, out, settings_problem
from synchub.core.errors import InvalidInput


def cron(
    expr: str,
    tz: Annotated[
        str | None,
        typer.Option("--tz", help="IANA zone (default: SYNCHUB_DEFAULT_TZ, else this machine's)"),
    ] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="ISO-8601 start (default now)")
    ] = None,
    count: Annotated[int, typer.Option("-n", min=1, max=1000)] = 5,
    as_json: JsonOpt = False,
) -> None:
    """Check a cron expression, describe it and list its next fire times."""
    from zoneinfo import ZoneInfo

    from synchub.core.schedules import cron_schedule, describe, next_fires

    try:
        zone_name = tz or _default_zone()
        schedule = cron_schedule(expr, zone_name)
        after = datetime.now(UTC)
        if start is not None:
            try:
                after = datetime.fromisoformat(start)
            except ValueError:
                raise InvalidInput(
                    f"Bad --from {start!r}: use ISO-8601, e.g. 2025-03-30T00:00"
                ) from None
            if after.tzinfo is None:
                after = after.replace(tzinfo=ZoneInfo(zone_name))
        fires = [
            f.astimezone(ZoneInfo(zone_name)).isoformat()
            for f in next_fires(schedule, after, count)
        ]
    except InvalidInput as exc:
        fail(exc.message, 2)
    if as_json:
        emit({"expr": expr, "tz": zone_name, "description": describe(schedule), "next": fires})
        return
    out.print(describe(schedule), markup=False)
    for fire in fires:
        out.print(f"  {fire}")


def _default_zone() -> str:
    from pydantic import ValidationError

    from synchub.config import Settings
    from synchub.core.schedules import local_zone_name

    try:
        configured = Settings().default_tz
    except ValidationError as exc:
        fail(settings_problem(exc), 2)
    return configured or local_zone_name()
