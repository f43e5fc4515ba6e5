"""Asking a remote on its own, outside any run: does it answer, how much does it hold."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from synchub.core.errors import EngineError
from synchub.core.redact import redact, secret_list
from synchub.engines.base import RemoteConfig
from synchub.engines.process import spawn, stream_lines
from synchub.engines.rclone.backends import rclone_binary
from synchub.engines.rclone.environment import rclone_env, secret_values
from synchub.engines.rclone.log import message_of


def check_remote(
    remote: RemoteConfig,
    timeout_s: float = 15,
    *,
    binary: str | None = None,
    others: Mapping[str, RemoteConfig] | None = None,
    grace_s: float = 2.0,
    allow_programs: bool = False,
) -> tuple[bool, str]:
    """Whether `remote` answers: (True, "ok: ...") or (False, rclone's first error).

    Runs `rclone lsf --max-depth 1 NAME:` with short connect/IO timeouts and
    no retries, and kills it if it has not finished after `timeout_s`.
    `others`: remotes a wrapping remote (crypt, alias...) refers to;
    `allow_programs`: as for `rclone_env`.
    """
    remotes = {**(others or {}), remote.name: remote}
    try:
        env = rclone_env(remotes, allow_programs=allow_programs)
    except EngineError as exc:
        return False, str(exc)
    seconds = f"{max(1, int(timeout_s))}s"
    argv = [
        binary or rclone_binary(), "lsf", "--max-depth", "1", f"{remote.name}:",
        "--contimeout", seconds, "--timeout", seconds, "--retries", "1",
        "--low-level-retries", "1", "--use-json-log", "--color", "NEVER",
    ]  # fmt: skip
    try:
        proc = spawn(argv, env=env)
    except OSError as exc:
        return False, f"cannot start rclone: {exc}"
    entries, errors = 0, []
    deadline = time.monotonic() + timeout_s
    for stream, line in stream_lines(proc, threading.Event(), grace_s=grace_s, deadline=deadline):
        if stream == "stdout":
            entries += 1
        elif line.strip():
            errors.append(message_of(line))
    if proc.returncode == 0:
        return True, f"ok: {entries} entries at the top of {remote.name}:"
    if time.monotonic() >= deadline:
        return False, f"no answer from {remote.name}: within {timeout_s:g}s"
    first = next((e for e in errors if e), f"rclone exited with code {proc.returncode}")
    return False, redact(first, secret_list(secret_values(remotes, env)))


@dataclass(frozen=True)
class RemoteSize:
    """What `rclone size --json` reports for a whole remote."""

    count: int  #: objects (files)
    bytes: int  #: their total size
    sizeless: int  #: objects whose size the remote does not know (Google Docs, ...)


def measure_size(
    remote: RemoteConfig,
    timeout_s: float,
    *,
    binary: str | None = None,
    others: Mapping[str, RemoteConfig] | None = None,
    grace_s: float = 2.0,
    stop: threading.Event | None = None,
    allow_programs: bool = False,
) -> RemoteSize:
    """The size of everything in `remote`, by `rclone size --json NAME:`.

    `others`: remotes a wrapping remote refers to; `allow_programs`: as for
    `rclone_env`. Kills rclone when `stop` is set or
    `timeout_s` passes. Raises EngineError with rclone's first error (secrets
    redacted), saying it timed out or was stopped, or for a bare `local` remote
    (permanent: see below).
    """
    if remote.type == "local":
        # `NAME:` of a local remote is the server's working directory (often "/"
        # under systemd): nothing the user meant, and possibly the whole disk.
        raise EngineError(
            "a local remote has no directory of its own to measure; "
            "an alias remote to a directory has",
            permanent=True,
        )
    remotes = {**(others or {}), remote.name: remote}
    # EngineError for a remote rclone cannot be given
    env = rclone_env(remotes, allow_programs=allow_programs)
    argv = [binary or rclone_binary(), "size", "--json", f"{remote.name}:", "--use-json-log"]
    stop = stop or threading.Event()
    if stop.is_set():
        raise EngineError(f"stopped measuring {remote.name}:")
    try:
        proc = spawn(argv, env=env)
    except OSError as exc:
        raise EngineError(f"cannot start rclone: {exc}", permanent=True) from None
    out, errors = [], []
    deadline = time.monotonic() + timeout_s
    for stream, line in stream_lines(proc, stop, grace_s=grace_s, deadline=deadline):
        if stream == "stdout":
            out.append(line)
        elif line.strip():
            errors.append(message_of(line))
    if stop.is_set():
        raise EngineError(f"stopped measuring {remote.name}:")
    if proc.returncode != 0 and time.monotonic() >= deadline:
        raise EngineError(f"no answer from {remote.name}: within {timeout_s:g}s")
    if proc.returncode != 0:
        first = next((e for e in errors if e), f"rclone exited with code {proc.returncode}")
        raise EngineError(redact(first, secret_list(secret_values(remotes, env))))
    try:
        figures = json.loads("".join(out))
        return RemoteSize(
            int(figures["count"]), int(figures["bytes"]), int(figures.get("sizeless", 0))
        )
    except (ValueError, TypeError, KeyError):
        raise EngineError("rclone size answered something that is not its JSON") from None


#: The name services use. Marked so pytest never collects it from a test module
#: that imports it.
test_remote = check_remote
setattr(check_remote, "__test__", False)  # noqa: B010 - mypy refuses the plain assignment
