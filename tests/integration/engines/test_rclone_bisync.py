"""bisync guarded, with the real rclone on local folders: the access check, roots that
are missing, unreadable or empty, and bisync's own stops said as what they are.

A stop before bisync starts leaves bisync's listings alone, so once the cause is
gone the next run goes on without a resync (rclone alone would lock the job out).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from synchub.engines.base import Outcome
from synchub.engines.rclone.backends import rclone_binary
from synchub.engines.rclone.engine import RcloneEngine
from synchub.engines.rclone.environment import rclone_env
from tests.integration.engines.helpers import (
    PASSWORD,
    Server,
    make_ctx,
    tree,
    webdav_remote,
    write,
)

ENGINE = RcloneEngine(kill_grace=5.0)
FILES = {"a": "1", "b": "2", "c": "3", "d": "4"}

pytestmark = pytest.mark.usefixtures("private_home")


@pytest.fixture
def private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # bisync keeps its listings under ~/.cache: keep them inside the test.
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)


def paired(tmp_path: Path, **params: Any) -> tuple[Path, Path, dict[str, Any]]:
    """Two folders after the job's first run (FILES on both); the job's params."""
    one = write(tmp_path / "one", FILES)
    two = write(tmp_path / "two", {})
    job = ENGINE.validate(
        {"op": "bisync", "source": str(one), "destination": str(two), **params}, frozenset()
    )
    first = ENGINE.run(make_ctx(job, first_run=True))
    assert first.ok, first.error
    return one, two, job


def run(job: dict[str, Any], engine: RcloneEngine = ENGINE, **flags: bool) -> tuple[Outcome, Any]:
    ctx = replace(make_ctx(job), **flags)
    return engine.run(ctx), ctx.sink


def stopped(job: dict[str, Any], prefix: str, *roots: Path, engine: RcloneEngine = ENGINE) -> Any:
    """Run `job`; it must stop, not to be retried, with an error starting with `prefix`,
    changing nothing at `roots`. Returns the run's sink."""
    before = [tree(r) for r in roots]
    outcome, sink = run(job, engine)
    assert not outcome.ok and outcome.permanent, outcome
    assert str(outcome.error).startswith(prefix), outcome.error
    assert [tree(r) for r in roots] == before
    assert outcome.stats.files == 0 and outcome.stats.deletes == 0
    assert not [c for c in sink.changes() if c[1] == "failed"]
    return outcome, sink


def test_the_first_run_puts_the_check_file_at_both_roots(tmp_path: Path) -> None:
    one, two, job = paired(tmp_path)
    assert job["check_access"] is True  # on unless the job turns it off
    assert tree(one) == tree(two) == {**FILES, "RCLONE_TEST": ""}
    (one / "e").write_text("5")
    outcome, sink = run(job)
    assert outcome.ok, outcome.error
    assert tree(two)["e"] == "5"
    assert any('Found 1 matching "RCLONE_TEST" files' in m for m in sink.messages())


def test_a_check_file_missing_on_one_side_stops_before_bisync(tmp_path: Path) -> None:
    """An unmounted drive whose mount point holds other files, say."""
    one, two, job = paired(tmp_path)
    (two / "RCLONE_TEST").unlink()
    (one / "a").unlink()
    outcome, _ = stopped(job, "access check:", one, two)
    assert f"RCLONE_TEST is at {one} but not at {two}" in str(outcome.error)
    assert "--no-check-access" in str(outcome.error)

    # It should go on once the file is back, with no resync.
    (two / "RCLONE_TEST").write_text("")
    outcome, _ = run(job)
    assert outcome.ok, outcome.error
    assert "a" not in tree(two)


def test_a_job_without_the_check_puts_no_file(tmp_path: Path) -> None:
    one, two, job = paired(tmp_path, check_access=False)
    assert "RCLONE_TEST" not in tree(one) | tree(two)
    (one / "e").write_text("5")
    outcome, _ = run(job)
    assert outcome.ok, outcome.error
    assert "RCLONE_TEST" not in tree(two)


def test_the_jobs_check_filename_is_the_check_file(tmp_path: Path) -> None:
    one, two, job = paired(tmp_path, options=["--check-filename=.pair"])
    assert ".pair" in tree(one) and ".pair" in tree(two) and "RCLONE_TEST" not in tree(two)
    (one / ".pair").unlink()
    stopped(job, "access check: .pair is at", one, two)


