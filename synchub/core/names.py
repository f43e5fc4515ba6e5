"""Names of remotes and jobs: safe in argv, env variable names, URLs and shells."""

from __future__ import annotations

import re

from synchub.core.errors import InvalidName

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

#: Names the console's own pages take (`/jobs/new`, `/remotes/new`): a job or remote
#: with one could not have its page there.
RESERVED: dict[str, frozenset[str]] = {"job": frozenset({"new"}), "remote": frozenset({"new"})}


def is_name(text: str) -> bool:
    """True when `text` could name a remote, job, queue or tag."""
    return _NAME.fullmatch(text) is not None


def check_name(name: str, *, what: str) -> str:
    """`name` unchanged when valid; InvalidName saying why otherwise."""
    if not is_name(name):
        raise InvalidName(
            f"Bad {what} name {name!r}: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    if name in RESERVED.get(what, ()):
        raise InvalidName(f"Bad {what} name {name!r}: it is reserved, choose another")
    return name
