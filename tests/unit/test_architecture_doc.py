"""docs/architecture.md says what the code does: its state table is `NEXT`, and every
file its "where is" table names exists."""

from __future__ import annotations

import re
from pathlib import Path

from synchub.core.runs import NEXT, TERMINAL, RunState

PAGE = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"


def _section(title: str) -> str:
    text = PAGE.read_text(encoding="utf-8")
    return text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_the_state_table_lists_exactly_the_arrows_of_next() -> None:
    rows = re.findall(r"^\| `(\w+)` \| (.+) \|$", _section("A run's states"), re.M)
    table = {
        RunState(a): frozenset(RunState(b) for b in re.findall(r"`(\w+)`", to)) for a, to in rows
    }
    assert table == {state: targets for state, targets in NEXT.items() if targets}


def test_the_states_it_calls_terminal_are_terminal() -> None:
    said = _section("A run's states").split("are\nterminal")[0].rsplit("\n\n", 1)[1]
    assert {RunState(s) for s in re.findall(r"`(\w+)`", said)} == TERMINAL


def test_every_file_the_where_is_table_names_exists() -> None:
    paths = re.findall(r"`(synchub/[\w/]+\.py)`", _section("Where is …"))
    assert len(paths) > 15
    root = PAGE.parents[1]
    assert [p for p in paths if not (root / p).is_file()] == []
