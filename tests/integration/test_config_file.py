"""Configuration as code: `export` writes the remotes, jobs and alerts as one file;
`apply` makes a database match a file, through the services' own rules, in one
transaction: all of it, or (any problem) none of it. Each test runs on SQLite and on
PostgreSQL."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from synchub.config import Settings
from synchub.core.clock import FakeClock
from synchub.services import Services
from synchub.services.alerts import AlertFields
from synchub.services.config_file import ConfigInvalid
from synchub.services.jobs.fields import JobFields
from synchub.store import audit
from synchub.store.db import make_engine, reading
from synchub.store.migrate import upgrade
from tests.support.harness import Harness
from tests.support.kinds import ScriptedKind

#: What the secrets of `configure` are, as apply reads them.
ENV = {
    "SYNCHUB_SECRET_BOX_PASS": "s3cret-pass",
    "SYNCHUB_SECRET_VAULT_PASSWORD": "vault-pw",
    "SYNCHUB_SECRET_ALERT_OPS_URL": "json://127.0.0.1:9/hook",
}


def configure(svc: Services, tmp_path: Path) -> None:
    """Remotes (one wrapping another, one with a secret), jobs of each schedule, an alert."""
    (tmp_path / "photos").mkdir(exist_ok=True)
    svc.remotes.add("box", "sftp", {"host": "box.lan", "user": "u", "pass": "s3cret-pass"})
    svc.remotes.add("nas", "local", {}, max_concurrency=2)
    svc.remotes.add("vault", "crypt", {"remote": "nas:/vault", "password": "vault-pw"})
    svc.jobs.add(
        "photos",
        JobFields(
            params={
                "op": "sync",
                "source": str(tmp_path / "photos"),
                "destination": "box:/photos",
                "filters": ["- *.tmp"],
                "options": ["--bwlimit=10M"],
            },
            cron="30 2 * * 1-5",
            tz="Europe/Riga",
            tags=["home", "nightly"],
            delete_guard="10",
            timeout="2h",
            windows=["Mon-Fri 22:00-06:00", "Sat 00:00-24:00"],
        ),
    )
    svc.jobs.add(
        "mirror",
        JobFields(
            params={"op": "copy", "source": "nas:/a", "destination": "vault:/a"},
            every="15m",
            retries=0,
            enabled=False,
            keep_deleted="30d",
            stale_after="2d",
            long_after="3h",
            keep_runs="500",
            keep_logs="14d",
            after=["photos:failure"],
        ),
    )
    svc.jobs.add("by-hand", JobFields(kind="scripted", params={"result": "ok"}))
    svc.alerts.add("ops", AlertFields("json://127.0.0.1:9/hook", ["failure"], ["photos"], None, 2))


@pytest.fixture
def empty_svc(tmp_path: Path, clock: FakeClock, svc: Services) -> Iterator[Services]:
    """Services over a second, empty SQLite database with its own secret key."""
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    settings = Settings(
        home=tmp_path / "fresh-home",
        database_url=url,
        secret_key=Fernet.generate_key().decode(),
        default_tz="Europe/Berlin",
    )
    other = Services(settings, clock=clock, engines=svc.engines, actor="bob")
    yield other
    other.close()


def audit_count(svc: Services) -> int:
    with reading(svc.sessions) as session:
        return len(audit.recent(session, 10_000))


def test_export_then_apply_on_a_fresh_database_exports_the_same_file_byte_for_byte(
    svc: Services, empty_svc: Services, tmp_path: Path
) -> None:
    configure(svc, tmp_path)
    text = svc.config.export().text

    applied = empty_svc.config.apply(text, environ=ENV)

    assert [(s.action, s.kind, s.name) for s in applied.plan] == [
        ("create", "remote", "box"),
        ("create", "remote", "nas"),
        ("create", "remote", "vault"),
        ("create", "job", "by-hand"),
        ("create", "job", "mirror"),
        ("create", "job", "photos"),
        ("create", "alert", "ops"),
    ]
    assert empty_svc.config.export().text == text
    # It should have given the secrets from the environment, and written none of them.
    assert empty_svc.remotes.configs(frozenset({"box"}))["box"].options["pass"] == "s3cret-pass"
    for secret in ENV.values():
        assert secret not in text
    assert "pass: ${SYNCHUB_SECRET_BOX_PASS}" in text
    assert "url: ${SYNCHUB_SECRET_ALERT_OPS_URL}" in text


def test_applying_the_same_file_twice_changes_nothing_the_second_time(
    svc: Services, tmp_path: Path
) -> None:
    configure(svc, tmp_path)
    text = svc.config.export().text
    before = audit_count(svc)
    next_fires = {j.name: j.next_fire_at for j in svc.jobs.list()}

    for _ in range(2):
        applied = svc.config.apply(text, environ=ENV)
        assert applied.plan == []
        assert not applied.changed

    assert audit_count(svc) == before
    assert {j.name: j.next_fire_at for j in svc.jobs.list()} == next_fires


def test_a_file_with_one_error_changes_nothing(svc: Services, tmp_path: Path) -> None:
    configure(svc, tmp_path)
    text = svc.config.export().text
    before = audit_count(svc)
    edited = (
        text.replace("host: box.lan", "host: box2.lan")  # a good change
        .replace("retries: 0", "retries: 1")  # another
        .replace("every: 15m", "every: 15 fortnights")  # the one error
        + "  fresh:\n    url: json://127.0.0.1:9/new\n"  # a new alert
    )

    with pytest.raises(ConfigInvalid) as refused:
        svc.config.apply(edited, environ=ENV)

    line = edited.splitlines().index("    every: 15 fortnights") + 1
    assert len(refused.value.problems) == 1
    assert refused.value.problems[0].message.startswith(f"line {line}: jobs.mirror.every: ")
    assert "nothing was changed" in refused.value.message
    # It should have changed nothing: the good changes were rolled back with the bad one.
    assert svc.config.export().text == text
    assert audit_count(svc) == before


def test_every_problem_is_named_with_its_line(svc: Services, tmp_path: Path) -> None:
    svc.remotes.add("nas", "local", {})
    text = (
        "version: 1\n"
        "jobs:\n"
        "  a:\n"
        "    params: {source: /x, destination: 'nas:/y'}\n"
        "    cron: 61 * * * *\n"
        "  b:\n"
        "    params: {source: /x, destination: 'nowhere:/y'}\n"
        "    retries: -1\n"
    )

    with pytest.raises(ConfigInvalid) as refused:
        svc.config.apply(text)

    messages = [p.message for p in refused.value.problems]
    assert messages[0].startswith("line 5: jobs.a.cron: ")
    assert any(m.startswith("line 8: jobs.b.retries: ") for m in messages)
    assert any("nowhere" in m and m.startswith("line 7: jobs.b.params") for m in messages)
    assert svc.jobs.list() == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a misspelt key, named with its line and the keys known there
        (
            "version: 1\njobs:\n  a:\n    crn: 0 2 * * *\n",
            "line 4: jobs.a.crn: unknown key 'crn'; known keys: kind, params, cron",
        ),
        ("version: 1\nremote: {}\n", "line 2: remote: unknown key 'remote'"),
        # malformed YAML
        ("version: 1\njobs:\n  a: [1, 2\n", "line 4: malformed YAML"),
        ("jobs:\n  a: {}\n  a: {}\n", "line 3: malformed YAML"),  # a name given twice
        ("- a\n- b\n", "line 1: expected a mapping at the top, got a list"),
        ("version: 2\n", "line 1: version: input should be 1"),
        (
            "remotes:\n  nas:\n    type: local\n    options: {x: 1}\n",
            "line 4: remotes.nas.options.x",
        ),
    ],
)
def test_a_file_that_is_not_the_format_is_refused_naming_the_line(
    svc: Services, text: str, expected: str
) -> None:
    with pytest.raises(ConfigInvalid) as refused:
        svc.config.apply(text)
    assert refused.value.problems[0].message.startswith(expected), refused.value.problems[0]
    assert svc.remotes.list() == []


def test_an_unset_variable_is_an_error_naming_it_unless_the_file_says_keep(
    svc: Services, tmp_path: Path
) -> None:
    configure(svc, tmp_path)
    text = svc.config.export().text

    with pytest.raises(ConfigInvalid) as refused:
        svc.config.apply(text, environ={})
    assert [p.message.split(": ", 2)[2] for p in refused.value.problems] == [
        f"the environment variable {name} is not set (write ${{{name}:-keep}} to keep the "
        "stored value when it is not)"
        for name in ("SYNCHUB_SECRET_BOX_PASS", "SYNCHUB_SECRET_VAULT_PASSWORD",
                     "SYNCHUB_SECRET_ALERT_OPS_URL")
    ]  # fmt: skip

    kept = svc.config.export(keep=True).text
    assert "pass: ${SYNCHUB_SECRET_BOX_PASS:-keep}" in kept
    assert svc.config.apply(kept, environ={}).plan == []
    assert svc.remotes.configs(frozenset({"box"}))["box"].options["pass"] == "s3cret-pass"
    # It should take a variable that is set over the stored value, and say the secret
    # changed without showing it.
    applied = svc.config.apply(kept, environ={"SYNCHUB_SECRET_BOX_PASS": "new-pass"})
    assert [(s.action, s.name, [(c.field, c.after) for c in s.changes]) for s in applied.plan] == [
        ("change", "box", [("options.pass", "(secret, changed)")])
    ]
    assert svc.remotes.configs(frozenset({"box"}))["box"].options["pass"] == "new-pass"


def test_keep_for_something_new_is_an_error(svc: Services) -> None:
    text = "remotes:\n  box:\n    type: sftp\n    options:\n      host: h\n      pass: ${P:-keep}\n"
    found = r"line 6: remotes\.box\.options\.pass: .*no stored pass"
    with pytest.raises(ConfigInvalid, match=found):
        svc.config.apply(text, environ={})


def test_the_plan_says_field_by_field_and_a_dry_run_changes_nothing(
    svc: Services, tmp_path: Path
) -> None:
    configure(svc, tmp_path)
    text = svc.config.export().text
    before = audit_count(svc)
    edited = text.replace("cron: 30 2 * * 1-5", "cron: 0 3 * * *").replace("      - nightly\n", "")

    applied = svc.config.apply(edited, environ=ENV, dry_run=True)

    assert applied.dry_run and not applied.changed
    assert [(s.action, s.name) for s in applied.plan] == [("change", "photos")]
    assert [(c.field, c.before, c.after) for c in applied.plan[0].changes] == [
        ("cron", "30 2 * * 1-5", "0 3 * * *"),
        ("tags", ["home", "nightly"], ["home"]),
    ]
    assert svc.config.export().text == text
    assert audit_count(svc) == before


def test_audit_events_name_the_files_digest(svc: Services, tmp_path: Path) -> None:
    configure(svc, tmp_path)
    edited = svc.config.export().text.replace("retries: 0", "retries: 5")

    applied = svc.config.apply(edited, environ=ENV, source="synchub.yaml")

    with reading(svc.sessions) as session:
        events = audit.recent(session, 2)
    summary, edit = events
    assert (summary.action, summary.target_type, summary.target) == (
        "config.apply", "config", "synchub.yaml",
    )  # fmt: skip
    assert summary.after == {
        "config_sha256": applied.sha256, "create": 0, "change": 1, "remove": 0,
    }  # fmt: skip
    assert (edit.action, edit.target) == ("job.edit", "mirror")
    assert edit.after is not None and edit.after["config_sha256"] == applied.sha256
    assert applied.sha256 == hashlib.sha256(edited.encode()).hexdigest()


def test_prune_removes_what_the_file_no_longer_names_in_its_sections(
    svc: Services, tmp_path: Path
) -> None:
    configure(svc, tmp_path)
    text = svc.config.export(["remotes", "jobs"]).text
    # Without the job on them, the file names neither vault nor mirror.
    start, end = text.index("  mirror:\n"), text.index("  photos:\n")
    edited = text[:start] + text[end:]
    start, end = edited.index("  vault:\n"), edited.index("jobs:\n")
    edited = edited[:start] + edited[end:]

    assert svc.config.apply(edited, environ=ENV).plan == []  # without --prune: nothing
    applied = svc.config.apply(edited, environ=ENV, prune=True)

    assert [(s.action, s.kind, s.name) for s in applied.plan] == [
        ("remove", "remote", "vault"),
        ("remove", "job", "mirror"),
    ]
    assert [r.name for r in svc.remotes.list()] == ["box", "nas"]
    # It should leave the alerts alone: the file has no alerts section.
    assert [a.name for a in svc.alerts.list()] == ["ops"]


def test_prune_is_refused_for_a_job_with_a_running_run(
    svc: Services, clock: FakeClock, scripted: ScriptedKind
) -> None:
    svc.jobs.add("busy", JobFields(kind="scripted", params={"result": "block"}))
    h = Harness(svc, clock)
    running = svc.runs.request("busy")
    h.scheduler.tick()
    assert h.executor.take() == [running]
    worker = threading.Thread(target=h.runner.execute, args=(running,))
    worker.start()
    try:
        assert scripted.running.acquire(timeout=10)
        with pytest.raises(ConfigInvalid, match=rf"line 1: jobs\.busy: .*run {running}"):
            svc.config.apply("jobs: {}\n", prune=True)
        assert [j.name for j in svc.jobs.list()] == ["busy"]
    finally:
        scripted.release.set()
        worker.join(10)


def test_a_new_job_may_use_a_remote_the_same_file_adds_and_an_alias_its_target(
    svc: Services,
) -> None:
    text = (
        "remotes:\n"
        "  pics: {type: alias, options: {remote: 'zeta:/pics'}}\n"
        "  zeta: {type: local}\n"
        "jobs:\n"
        "  j: {params: {source: /x, destination: 'pics:/y'}}\n"
        "alerts:\n"
        "  a: {url: 'json://127.0.0.1:9/x', jobs: [j]}\n"
    )
    applied = svc.config.apply(text)
    assert [(s.action, s.name) for s in applied.plan] == [
        ("create", "pics"), ("create", "zeta"), ("create", "j"), ("create", "a"),
    ]  # fmt: skip
    assert svc.remotes.show("pics").used_by == ["j"]


def test_an_existing_job_is_made_what_the_file_says_not_merged(
    svc: Services, tmp_path: Path
) -> None:
    """A key left out takes its default: the file is the whole definition."""
    configure(svc, tmp_path)
    text = "jobs:\n  mirror:\n    params: {op: copy, source: 'nas:/a', destination: 'vault:/b'}\n"
    applied = svc.config.apply(text)
    job = svc.jobs.show("mirror")
    assert (job.retries, job.enabled, job.schedule.kind) == (3, True, "none")
    assert job.params["destination"] == "vault:/b"
    assert job.keep_deleted is None  # it was in the params the file replaced
    fields = {c.field for c in applied.plan[0].changes}
    assert {"every", "retries", "enabled", "params.destination", "params.keep_deleted"} <= fields


def test_a_remotes_type_cannot_change(svc: Services) -> None:
    svc.remotes.add("nas", "local", {})
    with pytest.raises(ConfigInvalid, match=r"line 3: remotes\.nas\.type: .*cannot change"):
        svc.config.apply("remotes:\n  nas:\n    type: sftp\n    options: {host: h}\n")


def test_a_command_jobs_env_values_are_references_too(
    settings: Settings, clock: FakeClock, svc: Services
) -> None:
    allowed = Services(
        settings.model_copy(update={"allow_command_jobs": True}), clock=clock, actor="alice"
    )
    try:
        allowed.jobs.add(
            "tape",
            JobFields(kind="command", params={"argv": ["/bin/true"], "env": {"TOKEN": "t0k"}}),
        )
        text = allowed.config.export(["jobs"]).text
        assert "TOKEN: ${SYNCHUB_SECRET_JOB_TAPE_TOKEN}" in text and "t0k" not in text
        env = {"SYNCHUB_SECRET_JOB_TAPE_TOKEN": "t0k"}
        assert allowed.config.apply(text, environ=env).plan == []
        applied = allowed.config.apply(text, environ={"SYNCHUB_SECRET_JOB_TAPE_TOKEN": "new"})
        assert [(c.field, c.after) for c in applied.plan[0].changes] == [
            ("params.env", "(secret, changed)")
        ]
        job_id = allowed.jobs.show("tape").id
        assert allowed.job_env(job_id) == {"TOKEN": "new"}
        # It should refuse the same file where command jobs are off, changing nothing.
        with pytest.raises(ConfigInvalid, match="command jobs are disabled"):
            svc.config.apply(text.replace("/bin/true", "/bin/false"), environ=env)
    finally:
        allowed.close()


def test_a_bad_window_in_a_file_is_named_and_changes_nothing(svc: Services, tmp_path: Path) -> None:
    configure(svc, tmp_path)
    text = svc.config.export().text
    assert "Sat 00:00-24:00" in text

    with pytest.raises(ConfigInvalid) as refused:
        svc.config.apply(text.replace("Sat 00:00-24:00", "Sat 25:00-26:00"), environ=ENV)

    assert "Bad window 'Sat 25:00-26:00'" in refused.value.problems[0].message
    assert svc.config.export().text == text
