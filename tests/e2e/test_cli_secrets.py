"""Secrets through the real `synchub` command: values stored in plain text by an
older synchub are sealed at start, and import errors never quote a value."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from synchub.config import Settings
from synchub.core.clock import SystemClock
from synchub.services import Services
from synchub.store.db import transaction
from synchub.store.tables import RemoteRow
from tests.e2e.conftest import Synchub

IBM_KEY = "ibm-api-key-Wd55rNc"


def written_the_old_way(synchub: Synchub) -> None:
    """A remote as main stored it: its IBM API key in plain text."""
    home = synchub.home
    svc = Services(Settings(home=home, database_url=f"sqlite:///{home / 'synchub.db'}"))
    now = SystemClock().now()
    with transaction(svc.sessions) as session:
        options = {"provider": "IBMCOS", "ibm_api_key": IBM_KEY}
        session.add(
            RemoteRow(name="cos", type="s3", options=options, created_at=now, updated_at=now)
        )
    svc.close()


def test_init_seals_a_value_an_older_synchub_stored_in_plain_text(synchub: Synchub) -> None:
    """On main `init` left it in plain text and `remote show` printed it."""
    written_the_old_way(synchub)

    shown = synchub.json("remote", "show", "cos")
    assert shown["options"]["ibm_api_key"] == "********"
    done = synchub("init")
    assert "sealed the secret option(s) ibm_api_key of remote cos" in done.stderr
    assert IBM_KEY.encode() not in (synchub.home / "synchub.db").read_bytes()
    assert "sealed" not in synchub("init").stderr  # once
    assert synchub.json("remote", "show", "cos")["options"]["ibm_api_key"] == "********"


def test_serve_seals_it_at_start(synchub: Synchub) -> None:
    written_the_old_way(synchub)
    synchub.serve()
    with sqlite3.connect(synchub.home / "synchub.db") as db:
        assert IBM_KEY not in str(db.execute("SELECT options FROM remotes").fetchall())
    log = next(synchub.home.glob("serve-*.log")).read_text()
    assert "sealed the secret option(s) ibm_api_key of remote cos" in log


def test_a_malformed_import_line_is_named_by_number_and_key(
    synchub: Synchub, tmp_path: Path
) -> None:
    """On main: error: Not a valid rclone config file: ... 'secret_access_key SUPERSECRET123'."""
    conf = tmp_path / "rclone.conf"
    conf.write_text("[s]\ntype = s3\nsecret_access_key SUPERSECRET123\n")
    proc = synchub("remote", "import", str(conf), check=False)
    assert proc.returncode == 2
    assert proc.stderr == (
        "error: Not a valid rclone config file: "
        "line 3: option 'secret_access_key' has no '=' before its value\n"
    )
    assert synchub.json("remote", "list") == []


def test_an_option_without_a_key_is_named_by_its_place_never_quoted(synchub: Synchub) -> None:
    """On main: error: Bad option 'SUPERSECRET123': use key=value."""
    proc = synchub("remote", "add", "s", "s3", "provider=AWS", "SUPERSECRET123", check=False)
    assert (proc.returncode, proc.stderr) == (2, "error: Bad option number 2: use key=value\n")
    proc = synchub("remote", "add", "s", "s3", "=SUPERSECRET123", check=False)
    assert (proc.returncode, proc.stderr) == (2, "error: Bad option number 1: use key=value\n")
