"""Real rclone runs between local directories: the change report, stats, exit codes, stop."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from synchub.core.runs import FileAction
from synchub.engines.process import group_alive
from synchub.engines.rclone.engine import RcloneEngine
from tests.integration.engines.helpers import make_ctx, tree, write

ENGINE = RcloneEngine(kill_grace=5.0)


@pytest.fixture(autouse=True)
def private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # bisync keeps its listings under ~/.cache: keep them inside the test.
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)


def run(params: dict[str, Any], **ctx_args: Any) -> Any:
    ctx = make_ctx(ENGINE.validate(params, frozenset()), **ctx_args)
    return ENGINE.run(ctx), ctx.sink


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return write(tmp_path / "src", {"a/x.txt": "new", "y.txt": "changed", "same.txt": "same"})


@pytest.fixture
def dst(tmp_path: Path, src: Path) -> Path:
    root = write(tmp_path / "dst", {"y.txt": "old", "z.txt": "gone", "same.txt": "same"})
    stamp = (src / "same.txt").stat().st_mtime_ns
    os.utime(root / "same.txt", ns=(stamp, stamp))  # identical: rclone leaves it alone
    return root


def test_sync_reports_copied_replaced_and_deleted_files(src: Path, dst: Path) -> None:
    outcome, sink = run({"op": "sync", "source": str(src), "destination": str(dst)})
    assert outcome.ok and outcome.exit_code == 0
    assert sink.changes() == {
        ("a/x.txt", "copied"),
        ("y.txt", "replaced"),
        ("z.txt", "deleted"),
    }
    assert tree(dst) == tree(src)
    # It should count what it did.
    stats = outcome.stats
    assert (stats.files, stats.deletes, stats.bytes, stats.errors) == (2, 1, 10, 0)
    assert stats.checks >= 1
    assert stats.elapsed_s > 0
    # It should have reported progress, ending with scanning over.
    assert sink.snapshots and not sink.snapshots[-1].scanning
    assert "a/x.txt: Copied (new)" in sink.messages()


def test_copy_never_deletes(src: Path, dst: Path) -> None:
    outcome, sink = run({"op": "copy", "source": str(src), "destination": str(dst)})
    assert outcome.ok
    assert sink.changes() == {("a/x.txt", "copied"), ("y.txt", "replaced")}
    assert (dst / "z.txt").read_text() == "gone"


def test_move_empties_the_source(src: Path, dst: Path) -> None:
    outcome, sink = run({"op": "move", "source": str(src), "destination": str(dst)})
    assert outcome.ok
    assert tree(dst) == {"a/x.txt": "new", "y.txt": "changed", "same.txt": "same", "z.txt": "gone"}
    assert not [p for p in src.rglob("*") if p.is_file()]
    # It should report each moved file; "same.txt" was already there, so rclone
    # deletes it from the source instead, and replacing "y.txt" deletes it first.
    assert {("a/x.txt", "moved"), ("y.txt", "moved"), ("same.txt", "deleted")} <= sink.changes()


def test_a_move_into_a_new_directory_moves_the_whole_tree_at_once(
    src: Path, tmp_path: Path
) -> None:
    target = tmp_path / "new-dir"
    outcome, sink = run({"op": "move", "source": str(src), "destination": str(target)})
    assert outcome.ok
    assert tree(target) == {"a/x.txt": "new", "y.txt": "changed", "same.txt": "same"}
    assert sink.changes() == {(".", "moved")}


def test_a_dry_run_previews_and_changes_nothing(src: Path, dst: Path) -> None:
    before = tree(dst)
    outcome, sink = run(
        {"op": "sync", "source": str(src), "destination": str(dst), "options": ["--dry-run"]}
    )
    assert outcome.ok and outcome.dry_run
    assert tree(dst) == before
    # Its report says what a real run would do, never that it was done.
    assert sink.changes() == {
        ("z.txt", "would_delete"),
        ("a/x.txt", "would_copy"),
        ("y.txt", "would_replace"),
    }
    assert (outcome.stats.files, outcome.stats.bytes, outcome.stats.deletes) == (0, 0, 0)


def test_filters_keep_files_out(src: Path, dst: Path) -> None:
    outcome, sink = run({"source": str(src), "destination": str(dst), "filters": ["exclude a/**"]})
    assert outcome.ok
    assert "a/x.txt" not in tree(dst)
    assert ("a/x.txt", "copied") not in sink.changes()


def test_check_reports_each_difference_as_a_failed_file(src: Path, dst: Path) -> None:
    outcome, sink = run({"op": "check", "source": str(src), "destination": str(dst)})
    assert (outcome.ok, outcome.exit_code, outcome.error_class) == (False, 1, "error")
    failed = {c.path for c in sink.files if c.action is FileAction.FAILED}
    assert failed == {"a/x.txt", "y.txt", "z.txt"}
    assert "differences found" in (outcome.error or "")


def test_check_of_identical_trees_succeeds(src: Path, tmp_path: Path) -> None:
    run({"op": "copy", "source": str(src), "destination": str(tmp_path / "copy")})
    outcome, sink = run({"op": "check", "source": str(src), "destination": str(tmp_path / "copy")})
    assert outcome.ok
    assert sink.files == []


def test_bisync_resyncs_first_then_carries_changes_both_ways(tmp_path: Path) -> None:
    one = write(tmp_path / "one", {"a": "1", "b": "2", "c": "3", "d": "4"})
    two = write(tmp_path / "two", {"e": "5"})
    params = {"op": "bisync", "source": str(one), "destination": str(two)}
    outcome, _ = run(params, first_run=True)
    assert outcome.ok
    assert tree(one) == tree(two)
    # It should then carry a new file one way and a deletion the other.
    (one / "new").write_text("n")
    (two / "a").unlink()
    outcome, sink = run(params, first_run=False)
    assert outcome.ok
    assert tree(one) == tree(two) == {
        "b": "2", "c": "3", "d": "4", "e": "5", "new": "n", "RCLONE_TEST": ""
    }  # fmt: skip
    assert {("new", "copied"), ("a", "deleted")} <= sink.changes()


def test_bisync_without_listings_fails_for_good_until_resynced(tmp_path: Path) -> None:
    one, two = write(tmp_path / "one", {"a": "1"}), write(tmp_path / "two", {})
    outcome, _ = run({"op": "bisync", "source": str(one), "destination": str(two)})
    assert (outcome.ok, outcome.exit_code) == (False, 7)
    assert (outcome.error_class, outcome.permanent) == ("needs_resync", True)
    assert str(outcome.error).endswith("then: synchub job resync job")


def test_a_missing_source_is_not_found_and_not_retried(tmp_path: Path) -> None:
    outcome, _ = run({"op": "copy", "source": str(tmp_path / "nope"), "destination": "/tmp/x"})
    assert (outcome.ok, outcome.exit_code) == (False, 3)
    assert (outcome.error_class, outcome.permanent) == ("not_found", True)
    assert outcome.error == (
        f"source not found: {tmp_path / 'nope'} (Failed to copy: directory not found)"
    )


def test_error_on_no_transfer_turns_nothing_to_do_into_a_failure(src: Path, dst: Path) -> None:
    params = {"source": str(src), "destination": str(dst), "options": ["--error-on-no-transfer"]}
    assert run(params)[0].ok
    outcome, _ = run(params)
    assert (outcome.exit_code, outcome.error_class, outcome.permanent) == (9, "no_transfer", True)


def test_max_transfer_stops_the_run_as_a_transfer_limit(tmp_path: Path) -> None:
    src = write(tmp_path / "big", {f"f{i}": "x" * 4096 for i in range(4)})
    params = {
        "source": str(src),
        "destination": str(tmp_path / "out"),
        "options": ["--max-transfer=1K", "--transfers=1"],
    }
    outcome, _ = run(params)
    assert (outcome.exit_code, outcome.error_class, outcome.permanent) == (
        8,
        "transfer_limit",
        True,
    )


def rclone_pids(marker: str) -> list[int]:
    """Pids of live processes whose command line mentions `marker`."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in cmdline and state != "Z":
            pids.append(int(entry))
    return pids


