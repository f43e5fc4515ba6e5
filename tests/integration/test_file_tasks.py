"""File tasks of watched folders over real databases and a real rclone: seen by the
watcher, queued, transferring, done or failed from the run, retried one file alone."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from synchub.core.clock import FakeClock
from synchub.core.errors import TaskBusy, TaskNotFound
from synchub.core.runs import RunState
from synchub.core.tasks import TaskState
from synchub.execution.outcomes import end_run
from synchub.scheduler.watch import FolderWatch
from synchub.services import Services
from synchub.services.jobs.fields import JobFields
from synchub.services.tasks import TaskView
from synchub.store import claim as claims
from synchub.store import runs as run_store
from synchub.store import tasks as task_store
from synchub.store.db import transaction
from tests.integration.test_watched_folders import (
    SETTLE,
    full_pass,
    wait_for,
    watched,
    with_watch,
)
from tests.support.harness import Harness


@pytest.fixture
def inbox(svc: Services, clock: FakeClock, src: Path, dst: Path) -> tuple[Harness, FolderWatch]:
    """A watched job `inbox` with a stand-in watcher the test feeds by hand."""
    svc.jobs.add("inbox", watched(src, dst))
    h = Harness(svc, clock)
    watch = with_watch(h, svc, clock, fake=True)
    watch.refresh()
    return h, watch


def tasks(svc: Services, state: TaskState | None = None) -> dict[str, TaskView]:
    items, total = svc.tasks.page(job="inbox", state=state, limit=1000)
    assert total == len(items)
    return {t.path: t for t in items}


def states(svc: Services) -> dict[str, str]:
    return {path: t.state for path, t in tasks(svc).items()}


def drop(watch: FolderWatch, src: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_bytes(data)
    watch.changed([str(src / name) for name in files])


def test_seen_files_are_pending_then_queued_then_done(
    svc: Services, clock: FakeClock, inbox: tuple[Harness, FolderWatch], src: Path, dst: Path
) -> None:
    h, watch = inbox
    drop(watch, src, {"a.txt": b"a", "sub/b.txt": b"bb", "empty": b""})
    (src / "sub").mkdir(exist_ok=True)
    watch.changed([str(src / "sub")])  # a folder is no task
    assert states(svc) == dict.fromkeys(["a.txt", "sub/b.txt", "empty"], "pending")
    # A run that waits will carry them: they are queued.
    (run_id,) = svc.runs.request_many(["inbox"])
    assert set(states(svc).values()) == {"queued"}
    assert tasks(svc, TaskState.QUEUED).keys() == tasks(svc).keys()
    assert tasks(svc, TaskState.PENDING) == {}
    clock.advance(SETTLE)
    assert full_pass(h) == [run_id]
    # It should mark each sent file done, with its size and the run that sent it.
    done = tasks(svc)
    assert {p: (t.state, t.size, t.run_id) for p, t in done.items()} == {
        "a.txt": ("done", 1, run_id),
        "sub/b.txt": ("done", 2, run_id),
        "empty": ("done", 0, run_id),
    }
    assert all(t.finished_at and t.percent == 100 for t in done.values())
    assert (dst / "sub" / "b.txt").read_bytes() == b"bb"
    assert svc.tasks.counts() == {
        "pending": 0,
        "queued": 0,
        "transferring": 0,
        "done": 3,
        "failed": 0,
    }


def test_a_file_removed_before_its_run_is_no_task_and_a_changed_one_goes_again(
    svc: Services, clock: FakeClock, inbox: tuple[Harness, FolderWatch], src: Path, dst: Path
) -> None:
    h, watch = inbox
    drop(watch, src, {"keep.txt": b"1", "tmp.part": b"x"})
    (src / "tmp.part").unlink()
    watch.changed([str(src / "tmp.part")])
    assert states(svc) == {"keep.txt": "pending"}
    clock.advance(SETTLE)
    full_pass(h)
    assert states(svc) == {"keep.txt": "done"}
    # Changed again: pending again, and sent by the next run.
    clock.advance(1)
    drop(watch, src, {"keep.txt": b"22"})
    assert states(svc) == {"keep.txt": "pending"}
    clock.advance(SETTLE)
    (again,) = full_pass(h)
    task = tasks(svc)["keep.txt"]
    assert (task.state, task.run_id, task.size) == ("done", again, 2)
    assert (dst / "keep.txt").read_bytes() == b"22"


def test_a_change_during_a_run_is_left_for_the_next_run(
    svc: Services, clock: FakeClock, inbox: tuple[Harness, FolderWatch], src: Path
) -> None:
    _, watch = inbox
    drop(watch, src, {"early.txt": b"e"})
    (run_id,) = svc.runs.request_many(["inbox"])
    with transaction(svc.sessions) as session:
        run_store.mark_queued(session, [run_id], clock.now())
        claim = claims.claim(session, run_id, worker="w", now=clock.now())
    assert claim is claims.Claim.CLAIMED
    clock.advance(1)
    drop(watch, src, {"late.txt": b"l"})
    with transaction(svc.sessions) as session:
        end_run(session, run_id, RunState.SUCCEEDED, now=clock.now())
    # The run began before "late.txt" was seen: it may not have looked at it.
    assert states(svc) == {"early.txt": "done", "late.txt": "pending"}


def test_a_failed_run_fails_its_tasks_and_one_file_is_retried_alone(
    svc: Services,
    clock: FakeClock,
    inbox: tuple[Harness, FolderWatch],
    src: Path,
    dst: Path,
    tmp_path: Path,
) -> None:
    h, watch = inbox
    dst.write_text("a file where the folder should be")
    drop(watch, src, {"one.txt": b"1", "two.txt": b"2"})
    clock.advance(SETTLE)
    (run_id,) = full_pass(h)
    assert svc.runs.show(run_id).state == "failed"
    failed = tasks(svc)
    assert {t.state for t in failed.values()} == {"failed"}
    assert failed["one.txt"].error.startswith(f"run {run_id} failed: ")
    dst.unlink()
    # Retrying one file makes a run for it alone; while it waits the file is queued
    # and can be neither retried again nor deleted.
    task_id = failed["one.txt"].id
    view = svc.tasks.retry(task_id)
    assert (view.state, view.error) == ("queued", None)
    with pytest.raises(TaskBusy, match="queued"):
        svc.tasks.retry(task_id)
    with pytest.raises(TaskBusy, match="queued"):
        svc.tasks.remove(task_id)
    assert states(svc) == {"one.txt": "queued", "two.txt": "failed"}
    (one_run,) = full_pass(h)
    run = svc.runs.show(one_run)
    assert (run.state, run.only_path) == ("succeeded", "one.txt"), run.error
    # It should send that file only, and leave the other one failed.
    assert sorted(p.name for p in dst.iterdir()) == ["one.txt"]
    assert states(svc) == {"one.txt": "done", "two.txt": "failed"}
    assert [f.action for f in svc.runs.files(one_run)] == ["copied"]
    # A done task can be deleted; then it is gone.
    svc.tasks.remove(task_id)
    with pytest.raises(TaskNotFound):
        svc.tasks.show(task_id)


def test_rclones_temporary_names_are_never_tasks_and_its_failure_is_the_files(
    svc: Services, clock: FakeClock, inbox: tuple[Harness, FolderWatch], src: Path, dst: Path
) -> None:
    h, watch = inbox
    # A folder where the file should land: rclone writes NAME.<hex>.partial, then
    # fails to rename it, and names the temporary file in its error.
    (dst / "photo.jpg" / "in-the-way").mkdir(parents=True)
    drop(watch, src, {"photo.jpg": b"jpeg" * 1000, "note.txt": b"n"})
    # Another rclone writing into the watched folder leaves temporary files too.
    drop(watch, src, {"incoming.bin.0a1b2c3d.partial": b"half"})
    assert states(svc) == {"photo.jpg": "pending", "note.txt": "pending"}
    clock.advance(SETTLE)
    (run_id,) = full_pass(h)
    assert svc.runs.show(run_id).state == "failed"
    # It should fail the file's own task with rclone's message, and make none for
    # the temporary name (nor a change report row).
    failed = tasks(svc)
    assert {p: t.state for p, t in failed.items()} == {"photo.jpg": "failed", "note.txt": "done"}
    assert "partial file rename failed" in failed["photo.jpg"].error
    assert [f.path for f in svc.runs.files(run_id) if f.action == "failed"] == ["photo.jpg"]
    # The same failure again lands on the same task; once cleared, its retry sends it.
    view = svc.tasks.retry(failed["photo.jpg"].id)
    (retry,) = full_pass(h)
    assert svc.runs.show(retry).state == "failed"
    assert set(tasks(svc)) == {"photo.jpg", "note.txt"}
    assert tasks(svc)["photo.jpg"].run_id == retry
    shutil.rmtree(dst / "photo.jpg")
    svc.tasks.retry(view.id)
    full_pass(h)
    assert states(svc) == {"photo.jpg": "done", "note.txt": "done"}
    assert (dst / "photo.jpg").read_bytes() == b"jpeg" * 1000


def test_a_retried_task_counts_its_time_from_its_own_attempt(
    svc: Services, clock: FakeClock, inbox: tuple[Harness, FolderWatch], src: Path, dst: Path
) -> None:
    h, watch = inbox
    svc.jobs.edit("inbox", JobFields(retries=0))  # only the person retries here
    (dst / "a.txt").mkdir(parents=True)  # in the way: the copy fails
    drop(watch, src, {"a.txt": b"a"})
    clock.advance(SETTLE)
    (first,) = full_pass(h)
    task = tasks(svc)["a.txt"]
    assert task.state == "failed"
    assert task.started_at == svc.runs.show(first).started_at
    (dst / "a.txt").rmdir()
    clock.advance(139)
    retried = svc.tasks.retry(task.id)
    # It should forget the failed attempt's times at once, and take the retry's.
    assert (retried.started_at, retried.finished_at, retried.duration_s) == (
        None, None, None,
    )  # fmt: skip
    (retry,) = full_pass(h)
    done = tasks(svc)["a.txt"]
    assert done.state == "done"
    assert done.started_at == svc.runs.show(retry).started_at != task.started_at
    assert done.duration_s is not None and done.duration_s < 139


def test_a_retried_task_is_queued_until_its_run_ends_and_cannot_be_deleted(
    svc: Services, clock: FakeClock, inbox: tuple[Harness, FolderWatch], src: Path, dst: Path
) -> None:
    h, watch = inbox
    drop(watch, src, {"a.txt": b"a"})
    clock.advance(SETTLE)
    full_pass(h)
    task_id = tasks(svc)["a.txt"].id
    retry = svc.tasks.retry(task_id).run_id
    with transaction(svc.sessions) as session:
        run_store.mark_queued(session, [retry], clock.now())
        claim = claims.claim(session, retry, worker="w", now=clock.now())
    assert claim is claims.Claim.CLAIMED
    # Its run has started, and has not yet said the file is in flight: it should be
    # queued still, and neither deleted (it would come back under a new id) nor
    # retried again.
    assert states(svc) == {"a.txt": "queued"}
    assert tasks(svc, TaskState.QUEUED).keys() == {"a.txt"}
    with pytest.raises(TaskBusy, match="queued"):
        svc.tasks.remove(task_id)
    with pytest.raises(TaskBusy, match="queued"):
        svc.tasks.retry(task_id)
    with transaction(svc.sessions) as session:
        end_run(session, retry, RunState.SUCCEEDED, now=clock.now())
    assert states(svc) == {"a.txt": "done"}
    svc.tasks.remove(task_id)
    assert states(svc) == {}


def test_a_pending_task_is_queued_while_a_run_that_began_after_it_was_seen_runs(
    svc: Services, clock: FakeClock, inbox: tuple[Harness, FolderWatch], src: Path
) -> None:
    _, watch = inbox
    drop(watch, src, {"early.txt": b"e"})
    (run_id,) = svc.runs.request_many(["inbox"])
    with transaction(svc.sessions) as session:
        run_store.mark_queued(session, [run_id], clock.now())
        claims.claim(session, run_id, worker="w", now=clock.now())
    clock.advance(1)
    drop(watch, src, {"late.txt": b"l"})
    # It should count on the running run for the file seen before it began, not for
    # the one seen since (that one waits for the next run).
    assert states(svc) == {"early.txt": "queued", "late.txt": "pending"}
    with pytest.raises(TaskBusy):
        svc.tasks.remove(tasks(svc)["early.txt"].id)
    svc.tasks.remove(tasks(svc)["late.txt"].id)


def test_a_run_of_a_remote_source_reports_its_files_as_tasks(
    svc: Services, clock: FakeClock, tmp_path: Path, dst: Path
) -> None:
    far = tmp_path / "far"
    (far / "deep").mkdir(parents=True)
    (far / "deep" / "x.bin").write_bytes(b"xyz")
    svc.remotes.add("disk", "local", {})
    svc.jobs.add("inbox", watched(f"disk:{far}", dst))
    h = Harness(svc, clock)
    (run_id,) = svc.runs.request_many(["inbox"])
    full_pass(h)
    task = tasks(svc)["deep/x.bin"]
    assert (task.state, task.run_id, task.size) == ("done", run_id, 3)


@contextmanager
def sending(svc: Services, clock: FakeClock, src: Path, dst: Path) -> Iterator[int]:
    """A run of `inbox` sending big.bin (2 MiB at 512 KiB/s, slow enough to be seen
    in flight) in a thread; yields its id once rclone reports the file in flight."""
    svc.jobs.add("inbox", watched(src, dst, params={"options": ["--bwlimit=512k"]}))
    h = Harness(svc, clock)
    watch = with_watch(h, svc, clock, fake=True)
    watch.refresh()
    drop(watch, src, {"big.bin": b"\0" * (2 << 20)})
    (run_id,) = svc.runs.request_many(["inbox"])
    h.scheduler.tick()
    assert h.executor.take() == [run_id]
    runner = threading.Thread(target=h.runner.execute, args=(run_id,))
    runner.start()
    try:

        def in_flight() -> bool:
            task = tasks(svc)["big.bin"]
            return task.state == "transferring" and task.bytes > 0

        wait_for(in_flight, "rclone to report big.bin in flight")
        yield run_id
    finally:
        runner.join()


def test_a_retry_while_the_file_is_being_sent_is_refused_and_it_is_sent_once(
    svc: Services, clock: FakeClock, src: Path, dst: Path
) -> None:
    with sending(svc, clock, src, dst) as run_id:
        task = tasks(svc)["big.bin"]
        assert task.run_id == run_id and task.size == 2 << 20
        assert task.percent is not None and task.started_at is not None
        with pytest.raises(TaskBusy, match="transferring"):
            svc.tasks.retry(task.id)
    assert states(svc) == {"big.bin": "done"}
    assert svc.runs.show(run_id).state == "succeeded"
    # Sent once: one run, one copy in its report, no other run made.
    assert [r.id for r in svc.runs.list(job="inbox")] == [run_id]
    assert [f.action for f in svc.runs.files(run_id)] == ["copied"]


def test_a_cancelled_run_leaves_its_files_pending_for_the_next_one(
    svc: Services, clock: FakeClock, src: Path, dst: Path
) -> None:
    with sending(svc, clock, src, dst) as run_id:
        svc.runs.cancel(run_id)
    assert svc.runs.show(run_id).state == "cancelled"
    task = tasks(svc)["big.bin"]
    assert (task.state, task.bytes, task.percent) == ("pending", 0, None)


def test_tasks_go_with_their_job(
    svc: Services, inbox: tuple[Harness, FolderWatch], src: Path
) -> None:
    _, watch = inbox
    drop(watch, src, {"a": b"a"})
    svc.jobs.remove("inbox")
    with transaction(svc.sessions) as session:
        assert task_store.counts(session) == {}
