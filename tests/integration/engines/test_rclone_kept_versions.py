"""Kept versions: real rclone, to a local folder and to a WebDAV server on loopback.

A job with `keep_deleted` moves what a run deletes or overwrites into
`.synchub-trash/<run start>-run<ID>/` at the destination root; later runs neither
sync, count nor delete that folder; a successful run prunes the folders older than
the period, counted from its own start (synchub's clock), and nothing else.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from synchub.core.errors import InvalidInput, NothingToRestore
from synchub.engines.base import Outcome
from synchub.engines.rclone.restore import KeptFolder, Restorer, kept_folder_of
from tests.integration.engines.helpers import (
    Server,
    make_ctx,
    s3_remote,
    tree,
    webdav_remote,
    write,
)
from tests.integration.engines.test_rclone_safety import ENGINE, Place

START = datetime(2026, 3, 1, 2, 0, 0, tzinfo=UTC)
FOLDER = ".synchub-trash/20260301T020000Z-run7"


@pytest.fixture(params=["local", "webdav", "s3"])
def place(request: pytest.FixtureRequest, tmp_path: Path) -> Place:
    if request.param == "local":
        return Place(str(tmp_path / "dst"), tmp_path / "dst", {})
    if request.param == "s3":  # no server-side move: rclone copies, then deletes
        s3: Server = request.getfixturevalue("s3_server")
        root = s3.root / "bucket" / tmp_path.name
        return Place(f"objects:bucket/{tmp_path.name}", root, {"objects": s3_remote(s3)})
    server: Server = request.getfixturevalue("webdav_server")
    return Place(
        f"dav:{tmp_path.name}", server.root / tmp_path.name, {"dav": webdav_remote(server)}
    )


def run(params: dict[str, Any], place: Place, *, run_id: int = 7,
        started: datetime = START, **flags: Any) -> tuple[Outcome, Any]:  # fmt: skip
    ctx = make_ctx(ENGINE.validate(params, frozenset(place.remotes)), place.remotes)
    ctx = replace(ctx, run_id=run_id, started_at=started, **flags)
    return ENGINE.run(ctx), ctx.sink


def kept(place: Place, src: Path, **extra: Any) -> dict[str, Any]:
    """a, b and old.txt at the destination, synced by a job keeping versions 30 days;
    then at the source b changes and old.txt goes."""
    write(src, {"a.txt": "a", "b.txt": "b one", "sub/old.txt": "old"})
    params = {"source": str(src), "destination": place.location, "keep_deleted": "30d",
              "delete_guard": "off", **extra}  # fmt: skip
    outcome, _ = run(params, place, run_id=6, started=START - timedelta(hours=1))
    assert outcome.ok, outcome.error
    (src / "b.txt").write_text("b two, longer")
    (src / "sub/old.txt").unlink()
    return params


def test_deleted_and_overwritten_files_are_moved_into_the_runs_folder(
    place: Place, src: Path
) -> None:
    params = kept(place, src)
    outcome, sink = run(params, place)
    assert outcome.ok, outcome.error
    # It should leave the destination as a sync does, and keep the old versions.
    assert tree(place.root) == {
        "a.txt": "a",
        "b.txt": "b two, longer",
        f"{FOLDER}/b.txt": "b one",
        f"{FOLDER}/sub/old.txt": "old",
    }
    # It should say where each file went.
    where = f"{place.location}/{FOLDER}"
    rows = {(c.path, c.action.value, c.kept_at) for c in sink.files}
    assert rows == {("b.txt", "replaced", f"{where}/b.txt"),
                    ("sub/old.txt", "deleted", f"{where}/sub/old.txt")}  # fmt: skip


def test_the_trash_is_neither_synced_nor_counted_nor_deleted(place: Place, src: Path) -> None:
    params = kept(place, src, delete_guard="1")
    assert run(params, place)[0].ok
    # A second run: the trash holds 2 files the source lacks; a guard of 1 would stop
    # a sync that counted them.
    outcome, sink = run(params, place, run_id=8, started=START + timedelta(minutes=5))
    assert outcome.ok, outcome.error
    assert sink.changes() == set()
    assert f"{FOLDER}/b.txt" in tree(place.root)
    # A job no longer keeping versions must not delete the ones it kept either.
    off = {k: v for k, v in params.items() if k != "keep_deleted"}
    outcome, sink = run(off, place, run_id=9)
    assert outcome.ok and sink.changes() == set(), outcome.error
    assert f"{FOLDER}/sub/old.txt" in tree(place.root)
    # Nor a copy with the source's own trash folder: it is never sent.
    write(src, {".synchub-trash/x/y.txt": "not mine"})
    copy = {**off, "op": "copy"}
    copy.pop("delete_guard")
    assert run(copy, place, run_id=10)[0].ok
    assert ".synchub-trash/x/y.txt" not in tree(place.root)


def test_a_dry_run_keeps_nothing_and_counts_no_trash(place: Place, src: Path) -> None:
    params = kept(place, src)
    assert run(params, place)[0].ok
    before = tree(place.root)
    (src / "a.txt").unlink()
    outcome, sink = run(params, place, run_id=8, dry_run=True)
    assert outcome.ok and outcome.dry_run, outcome.error
    assert tree(place.root) == before
    assert sink.changes() == {("a.txt", "would_delete")}


def test_a_run_prunes_the_folders_older_than_the_period_and_nothing_else(
    place: Place, src: Path
) -> None:
    params = kept(place, src)
    assert run(params, place)[0].ok
    write(place.root, {".synchub-trash/notes.txt": "mine", ".synchub-trash/photos/p.jpg": "p",
                       ".synchub-trash/20260315T000000Z-run9/x.txt": "newer"})  # fmt: skip
    # 30 days after run 7 started: not older than the period yet.
    outcome, _ = run(params, place, run_id=20, started=START + timedelta(days=30))
    assert outcome.ok and f"{FOLDER}/b.txt" in tree(place.root)
    # A second later it is, and only its folder goes.
    outcome, sink = run(params, place, run_id=21, started=START + timedelta(days=30, seconds=1))
    assert outcome.ok, outcome.error
    assert sorted(tree(place.root)) == [
        ".synchub-trash/20260315T000000Z-run9/x.txt",
        ".synchub-trash/notes.txt",
        ".synchub-trash/photos/p.jpg",
        "a.txt",
        "b.txt",
    ]
    assert any("pruned kept versions" in m and "run7" in m for m in sink.messages())


def test_a_failed_run_prunes_nothing(place: Place, src: Path) -> None:
    params = kept(place, src)
    assert run(params, place)[0].ok
    missing = {**params, "source": str(src / "gone")}
    outcome, _ = run(missing, place, run_id=30, started=START + timedelta(days=90))
    assert not outcome.ok
    assert f"{FOLDER}/b.txt" in tree(place.root)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"keep_deleted": "0s"}, "at least 1h"),
        ({"keep_deleted": "-1d"}, "cannot be negative"),
        ({"keep_deleted": "abc"}, "Bad keep period"),
        ({"keep_deleted": 30}, "Bad keep period"),
        ({"keep_deleted": "30d", "op": "move"}, "not move"),
        ({"keep_deleted": "30d", "op": "bisync"}, "not bisync"),
        ({"keep_deleted": "30d", "op": "check"}, "not check"),
        ({"keep_deleted": "30d", "options": ["--delete-excluded"]}, "--delete-excluded"),
        ({"keep_deleted": "30d", "options": ["--suffix=.bak"]}, "--suffix"),
        # rclone applies --include before synchub's exclusion of the trash
        ({"keep_deleted": "30d", "options": ["--include=*.txt"]}, "--include"),
    ],
)
def test_bad_keep_settings_are_refused(tmp_path: Path, changes: dict[str, Any],
                                       message: str) -> None:  # fmt: skip
    params = {"source": str(tmp_path / "s"), "destination": str(tmp_path / "d"), **changes}
    with pytest.raises(InvalidInput, match=message):
        ENGINE.validate(params, frozenset())


def test_keep_settings_are_normalised_and_off_removes_them(tmp_path: Path) -> None:
    base = {"source": str(tmp_path / "s"), "destination": str(tmp_path / "d")}
    assert ENGINE.validate({**base, "keep_deleted": "720h"}, frozenset())["keep_deleted"] == "30d"
    assert "keep_deleted" not in ENGINE.validate({**base, "keep_deleted": "off"}, frozenset())


def test_a_restore_copies_kept_files_back_and_keeps_what_it_overwrites(
    place: Place, src: Path
) -> None:
    params = kept(place, src)
    _, sink = run(params, place)
    row = next(c for c in sink.files if c.path == "b.txt")
    assert row.kept_at is not None
    restorer = Restorer(kept_folder_of(row.kept_at, row.path), place.remotes,
                        binary=ENGINE.binary)  # fmt: skip
    assert restorer.kept == KeptFolder(f"{place.location}/{FOLDER}", place.location)
    assert sorted(restorer.files()) == ["b.txt", "sub/old.txt"]

    done = restorer.restore(["b.txt"], now=START + timedelta(days=1), restore_id=7)

    assert done.restored == ["b.txt"] and done.errors == []
    aside = ".synchub-trash/20260302T020000Z-restore7"
    assert done.aside == f"{place.location}/{aside}"
    found = tree(place.root)
    assert found["b.txt"] == "b one" and found[f"{aside}/b.txt"] == "b two, longer"
    assert "sub/old.txt" not in found and found[f"{FOLDER}/b.txt"] == "b one"
    # Once the folder is pruned, it should say so.
    assert run(params, place, run_id=40, started=START + timedelta(days=31))[0].ok
    with pytest.raises(NothingToRestore, match="pruned"):
        restorer.files()


@pytest.mark.parametrize(
    ("kept_at", "path", "folder", "root"),
    [
        ("/d/.synchub-trash/X-run1/a/b", "a/b", "/d/.synchub-trash/X-run1", "/d"),
        ("nas:.synchub-trash/X-run1/a", "a", "nas:.synchub-trash/X-run1", "nas:"),
        ("nas:/.synchub-trash/X-run1/a", "a", "nas:/.synchub-trash/X-run1", "nas:/"),
        ("nas:b/.synchub-trash/X-run1/a", "a", "nas:b/.synchub-trash/X-run1", "nas:b"),
    ],
)
def test_a_kept_row_names_its_folder_and_destination_root(
    kept_at: str, path: str, folder: str, root: str
) -> None:
    assert kept_folder_of(kept_at, path) == KeptFolder(folder, root)
