"""/api/v1/jobs: define, filter, show with next fires, edit, enable, run, delete."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from synchub.api.pagination import encode_cursor
from synchub.core.clock import FakeClock
from synchub.core.runs import RunState
from synchub.services.jobs.fields import JobFields
from synchub.store import claim as claims
from synchub.store import runs as run_store
from synchub.store.claim import Claim
from synchub.store.db import transaction
from tests.api.conftest import Api, ok, problem
from tests.support.harness import Harness


def add(api: Api, name: str, **fields: Any) -> dict[str, Any]:
    body = {"name": name, "kind": "scripted", **fields}
    result: dict[str, Any] = ok(api.admin.post("/api/v1/jobs", json=body), 201)
    return result


def test_a_job_is_shown_with_its_description_and_next_five_fires(api: Api) -> None:
    # 2025-06-02 09:00 UTC is 11:00 in Berlin (CEST, UTC+2).
    job = add(api, "nightly", cron="30 2 * * *", tz="Europe/Berlin", tags=["photos"])
    assert job["schedule"]["description"] == "At 02:30 every day (Europe/Berlin)"
    # It should give fire times in the job's zone, with its offset.
    assert job["next_fires"] == [
        "2025-06-03T02:30:00+02:00",
        "2025-06-04T02:30:00+02:00",
        "2025-06-05T02:30:00+02:00",
        "2025-06-06T02:30:00+02:00",
        "2025-06-07T02:30:00+02:00",
    ]
    assert job["next_fire_at"] == "2025-06-03T02:30:00+02:00"
    assert ok(api.viewer.get("/api/v1/jobs/nightly")) == job
    # It should record who defined it.
    event = ok(api.viewer.get("/api/v1/audit", params={"target": "nightly"}))["data"][0]
    assert (event["action"], event["actor"]) == ("job.add", "admin-ada")


def test_jobs_are_filtered_by_tag_enabled_queue_remote_and_name(api: Api) -> None:
    api.svc.remotes.add("nas", "local", {})
    add(api, "photos-daily", tags=["photos"], queue="slow")
    add(api, "photos-weekly", tags=["photos"], enabled=False)
    add(api, "docs", params={"remotes": ["nas"]})

    def names(**params: Any) -> list[str]:
        return [j["name"] for j in ok(api.viewer.get("/api/v1/jobs", params=params))["data"]]

    assert names() == ["docs", "photos-daily", "photos-weekly"]
    assert names(tag="photos") == ["photos-daily", "photos-weekly"]
    assert names(tag="photos", enabled="true") == ["photos-daily"]
    assert names(enabled="false") == ["photos-weekly"]
    assert names(queue="slow") == ["photos-daily"]
    assert names(remote="nas") == ["docs"]
    assert names(remote="nowhere") == []
    assert names(search="WEEK") == ["photos-weekly"]


def every_page(api: Api, limit: int, **params: Any) -> list[list[str]]:
    """The names on each page of GET /jobs, following next_cursor to the end."""
    pages: list[list[str]] = []
    cursor = None
    while True:
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        page = ok(api.viewer.get("/api/v1/jobs", params=query))
        assert page["count"] == len(page["data"]) <= limit
        pages.append([j["name"] for j in page["data"]])
        cursor = page["next_cursor"]
        if cursor is None:
            return pages


#: name, tags, enabled, queue, remotes: 13 jobs, so pages of 2 and 5 end part-full and
#: pages of 1 or 13 end exactly full.
FLEET = [
    ("backup-db", ["nightly", "db"], True, "default", ["nas"]),
    ("backup_db2", ["db"], True, "slow", ["nas", "cloud"]),
    ("BackupHome", ["nightly"], False, "default", []),
    ("docs", [], True, "default", ["cloud"]),
    ("mail.archive", ["nightly", "mail"], True, "slow", []),
    ("music", ["photos-old"], True, "default", ["nas"]),  # not the tag "photos"
    ("photos-daily", ["photos", "nightly"], True, "slow", ["nas"]),
    ("photos-weekly", ["photos"], False, "default", []),
    ("photos2", ["photo"], True, "default", ["cloud"]),  # not the tag "photos" either
    ("projects", ["nightly"], True, "default", []),
    ("scratch", [], False, "slow", []),
    ("videos", ["photos"], True, "default", ["nas"]),
    ("z-last", ["nightly"], True, "default", ["cloud"]),
]

#: Each filter and the jobs of FLEET it keeps, by the filter's own definition.
FILTERS: list[tuple[dict[str, Any], Any]] = [
    ({}, lambda job: True),
    ({"tag": "photos"}, lambda job: "photos" in job[1]),
    ({"tag": "nightly"}, lambda job: "nightly" in job[1]),
    ({"tag": "nowhere"}, lambda job: False),
    ({"enabled": "true"}, lambda job: job[2]),
    ({"enabled": "false"}, lambda job: not job[2]),
    ({"queue": "slow"}, lambda job: job[3] == "slow"),
    ({"remote": "nas"}, lambda job: "nas" in job[4]),
    ({"remote": "cloud"}, lambda job: "cloud" in job[4]),
    ({"remote": "unknown"}, lambda job: False),
    ({"search": "BACKUP"}, lambda job: "backup" in job[0].lower()),
    ({"search": "_"}, lambda job: "_" in job[0]),  # a LIKE wildcard, taken literally
    ({"search": "."}, lambda job: "." in job[0]),
    ({"search": "%"}, lambda job: False),  # the other LIKE wildcard
    ({"search": "/"}, lambda job: False),  # the escape character
    ({"search": "\u212a"}, lambda job: "k" in job[0].lower()),  # KELVIN SIGN casefolds to k
    (
        {"tag": "nightly", "enabled": "true", "remote": "nas"},
        lambda job: "nightly" in job[1] and job[2] and "nas" in job[4],
    ),
]


def add_fleet(api: Api) -> None:
    api.svc.remotes.add("nas", "local", {})
    api.svc.remotes.add("cloud", "local", {})
    for name, tags, enabled, queue, remotes in FLEET:
        spec = JobFields(
            kind="scripted", params={"remotes": remotes}, tags=tags, enabled=enabled, queue=queue
        )
        api.svc.jobs.add(name, spec)


def test_jobs_are_paged_by_name_under_every_filter(api: Api) -> None:
    add_fleet(api)
    # By name as the database orders text: byte order on SQLite, and on PostgreSQL
    # the database's collation (which the unique index on the name follows).
    (by_name,) = every_page(api, 1000)
    assert sorted(by_name) == sorted(job[0] for job in FLEET)
    fleet = {job[0]: job for job in FLEET}
    for params, keeps in FILTERS:
        expected = [name for name in by_name if keeps(fleet[name])]
        for limit in (1, 2, 5, 13, 1000):
            pages = every_page(api, limit, **params)
            # It should give every match once, in name order, in pages of `limit`.
            assert [n for page in pages for n in page] == expected, (params, limit)
            assert all(len(page) == limit for page in pages[:-1]), (params, limit)
            # It should end with the last match, not with an empty page after it.
            assert pages[-1] or not expected, (params, limit)


def test_a_page_without_limit_holds_100_jobs(api: Api) -> None:
    for i in range(101):
        api.svc.jobs.add(f"job-{i:03}", JobFields(kind="scripted"))
    first = ok(api.viewer.get("/api/v1/jobs"))
    assert first["count"] == 100 and first["data"][-1]["name"] == "job-099"
    rest = ok(api.viewer.get("/api/v1/jobs", params={"cursor": first["next_cursor"]}))
    assert [j["name"] for j in rest["data"]] == ["job-100"]
    assert rest["next_cursor"] is None


def test_paging_neither_repeats_nor_skips_jobs_added_or_removed_meanwhile(api: Api) -> None:
    for i in range(10):
        api.svc.jobs.add(f"m-{i}", JobFields(kind="scripted"))
    seen: list[str] = []
    cursor = None
    for turn in range(100):
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = ok(api.viewer.get("/api/v1/jobs", params=params))
        seen += [j["name"] for j in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        # Meanwhile, other clients add jobs before and after the cursor, and delete
        # the job the cursor names and one not yet listed.
        api.svc.jobs.add(f"a-{turn}", JobFields(kind="scripted"))
        api.svc.jobs.add(f"z-{turn}", JobFields(kind="scripted"))
        api.svc.jobs.remove(seen[-1])
        if turn == 0:
            api.svc.jobs.remove("m-7")
    # It should list every job that was there throughout exactly once, in order, and
    # those added after the cursor; not those added behind it.
    originals = [f"m-{i}" for i in range(10) if i != 7]
    assert seen[: len(originals)] == originals
    assert seen[len(originals) :] == sorted(n for n in seen if n.startswith("z-"))
    assert len(seen) == len(set(seen)) and not any(n.startswith("a-") for n in seen)
    assert [n for n in seen if n.startswith("z-")] == [f"z-{t}" for t in range(turn)]


def _raw_cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"limit": 0}, "query.limit: Input should be greater than or equal to 1"),
        ({"limit": 1001}, "query.limit: Input should be less than or equal to 1000"),
        ({"limit": "many"}, "query.limit: Input should be a valid integer"),
        ({"cursor": "garbage!"}, "Bad cursor: pass back the next_cursor of a previous page"),
        ({"cursor": _raw_cursor("after:")}, "Bad cursor"),  # no name
        ({"cursor": _raw_cursor("after:a b")}, "Bad cursor"),  # no job has such a name
        ({"cursor": _raw_cursor("after:a\x00b")}, "Bad cursor"),
        ({"cursor": encode_cursor(5)}, "Bad cursor"),  # a cursor of GET /runs
    ],
)
def test_a_bad_limit_or_cursor_is_a_422_saying_what_is_wrong(
    api: Api, params: dict[str, Any], says: str
) -> None:
    add(api, "j")
    body = problem(api.viewer.get("/api/v1/jobs", params=params), 422)
    assert says in body["detail"]
    # It should not take a cursor of GET /jobs on GET /runs either.
    problem(api.viewer.get("/api/v1/runs", params={"cursor": encode_cursor("j")}), 422)


def test_an_edit_recomputes_the_next_fire_from_now(api: Api, clock: FakeClock) -> None:
    add(api, "j", every="1h")
    clock.advance(minutes=20)
    job = ok(api.admin.patch("/api/v1/jobs/j", json={"cron": "*/15 * * * *", "tz": "UTC"}))
    assert job["next_fire_at"] == "2025-06-02T09:30:00Z"
    assert job["schedule"]["kind"] == "cron"
    job = ok(api.admin.patch("/api/v1/jobs/j", json={"retries": 0, "params": {"result": "fail"}}))
    assert job["schedule"]["cron"] == "*/15 * * * *" and job["retries"] == 0
    assert job["params"]["result"] == "fail"
    job = ok(api.admin.patch("/api/v1/jobs/j", json={"manual": True}))
    assert job["schedule"]["kind"] == "none" and job["next_fires"] == []
    assert job["next_fire_at"] is None
    # It should change nothing on a bad edit.
    problem(api.admin.patch("/api/v1/jobs/j", json={"every": "0s"}), 422)
    problem(
        api.admin.patch("/api/v1/jobs/j", json={"tz": "Mars/Olympus", "cron": "0 2 * * *"}), 422
    )
    problem(api.admin.patch("/api/v1/jobs/j", json={"overlap": "sometimes"}), 422)
    problem(api.admin.patch("/api/v1/jobs/nope", json={"retries": 1}), 404)
    assert ok(api.viewer.get("/api/v1/jobs/j")) == job


def test_enable_and_disable_count_from_now(api: Api, clock: FakeClock) -> None:
    add(api, "j", every="1h")
    job = ok(api.operator.post("/api/v1/jobs/j/disable"))
    assert job["enabled"] is False and job["next_fire_at"] is None
    # A disabled job fires nothing: it lists no fire times either.
    assert ok(api.viewer.get("/api/v1/jobs/j"))["next_fires"] == []
    clock.advance(hours=5)
    job = ok(api.operator.post("/api/v1/jobs/j/enable"))
    assert job["enabled"] is True and job["next_fire_at"] == "2025-06-02T15:00:00Z"
    assert ok(api.viewer.get("/api/v1/jobs/j"))["next_fires"][0] == "2025-06-02T15:00:00Z"
    actions = [
        e["action"] for e in ok(api.viewer.get("/api/v1/audit", params={"action": "job"}))["data"]
    ]
    assert actions == ["job.enable", "job.disable", "job.add"]


def test_running_a_job_answers_202_with_the_pending_run(api: Api) -> None:
    add(api, "j", queue="fast")
    run = ok(api.operator.post("/api/v1/jobs/j/run"), 202)
    assert (run["job"], run["state"], run["celery_state"]) == ("j", "pending", "PENDING")
    assert run["trigger"] == "api" and run["queue"] == "fast"
    other = ok(api.operator.post("/api/v1/jobs/j/run", json={"queue": "slow"}), 202)
    assert other["queue"] == "slow"
    problem(api.operator.post("/api/v1/jobs/nope/run"), 404)
    problem(api.operator.post("/api/v1/jobs/j/run", json={"queue": "bad queue"}), 422)
    runs = ok(api.viewer.get("/api/v1/jobs/j/runs"))
    assert [r["id"] for r in runs["data"]] == [other["id"], run["id"]]


def test_several_jobs_run_at_once_by_names_or_tag(api: Api) -> None:
    add(api, "a", tags=["nightly"])
    add(api, "b", tags=["nightly"])
    add(api, "c", tags=["nightly"], enabled=False)
    add(api, "d")
    made = ok(api.operator.post("/api/v1/jobs/run", json={"names": ["d", "a", "d"]}), 202)
    assert [r["job"] for r in made["data"]] == ["d", "a"]  # each job once
    made = ok(api.operator.post("/api/v1/jobs/run", json={"tag": "nightly", "queue": "q2"}), 202)
    assert [r["job"] for r in made["data"]] == ["a", "b"]
    assert {r["queue"] for r in made["data"]} == {"q2"}
    made = ok(
        api.operator.post("/api/v1/jobs/run", json={"tag": "nightly", "only_enabled": False}), 202
    )
    assert [r["job"] for r in made["data"]] == ["a", "b", "c"]
    # It should create nothing when one name is unknown.
    count = ok(api.viewer.get("/api/v1/runs"))["count"]
    problem(api.operator.post("/api/v1/jobs/run", json={"names": ["a", "zz"]}), 404)
    assert ok(api.viewer.get("/api/v1/runs"))["count"] == count


def test_deleting_a_job_removes_its_history_by_default(api: Api, harness: Harness) -> None:
    add(api, "j")
    done = ok(api.operator.post("/api/v1/jobs/j/run"), 202)["id"]
    harness.step()
    ok(api.operator.post("/api/v1/jobs/j/run"), 202)
    assert api.admin.delete("/api/v1/jobs/j").status_code == 204
    assert ok(api.viewer.get("/api/v1/runs"))["count"] == 0
    problem(api.viewer.get("/api/v1/jobs/j"), 404)
    problem(api.viewer.get(f"/api/v1/runs/{done}"), 404)
    problem(api.viewer.get("/api/v1/runs", params={"job": "j"}), 404)
    event = ok(api.viewer.get("/api/v1/audit", params={"action": "job.remove"}))["data"][0]
    assert event["actor"] == "admin-ada" and event["before"]["name"] == "j"
    assert event["after"]["keep_history"] is False and event["after"]["runs_deleted"] == 2


def test_deleting_a_job_can_keep_its_history_to_read_but_not_retry(
    api: Api, harness: Harness
) -> None:
    add(api, "j", params={"result": "fail"}, retries=0)
    failed = ok(api.operator.post("/api/v1/jobs/j/run"), 202)["id"]
    harness.step()
    waiting = ok(api.operator.post("/api/v1/jobs/j/run"), 202)["id"]

    gone = api.admin.delete("/api/v1/jobs/j", params={"keep_history": "true"})

    assert gone.status_code == 204
    problem(api.viewer.get("/api/v1/jobs/j"), 404)
    # It should list and show the kept runs under the job's name, by that name too.
    runs = ok(api.viewer.get("/api/v1/runs", params={"job": "j"}))["data"]
    assert [(r["id"], r["job"], r["job_deleted"]) for r in runs] == [
        (waiting, "j", True),
        (failed, "j", True),
    ]
    assert ok(api.viewer.get("/api/v1/jobs/j/runs"))["data"] == runs
    run = ok(api.viewer.get(f"/api/v1/runs/{failed}"))
    assert (run["state"], run["celery_state"]) == ("failed", "FAILURE")
    # It should have cancelled the run that was waiting.
    cancelled = ok(api.viewer.get(f"/api/v1/runs/{waiting}"))
    assert (cancelled["state"], cancelled["reason"]) == ("cancelled", "job_deleted")
    # It should serve the log and the change report as before.
    assert "attempt 1 of j" in api.viewer.get(f"/api/v1/runs/{failed}/log").text
    assert ok(api.viewer.get(f"/api/v1/runs/{failed}/files"))["count"] == 1
    # It should refuse a retry, saying why.
    body = problem(api.operator.post(f"/api/v1/runs/{failed}/retry"), 409)
    assert body["type"] == "urn:synchub:problem:job-deleted"
    assert "'j' was deleted" in body["detail"]
    event = ok(api.viewer.get("/api/v1/audit", params={"action": "job.remove"}))["data"][0]
    assert event["after"] == {
        "keep_history": True,
        "runs_cancelled": [waiting],
        "runs_kept": 2,
        "runs_deleted": 0,
    }


def test_a_job_is_not_deleted_while_one_of_its_runs_runs(api: Api) -> None:
    add(api, "j")
    run_id = api.svc.runs.request("j")
    with transaction(api.svc.sessions) as session:
        run_store.move(session, run_id, RunState.QUEUED, expected=[RunState.PENDING])
        assert claims.claim(session, run_id, worker="w", now=api.clock.now()) is Claim.CLAIMED
    for params in ({}, {"keep_history": "true"}):
        body = problem(api.admin.delete("/api/v1/jobs/j", params=params), 409)
        assert body["type"] == "urn:synchub:problem:job-running"
        assert f"run {run_id}" in body["detail"] and "cancel it" in body["detail"]
    assert ok(api.viewer.get("/api/v1/jobs/j"))["name"] == "j"
    assert ok(api.viewer.get(f"/api/v1/runs/{run_id}"))["state"] == "running"


def test_a_job_is_written_with_the_field_names_it_is_read_with(api: Api) -> None:
    job = add(api, "j", timeout_s=7200, retry_delay_s="5m")
    assert (job["timeout_s"], job["retry_delay_s"]) == (7200, 300)
    # A job read back can be sent back: the same names go in and come out.
    sent = {k: job[k] for k in ("timeout_s", "retry_delay_s", "retries", "overlap")}
    assert ok(api.admin.patch("/api/v1/jobs/j", json=sent))["timeout_s"] == 7200
    # The old names are still read, for the scripts that send them.
    job = ok(api.admin.patch("/api/v1/jobs/j", json={"timeout": "1h", "retry_delay": 30}))
    assert (job["timeout_s"], job["retry_delay_s"]) == (3600, 30)
    assert "timeout" not in job and "retry_delay" not in job
    body = problem(api.admin.patch("/api/v1/jobs/j", json={"timeout": 60, "timeout_s": 60}), 422)
    assert "give timeout_s or its old name timeout, not both" in str(body)
    assert ok(api.viewer.get("/api/v1/jobs/j"))["timeout_s"] == 3600


def test_null_clears_what_can_be_empty_and_keeps_the_rest(api: Api) -> None:
    api.svc.remotes.add("nas", "local", {})
    body = {
        "name": "mirror",
        "params": {"source": "nas:/a", "destination": "/b"},
        "timeout_s": 600,
        "max_depth": 2,
        "delete_guard": 10,
        "require_marker": ".mounted",
        "retries": 5,
    }
    ok(api.admin.post("/api/v1/jobs", json=body), 201)
    cleared = {
        "timeout_s": None,
        "max_depth": None,
        "delete_guard": None,
        "require_marker": None,
        "retries": None,
        "tags": None,
    }
    job = ok(api.admin.patch("/api/v1/jobs/mirror", json=cleared))
    assert job["timeout_s"] is None and job["max_depth"] is None
    assert job["delete_guard"] == "50%" and job["require_marker"] is None
    assert job["retries"] == 5 and job["tags"] == []
    # The old name clears too.
    ok(api.admin.patch("/api/v1/jobs/mirror", json={"timeout_s": 60}))
    assert ok(api.admin.patch("/api/v1/jobs/mirror", json={"timeout": None}))["timeout_s"] is None


def test_an_edit_that_changes_nothing_answers_the_job_and_audits_nothing(
    api: Api, clock: FakeClock
) -> None:
    job = add(api, "j", every="1h", retries=2)
    clock.advance(minutes=5)
    for body in ({}, {"retries": 2}, {"every": "1h"}, {"timeout_s": None}):
        assert ok(api.admin.patch("/api/v1/jobs/j", json=body)) == job
    events = ok(api.viewer.get("/api/v1/audit", params={"target": "j"}))["data"]
    assert [e["action"] for e in events] == ["job.add"]


def test_the_old_field_names_are_marked_deprecated(openapi: dict[str, Any]) -> None:
    fields = openapi["components"]["schemas"]["JobUpdate"]["properties"]
    assert fields["timeout"]["deprecated"] is True
    assert fields["retry_delay"]["deprecated"] is True
    assert "deprecated" not in fields["timeout_s"]


def test_a_zone_goes_with_a_cron_expression_only(api: Api) -> None:
    # It should refuse a zone that no cron expression would read, changing nothing.
    for body in ({"every": "1h", "tz": "Europe/Berlin"}, {"tz": "Europe/Berlin"}):
        body = {"name": "j", "kind": "scripted", **body}
        detail = problem(api.admin.post("/api/v1/jobs", json=body), 422)
        assert "tz goes with cron" in detail["detail"]
    problem(api.viewer.get("/api/v1/jobs/j"), 404)
    add(api, "j", every="1h")
    for edit in ({"tz": "Europe/Berlin"}, {"every": "2h", "tz": "UTC"}):
        detail = problem(api.admin.patch("/api/v1/jobs/j", json=edit), 422)
        assert "tz goes with cron" in detail["detail"]
    assert ok(api.viewer.get("/api/v1/jobs/j"))["schedule"]["every_s"] == 3600
    # It should move a cron schedule to another zone with tz alone.
    add(api, "nightly", cron="30 2 * * *", tz="Europe/Berlin")
    job = ok(api.admin.patch("/api/v1/jobs/nightly", json={"tz": "America/New_York"}))
    assert job["next_fire_at"] == "2025-06-03T02:30:00-04:00"  # it is 05:00 there now


def test_an_interval_job_gives_its_fire_times_in_utc(api: Api) -> None:
    job = add(api, "j", every="90m")
    assert job["next_fire_at"] == "2025-06-02T10:30:00Z"
    assert job["next_fires"][:2] == ["2025-06-02T10:30:00Z", "2025-06-02T12:00:00Z"]


def test_a_duration_as_text_carries_its_unit_and_a_number_is_seconds(api: Api) -> None:
    for every, says in (("5", "give a unit, e.g. 5s, 5m"), ("0.5s", "use whole numbers")):
        body = {"name": "j", "kind": "scripted", "every": every}
        assert says in problem(api.admin.post("/api/v1/jobs", json=body), 422)["detail"]
    assert add(api, "j", every=5)["schedule"]["every_s"] == 5


def test_switching_an_interval_job_to_cron_reads_it_in_the_default_zone(api: Api) -> None:
    # The server's default zone is Europe/Berlin here; an interval keeps UTC inside.
    add(api, "j", every="1h")
    job = ok(api.admin.patch("/api/v1/jobs/j", json={"cron": "0 12 * * *"}))
    assert job["schedule"]["tz"] == "Europe/Berlin"
    assert job["next_fire_at"] == "2025-06-02T12:00:00+02:00"


def test_a_jobs_retention_is_set_shown_and_cleared_and_bad_values_are_422(api: Api) -> None:
    job = add(api, "j", keep_runs=500, keep_logs="14d")
    assert (job["keep_runs"], job["keep_logs"]) == ("500", "14d")
    job = ok(api.admin.patch("/api/v1/jobs/j", json={"keep_runs": "30d"}))
    assert (job["keep_runs"], job["keep_logs"]) == ("30d", "14d")
    # It should change nothing on a bad value, and name the field.
    for bad in ({"keep_runs": 0}, {"keep_runs": "abc"}, {"keep_logs": "14"}, {"keep_runs": "0d"}):
        body = problem(api.admin.patch("/api/v1/jobs/j", json=bad), 422)
        assert "keep" in body["detail"]
    problem(api.admin.post("/api/v1/jobs", json={"name": "k", "kind": "scripted",
                                                  "keep_runs": 0}), 422)  # fmt: skip
    problem(api.viewer.get("/api/v1/jobs/k"), 404)
    assert ok(api.viewer.get("/api/v1/jobs/j")) == job
    # It should go back to the server's rule with null.
    job = ok(api.admin.patch("/api/v1/jobs/j", json={"keep_runs": None, "keep_logs": None}))
    assert (job["keep_runs"], job["keep_logs"]) == (None, None)
