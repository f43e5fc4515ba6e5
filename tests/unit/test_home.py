"""The fast listings find the data directory and the database as Settings does,
without Settings (pydantic-settings): from the same variables and file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from synchub.config import Settings
from synchub.core.home import config_home, data_dir, database_url, db_url


@pytest.mark.parametrize(
    ("env", "toml"),
    [
        ({}, ""),
        ({"SYNCHUB_HOME": "{tmp}/a"}, ""),
        ({"SYNCHUB_HOME": "~/a"}, ""),
        ({"synchub_home": "{tmp}/lower"}, ""),
        ({}, 'home = "{tmp}/from-file"\n'),
        ({}, 'HOME = "~/upper-key"\n'),
        ({"SYNCHUB_HOME": "{tmp}/a"}, 'home = "{tmp}/not-this"\n'),
        ({}, 'DATABASE_URL = "postgres://u@h/db"\n'),
        ({}, 'synchub_database_url = "postgresql://u@h/db"\n'),
        ({"DATABASE_URL": "postgresql://x@y/z"}, 'database_url = "sqlite:////f.db"\n'),
        ({"DATABASE_URL": "postgresql://x@y/z", "SYNCHUB_DATABASE_URL": "sqlite:////s.db"}, ""),
        ({"database_url": "postgresql://lower@y/z"}, ""),
    ],
)
def test_the_data_directory_and_database_are_found_as_settings_finds_them(
    env: dict[str, str], toml: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.upper().startswith(("SYNCHUB_", "DATABASE_URL")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    for name, value in env.items():
        monkeypatch.setenv(name, value.format(tmp=tmp_path))
    config_home().mkdir(parents=True, exist_ok=True)
    (config_home() / "synchub.toml").write_text(toml.format(tmp=tmp_path))
    settings = Settings()
    assert data_dir() == settings.home
    assert database_url() == settings.database_url
    assert db_url(data_dir(), database_url()) == settings.db_url
