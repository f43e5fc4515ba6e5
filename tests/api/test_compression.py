"""Compressed answers for a client that asks for them, straight from the server (no
proxy in front): pages, static files and JSON; event streams never, so that each
event arrives when it is sent."""

from __future__ import annotations

import gzip
import re

from synchub.services.jobs.fields import JobFields
from tests.api.conftest import Api
from tests.api.sse_client import events
from tests.api.test_console import sign_in

GZIP = {"accept-encoding": "gzip"}
STATIC = re.compile(r'src="(/static/[^"]+/htmx\.min\.js)"')


def test_pages_static_files_and_json_are_gzipped_when_asked(api: Api) -> None:
    for i in range(30):  # a page long enough to be worth compressing
        api.svc.jobs.add(f"job-{i:02d}", JobFields(kind="scripted"))
    client = sign_in(api, "viewer")

    page = client.get("/", headers=GZIP)
    assert page.status_code == 200
    assert page.headers["content-encoding"] == "gzip"
    assert "job-29" in page.text  # httpx undid the compression
    assert "accept-encoding" in page.headers["vary"].lower()
    script = STATIC.search(page.text)
    assert script is not None
    static = client.get(script.group(1), headers=GZIP)
    assert static.headers["content-encoding"] == "gzip"
    assert static.headers["cache-control"] == "public, max-age=31536000, immutable"
    listing = api.viewer.get("/api/v1/jobs", headers=GZIP)
    assert listing.headers["content-encoding"] == "gzip"
    assert listing.json()["count"] == 30

    # A client that does not ask gets the bytes as they are.
    plain = client.get("/", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert "job-29" in plain.text


def test_a_compressed_page_is_smaller_by_far(api: Api) -> None:
    for i in range(30):
        api.svc.jobs.add(f"job-{i:02d}", JobFields(kind="scripted"))
    client = sign_in(api, "viewer")
    with client.stream("GET", "/jobs", headers=GZIP) as answer:
        sent = b"".join(answer.iter_raw())
    assert answer.headers["content-encoding"] == "gzip"
    assert len(sent) * 3 < len(gzip.decompress(sent))


def test_event_streams_are_not_compressed_and_send_their_first_event(api: Api) -> None:
    """A compressor that held the stream's bytes back until it had enough would keep
    the first event from the browser: the event is read here, over a stream asked
    for with gzip."""
    client = sign_in(api, "viewer")
    with client.stream("GET", "/events/running", headers=GZIP, timeout=30) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert "content-encoding" not in stream.headers
        lines = stream.iter_lines()
        assert next(lines) == "event: running"

    api.svc.jobs.add("j", JobFields(kind="scripted"))
    run_id = api.svc.runs.request("j")
    with api.viewer.stream(
        "GET", f"/api/v1/runs/{run_id}/events", headers=GZIP, timeout=30
    ) as response:
        assert "content-encoding" not in response.headers
        first = next(events(response))
    assert first.name == "state"
