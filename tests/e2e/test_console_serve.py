"""`synchub serve` with the console open in a browser."""

from __future__ import annotations

import contextlib
import re
import signal
import threading
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.conftest import Synchub, wait_for

pytestmark = pytest.mark.slow


def read_to_the_end(lines: Iterator[str]) -> None:
    with contextlib.suppress(httpx.HTTPError):
        for _ in lines:
            pass


def test_an_open_dashboard_does_not_keep_the_server_from_stopping(synchub: Synchub) -> None:
    """Its event stream never ends by itself: uvicorn waited for it for ever before
    `serve` gave open requests a grace period (on main: still running after SIGTERM)."""
    token = synchub("token", "create", "ada", "--role", "viewer").stdout.strip()
    server = synchub.serve()
    url = f"http://127.0.0.1:{server.args[server.args.index('--port') + 1]}"  # type: ignore[index, union-attr]
    with httpx.Client(base_url=url, timeout=60) as client:
        form = client.get("/login").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form)
        assert csrf is not None
        client.post("/login", data={"token": token, "csrf": csrf.group(1)})
        with client.stream("GET", "/events/running") as stream:
            assert stream.status_code == 200
            lines = stream.iter_lines()
            next(lines)  # the stream is open and has spoken
            server.send_signal(signal.SIGTERM)
            # The browser keeps reading while the server stops; the server cuts it.
            reader = threading.Thread(target=read_to_the_end, args=(lines,), daemon=True)
            reader.start()
            wait_for("serve to exit", lambda: server.poll() is not None, 30)
            reader.join(10)
    assert server.returncode == 0
