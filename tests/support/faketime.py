"""A process whose wall clock is off: libfaketime preloaded, from the `libfaketime`
package of the test extras. Only the wall clock moves; monotonic time stays true, so
timeouts and sleeps inside the process behave."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest


def faketime_env(offset: str) -> dict[str, str]:
    """Environment that starts a process with its clock `offset` off ("-1h", "+1h")."""
    spec = importlib.util.find_spec("libfaketime")
    assert spec is not None and spec.origin is not None, "libfaketime: pip install -e '.[test]'"
    library = Path(spec.origin).parent / "vendor" / "libfaketime" / "src" / "libfaketime.so.1"
    if not library.is_file():
        pytest.skip(f"libfaketime ships no library for this platform ({library})")
    return {
        "LD_PRELOAD": str(library),
        "FAKETIME": offset,
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    }
