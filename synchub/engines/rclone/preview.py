"""Counting a guarded sync's preview: its --combined listing, read line by line from
a file (never all in memory)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from synchub.engines.rclone.params import TEMPORARY


@dataclass
class Counts:
    """What the preview found, in files (not folders)."""

    source: int = 0  #: files at the source
    destination: int = 0  #: files at the destination
    deletes: int = 0  #: files the sync would delete
    replaces: int = 0  #: files the sync would overwrite
    touched: int = 0  #: paths the second pass must touch
    #: rclone's own temporary files a killed transfer left at the destination
    #: (`name.1a2b3c4d.partial`): the sync removes them, the guard does not count them.
    leftovers: int = 0


def count_preview(combined: Path, touched: Path, touch: Path) -> Counts:
    """Count the preview's lines, and write the paths the second pass must touch."""
    counts = Counts()
    with touch.open("w", encoding="utf-8", errors="surrogateescape") as out:
        for sign, path in lines_of(combined):
            if sign == "-" and TEMPORARY.search(path):
                counts.leftovers += 1
                counts.touched += 1
                out.write(path + "\n")
                continue
            if sign in "=*+":
                counts.source += 1
            if sign in "=*-":
                counts.destination += 1
            if sign in "*+-":
                counts.deletes += sign == "-"
                counts.replaces += sign == "*"
                counts.touched += 1
                out.write(path + "\n")
        for _, path in lines_of(touched, signed=False):
            counts.touched += 1
            out.write(path + "\n")
    return counts


def lines_of(path: Path, *, signed: bool = True) -> Iterator[tuple[str, str]]:
    """(sign, path) for each line of a --combined file (or ("", path) of a plain list),
    one at a time."""
    if not path.exists():
        return
    with path.open(encoding="utf-8", errors="surrogateescape", newline="\n") as lines:
        for line in lines:
            line = line.removesuffix("\n")
            if not signed:
                yield "", line
            elif len(line) > 2 and line[1] == " ":
                yield line[0], line[2:]
