"""--bwlimit timetables through the API: rclone's forms are stored as given, a table
rclone would refuse is a 422 naming the part at fault and nothing is saved."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.conftest import Api, ok, problem


def job(tmp_path: Path, option: str) -> dict[str, object]:
    params = {"op": "copy", "source": str(tmp_path), "destination": str(tmp_path / "out"),
              "options": [option]}  # fmt: skip
    return {"name": "limited", "params": params}


@pytest.mark.parametrize(
    "value",
    ["08:00,512k 12:00,10M 23:00,off", "Mon-08:00,10M Sat-00:00,off", "10M:1M",
     "Monday-08:00,1M:off;18:00,off"],
)  # fmt: skip
def test_rclones_forms_are_saved_as_given(api: Api, tmp_path: Path, value: str) -> None:
    made = ok(api.admin.post("/api/v1/jobs", json=job(tmp_path, f"--bwlimit={value}")), 201)
    assert made["params"]["options"] == [f"--bwlimit={value}"]


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("08:00,512k 25:00,off", "the hour in '25:00' must be 00 to 23"),
        ("Xyz-08:00,1M", "unknown weekday 'Xyz'"),
        ("08:00,1M,2M", "the slot '08:00,1M,2M' is not [DAY-]HH:MM,RATE"),
        ("10M:1M:2M", "more than one ':'"),
    ],
)
def test_a_table_rclone_refuses_is_a_422_and_nothing_is_saved(
    api: Api, tmp_path: Path, value: str, says: str
) -> None:
    refused = problem(api.admin.post("/api/v1/jobs", json=job(tmp_path, f"--bwlimit={value}")), 422)
    assert f"Bad value {value!r} for --bwlimit: " in refused["detail"]
    assert says in refused["detail"]
    assert ok(api.viewer.get("/api/v1/jobs"))["count"] == 0
