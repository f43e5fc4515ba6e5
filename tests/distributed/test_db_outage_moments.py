"""A database outage at moments the database chaos test found mishandled, made real:
the private PostgreSQL cluster (never the shared one) behind a `TcpProxy` the test cuts.

- Just as a claimed run starts, when its runner reads the job's hooks: the read is
  tried again within the run lease, as a run's end is, and the run goes on. Before,
  the run failed at once, classed `internal`, with the driver's words for its error
  ("OperationalError: ... server closed the connection unexpectedly"), and a job
  without retries lost it (seeds 1507797251 and 1258170893).
- During the leader's pruning pass: it is told in the process's one outage warning,
  not with a traceback per pass (seeds 2527745449 and 1258170893).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import event

from synchub.config import Settings
from synchub.core.clock import FakeClock
from synchub.engines.registry import builtin_engines
from synchub.services import Services
from synchub.services.jobs.fields import JobFields
from synchub.store.outage import Fault, Outage
from tests.support.harness import Harness
from tests.support.kinds import ScriptedKind
from tests.support.private_pg import PrivateCluster
from tests.support.proxy import TcpProxy


@pytest.fixture
def through_proxy(
    tmp_path: Path, private_pg: PrivateCluster, private_db: str, clock: FakeClock
) -> Iterator[tuple[Services, TcpProxy]]:
    proxy = TcpProxy(("127.0.0.1", private_pg.port))
    settings = Settings(
        home=tmp_path / "home",
        database_url=private_pg.url(private_db, proxy.port),
        secret_key=Fernet.generate_key().decode(),
    )
    engines = builtin_engines()
    scripted = ScriptedKind()
    engines[scripted.kind] = scripted
    svc = Services(settings, clock=clock, engines=engines, actor="test")
    yield svc, proxy
    svc.close()
    proxy.cut()


def test_a_run_whose_start_meets_an_outage_waits_for_the_database(
    through_proxy: tuple[Services, TcpProxy], clock: FakeClock
) -> None:
    svc, proxy = through_proxy
    svc.remotes.add("nas", "local", {})
    svc.jobs.add("once", JobFields(kind="scripted", retries=0, params={"remotes": ["nas"]}))
    h = Harness(svc, clock)
    run_id = svc.runs.request("once")
    h.scheduler.tick()
    (taken,) = h.executor.take()
    cut = threading.Event()

    def cut_at_the_remotes_read(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "FROM remotes" in statement and not cut.is_set():  # store.remotes.by_names
            cut.set()
            proxy.cut()  # this statement's connection dies, and new ones are refused
            threading.Timer(1.0, proxy.restore).start()

    event.listen(svc.db, "before_cursor_execute", cut_at_the_remotes_read)
    try:
        h.runner.execute(taken)
    finally:
        event.remove(svc.db, "before_cursor_execute", cut_at_the_remotes_read)
    assert cut.is_set(), "the runner never read the job's remotes"
    shown = svc.runs.show(run_id)
    assert shown.state == "succeeded", shown


def test_an_outage_during_the_pruning_pass_is_one_warning_without_a_traceback(
    through_proxy: tuple[Services, TcpProxy],
    caplog: pytest.LogCaptureFixture,
) -> None:
    from synchub.processes.node import Node

    svc, proxy = through_proxy
    outage = Outage()  # the process's view, fresh: earlier tests' outages are over
    node = Node(svc, workers=1, name="node-a", outage=outage)
    try:
        assert node.scheduler is not None and node.scheduler.hold_lease()
        proxy.cut()
        caplog.set_level(logging.INFO)
        assert node.prune_pass() is None
        assert node.prune_pass() is None
        assert outage.current() is Fault.UNREACHABLE
        told = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert [r.getMessage().split(" (")[0] for r in told] == ["database unreachable"], told
        assert "pruning pass" in told[0].getMessage()
        assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    finally:
        proxy.restore()
        node.stop(0)
