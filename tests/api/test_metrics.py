"""/metrics: Prometheus figures from the database, behind a token unless made public."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from synchub.api.app import create_app
from synchub.core.clock import FakeClock
from synchub.services.jobs.fields import JobFields
from tests.api.conftest import Api, Served, Switch, problem
from tests.support.harness import Harness


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_count_runs_bytes_durations_lateness_queues_and_last_success(
    api: Api, harness: Harness, clock: FakeClock
) -> None:
    api.svc.jobs.add("ok", JobFields(kind="scripted"))
    api.svc.jobs.add("bad", JobFields(kind="scripted", retries=0, params={"result": "fatal"}))
    api.svc.jobs.add("tick", JobFields(kind="scripted", every="1m"))
    api.svc.runs.request("ok")
    api.svc.runs.request("ok")
    api.svc.runs.request("bad")
    harness.step()
    clock.advance(90)  # "tick" fired at 09:01:00 and starts 30 s late
    harness.step()
    api.svc.runs.request("ok")  # left waiting

    response = api.viewer.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    got = samples(response.text)
    assert got[("synchub_runs_total", (("job", "ok"), ("state", "succeeded")))] == 2
    assert got[("synchub_runs_total", (("job", "ok"), ("state", "pending")))] == 1
    assert got[("synchub_runs_total", (("job", "bad"), ("state", "failed")))] == 1
    assert got[("synchub_bytes_transferred_total", (("job", "ok"),))] == 6
    assert got[("synchub_run_duration_seconds_count", ())] == 4
    assert got[("synchub_run_duration_seconds_bucket", (("le", "1.0"),))] == 4
    assert got[("synchub_fire_lateness_seconds_count", ())] == 1
    assert got[("synchub_fire_lateness_seconds_sum", ())] == 30
    assert got[("synchub_fire_lateness_seconds_bucket", (("le", "10.0"),))] == 0
    assert got[("synchub_fire_lateness_seconds_bucket", (("le", "30.0"),))] == 1
    assert got[("synchub_queue_depth", (("queue", "default"),))] == 1
    last = got[("synchub_job_last_success_timestamp_seconds", (("job", "tick"),))]
    assert last == clock.now().timestamp()
    assert ("synchub_job_last_success_timestamp_seconds", (("job", "bad"),)) not in got


def test_the_kept_runs_of_a_deleted_job_still_count_but_its_last_success_goes(
    api: Api, harness: Harness
) -> None:
    api.svc.jobs.add("old", JobFields(kind="scripted"))
    api.svc.runs.request("old")
    harness.step()
    api.svc.jobs.remove("old", keep_history=True)

    got = samples(api.viewer.get("/metrics").text)

    # Counters never go down: the kept run still counts under the job's name.
    assert got[("synchub_runs_total", (("job", "old"), ("state", "succeeded")))] == 1
    assert got[("synchub_bytes_transferred_total", (("job", "old"),))] == 3
    # No job is left to alert on.
    assert ("synchub_job_last_success_timestamp_seconds", (("job", "old"),)) not in got


def test_metrics_need_a_token_unless_public(api: Api, server: tuple[Served, Switch]) -> None:
    problem(api.anonymous.get("/metrics"), 401)
    _served, switch = server
    api.svc.settings = api.svc.settings.model_copy(update={"metrics_public": True})
    switch.app = create_app(svc=api.svc)
    assert api.anonymous.get("/metrics").status_code == 200
