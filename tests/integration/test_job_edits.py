"""Editing a job: every setting can be cleared, options change one by one, and an edit
that changes nothing writes nothing."""

from __future__ import annotations

import pytest

from synchub.core.clock import FakeClock
from synchub.core.errors import InvalidInput
from synchub.services import Services
from synchub.services.jobs.fields import JobFields
from synchub.store import audit
from synchub.store.db import transaction


def events(svc: Services) -> list[str]:
    with transaction(svc.sessions) as session:
        return [e.action for e in audit.recent(session)]


def add_backup(svc: Services, **fields: object) -> None:
    params = {"op": "copy", "source": "/a", "destination": "/b", "options": ["--checksum"]}
    svc.jobs.add("backup", JobFields(params=params, **fields))  # type: ignore[arg-type]


@pytest.mark.parametrize("spelling", ["", "none", "off", "NONE"])
def test_a_timeout_is_removed_by_none(svc: Services, spelling: str) -> None:
    add_backup(svc, timeout="10m")
    assert svc.jobs.show("backup").timeout_s == 600
    edited = svc.jobs.change("backup", JobFields(timeout=spelling))
    assert edited.changed == ["timeout_s"]
    assert svc.jobs.show("backup").timeout_s is None


def test_an_edit_that_changes_nothing_writes_nothing(svc: Services, clock: FakeClock) -> None:
    add_backup(svc, cron="0 2 * * *", tz="UTC", timeout="10m", tags=["nightly"])
    before = svc.jobs.show("backup")
    clock.advance(hours=1)
    for spec in (
        JobFields(),
        JobFields(timeout="600s", retries=3, tags=["nightly"]),
        JobFields(cron="0 2 * * *", tz="UTC"),  # the same schedule again
        JobFields(params={"op": "copy", "options": ["--checksum"]}),
        JobFields(add_options=["--checksum"]),
    ):
        edited = svc.jobs.change("backup", spec)
        assert edited.changed == [], spec
        assert edited.view == before
    # It should leave the job as it was: same updated_at, no audit event.
    assert svc.jobs.show("backup") == before
    assert events(svc) == ["job.add"]


def test_an_edit_names_what_it_changed_and_is_audited_once(svc: Services) -> None:
    add_backup(svc)
    edited = svc.jobs.change("backup", JobFields(retries=1, params={"destination": "/c"}))
    assert edited.changed == ["retries", "params.destination"]
    assert events(svc) == ["job.edit", "job.add"]


def test_options_are_added_and_removed_one_by_one(svc: Services) -> None:
    add_backup(svc)
    svc.jobs.edit("backup", JobFields(add_options=["--bwlimit=10M", "--size-only"]))
    assert svc.jobs.show("backup").params["options"] == [
        "--checksum",
        "--bwlimit=10M",
        "--size-only",
    ]
    # A flag name alone removes the option whatever its value.
    svc.jobs.edit("backup", JobFields(remove_options=["--bwlimit", "--checksum"]))
    assert svc.jobs.show("backup").params["options"] == ["--size-only"]
    before = svc.jobs.show("backup")
    with pytest.raises(InvalidInput, match=r"no option '--fast-list'; its options: --size-only"):
        svc.jobs.edit("backup", JobFields(remove_options=["--fast-list"]))
    assert svc.jobs.show("backup") == before


def test_options_of_a_job_of_another_kind_are_refused(svc: Services) -> None:
    svc.jobs.add("plug", JobFields(kind="scripted"))
    with pytest.raises(InvalidInput, match="Only rclone jobs take rclone options"):
        svc.jobs.edit("plug", JobFields(add_options=["--checksum"]))


def test_the_delete_guard_goes_back_to_the_default_and_the_marker_away(svc: Services) -> None:
    svc.jobs.add(
        "mirror",
        JobFields(
            params={"source": "/a", "destination": "/b"},
            delete_guard="10",
            require_marker=".mounted",
            max_depth=2,
        ),
    )
    edited = svc.jobs.change("mirror", JobFields(delete_guard="", require_marker="", max_depth=-1))
    assert edited.changed == [
        "params.delete_guard",
        "params.options",
        "params.require_marker",
    ]
    view = edited.view
    assert (view.delete_guard, view.require_marker, view.max_depth) == ("50%", None, None)


def test_emptying_what_a_command_job_lacks_changes_nothing(svc: Services) -> None:
    allowed = Services(
        svc.settings.model_copy(update={"allow_command_jobs": True}),
        clock=svc.clock,
        engines=svc.engines,
        db=svc.db,
    )
    allowed.jobs.add("restic", JobFields(kind="command", params={"argv": ["true"]}))
    empty = JobFields(delete_guard="", require_marker="", max_depth=-1, timeout="none")
    assert allowed.jobs.change("restic", empty).changed == []
    with pytest.raises(InvalidInput, match="Only rclone jobs take a max depth"):
        allowed.jobs.edit("restic", JobFields(max_depth=2))
