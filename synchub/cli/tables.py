"""How the CLI prints lists: fitted to a terminal for people, whole for scripts.

At a terminal a list is one line per row within the terminal's width: times are
relative ("3 min ago", "in 2 h"), long cells are cut with "…" (paths in the
middle, where the file name survives). Anywhere else (a pipe, a file) each row is
one line of tab-separated cells, none cut, times exact (ISO 8601), no header:
what `grep`, `cut -f` and `while read` expect, as gh does. `--json` has it all.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum

from synchub.core.text import shown

#: Joins a source and its destination in a cell; cut, each keeps its own ends.
ARROW = " → "
#: Spaces between two columns.
GAP = 2
#: Sizes in binary units, as the console writes them.
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def cell_len(text: str) -> int:
    """Columns `text` takes; rich is imported when a table is printed, not at start."""
    from rich.cells import cell_len as columns

    return columns(text)


class Fit(Enum):
    KEEP = "keep"  #: never cut (ids, states, short times)
    END = "end"  #: cut at the end: "Failed to sync: dire…"
    MIDDLE = "middle"  #: cut in the middle: "/very/lo…/file.txt"


@dataclass(frozen=True)
class Column:
    header: str
    fit: Fit = Fit.KEEP
    #: the narrowest a cut column gets (its header is never cut)
    least: int = 8
    #: how much room it keeps, against the other cut columns, when they must be cut
    weight: int = 1


@dataclass(frozen=True)
class Layout:
    """Where a list goes: a terminal `width` columns wide, or not a terminal."""

    terminal: bool
    width: int
    now: datetime

    def when(self, iso: str | None, none: str = "-") -> str:
        """An instant: relative at a terminal, else as given (ISO 8601)."""
        if iso is None:
            return none
        return relative(datetime.fromisoformat(iso), self.now) if self.terminal else iso

    def size(self, n: int | None) -> str:
        """A byte count: in binary units at a terminal, else exact."""
        if n is None:
            return ""
        return human_size(n) if self.terminal else str(n)

    def span(self, seconds: float) -> str:
        """A duration: '4m 12s' at a terminal, else seconds ('252.0s')."""
        return short_span(seconds) if self.terminal else f"{seconds:.1f}s"


def now() -> datetime:
    """Now, for the times a list shows relative to it."""
    return datetime.now(UTC)


def stdout_layout(now: datetime) -> Layout:
    """The layout for standard output now: the terminal's width (COLUMNS when set,
    as rich and typer read it) when it is one."""
    terminal = sys.stdout.isatty()
    return Layout(terminal=terminal, width=shutil.get_terminal_size().columns, now=now)


def age(seconds: float) -> str:
    """A span in its largest unit: '3 d', '6 h', '12 min', '40 s'."""
    seconds = abs(seconds)
    for span, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= span:
            return f"{int(seconds // span)} {unit}"
    return f"{int(seconds)} s"


def relative(at: datetime, now: datetime) -> str:
    """'3 min ago', 'in 2 h' or 'now'."""
    delta = (at - now).total_seconds()
    if abs(delta) < 1:
        return "now"
    return f"in {age(delta)}" if delta > 0 else f"{age(delta)} ago"


def short_span(seconds: float) -> str:
    """252 -> '4m 12s': the two largest units; tenths below ten seconds."""
    if seconds < 10:
        return f"{seconds:.1f}s"
    rest = round(seconds)
    parts: list[str] = []
    for span, unit in ((86400, "d"), (3600, "h"), (60, "m"), (1, "s")):
        count, rest = divmod(rest, span)
        if count or parts:
            parts.append(f"{count}{unit}")
    return " ".join(parts[:2])


def human_size(n: int) -> str:
    """1288490189 -> '1.2 GiB'; below 1 KiB in bytes."""
    value, unit = float(n), 0
    while abs(value) >= 1024 and unit < len(_UNITS) - 1:
        value, unit = value / 1024, unit + 1
    if unit == 0:
        return f"{n} B"
    return f"{value:.1f} {_UNITS[unit]}" if value < 100 else f"{value:.0f} {_UNITS[unit]}"


def cut(text: str, width: int, fit: Fit) -> str:
    """`text` within `width` cells, marked "…" where it was cut."""
    if cell_len(text) <= width or fit is Fit.KEEP:
        return text
    if width <= 1:
        return "…"[:width]
    if fit is Fit.END:
        return _head(text, width - 1) + "…"
    left, arrow, right = text.partition(ARROW)
    if arrow and width >= cell_len(ARROW) + 4:
        # Each side cut on its own, so both ends (which side is which) stay readable.
        room = width - cell_len(ARROW)
        left_room = max(room - cell_len(right), min(cell_len(left), room // 2))
        return cut(left, left_room, fit) + ARROW + cut(right, room - left_room, fit)
    tail_width = (width - 1) // 2
    return _head(text, width - 1 - tail_width) + "…" + _tail(text, tail_width)


def _head(text: str, width: int) -> str:
    while cell_len(text) > width:
        text = text[:-1]
    return text


def _tail(text: str, width: int) -> str:
    while cell_len(text) > width:
        text = text[1:]
    return text


def widths(columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int) -> list[int]:
    """Each column's width: its widest cell, the columns that may be cut narrowed,
    widest first (by weight), until the row fits `width` or each is at its least."""
    natural = [
        max([cell_len(c.header), *(cell_len(row[i]) for row in rows)])
        for i, c in enumerate(columns)
    ]
    floor = [
        natural[i] if c.fit is Fit.KEEP else min(natural[i], max(c.least, cell_len(c.header)))
        for i, c in enumerate(columns)
    ]
    room = width - GAP * (len(columns) - 1)
    if sum(natural) <= room:
        return natural
    # The widest cut column a cap `limit` allows: lower the cap until the row fits.
    limit = max(natural)
    while limit > 0:
        capped = [max(floor[i], min(natural[i], limit * c.weight)) for i, c in enumerate(columns)]
        if sum(capped) <= room:
            return capped
        limit -= 1
    return floor


def lines(columns: Sequence[Column], rows: Sequence[Sequence[str]], layout: Layout) -> list[str]:
    """The list's lines (see the module's docstring); control characters in cells
    come escaped, so data read back cannot steer the terminal nor split a row."""
    safe = [[_one_line(cell) for cell in row] for row in rows]
    if not layout.terminal:
        return ["\t".join(row) for row in safe]
    sizes = widths(columns, safe, layout.width)
    out = []
    for row in [[c.header for c in columns], *safe]:
        cells = [cut(cell, sizes[i], columns[i].fit) for i, cell in enumerate(row)]
        padded = [cell + " " * (sizes[i] - cell_len(cell)) for i, cell in enumerate(cells)]
        out.append((" " * GAP).join(padded).rstrip())
    return out


def _one_line(cell: str) -> str:
    """A cell on one line: a tab or line break in it would split the row."""
    return shown(cell).replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def print_table(columns: Sequence[Column], rows: Sequence[Sequence[str]], layout: Layout) -> None:
    sys.stdout.write("".join(line + "\n" for line in lines(columns, rows, layout)))
