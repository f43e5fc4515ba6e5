"""Secret values stored in plain text by an older synchub get sealed at start.

A remote saved when its credential options were not counted as secrets (s3's
`ibm_api_key`, webdav's `headers`) holds them in `remotes.options`, and its
audit events hold them too. `RemoteService.seal_stored` (run by `init`, `serve`
and `worker`) seals them and masks the audit events; views mask them even
before. On main these values were shown in `remote show` and the audit log.
Likewise a command job's environment values stored before revision 0007.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select, update

from synchub.core.clock import FakeClock
from synchub.services import Services
from synchub.services.jobs.fields import JobFields
from synchub.store import audit
from synchub.store.db import transaction
from synchub.store.tables import AuditRow, JobRow, RemoteRow
from tests.support.harness import Harness

IBM_KEY = "ibm-api-key-Qx81vTz"
HEADER = "Authorization,Bearer hdr-token-Lp20wq"
MASK = "********"


def written_the_old_way(svc: Services) -> None:
    """A remote row and its audit event as main stored them: the values in plain."""
    now = svc.clock.now()
    options = {"provider": "IBMCOS", "ibm_api_key": IBM_KEY, "region": "us-east-1"}
    dav = {"url": "http://127.0.0.1:9/", "headers": HEADER, "pass": "kept-sealed-pw-1"}
    with transaction(svc.sessions) as session:
        session.add(
            RemoteRow(name="cos", type="s3", options=options, created_at=now, updated_at=now)
        )
        session.add(
            RemoteRow(
                name="dav",
                type="webdav",
                options={k: v for k, v in dav.items() if k != "pass"},
                secrets=svc.box.seal({"pass": dav["pass"]}),
                created_at=now,
                updated_at=now,
            )
        )
        view = {"name": "cos", "type": "s3", "options": options}
        audit.record(
            session, at=now, actor="bob", action="remote.add", target_type="remote",
            target="cos", after=view,
        )  # fmt: skip


def stored(svc: Services, name: str) -> tuple[dict[str, Any], dict[str, str]]:
    with transaction(svc.sessions) as session:
        row = session.scalars(select(RemoteRow).where(RemoteRow.name == name)).one()
        return dict(row.options), svc.box.open(row.secrets)


def test_plain_secret_values_are_sealed_once_and_audited(svc: Services) -> None:
    written_the_old_way(svc)

    # It should mask them in every view before they are sealed.
    assert svc.remotes.show("cos").options["ibm_api_key"] == MASK
    assert svc.remotes.show("dav").options["headers"] == MASK
    events = svc.audit.page(target="cos")
    assert events[0].after["options"]["ibm_api_key"] == MASK

    assert svc.remotes.seal_stored() == {"cos": ["ibm_api_key"], "dav": ["headers"]}

    # It should move the values into the sealed blob, keeping the others plain.
    options, secrets = stored(svc, "cos")
    assert options == {"provider": "IBMCOS", "region": "us-east-1"}
    assert secrets == {"ibm_api_key": IBM_KEY}
    options, secrets = stored(svc, "dav")
    assert options == {"url": "http://127.0.0.1:9/"}
    assert secrets == {"headers": HEADER, "pass": "kept-sealed-pw-1"}
    # It should mask the values in the stored audit events and record what it sealed.
    with transaction(svc.sessions) as session:
        rows = session.scalars(select(AuditRow).order_by(AuditRow.id)).all()
        texts = [str((r.before, r.after)) for r in rows]
        actions = [(r.action, r.target, r.after) for r in rows]
    assert all(IBM_KEY not in t and "hdr-token" not in t for t in texts)
    assert ("remote.seal", "cos", {"sealed": ["ibm_api_key"]}) in actions
    assert ("remote.seal", "dav", {"sealed": ["headers"]}) in actions
    # It should change nothing the second time.
    assert svc.remotes.seal_stored() == {}
    assert svc.remotes.show("cos").options == {
        "ibm_api_key": MASK,
        "provider": "IBMCOS",
        "region": "us-east-1",
    }
    # It should hand the sealed values to rclone as before.
    assert svc.remotes.configs(frozenset({"dav"}))["dav"].options["headers"] == HEADER


def test_a_jobs_environment_stored_before_0007_is_sealed_at_start(
    svc_allowing_commands: Services, clock: FakeClock, tmp_path: Path
) -> None:
    """On main such a job kept its values in plain text until its next edit, and its
    audit events from then held them."""
    token = "restic-password-Zt62c"
    out = tmp_path / "out.txt"
    script = "import os, sys; open(sys.argv[1], 'w').write(os.environ['TOKEN'])"
    fields = JobFields(kind="command", params={
        "argv": [sys.executable, "-c", script, str(out)], "env": {"TOKEN": token},
    })  # fmt: skip
    svc_allowing_commands.jobs.add("legacy", fields)
    with transaction(
        svc_allowing_commands.sessions
    ) as session:  # as a job stored before revision 0007
        row = session.scalars(select(JobRow).where(JobRow.name == "legacy")).one()
        plain = {**row.params, "env": {"TOKEN": token}}
        session.execute(
            update(JobRow).where(JobRow.name == "legacy").values(params=plain, secret_env=None)
        )
        audit.record(
            session, at=clock.now(), actor="bob", action="job.edit", target_type="job",
            target="legacy", after={"name": "legacy", "params": plain},
        )  # fmt: skip

    shown = svc_allowing_commands.audit.page(target="legacy")[0].after["params"]["env"]
    assert shown == {"TOKEN": MASK}  # masked when read, before it is sealed
    assert svc_allowing_commands.jobs.seal_stored_env() == ["legacy"]
    assert svc_allowing_commands.jobs.seal_stored_env() == []

    with transaction(svc_allowing_commands.sessions) as session:
        row = session.scalars(select(JobRow).where(JobRow.name == "legacy")).one()
        assert row.params["env"] == {"TOKEN": MASK}
        assert svc_allowing_commands.box.open(row.secret_env) == {"TOKEN": token}
        events = session.scalars(select(AuditRow).order_by(AuditRow.id)).all()
        assert all(token not in str((e.before, e.after)) for e in events)
        assert ("job.seal", {"sealed": ["TOKEN"]}) in [(e.action, e.after) for e in events]
    # It should run the command with the plain value still.
    run_id = svc_allowing_commands.runs.request("legacy")
    Harness(svc_allowing_commands, clock).step()
    assert svc_allowing_commands.runs.show(run_id).state == "succeeded"
    assert out.read_text() == token


def test_when_nothing_says_which_values_are_secret_views_mask_them_all(
    svc: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = svc.clock.now()
    with transaction(svc.sessions) as session:
        options = {"endpoint": "e.example", "api_token": "tok-Vn43aa1"}
        session.add(RemoteRow(name="gone", type="nosuchbackend", options=options,
                              created_at=now, updated_at=now))  # fmt: skip
    # It should mask every value of a type this rclone does not know, seal nothing.
    assert svc.remotes.show("gone").options == {"api_token": MASK, "endpoint": MASK}
    assert svc.remotes.seal_stored() == {}
    # It should do the same, and not fail, when rclone cannot be asked.
    written_the_old_way(svc)
    monkeypatch.setenv("SYNCHUB_RCLONE", "/nonexistent/rclone")
    assert set(svc.remotes.show("cos").options.values()) == {MASK}
    assert svc.remotes.seal_stored() == {}


def test_without_a_key_nothing_is_sealed_and_the_values_stay_masked(svc: Services) -> None:
    """A lost key must not stop `serve` from starting: sealing waits for the key."""
    written_the_old_way(svc)
    keyless = Services(
        svc.settings.model_copy(update={"secret_key": SecretStr("")}), clock=svc.clock, db=svc.db
    )
    assert not keyless.box.has_key
    assert keyless.remotes.seal_stored() == {} and keyless.jobs.seal_stored_env() == []
    assert keyless.remotes.show("cos").options["ibm_api_key"] == MASK
    assert keyless.remotes.show("dav").unreadable == "no secret key"
    keyless.close()
