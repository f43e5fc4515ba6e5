"""Watched folders over real databases: defining them, settling, firing, and the real
watcher with real files and a real rclone copy."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from synchub.core.clock import FakeClock
from synchub.core.errors import InvalidInput
from synchub.core.runs import RunState
from synchub.core.tasks import TaskState
from synchub.scheduler.watch import FolderWatch, outermost
from synchub.services import Services
from synchub.services.jobs.fields import JobFields
from synchub.services.run_views import RunView
from synchub.store import runs as run_store
from synchub.store.db import transaction
from tests.support.harness import Harness

SETTLE = 10


def watched(source: Path | str, dest: Path | str, **kw: Any) -> JobFields:
    params = {"source": str(source), "destination": str(dest), **kw.pop("params", {})}
    return JobFields(params=params, watch=True, **kw)


def runs_of(svc: Services, job: str) -> list[RunView]:
    return list(reversed(svc.runs.list(job=job, limit=1000)))


def full_pass(h: Harness) -> list[int]:
    """One full scheduler pass (as every poll interval, or a change, brings), with the
    runs it dispatched run."""
    h.scheduler.wake()
    return h.step()


def wait_for(condition: Callable[[], bool], what: str, deadline_s: float = 30.0) -> None:
    """Wait until `condition` holds; fail naming `what` when the deadline passes."""
    end = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


@dataclass
class FakeWatcher:
    """Stands in for the watchfiles thread: records the roots it is asked to watch."""

    roots: frozenset[str] = frozenset()
    history: list[frozenset[str]] = field(default_factory=list)

    def watch(self, roots: frozenset[str], now: datetime) -> None:
        if roots != self.roots:
            self.history.append(roots)
        self.roots = roots

    def stop(self) -> None:
        self.roots = frozenset()


def with_watch(h: Harness, svc: Services, clock: FakeClock, *, fake: bool) -> FolderWatch:
    watch = FolderWatch(svc.sessions, clock, SETTLE)
    if fake:
        watch.watcher = FakeWatcher()  # type: ignore[assignment]
    h.scheduler.watch = watch
    return watch


# -- defining a watched job ----------------------------------------------------


def test_a_watched_job_copies_and_is_rescanned_by_default(
    svc: Services, src: Path, dst: Path
) -> None:
    view = svc.jobs.add("inbox", watched(src, dst, max_depth=2))
    # It should copy (nothing deleted at the destination), on a rescan interval of
    # SYNCHUB_WATCH_RESCAN, with --max-depth among its rclone options.
    assert view.watch is True
    assert view.params["op"] == "copy"
    assert view.params["options"] == ["--max-depth=2"]
    assert view.max_depth == 2
    assert view.schedule.kind == "interval"
    assert view.schedule.every_s == svc.settings.watch_rescan == 600
    assert view.watch_problem is None


def test_a_watched_job_keeps_its_own_op_and_schedule(svc: Services, src: Path, dst: Path) -> None:
    view = svc.jobs.add("inbox", watched(src, dst, params={"op": "sync"}, cron="0 2 * * *"))
    assert view.params["op"] == "sync"
    assert view.schedule.kind == "cron"


def test_editing_watch_and_max_depth(svc: Services, src: Path, dst: Path) -> None:
    svc.jobs.add("inbox", JobFields(params={"source": str(src), "destination": str(dst)}))
    view = svc.jobs.edit("inbox", JobFields(watch=True, max_depth=1))
    # It should start rescanning a manual-only job it now watches, keeping its op.
    assert (view.watch, view.max_depth, view.params["op"]) == (True, 1, "sync")
    assert view.schedule.every_s == 600
    assert view.next_fire_at is not None
    view = svc.jobs.edit("inbox", JobFields(max_depth=3))
    assert view.params["options"] == ["--max-depth=3"]
    view = svc.jobs.edit("inbox", JobFields(watch=False, max_depth=-1))
    assert (view.watch, view.max_depth, view.params["options"]) == (False, None, [])


def test_only_rclone_jobs_watch_and_a_bad_depth_is_refused(
    svc: Services, src: Path, dst: Path
) -> None:
    with pytest.raises(InvalidInput, match="Only rclone jobs"):
        svc.jobs.add("s", JobFields(kind="scripted", params={"result": "ok"}, watch=True))
    with pytest.raises(InvalidInput, match="max depth"):
        svc.jobs.add("d", watched(src, dst, max_depth=-2))
    assert svc.jobs.list() == []


def test_a_missing_folder_is_reported_and_a_remote_source_is_only_rescanned(
    svc: Services, tmp_path: Path, dst: Path
) -> None:
    svc.remotes.add("disk", "local", {})
    svc.remotes.add("box", "sftp", {"host": "h.example", "user": "bob", "pass": "pw"})
    gone = tmp_path / "gone"
    view = svc.jobs.add("local", watched(gone, dst))
    assert view.watch_problem == f"source folder {gone} does not exist"
    view = svc.jobs.add("via-remote", watched(f"disk:{gone}", dst))
    assert view.watch_problem == f"source folder {gone} does not exist"
    view = svc.jobs.add("far", watched("box:/photos", dst))
    assert view.watch_problem is None
    assert view.schedule.every_s == 600
    # It should report in the list too.
    problems = {v.name: v.watch_problem for v in svc.jobs.list()}
    assert problems["local"] == problems["via-remote"] == f"source folder {gone} does not exist"


# -- settling and firing, without a filesystem -------------------------------------


def test_a_burst_of_changes_gives_one_watch_run_once_settled(
    svc: Services, clock: FakeClock, src: Path, dst: Path
) -> None:
    svc.jobs.add("inbox", watched(src, dst))
    h = Harness(svc, clock)
    watch = with_watch(h, svc, clock, fake=True)
    (first,) = full_pass(h)  # for the files already there
    assert watch.watcher.roots == {str(src)}
    for batch in range(10):
        watch.changed([str(src / f"f{batch}-{i}.txt") for i in range(1000)])
        clock.advance(1)
    # It should wake the scheduler when the changes settle, not before.
    h.scheduler.tick()
    assert h.executor.take() == []
    assert h.scheduler.next_wake is not None
    assert h.scheduler.next_wake <= clock.now() + (watch.dirty.settle)
    clock.advance(SETTLE)
    h.scheduler.tick()
    (run_id,) = h.executor.take()
    assert svc.runs.show(run_id).trigger == "watch"
    clock.advance(SETTLE)
    h.scheduler.tick()
    assert h.executor.take() == []
    assert [r.id for r in runs_of(svc, "inbox")] == [first, run_id]


def test_a_new_watched_folder_sends_the_files_already_there_at_once(
    svc: Services, clock: FakeClock, tmp_path: Path, src: Path, dst: Path
) -> None:
    (src / "old.txt").write_text("there before the folder was watched")
    (src / "gone").mkdir()  # a folder that will be missing
    svc.jobs.add("inbox", watched(src, dst))
    svc.jobs.add("nowhere", watched(src / "gone", tmp_path / "dst2"))
    (src / "gone").rmdir()
    h = Harness(svc, clock)
    watch = with_watch(h, svc, clock, fake=True)
    # It should run the new folder on the next pass, with no change seen and no
    # settle time or rescan to wait for; the missing folder gets none (yet).
    (first,) = full_pass(h)
    run = svc.runs.show(first)
    assert (run.job, run.trigger, run.state) == ("inbox", "watch", "succeeded")
    assert (dst / "old.txt").exists()
    assert {t.path: t.state for t in svc.tasks.page(job="inbox")[0]} == {"old.txt": "done"}
    # Once only: a later pass, even past the settle time, runs nothing more.
    clock.advance(SETTLE)
    assert full_pass(h) == []
    # A job enabled again is new to the watch (nobody watched it meanwhile).
    svc.jobs.set_enabled("inbox", False)
    full_pass(h)
    svc.jobs.set_enabled("inbox", True)
    (again,) = full_pass(h)
    assert svc.runs.show(again).trigger == "watch"
    # So is every job to a scheduler that takes the lead.
    watch.stop()
    (taken,) = full_pass(h)
    assert taken not in (first, again)


def test_changes_outside_the_folder_or_below_max_depth_are_not_the_jobs(
    svc: Services, clock: FakeClock, tmp_path: Path, src: Path, dst: Path
) -> None:
    svc.jobs.add("inbox", watched(src, dst, max_depth=1))
    h = Harness(svc, clock)
    watch = with_watch(h, svc, clock, fake=True)
    watch.refresh()
    watch.fire()  # its first run, for the files already there
    watch.changed([str(tmp_path / "srcx" / "a"), str(src), str(src / "sub" / "deep.txt")])
    assert watch.dirty.settled(clock.now() + watch.dirty.settle) == []
    watch.changed([str(src / "top.txt")])
    assert len(watch.dirty.settled(clock.now() + watch.dirty.settle)) == 1


def test_no_watch_run_while_one_waits_and_a_deferred_one_after_a_running_run(
    svc: Services, clock: FakeClock, src: Path, dst: Path
) -> None:
    svc.jobs.add("inbox", watched(src, dst))
    h = Harness(svc, clock)
    watch = with_watch(h, svc, clock, fake=True)
    watch.refresh()
    (manual,) = svc.runs.request_many(["inbox"])
    watch.changed([str(src / "a.txt")])
    clock.advance(SETTLE)
    # It should add nothing while a run is pending: that run will see the file.
    assert watch.fire() == []
    assert watch.dirty.settled(clock.now()) == []
    # While a run is running, the changes wait for it to end.
    with transaction(svc.sessions) as session:
        assert run_store.move(session, manual, RunState.RUNNING, expected=[RunState.PENDING])
    watch.changed([str(src / "b.txt")])
    clock.advance(SETTLE)
    assert watch.fire() == []
    assert watch.next_due() is None  # no busy loop while it waits
    with transaction(svc.sessions) as session:
        assert run_store.move(
            session,
            manual,
            RunState.SUCCEEDED,
            expected=[RunState.RUNNING],
            finished_at=clock.now(),
        )
    (run_id,) = watch.fire()
    assert svc.runs.show(run_id).trigger == "watch"


def test_roots_follow_the_jobs_and_their_folders(
    svc: Services, clock: FakeClock, tmp_path: Path, src: Path, dst: Path
) -> None:
    h = Harness(svc, clock)
    watch = with_watch(h, svc, clock, fake=True)
    fake = watch.watcher
    assert isinstance(fake, FakeWatcher)
    inner = src / "inner"
    inner.mkdir()
    outer_id = svc.jobs.add("outer", watched(src, dst)).id
    inner_id = svc.jobs.add("inner", watched(inner, tmp_path / "dst2")).id
    watch.refresh()
    # It should watch the outer folder once and give inner changes to both jobs.
    assert fake.roots == {str(src)}
    watch.changed([str(inner / "x")])
    settled = watch.dirty.settled(clock.now() + watch.dirty.settle)
    assert {s.job_id for s in settled} == {outer_id, inner_id}
    # A disabled or deleted job's folder is no longer watched, nor its changes kept.
    svc.jobs.set_enabled("outer", False)
    watch.refresh()
    assert fake.roots == {str(inner)}
    settled = watch.dirty.settled(clock.now() + watch.dirty.settle)
    assert {s.job_id for s in settled} == {inner_id}
    svc.jobs.remove("inner")
    watch.refresh()
    assert fake.roots == frozenset()
    # Losing the lead stops the watcher.
    svc.jobs.set_enabled("outer", True)
    h.scheduler.tick()
    assert fake.roots == {str(src)}
    h.scheduler.release()
    clock.advance(60)
    other = Harness(svc, clock, "node-b")
    other.scheduler.tick()
    h.scheduler.tick()
    assert not h.scheduler.leading
    assert fake.roots == frozenset()


def test_outermost_keeps_folders_not_inside_another() -> None:
    assert outermost({"/a", "/a/b", "/ab", "/c/d", "/"}) == {"/"}
    assert outermost({"/a", "/a/b", "/ab"}) == {"/a", "/ab"}


# -- the real watcher ----------------------------------------------------------------


@dataclass
class Seen:
    """Every path the real watcher reported, to wait on."""

    paths: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def has(self, *paths: Path) -> bool:
        with self.lock:
            return all(str(p) in self.paths for p in paths)


def until_watched(folder: Path, seen: Seen) -> None:
    """Wait until the watcher thread, started by a pass, reports changes in `folder`:
    it sets its watches up in its own time."""
    probe = folder / ".probe"

    def reported() -> bool:
        probe.write_text(str(time.monotonic()))
        time.sleep(0.1)
        return seen.has(probe)

    wait_for(reported, f"the watcher to watch {folder}")


@pytest.fixture
def real_watch(svc: Services, clock: FakeClock) -> Iterator[tuple[Harness, FolderWatch, Seen]]:
    """The real folder watcher (inotify) over svc, with every path it reported."""
    h = Harness(svc, clock)
    watch = with_watch(h, svc, clock, fake=False)
    seen = Seen()
    marking = watch.changed

    def changed(paths: list[str]) -> None:
        marking(paths)
        with seen.lock:
            seen.paths.update(paths)

    watch.watcher.on_change = changed
    yield h, watch, seen
    watch.stop()


@pytest.fixture(autouse=True)
def private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def test_a_thousand_files_dropped_at_once_give_exactly_one_watch_run(
    svc: Services,
    clock: FakeClock,
    real_watch: tuple[Harness, FolderWatch, Seen],
    tmp_path: Path,
    src: Path,
    dst: Path,
) -> None:
    h, watch, seen = real_watch
    svc.jobs.add("inbox", watched(src, dst))
    full_pass(h)
    assert watch.watcher.alive
    until_watched(src, seen)
    # Dropped at once: written elsewhere, then moved in (as a file manager does).
    staging = tmp_path / "staging"
    staging.mkdir()
    names = [f"photo-{i:04}.jpg" for i in range(1000)]
    for name in names:
        (staging / name).write_bytes(name.encode())
    for name in names:
        os.rename(staging / name, src / name)
    wait_for(lambda: seen.has(*(src / n for n in names)), "the watcher to see 1000 files")
    # Each file is a task from the moment the watcher saw it.
    pending, total = svc.tasks.page(job="inbox", state=TaskState.PENDING, limit=2000)
    assert {t.path for t in pending} >= set(names)
    assert full_pass(h) == []  # not settled yet: the clock has not moved
    clock.advance(SETTLE)
    (run_id,) = full_pass(h)
    for _ in range(3):
        clock.advance(SETTLE)
        assert full_pass(h) == []
    run = svc.runs.show(run_id)
    assert (run.trigger, run.state) == ("watch", "succeeded")
    assert sorted(p.name for p in dst.iterdir() if p.name != ".probe") == names
    # One run, and 1,000 done tasks (and the probe's), each sent by it.
    done, total = svc.tasks.page(job="inbox", limit=2000)
    assert total == 1001
    assert {(t.state, t.run_id) for t in done} == {("done", run_id)}


def test_odd_files_do_not_stop_the_watcher_and_rclone_copies_them(
    svc: Services,
    clock: FakeClock,
    real_watch: tuple[Harness, FolderWatch, Seen],
    src: Path,
    dst: Path,
) -> None:
    h, watch, seen = real_watch
    svc.jobs.add("inbox", watched(src, dst))
    full_pass(h)
    until_watched(src, seen)
    # A 300-character path (each name within the filesystem's 255 bytes), in Unicode.
    deep = src / ("d" * 100) / ("é" * 100) / ("ü" * 20)
    deep.mkdir(parents=True)
    long_file = deep / ("ファイル" * 20 + ".txt")
    assert len(str(long_file.relative_to(src))) >= 300
    long_file.write_text("long")
    broken = src / "broken-link"
    broken.symlink_to(src / "nowhere")
    empty = src / "empty.bin"
    empty.touch()
    # Files made in a new folder before the watcher has added it may be reported as
    # the folder's creation alone: either marks the job, and the run copies them all.
    top = src / ("d" * 100)
    wait_for(lambda: seen.has(top, broken, empty), "the watcher to see the odd files")
    clock.advance(SETTLE)
    (run_id,) = full_pass(h)
    run = svc.runs.show(run_id)
    assert (run.trigger, run.state) == ("watch", "succeeded"), run.error
    assert (dst / long_file.relative_to(src)).read_text() == "long"
    assert (dst / "empty.bin").stat().st_size == 0
    assert not (dst / "broken-link").exists()  # rclone skips symlinks without -L
    # The long name and the empty file are done tasks; the broken link is none.
    tasks = {t.path: t for t in svc.tasks.page(job="inbox", limit=100)[0]}
    long_task = tasks[str(long_file.relative_to(src))]
    assert (long_task.state, long_task.size) == ("done", 4)
    assert (tasks["empty.bin"].state, tasks["empty.bin"].size) == ("done", 0)
    assert "broken-link" not in tasks
    # It should still be watching afterwards.
    later = src / "later.txt"
    later.write_text("x")
    wait_for(lambda: seen.has(later), "the watcher to see a later file")
    assert watch.watcher.alive


def test_a_folder_removed_and_recreated_is_reported_then_watched_again(
    svc: Services,
    clock: FakeClock,
    real_watch: tuple[Harness, FolderWatch, Seen],
    src: Path,
    dst: Path,
) -> None:
    h, watch, seen = real_watch
    svc.jobs.add("inbox", watched(src, dst))
    full_pass(h)
    assert watch.watcher.roots == {str(src)}
    shutil.rmtree(src)
    full_pass(h)
    # It should say why it is not watching, and not fail the scheduler's pass.
    assert svc.jobs.show("inbox").watch_problem == f"source folder {src} does not exist"
    assert watch.watcher.roots == frozenset()
    clock.advance(SETTLE)
    full_pass(h)
    src.mkdir()
    (src / "back.txt").write_text("back")
    full_pass(h)
    assert svc.jobs.show("inbox").watch_problem is None
    assert watch.watcher.roots == {str(src)}
    # What came back with the folder gets a run...
    clock.advance(SETTLE)
    (run_id,) = full_pass(h)
    assert svc.runs.show(run_id).trigger == "watch"
    assert (dst / "back.txt").read_text() == "back"
    # ...and the watcher sees new changes in it again.
    until_watched(src, seen)
    # The probe's run. A report of its last write may still come after the clock moved
    # on (a loaded machine), marking the folder changed again: give it settle times.
    triggers: list[str] = []
    for _ in range(3):
        clock.advance(SETTLE)
        triggers += [svc.runs.show(r).trigger for r in full_pass(h)]
        if triggers:
            break
    assert triggers == ["watch"]
    newer = src / "newer.txt"
    newer.write_text("newer")
    wait_for(lambda: seen.has(newer), "the watcher to see a file in the recreated folder")
    clock.advance(SETTLE)
    (again,) = full_pass(h)
    assert svc.runs.show(again).trigger == "watch"
    assert (dst / "newer.txt").read_text() == "newer"


def test_a_name_that_is_not_utf8_does_not_stop_the_watcher_of_any_folder(
    svc: Services,
    clock: FakeClock,
    real_watch: tuple[Harness, FolderWatch, Seen],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """On the code before, watchfiles' error about the name ended the watcher thread:
    no folder was watched for the next 30 s, and changes made meanwhile were never
    seen (until_watched below timed out)."""
    h, watch, seen = real_watch
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    svc.jobs.add("one", watched(one, tmp_path / "one-copy"))
    svc.jobs.add("two", watched(two, tmp_path / "two-copy"))
    full_pass(h)
    until_watched(one, seen)
    until_watched(two, seen)
    bad = os.path.join(os.fsencode(one), b"bad\xff.txt")
    with open(bad, "wb") as file:
        file.write(b"bad name")
    (one / "good-1.txt").write_text("one")
    (two / "good-2.txt").write_text("two")
    # It should go on watching both folders: files made after it are seen.
    for after in (one / "after-1.txt", two / "after-2.txt"):

        def reported(after: Path = after) -> bool:
            after.write_text(str(time.monotonic()))
            time.sleep(0.1)
            return seen.has(after)

        wait_for(reported, f"the watcher to see {after}")
    assert watch.watcher.alive
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("bad\\xFF.txt is not a UTF-8 name" in w for w in warnings), warnings
    # It should leave the lost changes to both jobs' runs, which copy them all, the
    # odd name as it is.
    # A report of the last write of an after-file may still come once the clock has
    # moved on (a loaded machine), marking its folder changed again: give it settle
    # times.
    ran: list[int] = []
    for _ in range(3):
        clock.advance(SETTLE)
        ran += full_pass(h)
        if {svc.runs.show(r).job for r in ran} == {"one", "two"}:
            break
    assert sorted(svc.runs.show(r).job for r in ran) == ["one", "two"]
    assert {svc.runs.show(r).state for r in ran} == {"succeeded"}
    assert os.path.exists(os.path.join(os.fsencode(tmp_path / "one-copy"), b"bad\xff.txt"))
    assert (tmp_path / "one-copy" / "good-1.txt").read_text() == "one"
    assert (tmp_path / "two-copy" / "good-2.txt").read_text() == "two"
    assert (tmp_path / "two-copy" / "after-2.txt").exists()
    tasks = {t.path: t.state for t in svc.tasks.page(job="one", limit=100)[0]}
    assert tasks["bad\ufffd.txt"] == "done"  # as rclone reports it
