"""Service rules shared by every front end: validation, secrets, audit."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from synchub.config import Settings
from synchub.core.errors import InvalidFields, InvalidInput, RemoteInUse
from synchub.services import Services
from synchub.services.jobs.fields import JobFields
from synchub.store import audit
from synchub.store.db import transaction
from synchub.store.tables import RemoteRow


def test_a_remote_secret_is_encrypted_masked_and_audited_without_it(svc: Services) -> None:
    svc.remotes.add("box", "sftp", {"host": "h.example", "user": "bob", "pass": "hunter2"})
    with transaction(svc.sessions) as session:
        row = session.scalars(select(RemoteRow)).one()
        events = audit.recent(session)
    assert b"hunter2" not in (row.secrets or b"")
    assert "hunter2" not in str(row.options)
    assert svc.remotes.show("box").options == {
        "host": "h.example",
        "pass": "********",
        "user": "bob",
    }
    assert [e.action for e in events] == ["remote.add"]
    assert events[0].actor == "alice"
    assert "hunter2" not in str(events[0].after)
    # It should hand the engine the plain secret, and nobody else.
    assert svc.remotes.configs(frozenset({"box"}))["box"].options["pass"] == "hunter2"
    assert "hunter2" not in repr(svc.remotes.configs(frozenset({"box"})))


def test_a_remote_in_use_cannot_be_removed(svc: Services) -> None:
    svc.remotes.add("nas", "local", {})
    svc.jobs.add("j", JobFields(params={"source": "nas:/a", "destination": "/b"}))
    with pytest.raises(RemoteInUse, match="j"):
        svc.remotes.remove("nas")
    svc.jobs.remove("j")
    svc.remotes.remove("nas")
    assert svc.remotes.list() == []


def test_an_edit_changes_only_what_is_given_and_is_audited(svc: Services) -> None:
    svc.jobs.add(
        "j",
        JobFields(
            params={"source": "/a", "destination": "/b", "options": ["--checksum"]},
            cron="0 2 * * *",
            retries=5,
        ),
    )
    view = svc.jobs.edit("j", JobFields(params={"op": "copy"}))
    assert view.params["options"] == ["--checksum"]
    assert view.params["op"] == "copy"
    assert view.schedule.cron == "0 2 * * *"
    assert view.retries == 5
    with transaction(svc.sessions) as session:
        (edit, _add) = audit.recent(session)
    assert edit.action == "job.edit"
    assert edit.before is not None and edit.after is not None
    assert edit.before["params"]["op"] == "sync"
    assert edit.after["params"]["op"] == "copy"


def test_a_bad_edit_changes_nothing(svc: Services) -> None:
    svc.jobs.add("j", JobFields(params={"source": "/a", "destination": "/b"}, every="5m"))
    before = svc.jobs.show("j")
    with pytest.raises(InvalidInput):
        svc.jobs.edit("j", JobFields(params={"options": ["--config=/etc/x"]}))
    with pytest.raises(InvalidInput):
        svc.jobs.edit("j", JobFields(every="0s"))
    assert svc.jobs.show("j") == before


def test_command_jobs_are_refused_unless_the_admin_allows_them(svc: Services) -> None:
    spec = JobFields(kind="command", params={"argv": ["true"]})
    with pytest.raises(InvalidInput, match="SYNCHUB_ALLOW_COMMAND_JOBS"):
        svc.jobs.add("c", spec)
    allowed = Services(
        svc.settings.model_copy(update={"allow_command_jobs": True}),
        clock=svc.clock,
        engines=svc.engines,
        db=svc.db,
    )
    assert allowed.jobs.add("c", spec).kind == "command"


def test_settings_come_from_synchub_toml_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNCHUB_HOME", str(tmp_path))
    (tmp_path / "synchub.toml").write_text("workers = 7\nport = 9000\n")
    monkeypatch.setenv("SYNCHUB_PORT", "9100")
    settings = Settings()
    assert settings.workers == 7
    assert settings.port == 9100
    assert settings.db_url == f"sqlite:///{tmp_path / 'synchub.db'}"


def test_no_directory_may_be_browsed_or_watched_until_the_admin_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The console's token is public: the home directory (with ~/.ssh and synchub's
    # own data) was the default browse root, and any folder in it could be watched.
    monkeypatch.setenv("SYNCHUB_HOME", str(tmp_path))
    monkeypatch.delenv("SYNCHUB_BROWSE_ROOTS", raising=False)
    assert Settings().browse_roots == []
    monkeypatch.setenv("SYNCHUB_BROWSE_ROOTS", f"/srv/inbox:{tmp_path}")
    assert Settings().browse_roots == [Path("/srv/inbox"), tmp_path]


def test_database_url_is_honoured_as_the_seed_systems_set_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SYNCHUB_DATABASE_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/db")
    assert Settings().db_url == "postgresql+psycopg://u@h/db"


def test_a_bad_job_is_refused_with_every_problem_each_blamed_on_its_field(svc: Services) -> None:
    svc.remotes.add("disk", "local", {})
    spec = JobFields(
        params={"op": "mirror", "source": "nowhere:/a", "destination": "/b", "options": ["-x"]},
        cron="0 25 * * *",
        retries=101,
        queue="a b",
        tags=["fine", "not fine"],
    )
    with pytest.raises(InvalidFields) as caught:
        svc.jobs.add("bad name", spec)
    found = {p.field: p.message for p in caught.value.problems}
    assert list(found) == ["name", "op", "source", "cron", "retries", "queue", "tags"]
    assert "bad hour" in found["cron"] and "unknown remote 'nowhere'" in found["source"]
    # It should read as its first problem, for a caller expecting a single message.
    assert caught.value.message == found["name"] and caught.value.field == "name"
    assert svc.jobs.list() == []


def test_a_bad_remote_is_refused_with_every_option_at_fault_named(svc: Services) -> None:
    with pytest.raises(InvalidFields) as caught:
        svc.remotes.add("nas", "sftp", {"port": "twenty-two", "set_modtime": "maybe"})
    assert [p.field for p in caught.value.problems] == [
        "options.port", "options.set_modtime", "options.host",
    ]  # fmt: skip
    assert svc.remotes.list() == []
