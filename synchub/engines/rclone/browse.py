"""Listing a remote's folders with `rclone lsjson`, for a person picking a path: one
level, folders only, within a time limit."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping

from synchub.core.errors import EngineError
from synchub.core.redact import redact, secret_list
from synchub.engines.base import RemoteConfig
from synchub.engines.process import spawn, stream_lines
from synchub.engines.rclone.backends import rclone_binary
from synchub.engines.rclone.environment import rclone_env, secret_values
from synchub.engines.rclone.log import message_of

#: The most folders one listing returns; the caller is told when there were more.
MAX_FOLDERS = 1000


def list_folders(
    remote: RemoteConfig,
    path: str,
    timeout_s: float = 15,
    *,
    binary: str | None = None,
    others: Mapping[str, RemoteConfig] | None = None,
    grace_s: float = 2.0,
    allow_programs: bool = False,
) -> tuple[list[str], bool]:
    """The names of the folders directly in `NAME:path`, sorted, at most MAX_FOLDERS,
    and whether there were more.

    Runs `rclone lsjson --dirs-only` with short connect/IO timeouts and no retries,
    and kills it after `timeout_s`. `others`, `allow_programs`: as for
    `check_remote`. Raises EngineError with rclone's first error (secrets
    redacted), or saying it had no answer in time."""
    remotes = {**(others or {}), remote.name: remote}
    env = rclone_env(remotes, allow_programs=allow_programs)  # EngineError if it cannot
    seconds = f"{max(1, int(timeout_s))}s"
    argv = [
        binary or rclone_binary(), "lsjson", "--dirs-only", "--no-modtime", "--no-mimetype",
        f"{remote.name}:{path}", "--contimeout", seconds, "--timeout", seconds,
        "--retries", "1", "--low-level-retries", "1", "--use-json-log", "--color", "NEVER",
    ]  # fmt: skip
    try:
        proc = spawn(argv, env=env)
    except OSError as exc:
        raise EngineError(f"cannot start rclone: {exc}", permanent=True) from None
    out, errors = [], []
    deadline = time.monotonic() + timeout_s
    for stream, line in stream_lines(proc, threading.Event(), grace_s=grace_s, deadline=deadline):
        if stream == "stdout":
            out.append(line)
        elif line.strip():
            errors.append(message_of(line))
    if proc.returncode != 0 and time.monotonic() >= deadline:
        raise EngineError(f"no answer from {remote.name}: within {timeout_s:g}s")
    if proc.returncode != 0:
        first = next((e for e in errors if e), f"rclone exited with code {proc.returncode}")
        raise EngineError(redact(first, secret_list(secret_values(remotes, env))))
    try:
        names = sorted(
            (str(item["Name"]) for item in json.loads("".join(out) or "[]")),
            key=lambda n: (n.casefold(), n),
        )
    except (ValueError, TypeError, KeyError):
        raise EngineError("rclone lsjson answered something that is not its JSON") from None
    return names[:MAX_FOLDERS], len(names) > MAX_FOLDERS
