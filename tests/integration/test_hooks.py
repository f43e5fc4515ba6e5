"""Hooks over real databases, real rclone and real commands: before, after,
on_failure and finally, their context, policies, exit 75, timeouts and stops."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from synchub.core.clock import FakeClock
from synchub.core.errors import CommandsDisabled, Forbidden, InvalidInput
from synchub.services import Services
from synchub.services.jobs.fields import JobFields
from synchub.services.run_views import RunView
from synchub.services.tokens import Role
from tests.support.harness import Harness

#: A hook that appends its event and context to a JSON-lines file, then exits with
#: the code given (and prints a line first, which becomes its reason).
RECORD = """
import json, os, sys
with open(sys.argv[1], "a") as out:
    out.write(json.dumps(dict(os.environ)) + "\\n")
print(sys.argv[3])
sys.exit(int(sys.argv[2]))
"""


def hook(log: Path, code: int = 0, say: str = "hello", **kw: Any) -> dict[str, Any]:
    return {"command": [sys.executable, "-c", RECORD, str(log), str(code), say], **kw}


def calls(log: Path) -> list[dict[str, str]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


@pytest.fixture
def src(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_text("abc")
    return tmp_path / "src"


def copy(src: Path, dst: Path, hooks: dict[str, Any], **kw: Any) -> JobFields:
    params = {"op": "copy", "source": str(src), "destination": str(dst)}
    return JobFields(params=params, hooks=hooks, **kw)


def run(svc: Services, clock: FakeClock, job: str) -> RunView:
    run_id = svc.runs.request(job)
    Harness(svc, clock).step()
    return svc.runs.show(run_id)


def test_hooks_run_in_order_with_the_runs_context_and_log_their_output(
    svc_allowing_commands: Services, clock: FakeClock, src: Path, tmp_path: Path
) -> None:
    log = tmp_path / "hooks.jsonl"
    hooks = {e: [hook(log, say=f"said {e}")] for e in ("before", "after", "on_failure", "finally")}
    svc_allowing_commands.jobs.add("photos", copy(src, tmp_path / "dst", hooks))
    done = run(svc_allowing_commands, clock, "photos")
    assert done.state == "succeeded"
    seen = calls(log)
    # It should run before, after and finally (no failure: no on_failure).
    assert [c["SYNCHUB_HOOK"] for c in seen] == ["before", "after", "finally"]
    before, after, _ = seen
    assert (before["SYNCHUB_JOB"], before["SYNCHUB_RUN_ID"]) == ("photos", str(done.id))
    assert before["SYNCHUB_STATE"] == "running"
    assert (after["SYNCHUB_STATE"], after["SYNCHUB_ERROR"]) == ("succeeded", "")
    assert (after["SYNCHUB_FILES"], after["SYNCHUB_BYTES"]) == ("1", "3")
    assert after["SYNCHUB_DELETES"] == "0"
    # It should pass no environment of the server's beyond the plain one.
    assert not {k for k in after if k.startswith("SYNCHUB_")} - {
        "SYNCHUB_HOOK", "SYNCHUB_JOB", "SYNCHUB_RUN_ID", "SYNCHUB_STATE", "SYNCHUB_ERROR",
        "SYNCHUB_BYTES", "SYNCHUB_FILES", "SYNCHUB_DELETES",
    }  # fmt: skip
    lines = [line.message for line in svc_allowing_commands.runs.logs(done.id)]
    assert "[before] said before" in lines and "[finally] said finally" in lines


def test_a_before_hook_exiting_75_skips_the_run_with_its_reason(
    svc_allowing_commands: Services, clock: FakeClock, src: Path, tmp_path: Path
) -> None:
    log = tmp_path / "hooks.jsonl"
    hooks = {
        "before": [hook(log, 75, "the NAS is asleep")],
        "after": [hook(log)],
        "finally": [hook(log)],
    }
    svc_allowing_commands.jobs.add("photos", copy(src, tmp_path / "dst", hooks, retries=3))
    done = run(svc_allowing_commands, clock, "photos")
    assert (done.state, done.reason) == ("skipped", "hook")
    assert done.error == "the NAS is asleep"
    assert not (tmp_path / "dst").exists()
    # It should still run finally, told the run was skipped; nothing is retried.
    assert [(c["SYNCHUB_HOOK"], c["SYNCHUB_STATE"]) for c in calls(log)] == [
        ("before", "running"),
        ("finally", "skipped"),
    ]
    assert len(svc_allowing_commands.runs.list(job="photos")) == 1


def test_a_failing_before_hook_with_policy_fail_fails_the_run_and_tells_the_rest(
    svc_allowing_commands: Services, clock: FakeClock, src: Path, tmp_path: Path
) -> None:
    log = tmp_path / "hooks.jsonl"
    hooks = {
        "before": [hook(log, 3, "mount failed", on_error="fail")],
        "after": [hook(log)],
        "on_failure": [hook(log)],
        "finally": [hook(log)],
    }
    svc_allowing_commands.jobs.add("photos", copy(src, tmp_path / "dst", hooks, retries=0))
    done = run(svc_allowing_commands, clock, "photos")
    assert (done.state, done.error_class) == ("failed", "hook")
    assert "mount failed" in done.error
    assert not (tmp_path / "dst").exists()
    after = calls(log)[1:]
    # It should run after, on_failure and finally, each given the reason.
    assert [c["SYNCHUB_HOOK"] for c in after] == ["after", "on_failure", "finally"]
    assert all(c["SYNCHUB_STATE"] == "failed" for c in after)
    assert all("mount failed" in c["SYNCHUB_ERROR"] for c in after)


def test_a_failing_hook_with_policy_continue_is_logged_and_the_run_goes_on(
    svc_allowing_commands: Services, clock: FakeClock, src: Path, tmp_path: Path
) -> None:
    hooks = {"before": [hook(tmp_path / "h", 4, "warming up failed")]}
    svc_allowing_commands.jobs.add("photos", copy(src, tmp_path / "dst", hooks))
    done = run(svc_allowing_commands, clock, "photos")
    assert done.state == "succeeded"
    assert (tmp_path / "dst" / "a.txt").exists()
    lines = [line.message for line in svc_allowing_commands.runs.logs(done.id)]
    assert any("failed: warming up failed" in line for line in lines)


def test_a_failing_after_hook_with_policy_fail_fails_a_successful_run(
    svc_allowing_commands: Services, clock: FakeClock, src: Path, tmp_path: Path
) -> None:
    hooks = {"after": [hook(tmp_path / "h", 1, "checksum mismatch", on_error="fail")]}
    svc_allowing_commands.jobs.add("photos", copy(src, tmp_path / "dst", hooks, retries=0))
    done = run(svc_allowing_commands, clock, "photos")
    assert (done.state, done.error_class) == ("failed", "hook")
    assert "checksum mismatch" in done.error


def test_a_hook_past_its_timeout_is_stopped(
    svc_allowing_commands: Services, clock: FakeClock, src: Path, tmp_path: Path
) -> None:
    sleeper = {"command": [sys.executable, "-c", "import time; time.sleep(600)"]}
    hooks = {"before": [{**sleeper, "timeout": "1s", "on_error": "fail"}]}
    svc_allowing_commands.jobs.add("photos", copy(src, tmp_path / "dst", hooks, retries=0))
    done = run(svc_allowing_commands, clock, "photos")
    assert done.state == "failed"
    assert "timed out after 1s" in done.error


def test_cancelling_a_run_stops_its_hooks_process_group(
    svc_allowing_commands: Services, clock: FakeClock, src: Path, tmp_path: Path
) -> None:
    """The hook starts a child of its own; the cancel must reach it too."""
    pid_file = tmp_path / "child.pid"
    script = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(600)\n"
    )
    hooks = {"before": [{"command": [sys.executable, "-c", script], "timeout": "1h"}]}
    svc_allowing_commands.jobs.add("photos", copy(src, tmp_path / "dst", hooks))
    run_id = svc_allowing_commands.runs.request("photos")
    h = Harness(svc_allowing_commands, clock)
    h.scheduler.tick()
    (taken,) = h.executor.take()
    worker = threading.Thread(target=h.runner.execute, args=(taken,))
    worker.start()
    while not (pid_file.exists() and pid_file.read_text()):
        worker.join(0.05)
    svc_allowing_commands.runs.cancel(run_id)
    worker.join(60)
    assert not worker.is_alive()
    assert svc_allowing_commands.runs.show(run_id).state == "cancelled"
    # The stop waits until the hook's whole group is gone (engines.process.terminate).
    assert _gone(int(pid_file.read_text()))
    assert not (tmp_path / "dst").exists()


def _gone(pid: int) -> bool:
    """No such process, or only its zombie (nobody may reap orphans in a container)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def test_hooks_are_refused_where_command_jobs_are_off(
    svc: Services, src: Path, tmp_path: Path
) -> None:
    with pytest.raises(CommandsDisabled, match="SYNCHUB_ALLOW_COMMAND_JOBS"):
        svc.jobs.add("photos", copy(src, tmp_path / "dst", {"before": [hook(tmp_path / "h")]}))
    assert svc.jobs.list() == []


