"""Run windows through the API: saved normalised with the zone they are read in,
emptied by null or [], and a bad one is a 422 naming it that changes nothing."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api, ok, problem


def add(api: Api, **fields: Any) -> dict[str, Any]:
    body = {"name": "nightly", "kind": "scripted", "cron": "0 * * * *", **fields}
    made: dict[str, Any] = ok(api.admin.post("/api/v1/jobs", json=body), 201)
    return made


def test_windows_are_saved_shown_and_emptied(api: Api) -> None:
    made = add(api, windows=["mon-fri 22:00-06:00", "Sat,Sun 00:00-24:00"], tz="Europe/Paris")
    assert made["windows"] == ["mon-fri 22:00-06:00", "Sat,Sun 00:00-24:00"]
    assert made["windows_tz"] == "Europe/Paris"  # the cron schedule's zone
    assert ok(api.viewer.get("/api/v1/jobs/nightly"))["windows"] == made["windows"]

    kept = ok(api.admin.patch("/api/v1/jobs/nightly", json={"retries": 1}))
    assert kept["windows"] == made["windows"]
    emptied = ok(api.admin.patch("/api/v1/jobs/nightly", json={"windows": None}))
    assert (emptied["windows"], emptied["windows_tz"]) == ([], None)


def test_a_bad_window_is_a_422_naming_it_and_nothing_changes(api: Api) -> None:
    refused = problem(api.admin.post("/api/v1/jobs", json={
        "name": "nightly", "kind": "scripted", "windows": ["25:00-26:00"]}), 422)  # fmt: skip
    assert (
        "Bad window '25:00-26:00': '25:00' is not a time of day (00:00 to 23:59)"
        in (refused["detail"])
    )
    assert ok(api.viewer.get("/api/v1/jobs"))["count"] == 0

    add(api, windows=["22:00-06:00"])
    before = ok(api.viewer.get("/api/v1/jobs/nightly"))
    problem(api.admin.patch("/api/v1/jobs/nightly", json={"windows": ["Moon 01:00-02:00"]}), 422)
    assert ok(api.viewer.get("/api/v1/jobs/nightly")) == before
