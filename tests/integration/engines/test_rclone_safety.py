"""No run wipes a destination by mistake: real rclone, to a local folder and to a
WebDAV server on loopback.

Each stop is checked the same way: the destination is read byte for byte before
and after, and must not have changed; nothing was transferred either.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from synchub.engines.base import Outcome, RemoteConfig
from synchub.engines.rclone.engine import RcloneEngine
from tests.integration.engines.helpers import Server, make_ctx, tree, webdav_remote, write

ENGINE = RcloneEngine(kill_grace=5.0)
TEN = {f"f{i}.txt": f"file {i}" for i in range(10)}


@dataclass
class Place:
    """A destination: where rclone writes it, and where the test reads it."""

    location: str
    root: Path
    remotes: dict[str, RemoteConfig]


@pytest.fixture(params=["local", "webdav"])
def place(request: pytest.FixtureRequest, tmp_path: Path) -> Place:
    if request.param == "local":
        return Place(str(tmp_path / "dst"), tmp_path / "dst", {})
    server: Server = request.getfixturevalue("webdav_server")
    remote = webdav_remote(server)
    return Place(f"dav:{tmp_path.name}", server.root / tmp_path.name, {"dav": remote})


def run(params: dict[str, Any], place: Place, **flags: bool) -> tuple[Outcome, Any]:
    ctx = make_ctx(ENGINE.validate(params, frozenset(place.remotes)), place.remotes)
    ctx = replace(ctx, **flags)
    return ENGINE.run(ctx), ctx.sink


def filled(place: Place, src: Path, keep: int) -> dict[str, Any]:
    """TEN at the destination (by a first, unguarded sync), `keep` of them still at
    the source, and one new file there; the job's params."""
    write(src, TEN)
    params = {"source": str(src), "destination": place.location}
    outcome, _ = run(params, place)
    assert outcome.ok, outcome.error
    for name in sorted(TEN)[keep:]:
        (src / name).unlink()
    (src / "new.txt").write_text("new")
    return params


def stopped_unchanged(
    place: Place, go: Callable[[], tuple[Outcome, Any]], prefix: str
) -> tuple[Outcome, Any]:
    before = tree(place.root)
    outcome, sink = go()
    assert not outcome.ok and outcome.permanent, outcome
    assert outcome.error is not None and outcome.error.startswith(prefix), outcome.error
    assert tree(place.root) == before
    assert outcome.stats.files == 0 and outcome.stats.deletes == 0
    return outcome, sink


def test_a_sync_over_the_guard_changes_nothing_and_lists_what_it_would_delete(
    place: Place, src: Path
) -> None:
    params = filled(place, src, keep=2)
    outcome, sink = stopped_unchanged(place, lambda: run(params, place), "delete guard:")
    # It should say how many of how many, and how to proceed.
    assert "would delete 8 of the 10 files" in str(outcome.error)
    assert "synchub job run job --allow-deletes" in str(outcome.error)
    assert sink.changes() == {(name, "would_delete") for name in sorted(TEN)[2:]}
    assert "new.txt" not in tree(place.root)


def test_a_sync_within_the_guard_deletes_and_copies(place: Place, src: Path) -> None:
    params = filled(place, src, keep=5)  # 5 of 10: 50% is not more than 50%
    outcome, sink = run(params, place)
    assert outcome.ok, outcome.error
    assert tree(place.root) == {**{n: TEN[n] for n in sorted(TEN)[:5]}, "new.txt": "new"}
    assert sink.changes() == {("new.txt", "copied")} | {(n, "deleted") for n in sorted(TEN)[5:]}
    assert outcome.stats.deletes == 5 and outcome.stats.files == 1


@pytest.mark.parametrize(
    ("guard", "keep", "passes"),
    [
        ("3", 7, True),  # 3 deletes: not more than 3
        ("3", 6, False),  # 4 deletes
        ("80%", 2, True),  # 8 of 10
        ("70%", 2, False),
        ("0", 10, True),  # nothing to delete, a count of 0 passes
        ("off", 1, True),
    ],
)
def test_the_guard_counts_a_share_or_files(
    place: Place, src: Path, guard: str, keep: int, passes: bool
) -> None:
    params = {**filled(place, src, keep=keep), "delete_guard": guard}
    if not passes:
        stopped_unchanged(place, lambda: run(params, place), "delete guard:")
        return
    outcome, _ = run(params, place)
    assert outcome.ok, outcome.error
    assert set(tree(place.root)) == set(sorted(TEN)[:keep]) | {"new.txt"}


