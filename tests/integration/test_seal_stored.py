"""Secret values stored in plain text by an older synchub get sealed at start.

A remote saved when its credential options were not counted as secrets (s3's
`ibm_api_key`, webdav's `headers`) holds them in `remotes.options`, and its
audit events hold them too. `RemoteService.seal_stored` (run by `init`, `serve`
and `worker`) seals them and masks the audit events; views mask them even
before. On main these values were shown in `remote show` and the audit log.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from synchub.services import Services
from synchub.store import audit
from synchub.store.db import transaction
from synchub.store.tables import AuditRow, RemoteRow

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
    assert events[0]["after"]["options"]["ibm_api_key"] == MASK

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
