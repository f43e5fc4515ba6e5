"""synchub's --bwlimit check against the bundled rclone: each example gets the same
verdict from both, except the few spellings synchub refuses on purpose (see
synchub/core/bwlimit.py), which rclone is shown to take."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from synchub.core.errors import InvalidOption
from synchub.engines.process import minimal_env
from synchub.engines.rclone.backends import rclone_binary
from synchub.engines.rclone.flags import normalize_option

RCLONE = rclone_binary()

BOTH_ACCEPT = [
    "10M",
    "1.5M",
    "off",
    "0",
    "10M:1M",
    "off:1M",
    "08:00,512k 12:00,10M 23:00,off",
    "08:00,512k;12:00,10M",
    "08:00,1M  12:00,off",
    "Mon-08:00,10M Sat-00:00,off",
    "monday-08:00,1M",
    "Sunday-08:00,1M",
    "MON-08:00,1M",
    "Mon-08:00,1M 12:00,2M",
    "08:00,1M:2M",
    "08:00,512K 09:00,512Ki 10:00,512KiB",
    "12:00,1M 08:00,2M",
    "08:00,0",
]
BOTH_REFUSE = [
    "",
    "10M:1M:2M",
    "24:00,1M",
    "23:60,1M",
    "8:00,1M",
    "08:00,",
    "08:00,1M,2M",
    "Mon-Tue-08:00,1M",
    "Xyz-08:00,1M",
    "08:00,bogus",
    "08:00,-1",
    "-08:00,1M",
    "08:0a,1M",
    "0800,1M",
    "08:00:00,1M",
    "10M:",
    ":10M",
    "08:00,1M\t12:00,off",
    " 10M",
]
#: rclone takes these by accident; synchub refuses them, with a clearer reason.
ONLY_RCLONE_ACCEPTS = ["08:00", "+8:00,1M", "08x00,1M", " "]


def rclone_accepts(value: str, where: Path) -> bool:
    done = subprocess.run(
        [RCLONE, "lsf", str(where), "--bwlimit", value],
        env=minimal_env({"RCLONE_CONFIG": ""}),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        assert "--bwlimit" in done.stderr, done.stderr[:300]  # refused for the value
    return done.returncode == 0


def synchub_accepts(value: str) -> bool:
    try:
        normalize_option(f"--bwlimit={value}")
    except InvalidOption:
        return False
    return True


@pytest.mark.parametrize("value", BOTH_ACCEPT)
def test_both_accept(value: str, tmp_path: Path) -> None:
    assert (synchub_accepts(value), rclone_accepts(value, tmp_path)) == (True, True)


@pytest.mark.parametrize("value", BOTH_REFUSE)
def test_both_refuse(value: str, tmp_path: Path) -> None:
    assert (synchub_accepts(value), rclone_accepts(value, tmp_path)) == (False, False)


@pytest.mark.parametrize("value", ONLY_RCLONE_ACCEPTS)
def test_synchub_is_stricter_only_where_it_says(value: str, tmp_path: Path) -> None:
    assert (synchub_accepts(value), rclone_accepts(value, tmp_path)) == (False, True)
