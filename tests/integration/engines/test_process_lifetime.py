"""Child processes stop when asked, take their own children along, and never
outlive the process that started them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from synchub.engines.process import (
    MAX_LINE_CHARS,
    group_alive,
    minimal_env,
    spawn,
    stream_lines,
    terminate,
)

PYTHON = sys.executable


def gone(pid: int) -> bool:
    """True once `pid` no longer runs (a zombie waiting for its reaper counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


def wait_for(condition: object, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


def python(code: str) -> list[str]:
    return [PYTHON, "-c", textwrap.dedent(code)]


def test_lines_arrive_from_both_streams_in_order_per_stream() -> None:
    proc = spawn(
        python("""
            import sys
            print("out 1", flush=True); print("err 1", file=sys.stderr, flush=True)
            print("out 2", flush=True)
        """),
        env=minimal_env(),
    )
    lines = list(stream_lines(proc, threading.Event(), grace_s=1))
    assert [t for s, t in lines if s == "stdout"] == ["out 1", "out 2"]
    assert [t for s, t in lines if s == "stderr"] == ["err 1"]
    assert proc.returncode == 0


def test_the_environment_is_only_what_is_passed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCHUB_SECRET_KEY", "do-not-leak")
    proc = spawn(python("import os; print(sorted(os.environ))"), env=minimal_env({"X": "1"}))
    ((_, names),) = list(stream_lines(proc, threading.Event(), grace_s=1))
    assert "SYNCHUB_SECRET_KEY" not in names
    assert "'X'" in names


def test_a_stop_ends_the_child_and_its_children_promptly() -> None:
    proc = spawn(
        python("""
            import subprocess, sys, time
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
            print(child.pid, flush=True)
            time.sleep(60)
        """),
        env=minimal_env(),
    )
    stop = threading.Event()
    started = time.monotonic()
    grandchild = 0
    for _, text in stream_lines(proc, stop, grace_s=5):
        grandchild = int(text)
        stop.set()
    assert time.monotonic() - started < 5  # SIGTERM was enough: no wait for the grace
    assert proc.returncode == -signal.SIGTERM
    assert wait_for(lambda: gone(grandchild))
    assert not group_alive(proc.pid)


def test_a_child_ignoring_sigterm_is_killed_after_the_grace() -> None:
    proc = spawn(
        python("""
            import signal, time
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            print("ready", flush=True)
            time.sleep(60)
        """),
        env=minimal_env(),
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"ready"
    started = time.monotonic()
    assert terminate(proc, grace_s=0.5) == -signal.SIGKILL
    assert 0.4 < time.monotonic() - started < 3
    assert not group_alive(proc.pid)


def test_a_deadline_stops_the_child() -> None:
    proc = spawn(python("import time; time.sleep(60)"), env=minimal_env())
    deadline = time.monotonic() + 0.3
    assert list(stream_lines(proc, threading.Event(), grace_s=1, deadline=deadline)) == []
    assert proc.returncode == -signal.SIGTERM


def test_a_background_child_holding_the_pipes_does_not_block_the_end() -> None:
    # The child exits at once, leaving a grandchild that keeps stdout open.
    proc = spawn(
        python("""
            import subprocess, sys
            subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
            print("bye", flush=True)
        """),
        env=minimal_env(),
    )
    started = time.monotonic()
    lines = list(stream_lines(proc, threading.Event(), grace_s=1))
    assert lines == [("stdout", "bye")]
    assert proc.returncode == 0
    assert time.monotonic() - started < 5
    assert wait_for(lambda: not group_alive(proc.pid))


PARENT = """
import sys, time
from synchub.engines.process import minimal_env, spawn
child = spawn([sys.executable, "-c", "import time; time.sleep(60)"], env=minimal_env())
print(child.pid, flush=True)
time.sleep(60)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_a_child_dies_with_its_parent_even_when_the_parent_is_killed() -> None:
    parent = subprocess.Popen(
        [PYTHON, "-c", PARENT],
        stdout=subprocess.PIPE,
        text=True,
        cwd=str(Path(__file__).resolve().parents[3]),
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])},
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    assert not gone(child)
    parent.kill()  # SIGKILL: no cleanup code in the parent runs
    parent.wait()
    assert wait_for(lambda: gone(child)), "the child outlived its killed parent"


def test_the_pipes_are_read_in_the_callers_thread() -> None:
    # A reader thread per pipe, handing on one line at a time, cost a run of many
    # small files more CPU than its rclone; the lines come without any thread.
    proc = spawn(
        python("""
            import sys
            for i in range(2000):
                print(f"line {i}", flush=True)
                print(f"err {i}", file=sys.stderr, flush=True)
        """),
        env=minimal_env(),
    )
    threads = threading.active_count()
    seen = 0
    for _stream, _line in stream_lines(proc, threading.Event(), grace_s=1):
        seen += 1
        assert threading.active_count() == threads
    assert seen == 4000


def test_lines_are_whole_whatever_the_writes_and_line_ends() -> None:
    # A character split between two writes, CRLF and CR line ends, a line without
    # an end, and a line over the cap (cut, the rest dropped, the next line whole).
    proc = spawn(
        python(f"""
            import os, time
            def put(data):
                os.write(1, data); time.sleep(0.05)
            put("caf\\u00e9 ".encode()[:-2]); put("caf\\u00e9 ".encode()[-2:] + b"ok\\n")
            put(b"dos\\r"); put(b"\\nmac\\rnext\\n")
            put(b"x" * {MAX_LINE_CHARS + 10} + b"\\nafter\\n")
            put(b"last")
        """),
        env=minimal_env(),
    )
    lines = [text for _, text in stream_lines(proc, threading.Event(), grace_s=1)]
    assert lines == ["café ok", "dos", "mac", "next", "x" * MAX_LINE_CHARS, "after", "last"]