def test_bisyncs_own_access_check_is_said_and_is_no_failed_file(tmp_path: Path) -> None:
    """Check files deeper in the tree are bisync's to compare."""
    write(tmp_path / "one", {"sub/RCLONE_TEST": ""})
    write(tmp_path / "two", {"sub/RCLONE_TEST": ""})
    one, two, job = paired(tmp_path)
    (two / "sub" / "RCLONE_TEST").unlink()
    outcome, _ = stopped(job, "access check: bisync found the RCLONE_TEST files differ", one, two)
    assert "synchub job resync job" in str(outcome.error)


def test_a_safety_abort_is_the_runs_stop_not_a_failed_file(tmp_path: Path) -> None:
    one, two, job = paired(tmp_path, check_access=False)
    for name in ("a", "b", "c"):
        (one / name).unlink()
    outcome, sink = stopped(job, "delete guard: too many deletes (>50%, 3 of 4)", two)
    assert "synchub job run job --allow-deletes" in str(outcome.error)
    assert sink.changes() == set()


def test_every_file_changed_is_a_safety_abort_with_the_ways_on(tmp_path: Path) -> None:
    one, two, job = paired(tmp_path, check_access=False)
    for name in FILES:
        os.utime(one / name, (1_000_000_000, 1_000_000_000))  # a clock gone wrong
    outcome, sink = stopped(job, "safety abort: bisync found that all files were changed", two)
    assert "--allow-deletes" in str(outcome.error) and "job resync job" in str(outcome.error)
    assert sink.changes() == set()


@pytest.mark.parametrize("check_access", [True, False])
def test_a_missing_source_stops_and_the_job_goes_on_once_it_is_back(
    tmp_path: Path, check_access: bool
) -> None:
    one, two, job = paired(tmp_path, check_access=check_access)
    one.rename(tmp_path / "unplugged")
    stopped(job, "source missing:", two)
    (tmp_path / "unplugged").rename(one)
    (one / "e").write_text("5")
    outcome, _ = run(job)
    assert outcome.ok, outcome.error
    assert tree(two)["e"] == "5"


def test_a_missing_destination_is_said_too(tmp_path: Path) -> None:
    one, two, job = paired(tmp_path)
    shutil.rmtree(two)
    stopped(job, "destination missing:", one)


@pytest.mark.parametrize("check_access", [True, False])
def test_an_emptied_source_stops_and_the_job_goes_on_once_it_is_back(
    tmp_path: Path, check_access: bool
) -> None:
    one, two, job = paired(tmp_path, check_access=check_access)
    (tmp_path / "away").mkdir()
    for path in one.iterdir():
        path.rename(tmp_path / "away" / path.name)
    outcome, _ = stopped(job, "empty source:", one, two)
    assert "synchub job resync job" in str(outcome.error)  # if it is meant to be empty
    for path in (tmp_path / "away").iterdir():
        path.rename(one / path.name)
    outcome, _ = run(job)
    assert outcome.ok, outcome.error
    assert tree(two) == tree(one)


def test_a_first_run_may_fill_an_empty_source(tmp_path: Path) -> None:
    """A new, empty folder paired with a full one: the resync copies, deletes nothing."""
    one = write(tmp_path / "one", {})
    two = write(tmp_path / "two", FILES)
    job = ENGINE.validate({"op": "bisync", "source": str(one), "destination": str(two)},
                          frozenset())  # fmt: skip
    outcome = ENGINE.run(make_ctx(job, first_run=True))
    assert outcome.ok, outcome.error
    assert tree(one) == tree(two) == {**FILES, "RCLONE_TEST": ""}


@pytest.fixture
def unreadable(tmp_path: Path) -> tuple[Path, RcloneEngine]:
    """A folder rclone cannot read, and an engine whose rclone is bound by its mode.

    Mode 000 stops no read by root, whose CAP_DAC_OVERRIDE passes every mode: as
    root, the real rclone is started without that capability (and its read-only
    twin), as any other user would be."""
    folder = tmp_path / "locked"
    folder.mkdir()
    if os.geteuid() != 0:
        return folder, ENGINE
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root, where mode 000 stops no read, and no setpriv here")
    wrapper = tmp_path / "rclone-without-dac"
    wrapper.write_text(
        f"#!/bin/sh\nexec {setpriv} --bounding-set=-dac_override,-dac_read_search -- "
        f'{rclone_binary()} "$@"\n'
    )
    wrapper.chmod(0o755)
    return folder, RcloneEngine(str(wrapper), kill_grace=5.0)


