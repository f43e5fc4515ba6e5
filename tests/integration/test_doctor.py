"""`synchub doctor`'s checks against real databases, a real rclone and a real broker:
each failure mode it names is produced for real and found, with what to do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from synchub import __version__
from synchub.config import Settings
from synchub.core.clock import FakeClock
from synchub.execution.celery_exec import broker_problem
from synchub.execution.executor import WorkerInfo
from synchub.services import Services
from synchub.services.alerts import AlertFields
from synchub.services.doctor import Finding, Level, healthy
from synchub.services.jobs.fields import JobFields
from synchub.store import claim as claims
from synchub.store.db import transaction
from tests.conftest import need_service
from tests.support.harness import Harness


def by_check(findings: list[Finding]) -> dict[str, Finding]:
    return {f.check: f for f in findings}


@pytest.fixture
def now_clock(clock: FakeClock) -> FakeClock:
    """The frozen clock set to the real time: the database's clock is real."""
    clock.set(datetime.now(UTC))
    return clock


def led(svc: Services, clock: FakeClock) -> None:
    Harness(svc, clock).scheduler.tick()  # takes the scheduler's lease


def test_a_set_up_installation_with_a_scheduler_is_healthy(
    svc: Services, now_clock: FakeClock
) -> None:
    svc.settings.home.mkdir(mode=0o700, exist_ok=True)
    found = by_check(svc.doctor.examine())
    assert found["scheduler"].level is Level.PROBLEM
    assert "start `synchub serve`" in str(found["scheduler"].fix)
    led(svc, now_clock)
    findings = svc.doctor.examine()
    assert healthy(findings), [f for f in findings if f.level is not Level.OK]
    found = by_check(findings)
    assert found["rclone"].message.startswith("rclone v")
    assert found["schema"].message == "at revision " + found["schema"].message.split()[-1]


def test_a_clock_far_from_the_databases_is_a_problem(svc: Services, now_clock: FakeClock) -> None:
    led(svc, now_clock)
    assert by_check(svc.doctor.examine())["clock"].level is Level.OK
    now_clock.advance(120)
    found = by_check(svc.doctor.examine())["clock"]
    assert found.level is Level.PROBLEM
    # Real time passes while the test runs, and SQLite reads whole seconds.
    assert 110 <= int(found.message.split("differ by ")[1].split()[0]) <= 121


def test_a_worker_whose_heartbeat_comes_from_the_future_has_a_clock_ahead(
    svc: Services, now_clock: FakeClock
) -> None:
    svc.jobs.add("j", JobFields(kind="scripted", params={"result": "ok"}))
    run_id = svc.runs.request("j")
    h = Harness(svc, now_clock)
    h.scheduler.tick()
    ahead = now_clock.now() + timedelta(minutes=10)
    with transaction(svc.sessions) as session:
        assert claims.claim(session, run_id, worker="far-away", now=ahead)
    found = by_check(svc.doctor.examine())["worker clock"]
    assert found.level is Level.PROBLEM
    assert "worker far-away's clock is 600 s ahead" in found.message


def test_an_outdated_schema_stops_the_checks_that_read_tables(tmp_path: Path) -> None:
    from synchub.store.db import make_engine
    from synchub.store.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    upgrade(engine, "0009")
    engine.dispose()
    svc = Services(Settings(home=tmp_path / "home", database_url=url))
    try:
        findings = svc.doctor.examine()
    finally:
        svc.close()
    assert findings[-1].check == "schema" and findings[-1].level is Level.PROBLEM
    assert "is at 0009" in findings[-1].message and "synchub db upgrade" in str(findings[-1].fix)


def test_a_missing_rclone_and_open_file_modes_are_problems(
    svc: Services, now_clock: FakeClock, tmp_path: Path
) -> None:
    svc.settings.home.mkdir(mode=0o755, exist_ok=True)
    svc.settings.home.chmod(0o755)
    svc.settings = settings_with(svc, rclone=str(tmp_path / "no-rclone"))
    found = by_check(svc.doctor.examine())
    assert found["rclone"].level is Level.PROBLEM and "cannot be run" in found["rclone"].message
    assert found["file modes"].level is Level.PROBLEM
    assert "mode 0755" in found["file modes"].message


