"""A lost or wrong secret key leaves the sealed values unreadable, and nothing else:
remotes are still listed, shown, edited (their secrets given again) and removed;
runs that need a value fail once, clearly; `forget` drops only the unreadable values.

On the code before this behaviour, every one of these raised a bare SynchubError
("Cannot decrypt stored secrets …"): views failed, and runs failed as `internal`
errors and were retried.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from synchub.core.clock import FakeClock
from synchub.core.errors import NoSecretKey, SecretsUnreadable
from synchub.services import Services
from synchub.services.jobs.fields import JobFields
from synchub.services.run_views import RunView
from synchub.store.crypto import new_key
from tests.support.harness import Harness

MASK = "********"


def with_key(svc: Services, key: str) -> Services:
    """Services over the same database with another secret key ("" for none: then
    `secret.key` in the data directory, which the tests never make)."""
    settings = svc.settings.model_copy(
        update={"secret_key": SecretStr(key), "allow_command_jobs": True}
    )
    return Services(settings, clock=svc.clock, engines=svc.engines, db=svc.db, actor="alice")


def crypt(tmp_path: Path, password: str = "pw") -> dict[str, str]:
    return {"remote": str(tmp_path / "vault"), "password": password}


def env_job(out: Path) -> JobFields:
    script = "import os, sys; open(sys.argv[1], 'w').write(os.environ['TOKEN'])"
    return JobFields(
        kind="command",
        params={"argv": [sys.executable, "-c", script, str(out)], "env": {"TOKEN": "t0k"}},
        retries=3,
    )


def run_once(svc: Services, clock: FakeClock, job: str) -> RunView:
    run_id = svc.runs.request(job)
    Harness(svc, clock).step()
    return svc.runs.show(run_id)


def test_with_a_wrong_key_remotes_are_listed_shown_edited_and_removed(
    svc: Services, tmp_path: Path
) -> None:
    svc.remotes.add("vault", "crypt", crypt(tmp_path))
    svc.remotes.add("spare", "crypt", crypt(tmp_path))
    svc.remotes.add("plain", "local", {})
    wrong = with_key(svc, new_key().decode())

    # It should list and show them, the sealed options as unreadable.
    views = {v.name: v for v in wrong.remotes.list()}
    assert views["vault"].unreadable == "wrong secret key"
    assert views["vault"].options == {"remote": str(tmp_path / "vault")}
    assert views["plain"].unreadable is None
    assert wrong.remotes.show("vault").as_dict()["unreadable"] == "wrong secret key"

    # It should refuse to hand them to rclone, naming the remote and the way out.
    with pytest.raises(SecretsUnreadable) as refused:
        wrong.remotes.configs(frozenset({"vault"}))
    assert "remote 'vault'" in refused.value.message
    assert "synchub init" not in refused.value.message

    # It should refuse an edit that would keep them (none given, or the mask).
    for options in ({"remote": str(tmp_path / "v2")}, {"password": MASK}):
        with pytest.raises(SecretsUnreadable, match="give every secret option"):
            wrong.remotes.edit("vault", options)
    assert svc.remotes.configs(frozenset({"vault"}))["vault"].options["password"] == "pw"

    # It should take them given again, sealed with the key it has.
    view = wrong.remotes.edit("vault", {"password": "new-pw"})
    assert view.unreadable is None and view.options["password"] == MASK
    assert wrong.remotes.configs(frozenset({"vault"}))["vault"].options["password"] == "new-pw"
    edited = wrong.audit.page(action="remote.edit")[0]
    assert edited.before["unreadable"] == "wrong secret key"
    assert edited.after["secrets_changed"] == ["password"]

    wrong.remotes.remove("spare")
    assert [v.name for v in wrong.remotes.list()] == ["plain", "vault"]
    wrong.close()


def test_runs_that_need_an_unreadable_value_fail_once_and_say_why(
    svc: Services, clock: FakeClock, tmp_path: Path
) -> None:
    (tmp_path / "src").mkdir()
    svc.remotes.add("vault", "crypt", crypt(tmp_path))
    sealer = with_key(svc, svc.settings.secret_key.get_secret_value())
    sealer.jobs.add(
        "to-vault",
        JobFields(params={"op": "copy", "source": str(tmp_path / "src"), "destination": "vault:"}),
    )
    sealer.jobs.add("restic", env_job(tmp_path / "out"))
    wrong = with_key(svc, new_key().decode())

    for job, what in (("to-vault", "remote 'vault'"), ("restic", "job 'restic'")):
        run = run_once(wrong, clock, job)
        # It should fail as a configuration error, which no retry can mend.
        assert run.state == "failed" and run.error_class == "config", run
        assert "cannot be read" in str(run.error) and what in str(run.error)
        assert len(wrong.runs.list(job=job)) == 1, "no retry was scheduled"
    # It should refuse a job edit that keeps the env values, take one replacing them.
    with pytest.raises(SecretsUnreadable, match="give them all again"):
        wrong.jobs.edit("restic", JobFields(retries=1))
    wrong.jobs.edit("restic", JobFields(params={"env": {"TOKEN": "new"}}))
    assert run_once(wrong, clock, "restic").state == "succeeded"
    sealer.close()
    wrong.close()


def test_forget_drops_only_the_unreadable_values_and_they_can_be_entered_again(
    svc: Services, clock: FakeClock, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    old = with_key(svc, svc.settings.secret_key.get_secret_value())
    old.remotes.add("lost", "crypt", crypt(tmp_path))
    old.jobs.add("lost-env", env_job(out))
    new = with_key(svc, new_key().decode())
    new.remotes.add("kept", "crypt", crypt(tmp_path, "kept-pw"))
    new.jobs.add("kept-env", env_job(out))

    unreadable = new.secrets.unreadable()
    assert [(u.kind, u.name, u.reason) for u in unreadable] == [
        ("remote", "lost", "wrong secret key"),
        ("job", "lost-env", "wrong secret key"),
    ]
    problem = new.secrets.problem()
    assert problem is not None and "remote(s) lost" in problem and "job(s) lost-env" in problem

    dropped = new.secrets.forget()
    assert [(u.kind, u.name) for u in dropped] == [("remote", "lost"), ("job", "lost-env")]
    assert new.secrets.unreadable() == [] and new.secrets.problem() is None
    assert new.secrets.forget() == []
    # It should keep what the key opens, and the names of the job's env.
    assert new.remotes.configs(frozenset({"kept"}))["kept"].options["password"] == "kept-pw"
    assert new.remotes.show("lost").unreadable is None
    assert new.jobs.show("lost-env").params["env"] == {"TOKEN": MASK}
    actions = {(e.action, e.target, e.actor) for e in new.audit.page()}
    assert ("remote.secrets_forget", "lost", "alice") in actions
    assert ("job.secrets_forget", "lost-env", "alice") in actions

    # It should fail a run of the job rather than give its command the mask.
    run = run_once(new, clock, "lost-env")
    assert run.state == "failed" and run.error_class == "config"
    assert "no value for env TOKEN" in str(run.error) and not out.exists()
    with pytest.raises(Exception, match="none is stored"):
        new.jobs.edit("lost-env", JobFields(retries=1))

    # It should run again once the values are entered again.
    new.jobs.edit("lost-env", JobFields(params={"env": {"TOKEN": "again"}}))
    assert run_once(new, clock, "lost-env").state == "succeeded"
    assert out.read_text() == "again"
    new.remotes.edit("lost", {"password": "pw2"})
    assert new.remotes.configs(frozenset({"lost"}))["lost"].options["password"] == "pw2"
    old.close()
    new.close()


def test_without_a_key_nothing_is_sealed_and_the_error_says_what_helps(
    svc: Services, tmp_path: Path
) -> None:
    keyless = with_key(svc, "")
    assert not keyless.box.has_key
    with pytest.raises(NoSecretKey, match="run `synchub init`"):
        keyless.remotes.add("vault", "crypt", crypt(tmp_path))
    assert keyless.remotes.list() == []
    keyless.close()

    svc.remotes.add("vault", "crypt", crypt(tmp_path))
    keyless = with_key(svc, "")
    # With sealed values, a new key would strand them: restore the old one, or forget.
    with pytest.raises(NoSecretKey) as refused:
        keyless.remotes.add("other", "crypt", crypt(tmp_path))
    assert "restore it from a backup" in refused.value.message
    assert "secrets forget" in refused.value.message
    assert keyless.remotes.show("vault").unreadable == "no secret key"
    assert [u.reason for u in keyless.secrets.unreadable()] == ["no secret key"]
    keyless.close()
