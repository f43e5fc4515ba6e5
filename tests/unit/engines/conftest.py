"""Fixtures for engine unit tests."""

from __future__ import annotations

import pytest

from tests.unit.engines.fakes import RecordingSink


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()
