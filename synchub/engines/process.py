"""Child processes that never outlive their run, nor the server that started them.

- argv lists only, never a shell: no user input is ever parsed by `sh`.
- Each child leads its own process group (`start_new_session=True`), so a stop
  reaches everything it started, not just the direct child.
- On Linux the child asks the kernel for SIGTERM when its parent dies
  (`prctl(PR_SET_PDEATHSIG)`), so a server killed with -9 leaves no rclone behind.
  The kernel ties this to the *thread* that forked the child: spawn from a
  thread that lives as long as the run (the runner's worker thread does).
- The environment is always passed explicitly: children never inherit the
  server's environment, which may hold its database URL or secret key.
"""

from __future__ import annotations

import codecs
import contextlib
import ctypes
import ctypes.util
import fcntl
import io
import os
import select
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

#: Environment variables a child gets from the server's environment, when set.
PASSTHROUGH_ENV: tuple[str, ...] = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "TMPDIR",
    "TZ",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "XDG_CACHE_HOME",
    "XDG_CONFIG_HOME",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
)

#: Longest line handed on, in characters; the rest of a longer line is cut off.
MAX_LINE_CHARS = 64 * 1024

#: Linux refuses an exec whose arguments and environment add up to more than 2 MiB
#: (ARG_MAX, at the default stack size), or with any one string over 128 KiB
#: (MAX_ARG_STRLEN): the error is E2BIG, "Argument list too long". What users give a
#: child is held to these, so that it is refused when given, not when the run starts:
MAX_ARG_BYTES = 32 * 1024  #: one argument or environment value from a user
MAX_ARGS_BYTES = 256 * 1024  #: all of them, counted as the kernel does (`exec_bytes`)

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_POLL_S = 0.05  # how often waits look at the stop event and the clock
_DRAIN_S = 1.0  # how long to wait for the pipes to close once the child exited
_CHUNK_BYTES = 256 * 1024  # the most read from a pipe at once
#: After a read, how long the next lines gather in the pipe before the next read (ms).
_GATHER_MS = 10
#: What a child's pipe holds before its writes wait for this process to read (Linux'
#: default is 64 KiB, ≈ 250 of rclone's JSON lines).
PIPE_BYTES = 256 * 1024


def exec_bytes(strings: Iterable[str]) -> int:
    """What `strings` cost against ARG_MAX: each one's bytes, its NUL and its pointer."""
    return sum(len(text.encode("utf-8", "surrogatepass")) + 9 for text in strings)


def exec_size_problem(strings: Sequence[str], what: str) -> str | None:
    """Why `strings` (`what`, e.g. "the filters and options") would not fit on a
    child's command line by MAX_ARG_BYTES and MAX_ARGS_BYTES; None when they fit."""
    longest = max((exec_bytes([text]) - 9 for text in strings), default=0)
    if longest > MAX_ARG_BYTES:
        return f"one of {what} is {longest} bytes long; each may be at most {MAX_ARG_BYTES}"
    total = exec_bytes(strings)
    if total > MAX_ARGS_BYTES:
        return f"{what} add up to {total} bytes on the command line; at most {MAX_ARGS_BYTES} fit"
    return None


def minimal_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The PASSTHROUGH_ENV part of os.environ, updated with `extra`."""
    env = {name: os.environ[name] for name in PASSTHROUGH_ENV if name in os.environ}
    env.setdefault("PATH", os.defpath)
    if extra:
        env.update(extra)
    return env


def _pdeathsig_hook() -> Callable[[], None] | None:
    """A preexec_fn setting PR_SET_PDEATHSIG, or None where that does not exist.

    Everything is looked up here, before any fork: between fork and exec the
    child may only do the bare minimum (no imports, no locks).
    """
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    try:
        prctl = ctypes.CDLL(name, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()
    sigterm = ctypes.c_ulong(signal.SIGTERM)
    request = ctypes.c_int(_PR_SET_PDEATHSIG)

    def hook() -> None:
        prctl(request, sigterm)
        # The parent may have died before prctl took effect: then nobody
        # would ever send the signal, so exit now.
        if os.getppid() != parent:
            os._exit(1)

    return hook


def die_with_parent() -> None:
    """Have the kernel kill this process when its parent dies (a worker's pool child
    whose main process was killed); its own children follow by their hooks."""
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    prctl = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True).prctl
    prctl(ctypes.c_int(_PR_SET_PDEATHSIG), ctypes.c_ulong(signal.SIGKILL))
    if os.getppid() != parent:
        os._exit(1)


_HOOK_LOCK = threading.Lock()
_HOOKS: dict[int, Callable[[], None] | None] = {}


def _hook_for_this_process() -> Callable[[], None] | None:
    # The hook remembers the parent's pid, so a forked server needs its own.
    pid = os.getpid()
    with _HOOK_LOCK:
        if pid not in _HOOKS:
            _HOOKS[pid] = _pdeathsig_hook()
        return _HOOKS[pid]


def spawn(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: str | None = None,
    capture_stdout: bool = True,
) -> subprocess.Popen[bytes]:
    """Start `argv` in its own process group, stdin closed, stderr piped (bytes: read
    them with `stream_lines`).

    stdout is piped too unless `capture_stdout` is False (then discarded).
    Raises OSError (e.g. FileNotFoundError) when the program cannot start.
    """
    if not argv:
        raise ValueError("argv must not be empty")
    return subprocess.Popen(
        list(argv),
        env=dict(env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE if capture_stdout else subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=_hook_for_this_process(),
        close_fds=True,
    )


def _signal_group(pgid: int, sig: signal.Signals) -> bool:
    """Send `sig` to the group; False when the group no longer exists."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:  # the id was reused by someone else's group
        return False
    return True