@pytest.mark.parametrize("op", ["sync", "bisync"])
def test_an_unreadable_source_is_said_and_deletes_nothing(
    tmp_path: Path, unreadable: tuple[Path, RcloneEngine], op: str
) -> None:
    folder, engine = unreadable
    write(folder, FILES)
    dst = write(tmp_path / "dst", {"only-here": "x"})
    job = engine.validate(
        {"op": op, "source": str(folder), "destination": str(dst), "delete_guard": "off"},
        frozenset(),
    )
    if op == "bisync":
        first = engine.run(make_ctx(job, first_run=True))
        assert first.ok, first.error
    folder.chmod(0)
    try:
        outcome, _ = stopped(job, "source unreadable:", dst, engine=engine)
    finally:
        folder.chmod(0o755)
    assert "permission denied" in str(outcome.error)
    assert tree(dst)["only-here"] == "x"
    if op == "sync":  # It should say so to a run let past the guards too.
        folder.chmod(0)
        try:
            outcome, _ = run(job, engine, allow_deletes=True)
        finally:
            folder.chmod(0o755)
        assert str(outcome.error).startswith("source unreadable:") and outcome.permanent
        assert tree(dst)["only-here"] == "x"
    # It should go on once the source can be read again (a bisync: with no resync).
    outcome, _ = run(job, engine)
    assert outcome.ok, outcome.error


def test_a_bisync_that_needs_a_resync_says_why_and_how(tmp_path: Path) -> None:
    """bisync's listings gone (a critical error before, or the job's paths changed)."""
    one, two, job = paired(tmp_path)
    shutil.rmtree(tmp_path / "home" / ".cache")
    outcome, _ = stopped(job, "bisync stopped and needs a resync", one, two)
    assert "cannot find prior Path1 or Path2 listings" in str(outcome.error)
    assert str(outcome.error).endswith("then: synchub job resync job")


def test_a_dry_run_looks_the_same_way_and_creates_nothing(tmp_path: Path) -> None:
    one = write(tmp_path / "one", FILES)
    two = write(tmp_path / "two", {})
    job = ENGINE.validate({"op": "bisync", "source": str(one), "destination": str(two)},
                          frozenset())  # fmt: skip
    ctx = replace(make_ctx(job, first_run=True), dry_run=True)
    outcome = ENGINE.run(ctx)
    assert outcome.ok and outcome.dry_run, outcome.error
    assert tree(one) == FILES and tree(two) == {}
    assert any("a real run would create RCLONE_TEST" in m for m in ctx.sink.messages())

    # It should say a missing path as a real run would, changing nothing.
    shutil.rmtree(two)
    ctx = replace(make_ctx(job, first_run=True), dry_run=True)
    outcome = ENGINE.run(ctx)
    assert not outcome.ok and outcome.dry_run
    assert str(outcome.error).startswith("destination missing:")
    assert tree(one) == FILES


def test_the_access_check_on_a_webdav_destination(tmp_path: Path, webdav_server: Server) -> None:
    """The check file goes to a network remote and is looked for there, with the
    remote's secrets in rclone's environment only."""
    remote = webdav_remote(webdav_server)
    served = webdav_server.root / tmp_path.name
    one = write(tmp_path / "one", FILES)
    job = ENGINE.validate(
        {"op": "bisync", "source": str(one), "destination": f"dav:{tmp_path.name}"},
        frozenset({"dav"}),
    )
    served.mkdir()
    first = ENGINE.run(make_ctx(job, {"dav": remote}, first_run=True))
    assert first.ok, first.error
    assert tree(served) == {**FILES, "RCLONE_TEST": ""}

    # Removed through the server: it lists from its own cache, not from its disk.
    gone = subprocess.run(
        [rclone_binary(), "deletefile", f"dav:{tmp_path.name}/RCLONE_TEST"],
        env=rclone_env({"dav": remote}), capture_output=True, check=False,
    )  # fmt: skip
    assert gone.returncode == 0, gone.stderr
    (one / "a").unlink()
    before = tree(served)
    ctx = make_ctx(job, {"dav": remote})
    outcome = ENGINE.run(ctx)
    assert not outcome.ok and outcome.permanent
    assert str(outcome.error).startswith(f"access check: RCLONE_TEST is at {one} but not at dav:")
    assert tree(served) == before and PASSWORD not in " ".join(ctx.sink.messages())
