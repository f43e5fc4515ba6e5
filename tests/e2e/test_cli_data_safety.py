"""Data safety through the real CLI: the defaults said out loud, a stopped run, one
run let through, a dry run's preview, and bad input refused with exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import Synchub
from tests.integration.engines.helpers import tree, write


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    src = write(tmp_path / "src", {"a.txt": "alpha", "b.txt": "beta"})
    return src, tmp_path / "dst"


def test_job_add_says_what_the_default_op_does(synchub: Synchub, dirs: tuple[Path, Path]) -> None:
    src, dst = dirs
    helped = synchub("job", "add", "--help").stdout
    assert "sync (the default" in " ".join(helped.split())
    added = synchub("job", "add", "backup", "--source", str(src), "--dest", str(dst)).stdout
    assert "files missing from the source are deleted at" in added
    assert "guarded at 50%" in added
    copy = synchub("job", "add", "c", "--source", str(src), "--dest", str(dst), "--op", "copy")
    assert "deleted" not in copy.stdout


@pytest.mark.parametrize(
    ("guard", "said"),
    [
        ("5", "guarded at 5 files: a run that would delete more stops before changing anything"),
        ("1", "guarded at 1 file:"),
        ("off", "with no delete guard (--delete-guard off)"),
    ],
)
def test_job_add_says_the_jobs_own_guard(
    synchub: Synchub, dirs: tuple[Path, Path], guard: str, said: str
) -> None:
    src, dst = dirs
    added = synchub("job", "add", "b", "--source", str(src), "--dest", str(dst),
                    "--delete-guard", guard).stdout  # fmt: skip
    assert f"files missing from the source are deleted at {dst}, {said}" in " ".join(added.split())


def test_a_bisync_job_checks_access_unless_told_not_to(
    synchub: Synchub, dirs: tuple[Path, Path]
) -> None:
    src, dst = dirs
    added = synchub("job", "add", "b", "--source", str(src), "--dest", str(dst), "--op", "bisync")
    assert "access check on: the first run puts RCLONE_TEST at both roots" in " ".join(
        added.stdout.split()
    )
    assert synchub.json("job", "show", "b")["check_access"] is True
    assert "access check on" in synchub("job", "show", "b").stdout
    synchub("job", "edit", "b", "--no-check-access")
    assert synchub.json("job", "show", "b")["check_access"] is False
    assert "access check off" in synchub("job", "show", "b").stdout
    assert "--check-access" in synchub("job", "add", "--help").stdout

    # It should refuse the check on a job that is no bisync, in one line, changing nothing.
    synchub("job", "add", "s", "--source", str(src), "--dest", str(dst))
    proc = synchub("job", "edit", "s", "--check-access", check=False)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "bisync" in proc.stderr
    assert "check_access" not in synchub.json("job", "show", "s")["params"]


def test_a_stopped_run_then_one_run_let_through(synchub: Synchub, dirs: tuple[Path, Path]) -> None:
    src, dst = dirs
    synchub("job", "add", "backup", "--source", str(src), "--dest", str(dst))
    synchub("job", "run", "backup", "--wait")
    for name in ("a.txt", "b.txt"):
        (src / name).unlink()

    proc = synchub("job", "run", "backup", "--wait", check=False)

    assert proc.returncode == 1
    assert "empty source:" in proc.stdout
    assert tree(dst) == {"a.txt": "alpha", "b.txt": "beta"}
    (run, _) = synchub.json("runs", "list")
    shown = synchub("runs", "show", str(run["id"]), "--files").stdout
    assert "stopped before any change" in shown and "would delete" in shown

    synchub("job", "run", "backup", "--wait", "--allow-deletes")
    assert tree(dst) == {}


def test_a_dry_run_previews_readably(synchub: Synchub, dirs: tuple[Path, Path]) -> None:
    src, dst = dirs
    write(dst, {"old.txt": "old"})
    synchub("job", "add", "backup", "--source", str(src), "--dest", str(dst),
            "--delete-guard", "off")  # fmt: skip

    done = synchub("job", "run", "backup", "--dry-run", "--wait").stdout

    assert "nothing changed" in done and "2 to copy" in done and "1 to delete" in done
    assert tree(dst) == {"old.txt": "old"}
    (run,) = synchub.json("runs", "list")
    assert run["dry_run"] is True
    shown = synchub("runs", "show", str(run["id"]), "--files").stdout
    assert "dry run: nothing was changed" in shown
    assert "would copy" in shown and "would delete" in shown and "old.txt" in shown
    assert "(dry run)" in synchub("runs", "list").stdout


def test_only_a_bisync_job_resyncs(synchub: Synchub, dirs: tuple[Path, Path]) -> None:
    src, dst = dirs
    synchub("job", "add", "backup", "--source", str(src), "--dest", str(dst))
    proc = synchub("job", "resync", "backup", check=False)
    assert proc.returncode == 2 and "only bisync jobs resync" in proc.stderr
    assert synchub.json("runs", "list") == []


@pytest.mark.parametrize(
    "args",
    [
        ("--delete-guard", "150%"),
        ("--delete-guard", "-1"),
        ("--delete-guard", "abc"),
        ("--require-marker", "a/b"),
        ("--require-marker", ".."),
    ],
)
def test_bad_safety_input_exits_2_with_one_line_and_changes_nothing(
    synchub: Synchub, dirs: tuple[Path, Path], args: tuple[str, str]
) -> None:
    src, dst = dirs
    proc = synchub("job", "add", "backup", "--source", str(src), "--dest", str(dst), *args,
                   check=False)  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert synchub.json("job", "list") == []
    synchub("job", "add", "backup", "--source", str(src), "--dest", str(dst))
    proc = synchub("job", "edit", "backup", *args, check=False)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert synchub.json("job", "show", "backup")["delete_guard"] == "50%"


def test_a_bisync_through_the_cli_checks_access_and_says_its_stops(
    synchub: Synchub, tmp_path: Path
) -> None:
    synchub.env["HOME"] = str(tmp_path / "user")  # bisync's listings
    one = write(tmp_path / "one", {"a": "1", "b": "2", "c": "3", "d": "4"})
    two = write(tmp_path / "two", {})
    synchub("job", "add", "pair", "--source", str(one), "--dest", str(two), "--op", "bisync")
    synchub("job", "run", "pair", "--wait")
    assert tree(two) == tree(one) and tree(two)["RCLONE_TEST"] == ""

    # It should stop an unmounted-looking side before bisync starts, and go on after.
    (two / "RCLONE_TEST").unlink()
    proc = synchub("job", "run", "pair", "--wait", check=False)
    assert proc.returncode == 1 and "access check:" in proc.stdout
    (two / "RCLONE_TEST").write_text("")

    # It should say bisync's own safety abort as the run's stop, not a failed file.
    for name in ("a", "b", "c"):
        (one / name).unlink()
    proc = synchub("job", "run", "pair", "--wait", check=False)
    assert proc.returncode == 1 and "delete guard: too many deletes" in proc.stdout
    (run, *_) = synchub.json("runs", "list")
    assert "Safety abort" not in synchub("runs", "show", str(run["id"]), "--files").stdout
    synchub("job", "run", "pair", "--wait", "--allow-deletes")
    assert tree(two) == {"d": "4", "RCLONE_TEST": ""}
    assert all(not r["resync"] for r in synchub.json("runs", "list")[:-1])


def test_kept_versions_from_add_to_restore(synchub: Synchub, dirs: tuple[Path, Path]) -> None:
    src, dst = dirs
    synchub("job", "add", "backup", "--source", str(src), "--dest", str(dst),
            "--keep-deleted", "30d")  # fmt: skip
    assert "keeps deleted and overwritten files 30d" in synchub("job", "show", "backup").stdout
    synchub("job", "run", "backup", "--wait")
    (src / "a.txt").write_text("alpha, edited")
    (src / "b.txt").unlink()
    synchub("job", "run", "backup", "--wait")
    (run, _) = synchub.json("runs", "list")
    shown = synchub("runs", "show", str(run["id"]), "--files").stdout
    assert "-> kept at" in shown and f"-run{run['id']}/b.txt" in shown
    kept = {k: v for k, v in tree(dst).items() if k.startswith(".synchub-trash/")}
    assert sorted(kept.values()) == ["alpha", "beta"]

    restored = synchub("runs", "restore", str(run["id"]), "--path", "b.txt").stdout
    assert "restored 1 file(s)" in restored
    assert tree(dst)["b.txt"] == "beta" and tree(dst)["a.txt"] == "alpha, edited"
    done = synchub.json("runs", "restore", str(run["id"]))
    # b.txt is there as kept already: rclone copies what differs.
    assert done["restored"] == ["a.txt"] and done["unchanged"] == ["b.txt"]
    assert tree(dst)["a.txt"] == "alpha"

    synchub("job", "edit", "backup", "--keep-deleted", "off")
    assert "keeps deleted" not in synchub("job", "show", "backup").stdout


@pytest.mark.parametrize("bad", ["0s", "-1d", "abc"])
def test_a_bad_keep_period_exits_2_and_changes_nothing(
    synchub: Synchub, dirs: tuple[Path, Path], bad: str
) -> None:
    src, dst = dirs
    proc = synchub("job", "add", "backup", "--source", str(src), "--dest", str(dst),
                   "--keep-deleted", bad, check=False)  # fmt: skip
    assert proc.returncode == 2 and "keep period" in proc.stderr + proc.stdout
    assert synchub.json("job", "list") == []
    synchub("job", "add", "backup", "--source", str(src), "--dest", str(dst))
    proc = synchub("job", "edit", "backup", f"--keep-deleted={bad}", check=False)
    assert proc.returncode == 2
    assert synchub.json("job", "show", "backup")["keep_deleted"] is None
    proc = synchub("runs", "restore", "999", check=False)
    assert proc.returncode == 3
