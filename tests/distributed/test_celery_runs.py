"""Runs on Celery workers over Redis and RabbitMQ, with PostgreSQL as the truth."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from synchub import __version__
from synchub.core.runs import RunState
from synchub.engines.obscure import obscure
from synchub.execution.celery_exec import CeleryExecutor
from synchub.processes.worker import make_app
from synchub.services.jobs.fields import JobFields
from synchub.services.run_views import RunView
from synchub.store import runs as run_store
from synchub.store.db import transaction
from tests.distributed.conftest import Cluster, wait_for
from tests.support.marking import executions


def test_a_run_goes_through_a_worker_and_its_outcome_and_log_reach_the_database(
    cluster: Cluster,
) -> None:
    cluster.worker()
    cluster.start_scheduler()
    cluster.command_job("hello", ["sh", "-c", "echo hello from the worker"])
    run_id = cluster.run("hello")
    run = cluster.wait_state(run_id)
    assert run.state == "succeeded", run
    assert run.celery_state == "SUCCESS"
    lines = [line.message for line in cluster.svc.runs.logs(run_id)]
    assert "hello from the worker" in lines


def test_a_message_delivered_twice_runs_its_run_once(cluster: Cluster) -> None:
    worker = cluster.worker("--concurrency", "2")
    cluster.mark_job("once", seconds=1.0)
    run_id = cluster.run("once")
    with transaction(cluster.svc.sessions) as session:
        run_store.mark_queued(session, [run_id], cluster.svc.clock.now())
    executor = CeleryExecutor(make_app(cluster.settings))
    executor.submit(run_id, cluster.queue)
    executor.submit(run_id, cluster.queue)  # a redelivery, as the broker would make it
    assert cluster.wait_state(run_id).state == "succeeded"
    wait_for("both deliveries", lambda: worker.output().count(f"synchub.run[{run_id}]") >= 4)
    assert len(executions(cluster.marks)[run_id]) == 1
    assert "'gone'" in worker.output()  # the second delivery found the run claimed


def test_a_cancel_reaches_the_worker_and_a_cancelled_queued_run_never_starts(
    cluster: Cluster, tmp_path: Path
) -> None:
    cluster.start_scheduler()
    cluster.mark_job("queued-then-cancelled", seconds=0)
    waiting = cluster.run("queued-then-cancelled")
    cluster.wait_state(waiting, RunState.QUEUED)  # on the broker; no worker yet
    cluster.svc.runs.cancel(waiting)
    cluster.worker()
    seconds = _unique_seconds(300)
    cluster.command_job("long", ["sleep", seconds])
    running = cluster.run("long")
    run = cluster.wait_state(running, RunState.RUNNING)
    sleeper = wait_for("the job's process", lambda: _pids_running(["sleep", seconds]))
    cluster.svc.runs.cancel(running)
    assert cluster.wait_state(running).state == "cancelled", run
    wait_for("the job's process to go", lambda: not any(_alive(p) for p in sleeper))
    assert cluster.state(waiting) == "cancelled"
    assert waiting not in executions(cluster.marks)


def test_a_worker_killed_mid_run_leaves_no_process_and_its_run_is_retried_elsewhere(
    cluster: Cluster, tmp_path: Path
) -> None:
    flag = tmp_path / "attempted"
    victim = cluster.worker("--concurrency", "1")
    cluster.start_scheduler()
    seconds = _unique_seconds(301)
    script = f"if [ -e {flag} ]; then exit 0; fi; touch {flag}; exec sleep {seconds}"
    cluster.command_job("crashy", ["sh", "-c", script], retries=1, retry_delay="1s")
    first = cluster.run("crashy")
    cluster.wait_state(first, RunState.RUNNING)
    sleeper = wait_for("the job's process", lambda: _pids_running(["sleep", seconds]))
    survivor = cluster.worker("--concurrency", "1")
    os.kill(victim.pid, signal.SIGKILL)
    victim.proc.wait()
    # The pool process and the job's process die with the worker: nothing orphaned.
    wait_for("the orphaned job to die", lambda: not any(_alive(p) for p in sleeper))
    lost = cluster.wait_state(first, RunState.LOST)
    assert lost.error_class == "lost"
    retry = wait_for("the retry", lambda: _retry_of(cluster, "crashy", first))
    done = cluster.wait_state(retry)
    assert done.state == "succeeded", done
    assert f"synchub.run[{retry}]" in survivor.output()


def test_a_worker_killed_with_an_end_left_behind_loses_no_run_and_runs_none_twice(
    cluster: Cluster,
) -> None:
    """A run's end is left behind for the next claim to carry; the worker dies while
    that claim waits for its job's lock. Neither is in: the run is reaped as lost and
    retried once, the next run is delivered again and runs once. (Had the end thread
    written the end first, the run succeeded: either way nothing runs twice.)"""
    victim = cluster.worker("--concurrency", "1")
    cluster.start_scheduler()
    cluster.mark_job("first", seconds=5.0, retries=1, retry_delay="1s")
    cluster.mark_job("next", seconds=0)
    first = cluster.run("first")
    cluster.wait_state(first, RunState.RUNNING)
    following = cluster.run("next")
    cluster.wait_state(following, RunState.QUEUED)  # on the broker, behind the first
    with cluster.svc.db.connect() as holder:
        holder.execute(text("SELECT id FROM jobs WHERE name = 'next' FOR UPDATE"))
        waiting = wait_for("the next claim to wait for its job", lambda: _claims_waiting(holder))
        os.kill(victim.pid, signal.SIGKILL)
        victim.proc.wait()
        # As PostgreSQL would once it noticed the client gone: the statement never commits.
        holder.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": waiting[0]})
        holder.rollback()
    survivor = cluster.worker("--concurrency", "1")
    assert cluster.wait_state(following).state == "succeeded"
    assert f"synchub.run[{following}]" in survivor.output()
    ended = cluster.wait_state(first)
    if ended.state == "lost":  # the claim carried its end
        retry = wait_for("the retry", lambda: _retry_of(cluster, "first", first))
        assert cluster.wait_state(retry).state == "succeeded"
    else:  # the end thread wrote it before the kill
        assert ended.state == "succeeded", ended
        assert _retry_of(cluster, "first", first) is None
    assert all(len(each) == 1 for each in executions(cluster.marks).values())


def _claims_waiting(conn: Any) -> list[int]:
    """The backends that wait for a lock this connection holds."""
    rows = conn.execute(
        text(
            "SELECT pid FROM pg_stat_activity WHERE pg_backend_pid() = ANY (pg_blocking_pids(pid))"
        )
    ).all()
    return [pid for (pid,) in rows]


GRACE_S = 2.0
#: How long a stopped worker may take beyond its grace: the run's process gets
#: SYNCHUB_KILL_GRACE (5 s) after SIGTERM, then the run's end is written and Celery
#: winds down. A bound for the wait, not a figure the test holds the worker to.
EXIT_BOUND_S = 60.0


@pytest.mark.parametrize("pool", ["prefork", "solo"])
def test_a_stopped_worker_stops_its_runs_after_the_grace_and_they_are_retried_once(
    cluster: Cluster, tmp_path: Path, pool: str
) -> None:
    flag = tmp_path / "attempted"
    grace = {"SYNCHUB_WORKER_SHUTDOWN_GRACE": str(GRACE_S)}
    stopped = cluster.worker("--concurrency", "1", "--pool", pool, env=grace)
    cluster.start_scheduler()
    seconds = _unique_seconds(302)
    script = f"if [ -e {flag} ]; then exit 0; fi; touch {flag}; exec sleep {seconds}"
    cluster.command_job("stopped", ["sh", "-c", script], retries=1, retry_delay="1s")
    first = cluster.run("stopped")
    cluster.wait_state(first, RunState.RUNNING)
    sleeper = wait_for("the job's process", lambda: _pids_running(["sleep", seconds]))
    sent_at = time.time()
    stopped.proc.send_signal(signal.SIGTERM)
    # It should exit on its own once the grace is over and the run is stopped.
    stopped.proc.wait(timeout=GRACE_S + EXIT_BOUND_S)
    assert stopped.proc.returncode == 0, stopped.output()
    assert not any(_alive(p) for p in sleeper)
    # It should have given the run its grace, and ended it as lost (a retry follows).
    lost = cluster.wait_state(first, RunState.LOST)
    assert datetime.fromisoformat(lost.finished_at).timestamp() >= sent_at + GRACE_S
    assert lost.celery_state == "RETRY"
    retry = wait_for("the retry", lambda: _retry_of(cluster, "stopped", first))
    survivor = cluster.worker("--concurrency", "1")
    assert cluster.wait_state(retry).state == "succeeded"
    # It should have run each attempt once: the retry on the survivor alone.
    assert f"synchub.run[{retry}]" in survivor.output()
    assert f"synchub.run[{retry}]" not in stopped.output()
    assert len(cluster.svc.runs.list(job="stopped")) == 2


def test_a_stopped_worker_lets_a_run_finish_within_the_grace(cluster: Cluster) -> None:
    stopping = cluster.worker("--concurrency", "1", env={"SYNCHUB_WORKER_SHUTDOWN_GRACE": "60"})
    cluster.start_scheduler()
    cluster.mark_job("short", seconds=2.0)
    run_id = cluster.run("short")
    cluster.wait_state(run_id, RunState.RUNNING)
    stopping.proc.send_signal(signal.SIGTERM)
    stopping.proc.wait(timeout=60 + EXIT_BOUND_S)
    assert cluster.wait_state(run_id).state == "succeeded"
    assert len(executions(cluster.marks)[run_id]) == 1


def test_a_run_for_a_queue_no_worker_listens_on_waits_and_the_workers_say_so(
    cluster: Cluster,
) -> None:
    ours = cluster.worker().name.split("@")[0]
    node = cluster.start_scheduler()
    cluster.mark_job("elsewhere", queue="nobody-listens")
    run_id = cluster.run("elsewhere")
    cluster.wait_state(run_id, RunState.QUEUED)
    # The broadcast reaches every worker on the broker, other tests' too: look at ours.
    workers = {w.name.split("@")[0]: w for w in node.describe_workers()}
    assert workers[ours].queues == [cluster.queue]
    assert workers[ours].kind == "celery"
    # It should say its synchub version (a remote-control command of synchub's own).
    assert workers[ours].version == __version__
    assert not any("nobody-listens" in w.queues for w in workers.values())
    assert cluster.svc.runs.waiting_by_queue() == {"nobody-listens": 1}


def _retry_of(cluster: Cluster, job: str, run_id: int) -> int | None:
    later = [r.id for r in cluster.svc.runs.list(job=job) if r.id > run_id]
    return later[0] if later else None


def _unique_seconds(whole: int) -> str:
    """A `sleep` duration no other test's process has: tests run two at a time, and
    the processes are found by their command line."""
    return f"{whole}.{uuid.uuid4().int % 10**9:09d}"


def _pids_running(argv: list[str]) -> list[int]:
    wanted = "\0".join(argv).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes().rstrip(b"\0") == wanted:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in status


@pytest.mark.parametrize("broker", ["redis"], indirect=True)
def test_a_redelivery_after_redis_visibility_timeout_does_not_run_the_run_again(
    cluster: Cluster, tmp_path: Path
) -> None:
    conf = tmp_path / "conf" / "short_visibility.py"
    conf.parent.mkdir()
    conf.write_text(
        'broker_transport_options = {"visibility_timeout": 1, '
        '"unacked_restore_interval": 1, "unacked_restore_throttle": 1}\n'
    )
    env = {
        "SYNCHUB_CELERY_CONFIG": "short_visibility",
        "PYTHONPATH": f"{conf.parent}{os.pathsep}{cluster.env['PYTHONPATH']}",
    }
    workers = [cluster.worker("--concurrency", "2", env=env) for _ in range(2)]
    cluster.start_scheduler()
    cluster.mark_job("slow", seconds=5)
    run_id = cluster.run("slow")
    assert cluster.wait_state(run_id).state == "succeeded"
    received = sum(w.output().count(f"synchub.run[{run_id}] received") for w in workers)
    assert received >= 2, "Redis should have delivered the message again"
    assert len(executions(cluster.marks)[run_id]) == 1


def test_a_run_fired_ahead_waits_on_the_worker_for_its_fire_time(cluster: Cluster) -> None:
    cluster.settings.fire_ahead = 0.5
    cluster.worker()
    cluster.start_scheduler()
    cluster.mark_job("ticking", every="1s")

    def five_done() -> list[RunView]:
        done = [r for r in cluster.svc.runs.list(job="ticking") if r.state == "succeeded"]
        return done if len(done) >= 5 else []

    runs = wait_for("five runs", five_done)
    cluster.svc.jobs.set_enabled("ticking", False)
    at = {r.id: datetime.fromisoformat(r.scheduled_for) for r in runs}
    # It should fire ahead (on a busy machine the scheduler may be late for some) ...
    assert any(datetime.fromisoformat(r.created_at) < at[r.id] for r in runs)
    # ... and no run may start before its fire time, each once.
    for r in runs:
        assert datetime.fromisoformat(r.started_at) >= at[r.id], r
        assert len(executions(cluster.marks)[r.id]) == 1


def test_a_worker_runs_rclone_with_a_secret_added_after_it_started(
    cluster: Cluster, tmp_path: Path
) -> None:
    """The worker process holds neither the command line nor (without secrets)
    cryptography; a secret added later is opened at its first run, and rclone gets it."""
    first = cluster.worker()
    cmdline = Path(f"/proc/{first.pid}/cmdline").read_bytes().split(b"\0")
    assert b"synchub.processes.celery_worker" in cmdline  # `synchub worker` exec'd it, same pid
    assert b"--import-crypto" not in cmdline  # no remote has secrets yet
    src, enc = tmp_path / "src", tmp_path / "enc"
    src.mkdir()
    (src / "a.txt").write_text("hello through a crypt remote\n")
    cluster.svc.remotes.add("vault", "crypt", {"remote": str(enc), "password": "pw-1"})
    cluster.svc.jobs.add(
        "sealed",
        JobFields(params={"source": str(src), "destination": "vault:"}, queue=cluster.queue),
    )
    cluster.start_scheduler()
    run = cluster.wait_state(cluster.run("sealed"))
    assert run.state == "succeeded", run
    stored = [p for p in enc.rglob("*") if p.is_file()]
    assert len(stored) == 1 and stored[0].read_bytes().startswith(b"RCLONE\0\0")
    # Read back with the password: the worker handed rclone the right one.
    env = {
        **os.environ,
        "RCLONE_CONFIG_V_TYPE": "crypt",
        "RCLONE_CONFIG_V_REMOTE": str(enc),
        "RCLONE_CONFIG_V_PASSWORD": obscure("pw-1"),
    }
    rclone = Path(sys.executable).parent / "rclone"
    out = subprocess.run([rclone, "cat", "V:a.txt"], env=env, capture_output=True, check=True)
    assert out.stdout == b"hello through a crypt remote\n"
    second = cluster.worker()  # now a remote has secrets: imported before the fork
    assert b"--import-crypto" in Path(f"/proc/{second.pid}/cmdline").read_bytes().split(b"\0")
