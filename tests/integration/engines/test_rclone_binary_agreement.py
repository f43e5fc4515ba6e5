"""What synchub assumes about rclone, checked against the bundled binary."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from synchub.engines.obscure import obscure, reveal
from synchub.engines.process import minimal_env
from synchub.engines.rclone.backends import rclone_binary
from synchub.engines.rclone.engine import LOG_ARGS
from synchub.engines.rclone.flags import FLAGS, normalize_option

RCLONE = rclone_binary()
ENV = minimal_env({"RCLONE_CONFIG": ""})


def rclone(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([RCLONE, *args], env=ENV, capture_output=True, text=True, check=False)


def test_python_obscure_is_revealed_by_rclone() -> None:
    secret = "pa55 wörd/with:odd=chars%"
    # An obscured value starts with "-" one time in 64: without "--" rclone reads a flag.
    assert rclone("reveal", "--", obscure(secret)).stdout.rstrip("\n") == secret


def test_rclone_obscure_is_revealed_by_python() -> None:
    secret = "another S3cret!"
    assert reveal(rclone("obscure", secret).stdout.strip()) == secret


def test_every_allowed_flag_exists_where_the_table_says() -> None:
    global_flags = rclone("help", "flags").stdout
    helps = {op: rclone(op, "--help").stdout for op in ("sync", "copy", "move", "check", "bisync")}
    for name, spec in FLAGS.items():
        texts = [global_flags] if spec.ops is None else [helps[op] for op in spec.ops]
        for text in texts:
            assert f"{name} " in text or f"{name}\n" in text, f"rclone does not know {name}"


def test_the_logging_flags_synchub_sets_exist() -> None:
    assert rclone("lsf", "--max-depth", "1", "/", *LOG_ARGS).returncode == 0


SAMPLES = [
    "--checksum=false",
    "--transfers 8",
    "--max-delete=-1",
    "--tpslimit=0.5",
    "--max-size=1.5Gi",
    "--min-size=10k",
    "--max-transfer=off",
    "--max-age=1h30m",
    "--min-age=2024-01-31",
    "--max-age=2024-01-31T12:00:00Z",
    "--max-duration=1.5h",
    "--modify-window=0",
    "--timeout=500ms",
    "--contimeout=90s",
    "--retries-sleep=1h30m",
    "--max-age=90",
    "--min-age=2w",
    "--bwlimit=10M:1M",
    "--bwlimit=08:00,512k 12:00,off",
    "--bwlimit=Mon-08:00,10M Sat-00:00,off",
    "--cutoff-mode=cautious",
    "--track-renames-strategy=modtime,leaf",
    "--order-by=size,desc,mixed,50",
    "--exclude-if-present=.nobackup",
    "--suffix=.bak",
    "--max-depth=-1",
    "--multi-thread-streams=0",
]


@pytest.mark.parametrize("option", SAMPLES)
def test_rclone_accepts_what_the_allow_list_accepts(option: str, tmp_path: Path) -> None:
    done = rclone("lsf", str(tmp_path), *normalize_option(option))
    assert done.returncode == 0, done.stderr[:300]


@pytest.mark.parametrize(
    "option",
    ["--conflict-resolve=newer", "--conflict-loser=pathname", "--conflict-suffix=a,b",
     "--compare=size,modtime", "--check-sync=only", "--max-lock=2m"],
)  # fmt: skip
def test_rclone_bisync_accepts_its_allowed_values(option: str, tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    args = ["bisync", str(one), str(two), "--resync", "--dry-run", "--workdir", str(tmp_path)]
    done = rclone(*args, *normalize_option(option, "bisync"))
    assert "unknown flag" not in done.stderr and "invalid argument" not in done.stderr


#: Kinds whose values are magnitudes: each such flag must say its largest value.
MAGNITUDES = {"int", "float", "size", "duration", "long_duration", "age", "bwlimit"}


def test_every_numeric_flag_has_an_upper_bound_that_rclone_accepts(tmp_path: Path) -> None:
    """Each bound is a value of its flag: rclone must take it (a bound beyond what
    rclone can hold would let a value through that it refuses at run time)."""
    bounded = {name: spec for name, spec in FLAGS.items() if spec.kind.value in MAGNITUDES}
    assert [name for name, spec in bounded.items() if spec.maximum is None] == []
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    for name, spec in bounded.items():
        option = f"{name}={spec.maximum}"
        if spec.ops is None:
            done = rclone("copy", "--dry-run", str(one), str(two), *normalize_option(option))
        else:  # bisync's --max-lock
            args = ["bisync", str(one), str(two), "--resync", "--dry-run"]
            done = rclone(*args, "--workdir", str(tmp_path / "w"), *normalize_option(option))
        assert done.returncode == 0, f"{option}: {done.stderr[:300]}"