def test_a_stop_kills_rclone_within_the_grace_and_leaves_nothing(tmp_path: Path) -> None:
    src = tmp_path / "slow-src"
    src.mkdir()
    (src / "big.bin").write_bytes(os.urandom(4 * 1024 * 1024))
    params = ENGINE.validate(
        {"source": str(src), "destination": str(tmp_path / "slow-dst"),
         "options": ["--bwlimit=64K"]},
        frozenset(),
    )  # fmt: skip
    ctx = make_ctx(params)
    result: list[Any] = []
    worker = threading.Thread(target=lambda: result.append(ENGINE.run(ctx)))
    worker.start()
    deadline = time.monotonic() + 15
    while not ctx.sink.snapshots and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.02)
    (pid,) = rclone_pids(str(src))
    stopped_at = time.monotonic()
    ctx.stop.set()
    worker.join(timeout=ENGINE.kill_grace + 5)
    assert not worker.is_alive()
    assert time.monotonic() - stopped_at < ENGINE.kill_grace
    (outcome,) = result
    assert (outcome.ok, outcome.error_class) == (False, "stopped")
    assert not group_alive(pid)
    assert rclone_pids(str(src)) == []


def test_the_users_max_duration_ends_the_run_as_a_duration_limit(tmp_path: Path) -> None:
    src = tmp_path / "slow"
    src.mkdir()
    (src / "big.bin").write_bytes(os.urandom(1024 * 1024))
    params = {
        "source": str(src),
        "destination": str(tmp_path / "out"),
        "options": ["--bwlimit=64K", "--max-duration=1s"],
    }
    outcome, _ = run(params)
    assert (outcome.exit_code, outcome.error_class, outcome.permanent) == (
        10, "duration_limit", False,
    )  # fmt: skip


def test_the_users_own_rclone_conf_is_never_read(tmp_path: Path, src: Path) -> None:
    # private_home made tmp_path/home the HOME rclone would look in.
    write(tmp_path / "home" / ".config" / "rclone", {"rclone.conf": "[leak]\ntype = local\n"})
    params = {"op": "copy", "source": f"leak:{src}", "destination": str(tmp_path / "out")}
    ctx = make_ctx(params)  # validate() would refuse the unknown remote: bypass it
    outcome = ENGINE.run(ctx)
    assert not outcome.ok
    assert "didn't find section in config file" in (outcome.error or "")
