"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from synchub.services import Services


@pytest.fixture
def src(tmp_path: Path) -> Path:
    """A source folder, made."""
    path = tmp_path / "src"
    path.mkdir()
    return path


@pytest.fixture
def dst(tmp_path: Path) -> Path:
    """A destination folder, not made: rclone makes it."""
    return tmp_path / "dst"


@pytest.fixture
def csvc(svc: Services) -> Iterator[Services]:
    """Services over the same database that allow command jobs."""
    allowed = Services(
        svc.settings.model_copy(update={"allow_command_jobs": True}),
        clock=svc.clock,
        engines=svc.engines,
        db=svc.db,
        actor="alice",
    )
    yield allowed
    allowed.close()
