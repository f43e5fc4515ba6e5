"""Fixtures for engine unit tests."""

from __future__ import annotations

import pytest

from tests.unit.engines.fakes import RecordingSink


@pytest.fixture
def sink() -> RecordingSink:
    """A sink that records what an engine reports, for the test to read."""
    return RecordingSink()
