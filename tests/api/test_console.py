"""The web console over a real server and real databases, without a browser: every
page for every role, sign-in and its session, CSRF, and the writes' refusals."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from synchub.api.app import create_app
from synchub.core.runs import RunState
from synchub.services.jobs.fields import JobFields
from synchub.store import logs as log_store
from synchub.store.db import transaction
from tests.api.conftest import ROLES, Api, Served, Switch
from tests.support.harness import Harness

PAGES = (
    "/", "/jobs", "/jobs/photos", "/runs", "/runs/{run}", "/remotes", "/folders", "/audit",
    "/settings",
)  # fmt: skip
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def browser(api: Api) -> httpx.Client:
    """A client without a bearer token: what a browser sends is cookies."""
    return api.client(None)


def sign_in(api: Api, role: str, next_: str = "/") -> httpx.Client:
    client = browser(api)
    form = client.get("/login", params={"next": next_})
    assert form.status_code == 200
    answer = client.post(
        "/login", data={"token": api.tokens[role], "csrf": csrf_of(form), "next": next_}
    )
    assert answer.status_code == 303, answer.text
    return client


def csrf_of(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found, page.text[:500]
    return found.group(1)


@pytest.fixture
def photos(api: Api, harness: Harness) -> int:
    """A job `photos` whose one run failed, with a change report."""
    spec = JobFields(kind="scripted", params={"result": "fail"}, cron="30 2 * * *", retries=0)
    api.svc.jobs.add("photos", spec)
    run_id = api.svc.runs.request("photos")
    harness.step()
    with transaction(api.svc.sessions) as session:
        at = api.clock.now()
        log_store.add_files(
            session,
            run_id,
            [(f"album/{i:03d}.jpg", "deleted" if i % 2 else "copied", 1024 * i, None, at)
             for i in range(1, 121)],
            0,
        )  # fmt: skip
    assert api.svc.runs.show(run_id).state == "failed"
    return run_id


def test_every_page_sends_a_visitor_without_a_session_to_sign_in(api: Api, photos: int) -> None:
    with browser(api) as client:
        for path in PAGES:
            path = path.format(run=photos)
            answer = client.get(path, params={"x": "1"})
            assert answer.status_code == 303, path
            target = urlsplit(answer.headers["location"])
            assert target.path == "/login"
            assert parse_qs(target.query)["next"] == [f"{path}?x=1"]
        # A write without a session changes nothing and goes to sign in.
        answer = client.post("/jobs/photos/run", data={"csrf": "x"})
        assert answer.status_code == 303 and answer.headers["location"] == "/login"
    assert len(api.svc.runs.page(job="photos")) == 1


def test_sign_in_opens_a_strict_httponly_session_and_returns_to_next(api: Api) -> None:
    client = browser(api)
    form = client.get("/login", params={"next": "/runs?state=failed"})
    assert 'for="token">Token</label>' in form.text and ">Sign in</button>" in form.text
    answer = client.post(
        "/login",
        data={"token": api.tokens["viewer"], "csrf": csrf_of(form), "next": "/runs?state=failed"},
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/runs?state=failed"
    cookie = next(
        c for c in answer.headers.get_list("set-cookie") if c.startswith("synchub_session=")
    )
    attributes = {part.strip().lower() for part in cookie.split(";")}
    assert {"httponly", "samesite=strict", "path=/"} <= attributes
    assert "secure" not in attributes  # plain HTTP here; behind HTTPS it is Secure
    assert api.tokens["viewer"] not in cookie  # sealed, not readable
    page = client.get("/runs?state=failed")
    assert page.status_code == 200 and "viewer-vic" in page.text


@pytest.mark.parametrize(
    "target",
    ["//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)",
     "http:/evil.example", "/%0d%0aSet-Cookie:x=1", ""],
)  # fmt: skip
def test_sign_in_never_redirects_off_the_site(api: Api, target: str) -> None:
    client = browser(api)
    form = client.get("/login", params={"next": target})
    answer = client.post(
        "/login", data={"token": api.tokens["viewer"], "csrf": csrf_of(form), "next": target}
    )
    assert answer.status_code == 303
    location = answer.headers["location"]
    assert location.startswith("/") and not location.startswith(("//", "/\\"))
    assert urlsplit(location).netloc == ""


def test_sign_in_refuses_a_bad_token_or_a_form_from_elsewhere(api: Api) -> None:
    client = browser(api)
    form = client.get("/login")
    wrong = client.post("/login", data={"token": "shub_nope", "csrf": csrf_of(form)})
    assert wrong.status_code == 401
    assert "unknown, revoked, expired" in wrong.text
    assert "synchub_session" not in wrong.headers.get("set-cookie", "")
    # A form posted from another site has no CSRF token bound to this browser's cookie.
    forged = browser(api).post("/login", data={"token": api.tokens["admin"], "csrf": "x"})
    assert forged.status_code == 403
    assert "synchub_session" not in forged.headers.get("set-cookie", "")


def test_a_scoped_token_cannot_sign_in_and_is_not_told_apart(api: Api) -> None:
    secret, _ = api.svc.tokens.create("rsh-client", "operator", scope="compat-rsh")
    client = browser(api)
    answers = [
        client.post("/login", data={"token": token, "csrf": csrf_of(client.get("/login"))})
        for token in (secret, "shub_unknown")
    ]
    assert [a.status_code for a in answers] == [401, 401]
    assert "not for the console" in answers[0].text
    fresh = re.compile(r'value="[0-9a-f]{64}"')  # each form has its own CSRF token
    assert fresh.sub("", answers[0].text) == fresh.sub("", answers[1].text)


def test_failed_sign_ins_are_limited_like_bad_tokens(api: Api) -> None:
    """The edge counts a failed sign-in as a failed authentication (on main before
    this, a form could guess tokens without limit)."""
    client = browser(api)
    csrf = csrf_of(client.get("/login"))
    for _ in range(api.svc.settings.auth_failure_burst):
        wrong = client.post("/login", data={"token": "shub_guess", "csrf": csrf})
        assert wrong.status_code == 401
        csrf = csrf_of(wrong)  # the form comes back with a new one
    right = client.post("/login", data={"token": api.tokens["viewer"], "csrf": csrf})
    assert right.status_code == 429
    assert "synchub_session" not in right.headers.get("set-cookie", "")


@pytest.mark.parametrize("role", ROLES)
def test_every_page_for_every_role(api: Api, photos: int, role: str) -> None:
    client = sign_in(api, role)
    for path in PAGES:
        page = client.get(path.format(run=photos))
        assert page.status_code == 200, (path, page.text[:300])
        assert page.headers["content-type"].startswith("text/html")
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers.get_list("referrer-policy") == ["no-referrer"]
        assert page.headers["cache-control"] == "no-store"
        assert '<main id="main"' in page.text and 'href="#main"' in page.text
    dashboard = client.get("/").text
    assert "Needs attention (1)" in dashboard
    assert 'data-state="failing"' in dashboard
    job = client.get("/jobs/photos").text
    assert "At 02:30" in job and "Next fires" in job
    assert f'data-run-id="{photos}"' in job
    writes = ("Run now", "Cancel run", "Retry", "Disable", "Enable")
    run = client.get(f"/runs/{photos}").text
    shown = {w for w in writes if f">{w}</button>" in job + dashboard + run}
    if role == "viewer":
        assert shown == set()
        assert len(re.findall(r'method="post"', job + dashboard + run)) == 3  # sign out only
    else:
        assert shown == {"Run now", "Retry", "Disable"}
    settings = client.get("/settings").text
    assert ("admin-ada" in settings) is (role == "admin")  # only an admin sees tokens


def test_a_viewers_post_is_refused_and_changes_nothing(api: Api, photos: int) -> None:
    client = sign_in(api, "viewer")
    csrf = csrf_of(client.get("/jobs/photos"))
    for path in ("/jobs/photos/run", "/jobs/photos/disable", f"/runs/{photos}/retry"):
        answer = client.post(path, data={"csrf": csrf})
        assert answer.status_code == 403, path
        assert "has role viewer" in answer.text
    assert len(api.svc.runs.page(job="photos")) == 1
    assert api.svc.jobs.show("photos").enabled is True


def test_a_write_without_its_csrf_token_is_refused(api: Api, photos: int) -> None:
    client = sign_in(api, "admin")
    other = sign_in(api, "admin")  # another session's token is no good either
    wrong = csrf_of(other.get("/"))
    for data in ({}, {"csrf": "x"}, {"csrf": wrong}):
        answer = client.post("/jobs/photos/run", data=data)
        assert answer.status_code == 403
        assert "reload the page" in answer.text
    assert client.post("/logout", data={}).status_code == 403
    assert len(api.svc.runs.page(job="photos")) == 1


def test_an_operator_runs_cancels_and_retries(api: Api, photos: int) -> None:
    client = sign_in(api, "operator")
    csrf = csrf_of(client.get("/jobs/photos"))
    answer = client.post("/jobs/photos/run", data={"csrf": csrf})
    assert answer.status_code == 303
    run_id = int(answer.headers["location"].rsplit("/", 1)[1])
    page = client.get(answer.headers["location"])
    assert f"Run {run_id} of photos requested." in page.text  # the flash
    assert ">Cancel run</button>" in page.text
    # htmx sends the token as a header instead of a field.
    answer = client.post(f"/runs/{run_id}/cancel", headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 303
    assert api.svc.runs.show(run_id).state == RunState.CANCELLED
    answer = client.post(f"/runs/{photos}/retry", data={"csrf": csrf})
    retry_id = int(answer.headers["location"].rsplit("/", 1)[1])
    assert api.svc.runs.show(retry_id).retry_of == photos
    assert f'retried by <a href="/runs/{retry_id}"' in client.get(f"/runs/{photos}").text
    client.post("/jobs/photos/disable", data={"csrf": csrf})
    assert api.svc.jobs.show("photos").enabled is False
    events = api.svc.audit.page(actor="operator-olga")
    assert [e.action for e in events] == ["job.disable"]


def test_an_unknown_object_or_a_refused_change_is_a_page_in_words(api: Api, photos: int) -> None:
    client = sign_in(api, "operator")
    missing = client.get("/jobs/nope")
    assert missing.status_code == 404 and "No job named" in missing.text
    csrf = csrf_of(client.get("/"))
    ended = client.post(f"/runs/{photos}/cancel", data={"csrf": csrf})
    assert ended.status_code == 409 and "has already ended" in ended.text


def test_the_change_report_pages_and_filters_by_action(api: Api, photos: int) -> None:
    client = sign_in(api, "viewer")
    page = client.get(f"/runs/{photos}").text
    assert "all (121)" in page and "deleted (60)" in page and "copied (61)" in page
    assert page.count('data-action="') == 50
    rows = re.findall(r'href="/runs/\d+\?action=&amp;after=(\d+)"', page)
    second = client.get(f"/runs/{photos}", params={"after": rows[0]}).text
    assert second.count('data-action="') == 50
    deleted = client.get(f"/runs/{photos}", params={"action": "deleted"}).text
    assert deleted.count('data-action="deleted"') == 50
    assert 'data-action="copied"' not in deleted
    bad = client.get(f"/runs/{photos}", params={"action": "eaten"})
    assert bad.status_code == 422 and "Bad action" in bad.text


def test_a_revoked_tokens_session_ends(api: Api) -> None:
    client = sign_in(api, "operator")
    assert client.get("/").status_code == 200
    api.svc.tokens.revoke("operator-olga")
    answer = client.get("/jobs")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login")


def test_a_session_ends_after_its_lifetime(api: Api) -> None:
    client = sign_in(api, "viewer")
    lifetime = timedelta(hours=api.svc.settings.console_session_hours)
    api.clock.advance(lifetime.total_seconds() - 1)
    assert client.get("/").status_code == 200
    api.clock.advance(1)
    assert client.get("/").status_code == 303


def test_sign_out_ends_the_session(api: Api) -> None:
    client = sign_in(api, "viewer")
    answer = client.post("/logout", data={"csrf": csrf_of(client.get("/"))})
    assert answer.status_code == 303 and answer.headers["location"] == "/login"
    assert client.get("/").status_code == 303


def test_htmx_is_told_where_to_sign_in(api: Api) -> None:
    answer = browser(api).get("/jobs?q=a", headers={"HX-Request": "true"})
    assert answer.status_code == 204
    assert answer.headers["hx-redirect"] == "/login?next=%2Fjobs%3Fq%3Da"


def test_static_files_have_hashed_names_and_long_lives(api: Api) -> None:
    page = browser(api).get("/login").text
    urls = re.findall(r'(?:href|src)="(/static/[0-9a-f]{16}/[^"]+)"', page)
    assert {u.rsplit("/", 1)[1] for u in urls} == {
        "console.css", "htmx.min.js", "htmx-sse.min.js", "console.js"
    }  # fmt: skip
    for url in urls:
        answer = browser(api).get(url)
        assert answer.status_code == 200
        assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
    stale = browser(api).get("/static/0000000000000000/console.css")
    assert stale.status_code == 404


def test_a_finished_runs_event_stream_says_so_and_closes(api: Api, photos: int) -> None:
    client = sign_in(api, "viewer")
    with client.stream("GET", f"/runs/{photos}/events") as answer:
        assert answer.headers["content-type"].startswith("text/event-stream")
        body = "".join(answer.iter_text())
    names = re.findall(r"^event: (\w+)$", body, re.M)
    assert names == ["progress", "log", "end"]
    assert 'data-state="failed"' in body


def test_jump_goes_to_a_run_or_a_job(api: Api, photos: int) -> None:
    client = sign_in(api, "viewer")
    assert client.get("/jump", params={"q": str(photos)}).headers["location"] == f"/runs/{photos}"
    assert client.get("/jump", params={"q": "photos"}).headers["location"] == "/jobs/photos"
    assert client.get("/jump", params={"q": "pho"}).headers["location"] == "/jobs?q=pho"


@pytest.fixture
def api_only(api: Api, server: tuple[Served, Switch]) -> Iterator[Api]:
    """The same server with the console turned off."""
    _, switch = server
    settings = api.svc.settings.model_copy(update={"console": False})
    switch.app = create_app(svc=type(api.svc)(settings, clock=api.clock, db=api.svc.db))
    yield api
    switch.app = api.app


def test_an_api_only_process_serves_no_console(api_only: Api) -> None:
    for path in ("/", "/login", "/jobs"):
        assert browser(api_only).get(path).status_code == 404
    assert api_only.viewer.get("/api/v1/jobs").status_code == 200


def test_filters_keep_to_what_they_say(api: Api, photos: int) -> None:
    api.svc.jobs.add("docs", JobFields(kind="scripted", tags=["nightly"], enabled=False))
    client = sign_in(api, "viewer")
    tagged = client.get("/jobs", params={"tag": "nightly"}).text
    assert 'href="/jobs/docs"' in tagged and 'href="/jobs/photos"' not in tagged
    disabled = client.get("/jobs", params={"state": "disabled"}).text
    assert 'data-state="disabled"' in disabled and 'href="/jobs/photos"' not in disabled
    failing = client.get("/jobs", params={"state": "failing"}).text
    assert 'href="/jobs/photos"' in failing and 'href="/jobs/docs"' not in failing
    assert 'href="/jobs/photos"' not in client.get("/jobs", params={"state": "stale"}).text
    searched = client.get("/jobs", params={"q": "PHO"}).text
    assert 'href="/jobs/photos"' in searched and 'href="/jobs/docs"' not in searched
    failed = client.get("/runs", params={"state": "failed"}).text
    assert f'data-run-id="{photos}"' in failed


def test_a_form_with_too_many_fields_is_refused_in_words(api: Api) -> None:
    client = sign_in(api, "operator")
    fields = {f"f{i}": "x" for i in range(101)}
    answer = client.post("/jobs/photos/run", data=fields)
    assert answer.status_code == 422 and "more than 100 fields" in answer.text


def test_the_session_cookie_is_secure_when_the_request_came_over_https(api: Api) -> None:
    """Behind a proxy on this host that ends TLS (uvicorn believes its header)."""
    client = browser(api)
    https = {"X-Forwarded-Proto": "https"}
    form = client.get("/login")  # over https its cookie is Secure: not sent over plain HTTP
    answer = client.post(
        "/login", data={"token": api.tokens["viewer"], "csrf": csrf_of(form)}, headers=https
    )
    assert answer.status_code == 303
    cookie = next(
        c for c in answer.headers.get_list("set-cookie") if c.startswith("synchub_session=")
    )
    assert "secure" in {part.strip().lower() for part in cookie.split(";")}
