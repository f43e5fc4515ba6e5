"""The delete guard's forms and arithmetic, the marker's name, a job's --dry-run."""

from __future__ import annotations

from typing import Any

import pytest

from synchub.core.errors import InvalidInput
from synchub.core.safety import DeleteGuard, check_marker, dry_run_option, parse_delete_guard


@pytest.mark.parametrize(
    ("text", "guard"),
    [
        ("50%", DeleteGuard(percent=50)),
        (" 0 % ", DeleteGuard(percent=0)),  # no deletes at all
        ("100%", DeleteGuard(percent=100)),
        ("25", DeleteGuard(count=25)),
        (0, DeleteGuard(count=0)),
        ("OFF", DeleteGuard()),
    ],
)
def test_it_reads_a_share_a_count_or_off(text: Any, guard: DeleteGuard) -> None:
    assert parse_delete_guard(text) == guard
    assert parse_delete_guard(str(guard)) == guard  # it reads its own spelling back


@pytest.mark.parametrize("text", ["150%", "101%", "-1", "abc", "", "5.5", "%", True, None, [1]])
def test_it_rejects_anything_else(text: Any) -> None:
    with pytest.raises(InvalidInput, match="Bad delete guard"):
        parse_delete_guard(text)


@pytest.mark.parametrize(
    ("guard", "deletes", "total", "allowed"),
    [
        ("50%", 5, 10, True),  # half is not more than half
        ("50%", 6, 10, False),
        ("50%", 1, 1, False),  # the only file
        ("0%", 0, 10, True),
        ("0%", 1, 1000, False),
        ("3", 3, 4, True),
        ("3", 4, 1000, False),
        ("off", 10, 10, True),
    ],
)
def test_it_allows_up_to_its_limit(guard: str, deletes: int, total: int, allowed: bool) -> None:
    assert parse_delete_guard(guard).allows(deletes, total) is allowed


@pytest.mark.parametrize("name", ["a/b", "..", "../x", "x..y", ".", "", "a\\b", "a\nb", "x" * 256])
def test_a_marker_is_one_file_name(name: str) -> None:
    with pytest.raises(InvalidInput, match="Bad marker"):
        check_marker(name)


def test_a_marker_may_be_a_dot_file() -> None:
    assert check_marker(".stfolder") == ".stfolder"


def test_a_jobs_dry_run_option_makes_it_a_dry_run() -> None:
    assert dry_run_option({"options": ["--checksum", "--dry-run"]})
    assert not dry_run_option({"options": ["--dry-run=false"]})
    assert not dry_run_option({})
