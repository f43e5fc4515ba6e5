"""Browsing directories under the browse roots: directories only, sorted, any name,
and never a way out — not by `..`, not by a symlink, not by a symlink swapped in."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from synchub.core.errors import (
    DirectoryNotFound,
    DirectoryUnreadable,
    InvalidPath,
    OutsideBrowseRoots,
)
from synchub.services import browse
from synchub.services.browse import DirEntry, inside_roots, list_directories, resolve_directory


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """home/ with directories b, A, .hidden and c (a symlink to b), a file, a broken
    symlink, and a symlink leading out to outside/; outside/ next to home/."""
    home = tmp_path / "home"
    for name in ("b", "A", ".hidden", "b/deep"):
        (home / name).mkdir(parents=True)
    (home / "notes.txt").write_text("not a directory")
    (home / "c").symlink_to(home / "b")
    (home / "broken").symlink_to(home / "nowhere")
    outside = tmp_path / "outside"
    (outside / "secret").mkdir(parents=True)
    (home / "escape").symlink_to(outside)
    return home


def names(listing: browse.Listing) -> list[str]:
    return [e.name for e in listing.entries]


def test_it_lists_directories_only_sorted_by_name_hidden_ones_included(tree: Path) -> None:
    listing = list_directories([tree], str(tree))
    # It should keep the symlink to a directory inside the root, and leave out the
    # file, the broken symlink and the symlink leading outside.
    assert names(listing) == [".hidden", "A", "b", "c"]
    assert listing.entries[2] == DirEntry("b", str(tree / "b"))
    assert listing.truncated is False
    assert names(list_directories([tree], str(tree / "c"))) == ["deep"]  # through the link


def test_slash_lists_the_roots_that_exist(tree: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    roots = [tree, other, tmp_path / "missing"]
    listing = list_directories(roots, "/")
    assert listing.entries == [DirEntry(str(tree), str(tree)), DirEntry(str(other), str(other))]
    assert list_directories(roots, "") == listing  # no path at all: the same
    # It should give as each root's path what lists it next.
    assert names(list_directories(roots, listing.entries[0].path)) == [".hidden", "A", "b", "c"]


def test_slash_lists_the_file_system_top_when_slash_is_a_root() -> None:
    listing = list_directories([Path("/")], "/")
    assert "tmp" in names(listing) and "proc" in names(listing)
    assert DirEntry("tmp", "/tmp") in listing.entries


@pytest.mark.parametrize(
    "relative",
    [
        "..",  # the root's parent
        "../outside",
        "b/../../outside/secret",
        "escape",  # a symlink leading out
        "escape/secret",
        "c/../../outside",  # `..` after a symlink goes up from its target
    ],
)
def test_nothing_outside_the_roots_is_listed(tree: Path, relative: str) -> None:
    with pytest.raises(OutsideBrowseRoots, match="outside the directories"):
        list_directories([tree], f"{tree}/{relative}")
    # It should refuse a watched folder there by the same rule.
    with pytest.raises(OutsideBrowseRoots, match="outside the directories"):
        resolve_directory([tree], f"{tree}/{relative}")
    assert not inside_roots([tree], f"{tree}/{relative}")


def test_a_directory_inside_the_roots_resolves_to_its_real_path(tree: Path) -> None:
    assert resolve_directory([tree], str(tree)) == str(tree)
    assert resolve_directory([tree], f"{tree}/c") == str(tree / "b")  # a symlink inside
    assert resolve_directory([tree], f"{tree}/b/deep/..") == str(tree / "b")
    with pytest.raises(DirectoryNotFound):
        resolve_directory([tree], f"{tree}/notes.txt")
    with pytest.raises(InvalidPath, match="absolute"):
        resolve_directory([tree], "b")
    with pytest.raises(OutsideBrowseRoots, match=r"No browse roots are set.*restarts synchub"):
        resolve_directory([], str(tree))
    # It should tell a folder gone since it was watched as inside, without opening it.
    assert inside_roots([tree], f"{tree}/gone/deeper")


def test_a_sibling_whose_name_starts_like_a_root_is_outside(tree: Path) -> None:
    sibling = tree.parent / (tree.name + "-evil")
    sibling.mkdir()
    with pytest.raises(OutsideBrowseRoots):
        list_directories([tree], str(sibling))


def test_a_root_that_is_a_symlink_is_followed_once(tree: Path, tmp_path: Path) -> None:
    link = tmp_path / "home-link"
    link.symlink_to(tree)
    assert names(list_directories([link], str(link))) == [".hidden", "A", "b", "c"]
    assert names(list_directories([link], str(tree / "b"))) == ["deep"]


def test_bad_missing_and_unreadable_paths_say_what_is_wrong(tree: Path) -> None:
    with pytest.raises(InvalidPath, match="absolute"):
        list_directories([tree], "home/b")
    with pytest.raises(InvalidPath, match="NUL"):
        list_directories([tree], f"{tree}/b\0")
    with pytest.raises(DirectoryNotFound, match="No directory"):
        list_directories([tree], str(tree / "gone"))
    with pytest.raises(DirectoryNotFound, match="not a directory"):
        list_directories([tree], str(tree / "notes.txt"))
    with pytest.raises(DirectoryNotFound):
        list_directories([tree], str(tree / "broken"))
    with pytest.raises(OutsideBrowseRoots, match=r"No browse roots are set.*SYNCHUB_BROWSE_ROOTS="):
        list_directories([], "/")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every directory")
def test_an_unreadable_directory_is_refused(tree: Path) -> None:
    locked = tree / "locked"
    locked.mkdir(mode=0o000)
    try:
        with pytest.raises(DirectoryUnreadable):
            list_directories([tree], str(locked))
        assert "locked" in names(list_directories([tree], str(tree)))
    finally:
        locked.chmod(0o700)


def test_long_and_unicode_names_are_listed_and_non_utf8_ones_skipped(tree: Path) -> None:
    long_name = "é" * 127  # 254 bytes: near the 255-byte limit of a name
    unicode = ["日本語のフォルダ", "emoji 📁 folder", "ñandú", "with\nnewline"]
    for name in [long_name, *unicode]:
        (tree / "A" / name).mkdir()
    os.mkdir(os.fsencode(tree / "A") + b"/latin1-\xe9t\xe9")  # not UTF-8
    listing = list_directories([tree], str(tree / "A"))
    assert sorted(names(listing)) == sorted([long_name, *unicode])
    # It should list what is under a long name, by the path it gave.
    (tree / "A" / long_name / "inner").mkdir()
    entry = next(e for e in listing.entries if e.name == long_name)
    assert names(list_directories([tree], entry.path)) == ["inner"]


def test_a_deep_path_of_thousands_of_characters_is_listed(tree: Path) -> None:
    deep = tree / "A"
    for i in range(12):  # 12 levels of 200 characters: beyond 2,400 characters
        deep = deep / (f"{i:02d}" + "x" * 198)
    deep.mkdir(parents=True)
    (deep / "bottom").mkdir()
    assert len(str(deep)) > 2400
    assert names(list_directories([tree], str(deep))) == ["bottom"]
    # Beyond what the system takes in one path: a clear error, not a crash.
    with pytest.raises((InvalidPath, DirectoryNotFound)):
        list_directories([tree], str(tree) + "/x" * 3000)


def test_a_directory_swapped_for_a_symlink_after_the_check_is_refused(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The race: the path is resolved and checked, then replaced by a symlink
    # leading out before it is opened. The opened directory is checked again.
    real_open = os.open

    def swapping_open(path: str, flags: int, *args: int) -> int:
        target = tree / "b"
        if path == str(target) and target.is_dir() and not target.is_symlink():
            (target / "deep").rmdir()
            target.rmdir()
            target.symlink_to(tree.parent / "outside")
        return real_open(path, flags, *args)

    monkeypatch.setattr(browse.os, "open", swapping_open)
    with pytest.raises(OutsideBrowseRoots):
        list_directories([tree], str(tree / "b"))


def test_a_folder_swapped_for_a_symlink_before_it_is_watched_is_refused(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = os.open

    def swapping_open(path: str, flags: int, *args: int) -> int:
        target = tree / "A"
        if path == str(target) and not target.is_symlink():
            target.rmdir()
            target.symlink_to(tree.parent / "outside")
        return real_open(path, flags, *args)

    monkeypatch.setattr(browse.os, "open", swapping_open)
    with pytest.raises(OutsideBrowseRoots):
        resolve_directory([tree], str(tree / "A"))


def test_a_huge_directory_is_cut_to_the_limit(tree: Path) -> None:
    for i in range(5):
        (tree / "A" / f"d{i}").mkdir()
    listing = list_directories([tree], str(tree / "A"), limit=3)
    assert names(listing) == ["d0", "d1", "d2"] and listing.truncated is True
