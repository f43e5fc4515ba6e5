"""What would not fit on rclone's command line (or in its environment) is refused
when it is given, with 422 saying why, and numeric rclone flags have upper bounds.

On the code before: a filter of 200 KB, or 150,000 short ones, answered 502
("cannot run rclone to check the filters: [Errno 7] Argument list too long"); a
source path of 200 KB and a remote option of 300 KB were saved, and every run (or
test) of them failed to start rclone; `--transfers=100000000` was accepted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import Api, ok, problem


def job(tmp_path: Path, **params: Any) -> dict[str, Any]:
    source = tmp_path / "source"
    source.mkdir(exist_ok=True)
    base = {"op": "copy", "source": str(source), "destination": str(tmp_path / "dest")}
    return {"name": "big", "params": {**base, **params}}


TOO_LONG = [
    # (what, params, words of the detail)
    ("one long filter", {"filters": ["- " + "a" * 200_000]}, "at most 4096 bytes"),
    ("many filters", {"filters": ["- a"] * 150_000}, "at most 262144 fit"),
    ("a long source", {"source": "/" + "a" * 200_000}, "longer than 4096 bytes"),
    ("a long option", {"options": ["--bwlimit=" + "1M " * 2000]}, "at most 4096 characters"),
]


@pytest.mark.parametrize(("what", "params", "words"), TOO_LONG, ids=[t[0] for t in TOO_LONG])
def test_a_job_too_big_for_rclones_command_line_is_a_422_and_is_not_saved(
    api: Api, tmp_path: Path, what: str, params: dict[str, Any], words: str
) -> None:
    refused = problem(api.admin.post("/api/v1/jobs", json=job(tmp_path, **params)), 422)
    assert words in refused["detail"]
    assert len(refused["detail"]) < 300  # it says why, without echoing the value
    assert ok(api.viewer.get("/api/v1/jobs"))["count"] == 0


def test_a_job_at_the_limits_is_saved_and_rclone_takes_it(api: Api, tmp_path: Path) -> None:
    rules = [f"- /{i:04d}-*.tmp" for i in range(8000)]  # about 190 KiB of arguments
    made = ok(api.admin.post("/api/v1/jobs", json=job(tmp_path, filters=rules)), 201)
    assert len(made["params"]["filters"]) == 8000


@pytest.mark.parametrize(
    ("option", "bound"),
    [
        ("--transfers=100000000", "128"),
        ("--checkers=257", "256"),
        ("--multi-thread-streams=65", "64"),
        ("--retries=101", "100"),
        ("--low-level-retries=1001", "1000"),
        ("--tpslimit=100001", "100000"),
        ("--buffer-size=2G", "1G"),
        ("--timeout=25h", "24h"),
    ],
)
def test_numeric_rclone_flags_have_upper_bounds(
    api: Api, tmp_path: Path, option: str, bound: str | None
) -> None:
    body = job(tmp_path, options=[option])
    refused = problem(api.admin.post("/api/v1/jobs", json=body), 422)
    flag = option.partition("=")[0]
    assert flag in refused["detail"]
    if bound is not None:
        assert f"expected at most {bound}" in refused["detail"]


def test_a_remote_option_too_big_for_rclones_environment_is_a_422(api: Api) -> None:
    body = {"name": "big", "type": "local", "options": {"description": "x" * 300_000}}
    refused = problem(api.admin.post("/api/v1/remotes", json=body), 422)
    assert "longer than 65536 bytes" in refused["detail"]
    assert "xxxx" not in refused["detail"]
    problem(api.viewer.get("/api/v1/remotes/big"), 404)
