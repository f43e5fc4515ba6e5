"""An rclone job's parameters: its places (remote:path or a local path), filters
and one-file runs."""

from __future__ import annotations

import functools
import posixpath
import re
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from synchub.core.errors import EngineError, InvalidInput, InvalidOption, InvalidPath
from synchub.engines.process import minimal_env
from synchub.engines.rclone.backends import rclone_binary

OPS = ("sync", "copy", "move", "check", "bisync")
#: rclone's temporary name for a file it is copying: NAME.<8 hex>.partial, renamed to
#: NAME once complete (synchub allows no --partial-suffix of another form).
TEMPORARY = re.compile(r"\.[0-9a-f]{8}\.partial$")
PARAMS = frozenset(
    {"op", "source", "destination", "filters", "options", "delete_guard", "require_marker",
     "check_access", "keep_deleted"}
)  # fmt: skip

_BAD_CHARS = ("\0", "\n", "\r")
#: The longest source or destination: Linux's PATH_MAX, with room for the remote's name.
MAX_PATH_BYTES = 4096
#: The longest filter rule: a pattern is a path at most, give or take its wildcards.
MAX_RULE_BYTES = 4096
_FILTER = re.compile(r"(\+|-|include|exclude)\s+(\S.*)", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class Location:
    """A source or destination: a remote and a path on it, or a local path."""

    remote: str | None  #: the remote's name; None for a local path
    path: str  #: the path on the remote, or the absolute local path

    def __str__(self) -> str:
        return self.path if self.remote is None else f"{self.remote}:{self.path}"

    def key(self) -> tuple[str | None, str]:
        """What two locations must share to be the same place."""
        return self.remote, posixpath.normpath(self.path or ".")


def parse_location(text: str) -> Location:
    """`remote:path` or an absolute local path; InvalidPath for anything else.

    Local paths start with "/" (rclone reads "/a:b" as local too, since the
    part before ":" holds a "/"). On-the-fly remotes (":s3,...:") and
    per-path overrides ("name,opt=x:") are refused: remotes are defined in
    synchub, with their secrets.
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidPath("A path must not be empty")
    if len(text.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        raise InvalidPath(f"Bad path: it is longer than {MAX_PATH_BYTES} bytes")
    if any(c in text for c in _BAD_CHARS):
        raise InvalidPath(f"Bad path {text!r}: it must not contain NUL or line breaks")
    if text.startswith("/"):
        return Location(None, posixpath.normpath(text))
    name, sep, path = text.partition(":")
    if not sep:
        raise InvalidPath(f"Bad path {text!r}: use remote:path or an absolute local path")
    if not name or "," in name:
        raise InvalidPath(f"Bad path {text!r}: name a remote defined in synchub, as remote:path")
    return Location(name, path)


def one_file(params: Mapping[str, Any], path: str) -> dict[str, Any]:
    """The parameters of a run that sends one file of a copy/move job: `rclone copyto`
    (or moveto) from SOURCE/path to DESTINATION/path, its filters dropped (they
    chose the file already)."""
    op = params.get("op", "sync")
    if op not in ("copy", "sync", "move"):
        raise InvalidInput(f"A {op} job cannot send one file alone")
    if not path or path.startswith("/") or ".." in path.split("/"):
        raise InvalidPath(f"Bad file path {path!r}: it must be relative to the source")

    def joined(location: str) -> str:
        place = parse_location(location)
        return str(Location(place.remote, posixpath.join(place.path, path)))

    return {
        **params,
        "op": "moveto" if op == "move" else "copyto",
        "source": joined(params["source"]),
        "destination": joined(params["destination"]),
        "filters": [],
    }


def checked_location(value: Any, what: str, known_remotes: frozenset[str]) -> Location:
    if not isinstance(value, str):
        raise InvalidPath(f"The {what} must be a string: remote:path or an absolute local path")
    location = parse_location(value)
    if location.remote is not None and location.remote not in known_remotes:
        raise InvalidPath(f"unknown remote {location.remote!r} in {value!r}")
    return location


def normalize_filter(rule: str) -> str:
    """One filter rule in rclone's `--filter` form: "+ PATTERN", "- PATTERN" or "!".

    Accepts "include PATTERN" and "exclude PATTERN" too. Only the shape is
    checked here; `check_filters` asks rclone about the patterns.
    """
    if isinstance(rule, str) and len(rule.encode("utf-8", "surrogatepass")) > MAX_RULE_BYTES:
        raise InvalidOption(f"Bad filter: a rule may be at most {MAX_RULE_BYTES} bytes long")
    if not isinstance(rule, str) or any(c in rule for c in _BAD_CHARS):
        raise InvalidOption(f"Bad filter {rule!r}: one line of text, like '- *.tmp'")
    text = rule.strip()
    if text == "!":
        return text  # rclone's "clear the rules so far"
    match = _FILTER.fullmatch(text)
    if not match:
        raise InvalidOption(
            f"Bad filter {rule!r}: use '+ PATTERN' or '- PATTERN' (or include/exclude PATTERN)"
        )
    sign = {"include": "+", "exclude": "-"}.get(match[1].lower(), match[1])
    return f"{sign} {match[2].strip()}"


@functools.lru_cache(maxsize=256)
def _rclone_filter_error(binary: str, rules: tuple[str, ...]) -> str | None:
    with tempfile.TemporaryDirectory(prefix="synchub-filter-") as empty:
        argv = [binary, "lsf", *(f"--filter={r}" for r in rules), empty]
        try:
            done = subprocess.run(
                argv,
                env=minimal_env({"RCLONE_CONFIG": ""}),
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise EngineError(f"cannot run rclone to check the filters: {exc}") from exc
    if done.returncode == 0:
        return None
    text = done.stderr.strip().splitlines()[0] if done.stderr.strip() else "rejected by rclone"
    # e.g. '... CRITICAL: Failed to initialise global options: failed to reload
    # "filter" options: mismatched '{' and '}' in glob "{a,b"'
    return text.rpartition(" options: ")[2]


def check_filters(rules: list[str], binary: str | None = None) -> None:
    """Raise InvalidOption with rclone's reason when rclone refuses `rules`."""
    if not rules:
        return
    error = _rclone_filter_error(binary or rclone_binary(), tuple(rules))
    if error is not None:
        raise InvalidOption(f"Bad filter: {error}")


def string_list(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"The {what} must be a list of strings")
    return value