def group_alive(pgid: int) -> bool:
    """True while a live process (not a zombie) is in process group `pgid`.

    Zombies are left out: they cannot be signalled, and orphans wait for
    whatever reaps them (in a container, possibly nobody soon).
    """
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    if not os.path.isdir("/proc/self"):
        return True  # no /proc: a zombie counts as alive
    return any(_live_member(entry, pgid) for entry in os.listdir("/proc") if entry.isdigit())


def _live_member(pid: str, pgid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as stat:
            # "pid (comm) state ppid pgrp ...": comm may hold spaces and ")"
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return False
    return len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in ("Z", "X")


def terminate(proc: subprocess.Popen[Any], grace_s: float) -> int:
    """Stop `proc` and its whole process group; return its exit status.

    1. SIGTERM to the group.
    2. Wait up to `grace_s` for the group to empty (reaping `proc` meanwhile).
    3. SIGKILL to whatever is left, then reap `proc`.
    """
    pgid = proc.pid  # start_new_session made the child its group's leader
    deadline = time.monotonic() + grace_s
    if _signal_group(pgid, signal.SIGTERM):
        while time.monotonic() < deadline:
            proc.poll()  # reap the leader, or it lingers in the group as a zombie
            if not group_alive(pgid):
                break
            time.sleep(_POLL_S)
        else:
            _signal_group(pgid, signal.SIGKILL)
    return proc.wait()


class _Lines:
    """One pipe's bytes as lines: UTF-8 (bad bytes replaced), LF, CRLF or CR as line
    ends, each line cut at MAX_LINE_CHARS (the rest of a longer line is dropped)."""

    def __init__(self, name: str) -> None:
        self.name = name
        utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._decoder = io.IncrementalNewlineDecoder(utf8, translate=True)
        self._partial = ""  #: the line begun and not yet ended
        self._skipping = False  #: in the rest of a line longer than the cap

    def feed(self, data: bytes) -> list[str]:
        """The lines `data` ends; b"" (the end of the pipe) ends the last one too."""
        parts = self._decoder.decode(data, final=not data).split("\n")
        if self._skipping:
            if len(parts) == 1:
                return []
            self._skipping = False
            del parts[0]
        else:
            parts[0] = self._partial + parts[0]
        self._partial = parts.pop()
        lines = [line[:MAX_LINE_CHARS] for line in parts]
        if len(self._partial) > MAX_LINE_CHARS:
            lines.append(self._partial[:MAX_LINE_CHARS])
            self._partial, self._skipping = "", True
        if not data and self._partial:
            lines.append(self._partial)
            self._partial = ""
        return lines


def stream_lines(
    proc: subprocess.Popen[bytes],
    stop: threading.Event,
    *,
    grace_s: float,
    deadline: float | None = None,
) -> Iterator[tuple[str, str]]:
    """Yield `(stream, line)` from the child's stdout/stderr until both close.

    `stream` is "stdout" or "stderr". When `stop` is set, or the monotonic
    `deadline` passes, the child's group is terminated (see `terminate`);
    lines already written are still yielded for up to a second, then
    iteration ends. A child that exits while something it started keeps its
    pipes open gets the same treatment. `proc.returncode` is always set once
    the iterator is exhausted.

    The pipes are read here, in the caller's thread, in large chunks: a reader
    thread per pipe handing on one line at a time cost a run of many small files
    a thread wake-up and a GIL hand-over per file. After each read the lines
    gather for up to _GATHER_MS (rclone writes each line on its own): a wake-up
    per line or two cost more CPU than the lines' parsing, its caches cold each
    time. The child closing its pipes ends the pause at once.
    """
    selector = selectors.DefaultSelector()
    # Waits on the pipes' hang-up alone (poll reports it unasked): the child's end
    # cuts a gathering pause short, its other writes do not.
    closed = select.poll()
    for name, pipe in (("stdout", proc.stdout), ("stderr", proc.stderr)):
        if pipe is not None:
            _widen(pipe.fileno())
            selector.register(pipe.fileno(), selectors.EVENT_READ, _Lines(name))
            closed.register(pipe.fileno(), 0)
    exited_at: float | None = None
    stopped_at: float | None = None
    try:
        while selector.get_map():
            now = time.monotonic()
            if stopped_at is not None:
                if now - stopped_at > _DRAIN_S:
                    break
            elif stop.is_set() or (deadline is not None and now >= deadline):
                terminate(proc, grace_s)
                stopped_at = time.monotonic()
            elif exited_at is None:
                exited_at = now if proc.poll() is not None else None
            elif now - exited_at > _DRAIN_S:
                # The child is gone but something it started still holds the pipes.
                terminate(proc, grace_s)
                stopped_at = time.monotonic()
            read = False
            for key, _events in selector.select(timeout=_POLL_S):
                lines: _Lines = key.data
                try:
                    data = os.read(key.fd, _CHUNK_BYTES)
                except OSError:
                    data = b""
                if not data:
                    selector.unregister(key.fd)
                    closed.unregister(key.fd)
                read = read or bool(data)
                for line in lines.feed(data):
                    yield lines.name, line
            if read and stopped_at is None and selector.get_map():
                closed.poll(_GATHER_MS)
    finally:
        selector.close()
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
    proc.wait()


def _widen(fd: int) -> None:
    """Give the pipe room for PIPE_BYTES, so the child does not wait on its own log
    while this process is busy elsewhere for a moment; where it cannot, leave it."""
    if hasattr(fcntl, "F_SETPIPE_SZ"):
        with contextlib.suppress(OSError):
            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
