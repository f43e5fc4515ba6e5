"""The API's edge, on a real server: the headers every answer carries, and the limit
on failed authentications per client address.

Each test here failed on the code before the edge existed: no answer carried
`X-Content-Type-Options`, `Referrer-Policy` or `Cache-Control: no-store`, and a
thousand wrong tokens in a row were a thousand 401s."""

from __future__ import annotations

import httpx
import pytest

from synchub.services.jobs.fields import JobFields
from tests.api.conftest import Api, ok, problem, tls

BAD = {"Authorization": "Bearer shub_not-a-token"}
BURST = 20  # the default SYNCHUB_AUTH_FAILURE_BURST


def from_address(api: Api, address: str, token: str | None = None) -> httpx.Client:
    """A client whose connections come from `address` (any 127.x.y.z is this machine)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    transport = httpx.HTTPTransport(local_address=address, verify=tls())
    return httpx.Client(base_url=api.served.url, headers=headers, transport=transport)


def edge_headers(response: httpx.Response) -> tuple[str | None, ...]:
    h = response.headers
    return h.get("x-content-type-options"), h.get("referrer-policy"), h.get("cache-control")


def test_every_answer_says_nosniff_no_referrer_and_no_store(api: Api) -> None:
    api.svc.jobs.add("j", JobFields(kind="scripted"))
    run_id = api.svc.runs.request("j")
    answers = {
        "open": api.anonymous.get("/healthz"),
        "a read": api.viewer.get("/api/v1/jobs"),
        "a token's secret": api.admin.post("/api/v1/tokens", json={"name": "ci", "role": "viewer"}),
        "a refusal": api.anonymous.get("/api/v1/jobs"),
        "an unknown path": api.viewer.get("/api/v1/nothing-here"),
        "the console's API": api.anonymous.get("/compat/rsh/tasks/"),
    }
    assert ok(answers["a token's secret"], 201)["token"].startswith("shub_")
    for what, response in answers.items():
        assert edge_headers(response) == ("nosniff", "no-referrer", "no-store"), what
    # It should leave a route's own caching rule alone: the event stream's.
    api.svc.runs.cancel(run_id)
    stream = api.viewer.get(f"/api/v1/runs/{run_id}/events")
    assert edge_headers(stream) == ("nosniff", "no-referrer", "no-cache")


def test_wrong_tokens_get_a_burst_of_401s_then_429_with_retry_after(api: Api) -> None:
    guesser = from_address(api, "127.0.0.2")
    # It should not count requests that present no credential: they guess nothing.
    for _ in range(BURST + 5):
        problem(guesser.get("/api/v1/jobs"), 401)
    for _ in range(BURST):
        problem(guesser.get("/api/v1/jobs", headers=BAD), 401)

    refused = problem(guesser.get("/api/v1/jobs", headers=BAD), 429)
    assert refused["type"] == "urn:synchub:problem:too-many-failed-authentications"
    # It should say when to try again: one attempt comes back every 6 s by default.
    wait = int(guesser.get("/api/v1/jobs", headers=BAD).headers["retry-after"])
    assert wait == 6
    # It should refuse the address's every request while it waits, a live token's too:
    # a guess that hit one must not learn so.
    live = api.tokens["viewer"]
    problem(guesser.get("/api/v1/jobs", headers={"Authorization": f"Bearer {live}"}), 429)
    # It should let through what presents no credential: a health check from a proxy
    # shared with the guesser must not fail, and a 401 without a token guesses nothing.
    assert guesser.get("/healthz").status_code == 200
    problem(guesser.get("/api/v1/jobs"), 401)
    # It should answer in the console's own error shape under /compat/rsh.
    rsh = guesser.get("/compat/rsh/tasks/", headers=BAD)
    assert (rsh.status_code, rsh.json()) == (429, {"message": refused["detail"]})

    # It should limit that address alone: another one keeps its attempts and its reads.
    neighbour = from_address(api, "127.0.0.3")
    problem(neighbour.get("/api/v1/jobs", headers=BAD), 401)
    ok(neighbour.get("/api/v1/jobs", headers={"Authorization": f"Bearer {live}"}))

    # It should give an attempt back once Retry-After has passed (the server's clock).
    api.clock.advance(wait)
    problem(guesser.get("/api/v1/jobs", headers=BAD), 401)
    problem(guesser.get("/api/v1/jobs", headers=BAD), 429)
    guesser.close()
    neighbour.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_openapi_document_lists_429_where_401_is(api: Api) -> None:
    document = api.viewer.get("/openapi.json").json()
    jobs = document["paths"]["/api/v1/jobs"]["get"]["responses"]
    assert "429" in jobs and jobs["429"]["content"] == jobs["401"]["content"]
    assert "429" not in document["paths"]["/healthz"]["get"]["responses"]
