"""Promise 8 over real databases and real rclone: a run stopped by a guard ends failed,
is not retried, and says why; one run let through is audited; dry runs are recorded
as dry runs and never count as the job's success."""

from __future__ import annotations

from pathlib import Path

import pytest

from synchub.core.clock import FakeClock
from synchub.core.errors import InvalidInput
from synchub.services import Services
from synchub.services.jobs.fields import JobFields
from synchub.services.run_views import RunView
from synchub.store import job_runs, run_metrics
from synchub.store.db import reading
from tests.integration.engines.helpers import tree, write
from tests.support.harness import Harness

FILES = {f"f{i}.txt": str(i) for i in range(4)}


def sync_job(svc: Services, src: Path, dst: Path, **fields: object) -> None:
    params = {"source": str(src), "destination": str(dst), **fields.pop("params", {})}  # type: ignore[dict-item]
    svc.jobs.add("backup", JobFields(params=params, **fields))  # type: ignore[arg-type]


def one_run(svc: Services, clock: FakeClock, **flags: bool) -> RunView:
    run_id = svc.runs.request("backup", dry_run=flags.get("dry_run", False),
                              allow_deletes=flags.get("allow_deletes", False))  # fmt: skip
    Harness(svc, clock).step()
    return svc.runs.show(run_id)


def test_an_emptied_source_fails_the_run_once_and_deletes_nothing(
    svc: Services, clock: FakeClock, src: Path, dst: Path
) -> None:
    write(src, FILES)
    sync_job(svc, src, dst, retries=3)
    assert one_run(svc, clock).state == "succeeded"
    for name in FILES:
        (src / name).unlink()

    run = one_run(svc, clock)

    assert run.state == "failed" and run.error_class == "empty_source"
    assert str(run.error).startswith("empty source:")
    assert tree(dst) == FILES
    # It should not be retried: a retry would find the same empty source.
    clock.advance(3600)
    assert Harness(svc, clock).step() == []
    rows = svc.runs.files(int(run.id))
    assert sorted((f.path, f.action) for f in rows) == [
        (name, "would_delete") for name in sorted(FILES)
    ]

    # It should let one run through when asked, and audit who asked.
    run = one_run(svc, clock, allow_deletes=True)
    assert run.state == "succeeded" and run.allow_deletes is True
    assert tree(dst) == {}
    (event,) = svc.audit.page(action="run.allow_deletes")
    assert (event.actor, event.target, event.after) == ("alice", "backup",
                                                                 {"run": run.id})  # fmt: skip


def test_a_run_over_the_guard_names_the_way_through(
    svc: Services, clock: FakeClock, src: Path, dst: Path
) -> None:
    write(src, FILES)
    sync_job(svc, src, dst, delete_guard="1")
    one_run(svc, clock)
    (src / "f0.txt").unlink()
    (src / "f1.txt").unlink()

    run = one_run(svc, clock)

    assert run.state == "failed" and run.error_class == "delete_guard"
    assert "would delete 2 of the 4 files" in str(run.error)
    assert "synchub job run backup --allow-deletes" in str(run.error)
    assert tree(dst) == FILES
    assert run.files_summary == {"would_delete": 2}


def test_a_dry_run_is_recorded_as_one_and_is_never_the_jobs_success(
    svc: Services, clock: FakeClock, src: Path, dst: Path
) -> None:
    write(src, FILES)
    sync_job(svc, src, dst)

    run = one_run(svc, clock, dry_run=True)

    assert run.state == "succeeded" and run.dry_run is True
    assert not dst.exists()
    assert run.files_summary == {"would_copy": 4}
    assert run.stats.files == 0 and run.stats.bytes == 0
    with reading(svc.sessions) as session:
        job = svc.jobs.show("backup")
        assert job_runs.last_succeeded(session, job.id) is None
        assert run_metrics.last_success_by_job(session) == []
        assert job_runs.last_success_of_jobs(session) == {}  # the console's
    assert svc.runs.figures(duration_buckets=[1.0], lateness_buckets=[1.0]).last_success == []