def test_leftovers_of_a_killed_transfer_are_not_counted_and_are_cleared(
    tmp_path: Path, src: Path
) -> None:
    """A server killed mid-copy leaves rclone's `name.1a2b3c4d.partial` behind; the
    retry stopped on it (1 delete of 1 file) until leftovers were set apart."""
    dst = tmp_path / "dst"
    write(src, {"big.bin": "big", "small.txt": "small"})
    write(dst, {"small.txt": "small", "big.bin.9767cc5e.partial": "half"})
    (dst / "notes.9767cc5e.txt").write_text("a user's file that only looks like one")
    params: dict[str, Any] = {"source": str(src), "destination": str(dst), "delete_guard": "0"}
    place = Place(str(dst), dst, {})
    stopped_unchanged(place, lambda: run(params, place), "delete guard: this run would delete 1 of")
    (dst / "notes.9767cc5e.txt").unlink()
    outcome, _ = run(params, place)
    assert outcome.ok, outcome.error
    assert tree(dst) == {"big.bin": "big", "small.txt": "small"}


def test_allow_deletes_lets_one_run_past_the_guard(place: Place, src: Path) -> None:
    params = filled(place, src, keep=1)
    outcome, sink = run(params, place, allow_deletes=True)
    assert outcome.ok, outcome.error
    assert set(tree(place.root)) == {"f0.txt", "new.txt"}
    assert any("deletes allowed for this run" in m for m in sink.messages())


@pytest.mark.parametrize("guard", ["50%", "off"])
def test_an_empty_source_stops_whatever_the_guard_says(place: Place, src: Path, guard: str) -> None:
    params = {**filled(place, src, keep=0), "delete_guard": guard}
    (src / "new.txt").unlink()  # the drive is empty: unmounted, say
    outcome, sink = stopped_unchanged(place, lambda: run(params, place), "empty source:")
    assert "holds 10" in str(outcome.error)
    assert len(sink.changes()) == 10

    # It should empty the destination when the operator says so, once.
    outcome, _ = run(params, place, allow_deletes=True)
    assert outcome.ok, outcome.error
    assert tree(place.root) == {}


@pytest.mark.parametrize("guard", ["50%", "off"])
def test_a_missing_source_stops_whatever_the_guard_says(
    place: Place, tmp_path: Path, src: Path, guard: str
) -> None:
    params = {**filled(place, src, keep=10), "delete_guard": guard}
    params["source"] = str(tmp_path / "unplugged")
    stopped_unchanged(place, lambda: run(params, place), "source missing:")


@pytest.mark.parametrize("op", ["sync", "copy"])
def test_a_missing_marker_stops_any_op_before_it_starts(place: Place, src: Path, op: str) -> None:
    params = {**filled(place, src, keep=10), "op": op, "require_marker": ".mounted"}
    outcome, _ = stopped_unchanged(place, lambda: run(params, place), "marker missing:")
    assert ".mounted" in str(outcome.error)

    (src / ".mounted").write_text("")
    outcome, _ = run(params, place)
    assert outcome.ok, outcome.error
    assert "new.txt" in tree(place.root)


def test_a_marker_on_a_remote_source_is_looked_for_there(place: Place, src: Path) -> None:
    params = filled(place, src, keep=10)
    back = {"source": place.location, "destination": str(src), "require_marker": "f1.txt"}
    outcome, _ = run(back, place)
    assert outcome.ok, outcome.error
    back["require_marker"] = "nothing-here"
    outcome, _ = run(back, place)
    assert not outcome.ok and str(outcome.error).startswith("marker missing:")
    assert params  # the destination was filled for the look


def test_a_dry_run_previews_and_changes_nothing(place: Place, src: Path) -> None:
    params = filled(place, src, keep=7)
    (src / "f0.txt").write_text("changed")
    before = tree(place.root)
    outcome, sink = run(params, place, dry_run=True)
    assert outcome.ok and outcome.dry_run, outcome.error
    assert tree(place.root) == before
    assert sink.changes() == {("new.txt", "would_copy"), ("f0.txt", "would_replace")} | {
        (n, "would_delete") for n in sorted(TEN)[7:]
    }
    s = outcome.stats
    assert (s.files, s.bytes, s.deletes, s.renames) == (0, 0, 0, 0)
    assert not any("a real run would stop" in m for m in sink.messages())


