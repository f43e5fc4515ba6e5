"""The console when the database does not answer: a page that says so, 503, one
warning line and no traceback — as the API answers."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from synchub.api.app import create_app
from synchub.config import Settings
from synchub.services import Services

#: Nothing listens on port 1: connecting is refused at once.
NOBODY = "postgresql+psycopg://synchub@127.0.0.1:1/synchub"


def test_console_pages_say_the_database_does_not_answer(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    svc = Services(Settings(home=tmp_path, database_url=NOBODY))
    caplog.set_level(logging.WARNING)
    with TestClient(create_app(svc=svc), follow_redirects=False) as client:
        pages = [client.get(path) for path in ("/login", "/", "/jobs")]
        api = client.get("/api/v1/jobs", headers={"Authorization": "Bearer shk_nobody"})
    assert api.status_code == 503
    for page in pages:
        assert page.status_code in (303, 503), page.text[:200]
        if page.status_code == 503:
            assert "The database does not answer" in page.text
    assert pages[0].status_code == 503
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
