"""The kinds a job can be: built in, and plug-ins from the `synchub.kinds` entry point."""

from __future__ import annotations

import logging
from importlib.metadata import entry_points
from typing import Any

from synchub.engines.base import Engine

log = logging.getLogger(__name__)

ENTRY_POINT = "synchub.kinds"


def builtin_engines(
    *, rclone: str = "", kill_grace: float = 5.0, allow_programs: bool = False, bwlimit: str = ""
) -> dict[str, Engine]:
    from synchub.engines.command import CommandEngine
    from synchub.engines.rclone.engine import RcloneEngine

    engines: list[Engine] = [
        RcloneEngine(
            binary=rclone or None,
            kill_grace=kill_grace,
            allow_programs=allow_programs,
            bwlimit=bwlimit,
        ),
        CommandEngine(kill_grace=kill_grace),
    ]
    return {e.kind: e for e in engines}


def plugin_engines(reserved: frozenset[str]) -> dict[str, Engine]:
    """Engines registered by installed packages. A plug-in that fails to load, or
    that claims a built-in kind, is logged and left out rather than stopping synchub."""
    found: dict[str, Engine] = {}
    for ep in entry_points(group=ENTRY_POINT):
        try:
            target: Any = ep.load()
            engine: Engine = target() if isinstance(target, type) else target
            kind = engine.kind
        except Exception:
            log.exception("cannot load job kind %s", ep.name, extra={"action": "plugin_error"})
            continue
        if kind in reserved or kind in found:
            log.warning("job kind %r from %s is already taken; ignored", kind, ep.value)
            continue
        found[kind] = engine
    return found


def all_engines(
    *, rclone: str = "", kill_grace: float = 5.0, allow_programs: bool = False, bwlimit: str = ""
) -> dict[str, Engine]:
    engines = builtin_engines(
        rclone=rclone, kill_grace=kill_grace, allow_programs=allow_programs, bwlimit=bwlimit
    )
    engines.update(plugin_engines(frozenset(engines)))
    return engines