def test_a_dry_run_says_when_a_real_run_would_be_stopped(place: Place, src: Path) -> None:
    params = filled(place, src, keep=1)
    outcome, sink = run(params, place, dry_run=True)
    assert outcome.ok and outcome.dry_run
    (warning,) = [m for m in sink.messages() if "a real run would stop" in m]
    assert "9 of the 10 files" in warning


def test_a_file_back_at_the_source_while_the_run_decides_is_not_deleted(
    tmp_path: Path, src: Path
) -> None:
    """The second pass touches the paths the preview named, as they are then: a file
    the preview saw only at the destination, put back at the source meanwhile, is
    copied, not deleted; a file new meanwhile waits for the next run."""
    place = Place(str(tmp_path / "dst"), tmp_path / "dst", {})
    params = filled(place, src, keep=9)
    ctx = make_ctx(ENGINE.validate(params, frozenset()))
    real = ENGINE._execute

    def execute_after_a_change(argv: list[str], *args: Any) -> Outcome:
        (src / "f9.txt").write_text("back again")
        (src / "later.txt").write_text("later")
        return real(argv, *args)

    ENGINE._execute = execute_after_a_change  # type: ignore[method-assign]
    try:
        outcome = ENGINE.run(ctx)
    finally:
        del ENGINE._execute
    assert outcome.ok, outcome.error
    assert tree(place.root) == {**TEN, "f9.txt": "back again", "new.txt": "new"}
    assert outcome.stats.deletes == 0


@pytest.fixture
def private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # bisync keeps its listings under ~/.cache: keep them inside the test.
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)


@pytest.mark.usefixtures("private_home")
@pytest.mark.parametrize(("guard", "stops"), [("50%", True), ("80%", False), ("off", False)])
def test_a_bisync_over_its_guard_changes_nothing(tmp_path: Path, guard: str, stops: bool) -> None:
    one = write(tmp_path / "one", {"a": "1", "b": "2", "c": "3", "d": "4"})
    two = write(tmp_path / "two", {})
    params = ENGINE.validate(
        {
            "op": "bisync",
            "source": str(one),
            "destination": str(two),
            "delete_guard": guard,
            "check_access": False,
        },
        frozenset(),
    )
    assert ENGINE.run(make_ctx(params, first_run=True)).ok
    for name in ("a", "b", "c"):
        (one / name).unlink()
    before = tree(two)

    outcome = ENGINE.run(make_ctx(params))

    if stops:
        assert not outcome.ok and outcome.permanent
        assert str(outcome.error).startswith("delete guard:") and "3 of 4" in str(outcome.error)
        assert tree(two) == before
        # It should let one run through (bisync's --force; no resync needed).
        outcome = ENGINE.run(replace(make_ctx(params), allow_deletes=True))
        assert outcome.ok, outcome.error
        assert tree(two) == {"d": "4"}
    else:
        assert outcome.ok, outcome.error
        assert tree(two) == {"d": "4"}


@pytest.mark.usefixtures("private_home")
def test_an_emptied_bisync_source_is_called_an_empty_source(tmp_path: Path) -> None:
    one = write(tmp_path / "one", {"a": "1"})
    two = write(tmp_path / "two", {})
    params = ENGINE.validate({"op": "bisync", "source": str(one), "destination": str(two)},
                             frozenset())  # fmt: skip
    assert ENGINE.run(make_ctx(params, first_run=True)).ok
    (one / "a").unlink()
    outcome = ENGINE.run(make_ctx(params))
    assert not outcome.ok and str(outcome.error).startswith("empty source:")
    assert "synchub job resync job" in str(outcome.error)
    assert tree(two) == {"a": "1", "RCLONE_TEST": ""}


def run_changing_the_source_first(
    params: dict[str, Any], place: Place, change: Callable[[], None]
) -> tuple[Outcome, Any]:
    """Run `params`; `change` happens after the preview decided, before the second pass."""
    ctx = make_ctx(ENGINE.validate(params, frozenset(place.remotes)), place.remotes)
    real = ENGINE._execute

    def execute_after_a_change(argv: list[str], *args: Any) -> Outcome:
        change()
        return real(argv, *args)

    ENGINE._execute = execute_after_a_change  # type: ignore[method-assign]
    try:
        return ENGINE.run(ctx), ctx.sink
    finally:
        del ENGINE._execute


