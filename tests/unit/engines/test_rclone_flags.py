"""The allow-list of rclone flags: accepted spellings, typed values, refusals."""

from __future__ import annotations

import pytest

from synchub.core.errors import InvalidOption
from synchub.engines.rclone.flags import FLAGS, normalize_option, normalize_options


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("--checksum", "--checksum"),
        ("-c", "--checksum"),  # rclone's short spelling
        ("--checksum=true", "--checksum"),
        ("--checksum=False", "--checksum=false"),
        ("--dry-run", "--dry-run"),
        ("--transfers=4", "--transfers=4"),
        ("--transfers 4", "--transfers=4"),  # space-separated value
        ("  --checkers=16  ", "--checkers=16"),
        ("--max-delete=-1", "--max-delete=-1"),  # -1 is "no limit"
        ("--tpslimit=0.5", "--tpslimit=0.5"),
        ("--max-size=10M", "--max-size=10M"),
        ("--max-size=1.5Gi", "--max-size=1.5Gi"),
        ("--max-transfer=off", "--max-transfer=off"),
        ("--max-age=1h30m", "--max-age=1h30m"),
        ("--max-age=2024-01-31", "--max-age=2024-01-31"),  # ages may be dates
        ("--min-age=2024-01-31T12:00:00Z", "--min-age=2024-01-31T12:00:00Z"),
        ("--timeout=500ms", "--timeout=500ms"),
        ("--max-duration=1.5h", "--max-duration=1.5h"),
        ("--max-age=90", "--max-age=90"),  # rclone's own durations: a bare number is seconds
        ("--max-lock=2d", "--max-lock=2d"),
        ("--bwlimit=10M", "--bwlimit=10M"),
        ("--bwlimit=10M:1M", "--bwlimit=10M:1M"),  # upload:download
        ("--bwlimit=08:00,512k 12:00,off", "--bwlimit=08:00,512k 12:00,off"),
        ("--bwlimit=Mon-08:00,10M Sat-00:00,off", "--bwlimit=Mon-08:00,10M Sat-00:00,off"),
        ("--cutoff-mode=SOFT", "--cutoff-mode=soft"),
        ("--track-renames-strategy=modtime,leaf", "--track-renames-strategy=modtime,leaf"),
        ("--order-by=size,desc,mixed,50", "--order-by=size,desc,mixed,50"),
        ("--exclude-if-present=.nobackup", "--exclude-if-present=.nobackup"),
        ("--suffix=.bak", "--suffix=.bak"),
    ],
)
def test_it_accepts_and_normalizes(text: str, expected: str) -> None:
    assert normalize_option(text) == [expected]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("--config=/etc/passwd", "--config is not allowed: it names a file"),
        ("--exclude-from=/x", "--exclude-from is not allowed"),
        ("--filter-from /x", "--filter-from is not allowed"),
        ("--files-from=/x", "--files-from is not allowed"),
        ("--log-file=/tmp/x", "--log-file is not allowed"),
        ("--password-command=sh", "--password-command is not allowed: it runs a program"),
        ("--backup-dir=remote:old", "--backup-dir is not allowed"),
        ("--compare-dest=remote:x", "--compare-dest is not allowed"),
        ("--use-json-log", "synchub sets it"),
        ("--stats=10s", "synchub sets it"),
        ("-v", "synchub sets it"),
        ("--log-level=DEBUG", "synchub sets it"),
        ("--resync", "synchub passes it"),
        ("--rc", "not on synchub's list"),
        ("--no-such-flag", "not on synchub's list"),
    ],
)
def test_it_refuses_flags_off_the_list_naming_them(text: str, message: str) -> None:
    with pytest.raises(InvalidOption, match=message):
        normalize_option(text)


@pytest.mark.parametrize(
    "text",
    [
        "--transfers=four",
        "--transfers=0",  # at least one
        "--transfers=",
        "--transfers",  # a value is needed
        "--checksum=maybe",
        "--max-size=10MB",  # rclone refuses "MB"
        "--max-size=-1",
        "--max-age=1D",  # units are case-sensitive: D is not a unit
        "--max-age=1h 30m",
        "--max-duration=90",  # Go durations need a unit
        "--timeout=2d",  # ... and know no days
        "--contimeout=off",
        "--bwlimit=8:00,10M",  # rclone wants hh:mm
        "--bwlimit=25:00,10M",
        "--bwlimit=fast",
        "--cutoff-mode=sometimes",
        "--track-renames-strategy=hash,size",
        "--order-by=random",
        "--exclude-if-present=../.nobackup",  # a name, never a path
        "--exclude-if-present=/etc/passwd",
        "--suffix=a/b",
        "--suffix=$(reboot)",
    ],
)
def test_it_refuses_bad_values(text: str) -> None:
    with pytest.raises(InvalidOption, match=r"--[a-z-]+"):
        normalize_option(text)


@pytest.mark.parametrize("text", ["checksum", "--", "-", "--transfers=4\n--config=x", "--a\0b"])
def test_it_refuses_what_is_not_one_flag(text: str) -> None:
    with pytest.raises(InvalidOption):
        normalize_option(text)


def test_it_refuses_flags_of_other_operations_when_told_the_op() -> None:
    assert normalize_option("--conflict-resolve=newer", "bisync") == ["--conflict-resolve=newer"]
    with pytest.raises(InvalidOption, match="--conflict-resolve applies to bisync only"):
        normalize_option("--conflict-resolve=newer", "sync")
    with pytest.raises(InvalidOption, match="--one-way applies to check only"):
        normalize_option("--one-way", "sync")


def test_its_output_is_accepted_again_unchanged() -> None:
    texts = ["-c", "--transfers 8", "--bwlimit=08:00,512k 18:00,off", "--cutoff-mode=CAUTIOUS"]
    once = normalize_options(texts)
    assert normalize_options(once) == once


def test_it_refuses_a_flag_given_twice_unless_repeatable() -> None:
    with pytest.raises(InvalidOption, match="--transfers is given more than once"):
        normalize_options(["--transfers=2", "--transfers 4"])
    assert normalize_options(["--exclude-if-present=.a", "--exclude-if-present=.b"]) == [
        "--exclude-if-present=.a",
        "--exclude-if-present=.b",
    ]


def test_it_refuses_flags_rclone_cannot_combine() -> None:
    with pytest.raises(InvalidOption, match="--delete-after and --delete-before"):
        normalize_options(["--delete-before", "--delete-after"])


def test_the_list_is_a_sensible_size() -> None:
    assert 40 <= len(FLAGS) <= 120
