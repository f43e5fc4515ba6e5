"""synchub.toml: a key that sets nothing is refused by name; `config show` says every
setting's effective value and where it comes from."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from synchub.config import Settings


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.upper().startswith(("SYNCHUB_", "DATABASE_URL", "CELERY_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SYNCHUB_HOME", str(tmp_path))
    return tmp_path


@pytest.mark.parametrize(
    ("toml", "says"),
    [
        ("wokers = 3\n", "unknown setting 'wokers' (did you mean 'workers'?)"),
        ("SYNCHUB_WORKERS = 3\n", "unknown setting 'SYNCHUB_WORKERS' (did you mean 'workers'?)"),
        ("colour = 'red'\n", "unknown setting 'colour';"),
        ("[server]\nport = 1\n", "unknown section [server];"),
        (
            "[queue_limit]\nslow = 1\n",
            "unknown section [queue_limit] (did you mean 'queue_limits'?)",
        ),
    ],
)
def test_a_key_that_sets_nothing_is_refused_by_name(home: Path, toml: str, says: str) -> None:
    (home / "synchub.toml").write_text(toml)
    with pytest.raises(ValueError, match="unknown") as refused:
        Settings()
    message = str(refused.value).splitlines()[0]
    assert message.startswith(f"{home / 'synchub.toml'}: ")
    assert says in message


def test_every_key_that_sets_something_is_read(home: Path) -> None:
    (home / "synchub.toml").write_text(
        'WORKERS = 7\nDATABASE_URL = "sqlite:////srv/x.db"\n[queue_limits]\nslow = 1\n'
    )
    settings = Settings()
    assert (settings.workers, settings.db_url, settings.queue_limits) == (
        7,
        "sqlite:////srv/x.db",
        {"slow": 1},
    )


def test_a_program_setting_in_the_file_is_refused_in_any_case(home: Path) -> None:
    # Keys are read in any case: this one enabled command jobs from the data directory.
    (home / "synchub.toml").write_text("ALLOW_COMMAND_JOBS = true\n")
    with pytest.raises(ValueError, match="sets allow_command_jobs: set it in the environment"):
        Settings()


def test_config_show_tells_each_value_and_its_source(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (home / "synchub.toml").write_text("workers = 7\nport = 9000\n")
    monkeypatch.setenv("SYNCHUB_PORT", "9100")
    monkeypatch.setenv("SYNCHUB_DEFAULT_TZ", "")
    monkeypatch.setenv("TZ", "Europe/Berlin")
    found = Settings().explained()
    assert set(found) == set(Settings.model_fields)
    assert (found["port"].value, found["port"].source, found["port"].origin) == (
        9100,
        "env",
        "SYNCHUB_PORT",
    )
    assert (found["workers"].value, found["workers"].source) == (7, "file")
    assert found["workers"].origin == str(home / "synchub.toml")
    assert (found["host"].value, found["host"].source, found["host"].origin) == (
        "127.0.0.1",
        "default",
        None,
    )
    # Defaults that are worked out say what they work out to, not "".
    assert found["secret_key"].value == f"(the key in {home / 'secret.key'})"
    assert found["database_url"].value == f"sqlite:///{home / 'synchub.db'}"
    assert found["default_tz"].value == "Europe/Berlin"
    assert found["default_tz"].source == "env"  # set, empty: the machine's zone


def test_config_show_masks_a_secret_key_it_is_given(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNCHUB_SECRET_KEY", "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I=")
    found = Settings().explained()["secret_key"]
    assert (found.value, found.source) == ("********", "env")


def test_the_default_bwlimit_is_checked_like_the_option(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNCHUB_BWLIMIT", "08:00,512k 25:00,off")
    with pytest.raises(ValueError, match="the hour in '25:00' must be 00 to 23"):
        Settings()
    monkeypatch.setenv("SYNCHUB_BWLIMIT", "Mon-08:00,512k Sat-00:00,off")
    assert Settings().bwlimit == "Mon-08:00,512k Sat-00:00,off"
