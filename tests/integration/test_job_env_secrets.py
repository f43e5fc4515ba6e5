"""A job's environment values are secrets: sealed at rest, masked in every view and
audit record, handed in plain only to the job's process."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlalchemy import select, update

from synchub.core.clock import FakeClock
from synchub.core.errors import InvalidInput
from synchub.services import Services
from synchub.services.jobs.fields import JobFields
from synchub.services.run_views import RunView
from synchub.store import audit
from synchub.store.db import transaction
from synchub.store.tables import JobRow
from tests.support.harness import Harness

TOKEN = "restic-password-Vq73m"
MASK = "********"


def writes_env(out: Path) -> JobFields:
    """A command job that writes $TOKEN and $MODE into `out`."""
    script = (
        "import os, sys; "
        "open(sys.argv[1], 'w').write(os.environ['TOKEN'] + ' ' + os.environ['MODE'])"
    )
    return JobFields(
        kind="command",
        params={
            "argv": [sys.executable, "-c", script, str(out)],
            "env": {"TOKEN": TOKEN, "MODE": "full"},
        },
    )


def stored(svc: Services, name: str) -> JobRow:
    with transaction(svc.sessions) as session:
        row = session.scalars(select(JobRow).where(JobRow.name == name)).one()
        session.expunge(row)
        return row


def run_once(svc: Services, clock: FakeClock, name: str) -> RunView:
    run_id = svc.runs.request(name)
    Harness(svc, clock).step()
    return svc.runs.show(run_id)


def test_env_values_are_sealed_masked_and_reach_only_the_command(
    svc_allowing_commands: Services, clock: FakeClock, tmp_path: Path
) -> None:
    out = tmp_path / "out.txt"
    view = svc_allowing_commands.jobs.add("backup", writes_env(out))

    assert view.params["env"] == {"TOKEN": MASK, "MODE": MASK}
    assert svc_allowing_commands.jobs.show("backup").params["env"] == {
        "TOKEN": MASK,
        "MODE": MASK,
    }
    row = stored(svc_allowing_commands, "backup")
    assert TOKEN not in str(row.params)
    assert row.secret_env is not None and TOKEN.encode() not in row.secret_env
    with transaction(svc_allowing_commands.sessions) as session:
        assert all(TOKEN not in str(e.after) for e in audit.recent(session))
    # It should run the command with the plain values.
    assert run_once(svc_allowing_commands, clock, "backup").state == "succeeded"
    assert out.read_text() == f"{TOKEN} full"


def test_a_masked_value_keeps_what_is_stored_and_a_new_one_replaces_it(
    svc_allowing_commands: Services, clock: FakeClock, tmp_path: Path
) -> None:
    out = tmp_path / "out.txt"
    svc_allowing_commands.jobs.add("backup", writes_env(out))

    # An edit of something else, and a read-modify-write of the view, keep the values.
    svc_allowing_commands.jobs.edit("backup", JobFields(retries=1))
    params = svc_allowing_commands.jobs.show("backup").params
    svc_allowing_commands.jobs.edit(
        "backup", JobFields(params={"env": {**params["env"], "MODE": "quick"}})
    )

    assert run_once(svc_allowing_commands, clock, "backup").state == "succeeded"
    assert out.read_text() == f"{TOKEN} quick"
    with transaction(svc_allowing_commands.sessions) as session:
        assert all(TOKEN not in f"{e.before}{e.after}" for e in audit.recent(session))


def test_a_mask_under_a_name_with_no_stored_value_is_refused_and_changes_nothing(
    svc_allowing_commands: Services, tmp_path: Path
) -> None:
    svc_allowing_commands.jobs.add("backup", writes_env(tmp_path / "out.txt"))
    before = stored(svc_allowing_commands, "backup")

    with pytest.raises(InvalidInput, match=r"env NEW: \*+ stands for a stored value"):
        svc_allowing_commands.jobs.edit(
            "backup", JobFields(params={"env": {"TOKEN": MASK, "NEW": MASK}})
        )
    with pytest.raises(InvalidInput, match="env TOKEN"):
        svc_allowing_commands.jobs.add(
            "other", JobFields(kind="command", params={"argv": ["true"], "env": {"TOKEN": MASK}})
        )

    after = stored(svc_allowing_commands, "backup")
    assert (after.params, after.secret_env) == (before.params, before.secret_env)


def test_a_job_stored_with_plain_values_shows_them_masked_runs_and_is_sealed_when_edited(
    svc_allowing_commands: Services, clock: FakeClock, tmp_path: Path
) -> None:
    out = tmp_path / "out.txt"
    svc_allowing_commands.jobs.add("legacy", writes_env(out))
    plain = {
        **stored(svc_allowing_commands, "legacy").params,
        "env": {"TOKEN": TOKEN, "MODE": "full"},
    }
    with transaction(
        svc_allowing_commands.sessions
    ) as session:  # as a job stored before revision 0007
        session.execute(
            update(JobRow).where(JobRow.name == "legacy").values(params=plain, secret_env=None)
        )

    assert svc_allowing_commands.jobs.show("legacy").params["env"] == {
        "TOKEN": MASK,
        "MODE": MASK,
    }
    assert run_once(svc_allowing_commands, clock, "legacy").state == "succeeded"
    assert out.read_text() == f"{TOKEN} full"

    svc_allowing_commands.jobs.edit("legacy", JobFields(retries=0))

    row = stored(svc_allowing_commands, "legacy")
    assert TOKEN not in str(row.params) and row.secret_env is not None
    assert run_once(svc_allowing_commands, clock, "legacy").state == "succeeded"
