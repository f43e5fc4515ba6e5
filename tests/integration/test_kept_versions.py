"""Kept versions over a real database and real rclone: a job keeping versions moves
what its runs delete or overwrite aside, says where in the change report, prunes
after the period by synchub's clock, and restores on demand; bad settings change
nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from synchub.core.clock import FakeClock
from synchub.core.errors import InvalidInput, JobNotFound, NothingToRestore
from synchub.services import Services
from synchub.services.jobs.fields import JobFields
from synchub.services.run_views import RunView
from tests.integration.engines.helpers import tree, write
from tests.support.harness import Harness

# The clock fixture starts at 2025-06-02 09:00 UTC.
RUN2 = ".synchub-trash/20250602T090000Z-run2"


def one_run(svc: Services, clock: FakeClock) -> RunView:
    run_id = svc.runs.request("backup")
    Harness(svc, clock).step()
    return svc.runs.show(run_id)


@pytest.fixture
def kept(svc: Services, clock: FakeClock, src: Path, dst: Path) -> Path:
    """Job `backup` keeping versions 30 days; run 1 copied a, b and docs/c; then the
    source changed b and lost docs/c, and run 2 kept both old versions. The trash."""
    write(src, {"a.txt": "a", "b.txt": "b one", "docs/c.txt": "c"})
    params = {"source": str(src), "destination": str(dst)}
    svc.jobs.add("backup", JobFields(params=params, keep_deleted="30d", delete_guard="off"))
    assert one_run(svc, clock).state == "succeeded"
    (src / "b.txt").write_text("b two, longer")
    (src / "docs/c.txt").unlink()
    run = one_run(svc, clock)
    assert run.state == "succeeded" and run.id == 2, run
    return dst / RUN2


def test_the_change_report_says_where_each_file_went(svc: Services, kept: Path, dst: Path) -> None:
    rows = {(f.path, f.action, f.kept_at) for f in svc.runs.files(2)}
    assert rows == {
        ("b.txt", "replaced", f"{dst}/{RUN2}/b.txt"),
        ("docs/c.txt", "deleted", f"{dst}/{RUN2}/docs/c.txt"),
    }
    assert tree(kept) == {"b.txt": "b one", "docs/c.txt": "c"}
    assert svc.jobs.show("backup").keep_deleted == "30d"


def test_a_restore_brings_back_what_the_run_kept(svc: Services, clock: FakeClock, kept: Path,
                                                 dst: Path) -> None:  # fmt: skip
    clock.advance(60)
    done = svc.runs.restore(2)
    assert done.restored == ["b.txt", "docs/c.txt"] and done.errors == []
    # It should put the old versions back, and keep the version it overwrote.
    aside = ".synchub-trash/20250602T090100Z-restore2"
    assert done.kept_aside == f"{dst}/{aside}"
    assert {k: v for k, v in tree(dst).items() if not k.startswith(".")} == {
        "a.txt": "a", "b.txt": "b one", "docs/c.txt": "c"}  # fmt: skip
    assert tree(dst / aside) == {"b.txt": "b two, longer"}
    # It should leave the run's folder as it was: a restore copies.
    assert tree(kept) == {"b.txt": "b one", "docs/c.txt": "c"}
    (event,) = svc.audit.page(action="run.restore")
    assert event.actor == "alice" and event.target == "2"
    assert event.after == {"path": None, "restored": 2, "errors": 0}


def test_a_restore_of_one_path_brings_back_only_that(svc: Services, kept: Path,
                                                     dst: Path) -> None:  # fmt: skip
    done = svc.runs.restore(2, "docs")
    assert done.restored == ["docs/c.txt"] and done.unchanged == []
    assert tree(dst)["b.txt"] == "b two, longer"
    # It should refuse a path the run kept nothing at, and change nothing.
    before = tree(dst)
    with pytest.raises(InvalidInput, match=r"Run 2 kept nothing at 'a\.txt'"):
        svc.runs.restore(2, "a.txt")
    with pytest.raises(InvalidInput, match="Bad path"):
        svc.runs.restore(2, "../etc")
    assert tree(dst) == before
    # Asked again, it should find that file in place, as kept, and copy nothing.
    again = svc.runs.restore(2, "docs")
    assert again.restored == [] and again.unchanged == ["docs/c.txt"]
    assert tree(dst) == before


def test_a_run_that_kept_nothing_has_nothing_to_restore(svc: Services, kept: Path) -> None:
    with pytest.raises(NothingToRestore, match="Run 1 kept nothing"):
        svc.runs.restore(1)


def test_a_run_after_the_period_prunes_and_a_restore_is_then_refused(
    svc: Services, clock: FakeClock, kept: Path, dst: Path
) -> None:
    clock.advance(30 * 86400)
    assert one_run(svc, clock).state == "succeeded"
    assert kept.exists()  # 30 days exactly: not older than the period
    clock.advance(1)
    run = one_run(svc, clock)
    assert run.state == "succeeded"
    assert not kept.exists()
    assert any("pruned kept versions" in line.message for line in svc.runs.logs(int(run.id)))
    with pytest.raises(NothingToRestore, match="pruned"):
        svc.runs.restore(2)
    assert tree(dst) == {"a.txt": "a", "b.txt": "b two, longer"}


@pytest.mark.parametrize("bad", ["0s", "-1d", "abc", "30"])
def test_a_bad_keep_period_is_refused_and_changes_nothing(
    svc: Services, src: Path, dst: Path, bad: str
) -> None:
    params = {"source": str(src), "destination": str(dst)}
    with pytest.raises(InvalidInput, match="keep period"):
        svc.jobs.add("backup", JobFields(params=params, keep_deleted=bad))
    with pytest.raises(JobNotFound):
        svc.jobs.show("backup")
    svc.jobs.add("backup", JobFields(params=params, keep_deleted="7d"))
    with pytest.raises(InvalidInput, match="keep period"):
        svc.jobs.edit("backup", JobFields(keep_deleted=bad))
    assert svc.jobs.show("backup").keep_deleted == "7d"
    svc.jobs.edit("backup", JobFields(keep_deleted="off"))
    assert svc.jobs.show("backup").keep_deleted is None