def test_a_job_passing_dry_run_marks_every_run_a_dry_run(
    svc: Services, clock: FakeClock, src: Path, dst: Path
) -> None:
    write(src, FILES)
    write(dst, {"precious.txt": "keep me"})
    sync_job(svc, src, dst, params={"options": ["--dry-run"]}, delete_guard="off")

    run = one_run(svc, clock)

    assert run.dry_run is True
    assert tree(dst) == {"precious.txt": "keep me"}
    rows = {(f.path, f.action) for f in svc.runs.files(int(run.id))}
    assert ("precious.txt", "would_delete") in rows and ("precious.txt", "deleted") not in rows


def test_a_retry_of_a_dry_run_is_a_dry_run(
    svc: Services, clock: FakeClock, src: Path, dst: Path
) -> None:
    write(src, FILES)
    sync_job(svc, src, dst)
    run = one_run(svc, clock, dry_run=True)
    again = svc.runs.retry(int(run.id))
    assert svc.runs.show(again).dry_run is True


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"delete_guard": "150%"}, "Bad delete guard"),
        ({"delete_guard": "-1"}, "Bad delete guard"),
        ({"delete_guard": "abc"}, "Bad delete guard"),
        ({"require_marker": "../etc"}, "Bad marker"),
        ({"require_marker": "a/b"}, "Bad marker"),
        ({"delete_guard": "5", "params": {"op": "copy"}}, "sync and bisync"),
        ({"delete_guard": "5", "params": {"op": "bisync"}}, "percentage"),
    ],
)
def test_bad_safety_settings_are_refused_and_change_nothing(
    svc: Services, src: Path, dst: Path, fields: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        sync_job(svc, src, dst, **fields)
    assert svc.jobs.list() == []


def test_the_guard_is_shown_and_edited(svc: Services, src: Path, dst: Path) -> None:
    sync_job(svc, src, dst)
    assert svc.jobs.show("backup").delete_guard == "50%"
    view = svc.jobs.edit("backup", JobFields(delete_guard="10", require_marker=".mounted"))
    assert (view.delete_guard, view.require_marker) == ("10", ".mounted")
    view = svc.jobs.edit("backup", JobFields(require_marker=""))
    assert view.require_marker is None and view.delete_guard == "10"
    with pytest.raises(InvalidInput, match="Bad delete guard"):
        svc.jobs.edit("backup", JobFields(delete_guard="101%"))
    assert svc.jobs.show("backup").delete_guard == "10"


def test_dry_run_and_allow_deletes_together_are_refused(
    svc: Services, src: Path, dst: Path
) -> None:
    sync_job(svc, src, dst)
    with pytest.raises(InvalidInput, match="not both"):
        svc.runs.request("backup", dry_run=True, allow_deletes=True)
    assert svc.runs.list() == []


def test_a_bisync_stopped_by_an_empty_source_is_resynced_on_demand(
    svc: Services, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An emptied source stops a bisync before it starts; synchub passes --resync on a
    job's first run only, so `job resync` is the way on, and it deletes nothing."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # bisync's listings
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    one, two = write(tmp_path / "one", FILES), write(tmp_path / "two", {})
    sync_job(svc, one, two, params={"op": "bisync"})
    assert one_run(svc, clock).state == "succeeded"
    for name in FILES:
        (one / name).unlink()
    run = one_run(svc, clock)
    assert run.error_class == "empty_source" and "synchub job resync backup" in str(run.error)
    assert one_run(svc, clock).state == "failed"  # and again: no silent resync

    run_id = svc.runs.request("backup", resync=True)
    Harness(svc, clock).step()

    run = svc.runs.show(run_id)
    assert run.state == "succeeded" and run.resync is True
    # It should keep bisync's access-check file, put at both roots by the first run.
    assert tree(one) == tree(two) == {**FILES, "RCLONE_TEST": ""}
    (event,) = svc.audit.page(action="run.resync")
    assert event.after == {"run": run_id}
    assert one_run(svc, clock).state == "succeeded"


def test_only_a_bisync_job_resyncs(svc: Services, src: Path, dst: Path) -> None:
    sync_job(svc, src, dst)
    with pytest.raises(InvalidInput, match="only bisync jobs resync"):
        svc.runs.request("backup", resync=True)
    assert svc.runs.list() == []
