"""Webhook hooks over real databases, real rclone and a real local HTTP receiver:
the posted context, policies, timeouts, the sealed URL never shown, who may set
them, and config export/apply by reference."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from synchub.core.clock import FakeClock
from synchub.core.errors import Forbidden, InvalidInput
from synchub.services import Services
from synchub.services.jobs.fields import JobFields
from synchub.services.jobs.job_views import HookView
from synchub.services.run_views import RunView
from synchub.services.tokens import Role
from synchub.store import audit
from synchub.store.db import reading
from tests.support.harness import Harness

#: In the receiver's path: a secret that must never be shown.
TOKEN = "t0ken-s3cret-path"


class Receiver:
    """Records each JSON body posted; answers `status`; holds the answer while
    `hold` is set (for timeouts), until the test ends."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.status = 200
        self.hold = False
        self.released = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                data = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.bodies.append(json.loads(data))
                if receiver.hold:
                    receiver.released.wait()
                self.send_response(receiver.status)
                self.end_headers()
                self.wfile.write(b"body-" + TOKEN.encode())

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/{TOKEN}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.released.set()
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture
def src(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_text("abc")
    return tmp_path / "src"


def copy(src: Path, dst: Path, hooks: dict[str, Any], **kw: Any) -> JobFields:
    params = {"op": "copy", "source": str(src), "destination": str(dst)}
    return JobFields(params=params, hooks=hooks, **kw)


def run(svc: Services, clock: FakeClock, job: str) -> tuple[RunView, list[str]]:
    run_id = svc.runs.request(job)
    Harness(svc, clock).step()
    return svc.runs.show(run_id), [line.message for line in svc.runs.logs(run_id)]


def test_webhooks_post_the_runs_context_without_command_jobs_allowed(
    svc: Services, clock: FakeClock, src: Path, tmp_path: Path, receiver: Receiver
) -> None:
    hooks = {e: [{"url": receiver.url}] for e in ("before", "after", "finally")}
    svc.jobs.add("photos", copy(src, tmp_path / "dst", hooks))
    done, lines = run(svc, clock, "photos")
    assert done.state == "succeeded"
    assert [b["event"] for b in receiver.bodies] == ["before", "after", "finally"]
    before, after, _ = receiver.bodies
    assert (before["job"], before["run_id"], before["state"]) == ("photos", done.id, "running")
    assert (after["state"], after["error"], after["files"], after["bytes"]) == (
        "succeeded", "", 1, 3,
    )  # fmt: skip
    assert "before webhook http://127.0.0.1/… started" in lines
    assert not [line for line in lines if TOKEN in line]


def test_a_500_with_policy_fail_fails_the_run_and_continue_does_not(
    svc: Services, clock: FakeClock, src: Path, tmp_path: Path, receiver: Receiver
) -> None:
    receiver.status = 500
    svc.jobs.add("loose", copy(src, tmp_path / "d1", {"after": [{"url": receiver.url}]}))
    done, lines = run(svc, clock, "loose")
    assert done.state == "succeeded"
    assert "after webhook http://127.0.0.1/… failed: answered HTTP 500" in lines
    strict = {"after": [{"url": receiver.url, "on_error": "fail"}]}
    svc.jobs.add("strict", copy(src, tmp_path / "d2", strict))
    done, lines = run(svc, clock, "strict")
    assert (done.state, done.error_class) == ("failed", "hook")
    assert done.error == "after webhook http://127.0.0.1/… failed: answered HTTP 500"
    assert not [line for line in lines if TOKEN in line]


def test_a_failing_before_webhook_with_fail_stops_the_run_before_the_work(
    svc: Services, clock: FakeClock, src: Path, tmp_path: Path, receiver: Receiver
) -> None:
    receiver.status = 503
    hooks = {
        "before": [{"url": receiver.url, "on_error": "fail"}],
        "finally": [{"url": receiver.url}],
    }
    svc.jobs.add("photos", copy(src, tmp_path / "dst", hooks))
    done, _ = run(svc, clock, "photos")
    assert (done.state, done.error_class) == ("failed", "hook")
    assert not (tmp_path / "dst").exists()
    # It should still tell the finally hooks why.
    assert receiver.bodies[-1]["event"] == "finally"
    assert "answered HTTP 503" in receiver.bodies[-1]["error"]


def test_a_webhook_past_its_timeout_fails(
    svc: Services, clock: FakeClock, src: Path, tmp_path: Path, receiver: Receiver
) -> None:
    receiver.hold = True
    hooks = {"after": [{"url": receiver.url, "timeout": "1s", "on_error": "fail"}]}
    svc.jobs.add("photos", copy(src, tmp_path / "dst", hooks))
    done, _ = run(svc, clock, "photos")
    assert (done.state, done.error_class) == ("failed", "hook")
    assert done.error == "after webhook http://127.0.0.1/… failed: timed out after 1s"


def test_the_url_is_sealed_and_shown_by_its_hint_only(
    svc: Services, src: Path, tmp_path: Path, receiver: Receiver
) -> None:
    hooks = {"before": [{"url": receiver.url, "timeout": "10s"}]}
    svc.jobs.add("photos", copy(src, tmp_path / "dst", hooks))
    view = svc.jobs.show("photos")
    assert view.hooks == {"before": [HookView(None, "http://127.0.0.1/…", 10, "continue")]}
    with reading(svc.sessions) as session:
        events = json.dumps([e.__dict__ for e in audit.recent(session, 100)], default=str)
        raw = json.dumps(svc.jobs.show("photos").as_dict())
    assert TOKEN not in events and TOKEN not in raw
    assert TOKEN not in svc.config.export().text


def test_only_an_admin_sets_webhooks_and_others_keep_them(
    svc: Services, clock: FakeClock, src: Path, tmp_path: Path, receiver: Receiver
) -> None:
    hooks = {"after": [{"url": receiver.url}]}
    for role in (Role.OPERATOR, Role.VIEWER):
        with pytest.raises(Forbidden):
            svc.for_actor("olga", role).jobs.add("photos", copy(src, tmp_path / "d", hooks))
    svc.for_actor("alice", Role.ADMIN).jobs.add("photos", copy(src, tmp_path / "d", hooks))
    operator = svc.for_actor("olga", Role.OPERATOR)
    operator.jobs.edit("photos", JobFields(retries=1))
    # It should keep the URL when the view's hooks (its hint) are sent back as they are.
    shown = svc.jobs.show("photos").as_dict()["hooks"]
    edited = operator.jobs.change("photos", JobFields(hooks=shown, retries=2))
    assert edited.changed == ["retries"]
    # ... and refuse another URL from an operator.
    with pytest.raises(Forbidden):
        operator.jobs.edit("photos", JobFields(hooks={"after": [{"url": receiver.url + "x"}]}))
    done, _ = run(svc, clock, "photos")
    assert done.state == "succeeded" and len(receiver.bodies) == 1


def test_a_new_url_on_the_same_host_is_a_change(
    svc: Services, src: Path, tmp_path: Path, receiver: Receiver
) -> None:
    svc.jobs.add("photos", copy(src, tmp_path / "d", {"after": [{"url": receiver.url}]}))
    same = svc.jobs.change("photos", JobFields(hooks={"after": [{"url": receiver.url}]}))
    assert same.changed == []
    other = svc.jobs.change("photos", JobFields(hooks={"after": [{"url": receiver.url + "2"}]}))
    assert other.changed == ["hooks"]


def test_a_hint_with_nothing_stored_is_refused(svc: Services, src: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="whole URL, not its hint"):
        svc.jobs.add("photos", copy(src, tmp_path / "d", {"after": [{"url": "http://h/…"}]}))
    assert svc.jobs.list() == []


def test_export_writes_a_reference_and_apply_resolves_it(
    svc: Services, clock: FakeClock, src: Path, tmp_path: Path, receiver: Receiver
) -> None:
    svc.jobs.add("photos", copy(src, tmp_path / "d", {"after": [{"url": receiver.url}]}))
    text = svc.config.export().text
    name = "SYNCHUB_SECRET_JOB_PHOTOS_HOOK_AFTER_0"
    assert f"url: ${{{name}}}" in text and TOKEN not in text
    # It should keep the stored URL for :-keep, and take a new one from the variable.
    assert svc.config.apply(svc.config.export(keep=True).text, environ={}).plan == []
    applied = svc.config.apply(text, environ={name: receiver.url + "/new"})
    assert [(s.name, [c.field for c in s.changes]) for s in applied.plan] == [("photos", ["hooks"])]
    run(svc, clock, "photos")
    assert len(receiver.bodies) == 1


def test_command_hooks_may_give_way_to_a_webhook_where_command_jobs_are_off(
    svc: Services, svc_allowing_commands: Services, src: Path, tmp_path: Path, receiver: Receiver
) -> None:
    svc_allowing_commands.jobs.add(
        "photos", copy(src, tmp_path / "d", {"after": [{"command": ["/bin/true"]}]})
    )
    edited = svc.jobs.change("photos", JobFields(hooks={"after": [{"url": receiver.url}]}))
    assert edited.changed == ["hooks"]
    assert svc.jobs.show("photos").hooks["after"][0].url == "http://127.0.0.1/…"
