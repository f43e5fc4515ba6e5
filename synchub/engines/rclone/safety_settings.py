"""The safety settings of an rclone job, checked: the delete guard, the access
check, the marker and kept versions (what `safety` then enforces)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from synchub.core.errors import InvalidInput, blame
from synchub.core.safety import (
    DEFAULT_DELETE_GUARD,
    GUARDED_OPS,
    KEEP_OPS,
    DeleteGuard,
    check_marker,
    parse_delete_guard,
    parse_keep_deleted,
)
from synchub.engines.rclone.flags import flag_name

_INCLUDES = (
    "rclone applies it before every --filter rule, so it could take in the kept "
    "versions: use the job's filters ('+ PATTERN') instead"
)
#: Options that cannot go with kept versions, and why.
_NOT_WITH_KEPT = {
    "--delete-excluded": "it would delete the kept versions themselves",
    "--suffix": "kept files must keep their names to be restored",
    "--include": _INCLUDES,
    "--include-from": _INCLUDES,
}


def validate(params: Mapping[str, Any], op: str) -> dict[str, Any]:
    """The safety settings of rclone job `params`, normalised: `delete_guard` (sync
    and bisync; 50% when not given), `check_access` (bisync; on when not given) and
    `require_marker` (any op; absent when none). InvalidInput for a bad guard, a count
    guard on a bisync, a check_access that is not true or false, or a marker path."""
    out: dict[str, Any] = {}
    if op == "bisync":
        checked = params.get("check_access", True)
        if not isinstance(checked, bool):
            raise InvalidInput("Bad check_access: use true or false")
        out["check_access"] = checked
    if op in GUARDED_OPS:
        with blame("delete_guard"):
            guard = parse_delete_guard(params.get("delete_guard", DEFAULT_DELETE_GUARD))
            if op == "bisync" and guard.count is not None:
                raise InvalidInput(
                    "Bad delete guard for a bisync job: use a share such as 50% (bisync's "
                    "own --max-delete is a percentage), or off"
                )
        out["delete_guard"] = str(guard)
    marker = params.get("require_marker")
    if marker not in (None, ""):
        with blame("require_marker"):
            out["require_marker"] = check_marker(marker)
    keep = params.get("keep_deleted")
    with blame("keep_deleted"):
        period = parse_keep_deleted(keep) if keep not in (None, "") else None
        if period is not None:
            out["keep_deleted"] = _keepable(period, op, params)
    return out


def _keepable(keep: str, op: str, params: Mapping[str, Any]) -> str:
    """`keep` when versions can be kept for this op and these options; else InvalidInput."""
    if op not in KEEP_OPS:
        why = {
            "move": "its report could not tell a kept version from a moved file",
            "bisync": "bisync changes both sides and keeps its own backups (--backup-dir1/2)",
            "check": "a check changes nothing",
        }.get(op, "it does not overwrite at the destination")
        raise InvalidInput(f"Kept versions apply to sync and copy jobs, not {op}: {why}")
    options = params.get("options") or []
    for option in options if isinstance(options, list) else []:
        name = flag_name(option) if isinstance(option, str) else ""
        if name in _NOT_WITH_KEPT:
            raise InvalidInput(f"Kept versions cannot go with {name}: {_NOT_WITH_KEPT[name]}")
    return keep


def guard_of(params: Mapping[str, Any]) -> DeleteGuard:
    return parse_delete_guard(params.get("delete_guard", DEFAULT_DELETE_GUARD))