def test_a_run_with_hooks_where_command_jobs_are_off_fails_and_starts_nothing(
    svc: Services, svc_allowing_commands: Services, clock: FakeClock, src: Path, tmp_path: Path
) -> None:
    log = tmp_path / "hooks.jsonl"
    svc_allowing_commands.jobs.add("photos", copy(src, tmp_path / "dst", {"before": [hook(log)]}))
    done = run(svc, clock, "photos")
    assert (done.state, done.error_class) == ("failed", "config")
    assert "hooks" in done.error
    assert calls(log) == []


def test_only_an_admin_sets_hooks(
    svc_allowing_commands: Services, src: Path, tmp_path: Path
) -> None:
    operator = svc_allowing_commands.for_actor("olga", Role.OPERATOR)
    with pytest.raises(Forbidden, match="Only an admin may set hooks"):
        operator.jobs.add("photos", copy(src, tmp_path / "dst", {"before": [hook(tmp_path)]}))
    admin = svc_allowing_commands.for_actor("alice", Role.ADMIN)
    admin.jobs.add("photos", copy(src, tmp_path / "dst", {"before": [hook(tmp_path)]}))
    # It should let others edit the job without touching its hooks.
    operator.jobs.edit("photos", JobFields(retries=1))


@pytest.mark.parametrize(
    ("hooks", "message"),
    [
        ({"before": [{"command": ["backup.sh"]}]}, "must be an absolute path"),
        ({"before": [{"command": "/bin/true"}]}, "argv, no shell"),
        ({"before": [{"command": []}]}, "argv, no shell"),
        ({"during": [{"command": ["/bin/true"]}]}, "unknown event 'during'"),
        ({"after": [{"command": ["/bin/true"], "on_error": "panic"}]}, "not continue or fail"),
        ({"after": [{"command": ["/bin/true"], "timeout": "0s"}]}, "timeout"),
        ({"after": [{"command": ["/bin/true"], "timeout": "9h"}]}, "timeout must be"),
        ({"after": [{"command": ["/bin/true"], "shell": True}]}, "unknown key 'shell'"),
        ({"after": [{"url": "ftp://example.org"}]}, "http:// or https://"),
        ({"after": [{"url": "https://x.org", "command": ["/bin/true"]}]}, "either command"),
        ({"after": [{"command": ["/bin/tr\0ue"]}]}, "without NUL"),
    ],
)
def test_bad_hooks_are_refused_naming_the_hook_and_nothing_is_saved(
    svc_allowing_commands: Services, src: Path, tmp_path: Path, hooks: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message) as caught:
        svc_allowing_commands.jobs.add("photos", copy(src, tmp_path / "dst", hooks))
    assert caught.value.field == "hooks"
    assert svc_allowing_commands.jobs.list() == []


def test_an_edit_replaces_the_hooks_and_empty_removes_them(
    svc_allowing_commands: Services, src: Path, tmp_path: Path
) -> None:
    svc_allowing_commands.jobs.add(
        "photos", copy(src, tmp_path / "dst", {"before": [hook(tmp_path)]})
    )
    view = svc_allowing_commands.jobs.show("photos")
    assert view.hooks["before"][0].timeout_s == 60
    assert view.hooks["before"][0].on_error == "continue"
    edited = svc_allowing_commands.jobs.change("photos", JobFields(hooks={}))
    assert edited.view.hooks == {} and edited.changed == ["hooks"]