def test_a_file_gone_from_the_source_while_the_run_decides_is_not_deleted(
    place: Place, src: Path
) -> None:
    """Few paths change: the second pass touches only the paths the preview named, so
    a file removed from the source meanwhile stays at the destination until a run
    that decides to delete it."""
    params = filled(place, src, keep=9)  # f9 to delete, new.txt to copy
    outcome, sink = run_changing_the_source_first(params, place, (src / "f0.txt").unlink)
    assert outcome.ok, outcome.error
    assert tree(place.root) == {**{n: TEN[n] for n in sorted(TEN)[:9]}, "new.txt": "new"}
    assert outcome.stats.deletes == 1 and sink.changes() >= {("f9.txt", "deleted")}
    assert ("f0.txt", "deleted") not in sink.changes()


def test_a_run_relisting_everything_never_deletes_more_than_it_decided(
    place: Place, src: Path
) -> None:
    """Most paths change: the second pass lists both sides again, with rclone's
    --max-delete at the deletes decided, so a file removed meanwhile can never make it
    delete more."""
    params = filled(place, src, keep=9)
    for i in range(20):  # most of the listing is new: the second pass relists
        (src / f"n{i}.txt").write_text("n")
    before = set(tree(place.root))

    def remove_two() -> None:
        for name in ("f0.txt", "f1.txt"):
            (src / name).unlink()

    outcome, sink = run_changing_the_source_first(params, place, remove_two)
    deleted = before - set(tree(place.root))
    assert len(deleted) <= 1 and outcome.stats.deletes <= 1, (deleted, outcome)
    assert len([c for c in sink.changes() if c[1] == "deleted"]) <= 1
    if not outcome.ok:  # It should say why, and let a retry decide again.
        assert str(outcome.error).startswith("source changed:") and not outcome.permanent


PREVIEW = "listing both sides to decide what this run may change"
ONE_PASS = "the destination is empty: nothing to delete, one pass"


@pytest.mark.parametrize("there", [True, False])
def test_a_sync_into_an_empty_local_destination_skips_the_preview(
    tmp_path: Path, src: Path, there: bool
) -> None:
    """Nothing can be deleted in an empty folder: one rclone pass, no preview."""
    dst = tmp_path / "dst"
    if there:
        dst.mkdir()
    write(src, TEN)
    outcome, sink = run({"source": str(src), "destination": str(dst)}, Place(str(dst), dst, {}))
    assert outcome.ok, outcome.error
    assert tree(dst) == TEN and outcome.stats.files == 10
    assert ONE_PASS in sink.messages() and PREVIEW not in sink.messages()


def test_a_non_empty_or_remote_destination_is_previewed(place: Place, src: Path) -> None:
    params = filled(place, src, keep=10)
    _, sink = run(params, place)
    assert PREVIEW in sink.messages() and ONE_PASS not in sink.messages()
    empty_remote = Place(f"{place.location}-new", place.root.with_name(place.root.name + "-new"),
                         place.remotes)  # fmt: skip
    if place.remotes:  # a remote is never taken as empty without a listing
        _, sink = run({**params, "destination": empty_remote.location}, empty_remote)
        assert PREVIEW in sink.messages()


def test_a_file_put_in_an_empty_destination_before_the_sync_is_not_deleted(
    tmp_path: Path, src: Path
) -> None:
    """The destination was empty when looked at; a file put there before rclone lists
    it is not in the source: --max-delete=0 keeps it, and the run says why."""
    dst = tmp_path / "dst"
    write(src, TEN)
    outcome, _ = run_changing_the_source_first(
        {"source": str(src), "destination": str(dst)},
        Place(str(dst), dst, {}),
        lambda: write(dst, {"precious.txt": "mine"}),
    )
    assert tree(dst).get("precious.txt") == "mine"
    assert outcome.stats.deletes == 0
    assert not outcome.ok and str(outcome.error).startswith("source changed:"), outcome


def test_a_missing_source_into_an_empty_destination_is_said(tmp_path: Path) -> None:
    dst = tmp_path / "dst"
    dst.mkdir()
    params = {"source": str(tmp_path / "unplugged"), "destination": str(dst)}
    stopped_unchanged(Place(str(dst), dst, {}), lambda: run(params, Place(str(dst), dst, {})),
                      "source missing:")  # fmt: skip


def test_an_empty_source_into_an_empty_destination_is_fine(tmp_path: Path, src: Path) -> None:
    dst = tmp_path / "dst"
    dst.mkdir()
    src.mkdir(exist_ok=True)
    outcome, _ = run({"source": str(src), "destination": str(dst)}, Place(str(dst), dst, {}))
    assert outcome.ok, outcome.error
    assert tree(dst) == {}
