"""What views and audit events show of secrets: the mask, in place of each value."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from synchub.core.errors import EngineError, InvalidRemote
from synchub.engines.rclone import backends as rclone_backends

MASK = "********"


def secret_keys(type_: str) -> frozenset[str] | None:
    """The secret options of `type_`; None when this rclone does not know the type
    or cannot be asked (then nothing says which values are secrets)."""
    try:
        return rclone_backends.secret_options(type_)
    except (InvalidRemote, EngineError):
        return None


def masked(type_: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """`options` of a `type_` remote with the values of its secret options masked;
    every value masked when nothing says which are secrets (see secret_keys)."""
    secret = secret_keys(type_)
    return {k: MASK if secret is None or k in secret else v for k, v in options.items()}


def remote_event(view: dict[str, Any] | None, *, known_only: bool = False) -> dict[str, Any] | None:
    """A remote's view as an audit event holds it, its secret values masked.
    `known_only`: left as it is when nothing says which values are secrets (to
    rewrite history only where that is known)."""
    if not view or not isinstance(view.get("options"), dict):
        return view
    type_ = str(view.get("type"))
    if known_only and secret_keys(type_) is None:
        return view
    options = masked(type_, view["options"])
    return view if options == view["options"] else {**view, "options": options}


def plain_env(params: dict[str, Any]) -> bool:
    """Whether a job's params hold env values in the clear."""
    env = params.get("env")
    return isinstance(env, dict) and any(value != MASK for value in env.values())


def job_event(view: dict[str, Any] | None) -> dict[str, Any] | None:
    """A job's view as an audit event holds it, its env values masked."""
    if not view or not isinstance(view.get("params"), dict):
        return view
    return view if not plain_env(view["params"]) else {**view, "params": masked_env(view["params"])}


def masked_env(params: dict[str, Any]) -> dict[str, Any]:
    """`params` with the values of its `env` masked. Stored params hold them masked
    already, but for jobs stored before the values were sealed (revision 0007)."""
    env = params.get("env")
    if not isinstance(env, dict) or not env:
        return params
    return {**params, "env": dict.fromkeys(env, MASK)}
