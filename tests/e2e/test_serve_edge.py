"""`synchub serve`'s edge as users meet it: what its answers say about it, who it
believes the client is, and a warning when it is reachable from other machines.

Both tests failed on the code before: answers said `server: uvicorn`, there was
no warning, and an X-Forwarded-For from 127.0.0.1 was believed (uvicorn's default)."""

from __future__ import annotations

import subprocess
import urllib.request

import httpx
import pytest

from tests.e2e.conftest import Synchub

pytestmark = pytest.mark.slow


def url_of(server: subprocess.Popen[bytes]) -> str:
    args = [str(a) for a in server.args]  # type: ignore[union-attr]
    return f"http://127.0.0.1:{args[args.index('--port') + 1]}"


def test_serve_on_every_address_warns_of_plain_http_and_names_no_server(
    synchub: Synchub,
) -> None:
    server = synchub.serve("--host", "0.0.0.0")
    base = url_of(server)
    with urllib.request.urlopen(f"{base}/healthz", timeout=10) as answer:
        headers = {k.lower(): v for k, v in answer.getheaders()}
    # It should not name the software serving (nor its version).
    assert "server" not in headers
    assert headers["x-content-type-options"] == "nosniff"
    # It should warn that traffic is plain HTTP, pointing to the proxy section.
    port = base.rsplit(":", 1)[1]
    log = (synchub.home / f"serve-{port}.log").read_text()
    warning = next(line for line in log.splitlines() if "plain HTTP" in line)
    assert "WARNING" in warning and "0.0.0.0" in warning
    assert 'docs/deploy.md, "Behind a reverse proxy (TLS)"' in warning


def test_serve_counts_failures_by_peer_not_by_a_forwarded_for_it_was_sent(
    synchub: Synchub,
) -> None:
    server = synchub.serve()
    with httpx.Client(base_url=url_of(server), timeout=10) as client:
        statuses = [
            client.get(
                "/api/v1/jobs",
                headers={"Authorization": "Bearer nope", "X-Forwarded-For": f"203.0.113.{i}"},
            ).status_code
            for i in range(21)
        ]
    # It should count all 21 against 127.0.0.1: the 21st is over the burst of 20.
    assert statuses == [401] * 20 + [429]
    log = next(synchub.home.glob("serve-*.log")).read_text()
    assert "plain HTTP" not in log  # 127.0.0.1 is this machine's alone
