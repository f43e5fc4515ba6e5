"""Plug-in job kinds through the `synchub.kinds` entry point."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from synchub.engines.registry import all_engines, plugin_engines
from tests.support.kinds import ScriptedKind
from tests.support.plugin import write_plugin


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "site"
    sys.path.insert(0, str(path))
    yield path
    sys.path.remove(str(path))


def test_an_installed_package_registers_a_job_kind(site: Path) -> None:
    write_plugin(site, "team_kinds", "tests.support.kinds:ScriptedKind", "scripted")
    engines = all_engines()
    assert isinstance(engines["scripted"], ScriptedKind)
    assert {"rclone", "command"} <= set(engines)


def test_a_plugin_cannot_take_a_builtin_kind_or_break_start_up(site: Path) -> None:
    write_plugin(site, "bad_one", "tests.support.nowhere:Kind", "broken")
    write_plugin(site, "greedy", "tests.support.kinds:ScriptedKind", "x")
    found = plugin_engines(frozenset({"scripted"}))
    assert "broken" not in found
    assert "scripted" not in found  # its object says kind "scripted", which is taken