def settings_with(svc: Services, **changes: object) -> Settings:
    return svc.settings.model_copy(update=changes)


def test_a_remote_pointing_at_a_removed_one_and_an_unwatchable_folder_are_problems(
    svc: Services, now_clock: FakeClock, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    svc.remotes.add("base", "local", {})
    svc.remotes.add("wrap", "alias", {"remote": "base:/data"})
    svc.jobs.add(
        "watched",
        JobFields(kind="rclone", params={"source": str(inbox), "destination": "base:/x"},
                  watch=True),
    )  # fmt: skip
    assert by_check(svc.doctor.examine()).keys().isdisjoint({"remotes", "watched folders"})
    with transaction(svc.sessions) as session:  # as an older synchub let it happen
        from synchub.store.tables import RemoteRow

        session.query(RemoteRow).filter_by(name="base").update({"name": "renamed"})
    inbox.rmdir()
    found = by_check(svc.doctor.examine())
    assert "remote wrap points at base, which no longer exists" in found["remotes"].message
    assert found["watched folders"].message.startswith("job watched: ")


def test_remotes_are_tested_only_when_asked(
    svc: Services, now_clock: FakeClock, tmp_path: Path
) -> None:
    svc.remotes.add("here", "local", {})
    svc.remotes.add("nowhere", "webdav", {"url": "http://127.0.0.1:9/"})
    assert not any(f.check.startswith("remote ") for f in svc.doctor.examine())
    found = by_check(svc.doctor.examine(remotes=True))
    assert found["remote here"].level is Level.OK
    assert found["remote nowhere"].level is Level.PROBLEM
    assert "synchub remote test nowhere" in str(found["remote nowhere"].fix)


def test_an_unreachable_broker_and_no_workers_are_problems(
    svc: Services, now_clock: FakeClock
) -> None:
    svc.settings = settings_with(svc, executor="celery", broker_url="redis://127.0.0.1:1/0")
    found = by_check(svc.doctor.examine(workers=lambda: []))
    assert found["broker"].level is Level.PROBLEM and "workers" not in found
    redis = "redis://127.0.0.1:6379/15"
    if (trouble := broker_problem(redis)) is not None:
        need_service("redis", trouble)
    svc.settings = settings_with(svc, broker_url=redis)
    found = by_check(svc.doctor.examine(workers=lambda: []))
    assert found["broker"].level is Level.OK
    assert found["workers"].level is Level.PROBLEM
    assert "synchub worker" in str(found["workers"].fix)


def test_an_alert_whose_last_delivery_failed_is_a_problem(
    svc: Services, now_clock: FakeClock
) -> None:
    svc.alerts.add("ops", AlertFields(url="json://127.0.0.1:9/"))
    assert "alerts" not in by_check(svc.doctor.examine())
    assert svc.alerts.test("ops").delivered is False
    found = by_check(svc.doctor.examine())["alerts"]
    assert found.level is Level.PROBLEM and "alert ops's last delivery failed" in found.message
    assert "synchub alert test ops" in str(found.fix)


def test_a_worker_on_another_synchub_version_is_a_problem(
    svc: Services, now_clock: FakeClock
) -> None:
    redis = "redis://127.0.0.1:6379/15"
    if (trouble := broker_problem(redis)) is not None:
        need_service("redis", trouble)
    svc.settings = settings_with(svc, executor="celery", broker_url=redis)

    def worker(name: str, version: str | None) -> WorkerInfo:
        return WorkerInfo(name, "celery", ["*"], 1, [], version)

    same = [worker("a@here", __version__)]
    found = by_check(svc.doctor.examine(workers=lambda: same))
    assert found["worker versions"].level is Level.OK
    for version, says in [
        ("0.0.9", "synchub 0.0.9"),
        (None, "a synchub too old to say its version"),
    ]:
        mixed = [*same, worker("b@there", version)]
        found = by_check(svc.doctor.examine(workers=lambda mixed=mixed: mixed))  # type: ignore[misc]
        assert found["worker versions"].level is Level.PROBLEM
        assert (
            f"worker b@there runs {says}; this is {__version__}" in found["worker versions"].message
        )
        assert f"install synchub {__version__} where b@there runs" in str(
            found["worker versions"].fix
        )
