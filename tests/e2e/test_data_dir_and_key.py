"""The data directory and the secret key, through the real `synchub` command: files
private whatever the umask, a lost or wrong key that can be repaired, never papered
over with a new key.

Each test fails on the code before this behaviour: `init` made the directory with
the umask's mode (0755, 0777) and the database 0644/0666; nothing warned about wide
modes; `init` made a new key over sealed secrets; with a wrong key `remote list`
exited 1 and `secrets forget` and `remote edit` did not exist.
"""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from tests.e2e.conftest import Synchub, new_synchub, wait_for


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def port_of(server: subprocess.Popen[bytes]) -> int:
    args = list(server.args)  # type: ignore[arg-type]
    return int(args[args.index("--port") + 1])


def server_log(synchub: Synchub, server: subprocess.Popen[bytes]) -> str:
    return (synchub.home / f"serve-{port_of(server)}.log").read_text()


def readyz(server: subprocess.Popen[bytes], token: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port_of(server)}/readyz", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def add_vault(synchub: Synchub, tmp_path: Path, name: str = "vault") -> None:
    """A crypt remote over a local folder: its password is sealed."""
    (tmp_path / name).mkdir()
    synchub("remote", "add", name, "crypt", f"remote={tmp_path / name}", "password=-", input="pw\n")


@pytest.mark.parametrize("umask", [0o022, 0o000], ids=["umask-022", "umask-000"])
def test_the_data_directory_and_its_files_are_private_whatever_the_umask(
    tmp_path: Path, umask: int
) -> None:
    synchub = new_synchub(tmp_path)
    synchub.umask = umask
    try:
        synchub("init")
        add_vault(synchub, tmp_path)
        synchub.serve()
        db = synchub.home / "synchub.db"
        wait_for("the WAL files", lambda: Path(f"{db}-wal").exists() and Path(f"{db}-shm").exists())
        # It should keep the directory 0700 and every file synchub made in it 0600.
        assert mode(synchub.home) == 0o700
        made = {p.name: mode(p) for p in synchub.home.iterdir() if not p.name.startswith("serve-")}
        assert made == {
            "synchub.db": 0o600,
            "synchub.db-wal": 0o600,
            "synchub.db-shm": 0o600,
            "secret.key": 0o600,
            "serve.sock": 0o600,  # the server's local socket
        }
    finally:
        synchub.stop_all()


def test_init_tightens_an_older_data_directory_and_serve_warns_until_then(
    synchub: Synchub,
) -> None:
    home, db, key = synchub.home, synchub.home / "synchub.db", synchub.home / "secret.key"
    home.chmod(0o755)
    db.chmod(0o644)
    key.chmod(0o640)

    server = synchub.serve()
    log = server_log(synchub, server)
    assert f"warning: {db} is open to other users (mode 0644)" in log
    assert f"warning: {key} is open to other users (mode 0640)" in log
    assert f"warning: {home} is open to other users (mode 0755)" in log
    synchub.stop_all()

    done = synchub("init")
    assert f"tightened {db} from 0644 to 0600" in done.stderr
    assert (mode(home), mode(db), mode(key)) == (0o700, 0o600, 0o600)
    server = synchub.serve()
    assert "open to other users" not in server_log(synchub, server)


def test_init_refuses_a_new_key_over_sealed_secrets(synchub: Synchub, tmp_path: Path) -> None:
    add_vault(synchub, tmp_path)
    key = synchub.home / "secret.key"
    kept = key.read_bytes()
    key.unlink()
    token = synchub("token", "create", "probe", "--role", "viewer").stdout.strip()

    refused = synchub("init", check=False)
    # It should refuse with exit 2, on one line naming the file to restore.
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.count("\n") == 1 and str(key) in refused.stderr
    assert "restore" in refused.stderr and "secrets forget" in refused.stderr
    assert not key.exists()

    # It should still list the remote, and say what helps without recommending init.
    listed = synchub("remote", "list")
    assert "<unreadable: no secret key>" in listed.stdout
    tested = synchub("remote", "test", "vault", check=False)
    assert tested.returncode == 2 and "no secret key" in tested.stderr
    assert "synchub init" not in tested.stderr
    server = synchub.serve()
    assert "warning: The secret options of remote(s) vault cannot be read (no secret key" in (
        server_log(synchub, server)
    )
    status, body = readyz(server, token)
    assert status == 503 and body["checks"]["database"] == "ok"
    assert "remote(s) vault" in body["checks"]["secrets"]
    synchub.stop_all()

    key.write_bytes(kept)
    assert synchub("remote", "test", "vault").returncode == 0
    assert "unreadable" not in synchub("remote", "list").stdout


def test_with_a_wrong_key_the_cli_lists_edits_removes_and_forgets(
    synchub: Synchub, tmp_path: Path
) -> None:
    synchub.env["SYNCHUB_ALLOW_COMMAND_JOBS"] = "1"
    add_vault(synchub, tmp_path)
    add_vault(synchub, tmp_path, "spare")
    out = tmp_path / "out.txt"
    script = "import os, sys; open(sys.argv[1], 'w').write(os.environ['TOKEN'])"
    argv = [sys.executable, "-c", script, str(out)]
    synchub("job", "add", "restic", "--kind", "command", "--env", "TOKEN=t0k", "--retries", "3",
            *[a for item in argv for a in ("--arg", item)])  # fmt: skip
    (synchub.home / "secret.key").write_bytes(Fernet.generate_key() + b"\n")

    # It should list and show the remotes, their secrets as unreadable.
    assert "<unreadable: wrong secret key>" in synchub("remote", "list").stdout
    listed = {v["name"]: v for v in synchub.json("remote", "list")}
    assert listed["vault"]["unreadable"] == "wrong secret key"
    assert "secrets: <unreadable: wrong secret key>" in synchub("remote", "show", "vault").stdout

    # It should fail a run that needs a value, once, saying why.
    assert synchub("job", "run", "restic", "--wait", check=False).returncode == 1
    (run,) = synchub.json("runs", "list", "--job", "restic")
    assert run["state"] == "failed" and run["error_class"] == "config"
    assert "env values of job 'restic' cannot be read" in run["error"] and not out.exists()

    # It should refuse an edit that keeps the unreadable secrets, take one giving them.
    kept = synchub("remote", "edit", "vault", f"remote={tmp_path / 'vault'}", check=False)
    assert kept.returncode == 2 and "give every secret option" in kept.stderr
    synchub("remote", "edit", "vault", "password=-", input="new-pw\n")
    assert synchub.json("remote", "show", "vault")["unreadable"] is None
    synchub("remote", "test", "vault")
    synchub("remote", "remove", "spare")

    # It should ask before forgetting, and forget only what it cannot read.
    declined = synchub("secrets", "forget", input="n\n", check=False)
    assert declined.returncode == 1 and "env values of job(s) restic" in declined.stderr
    forgot = synchub("secrets", "forget", "--yes")
    assert "forgot the env values of job(s) restic" in forgot.stdout
    assert "nothing to forget" in synchub("secrets", "forget", "--yes").stdout
    assert synchub.json("remote", "show", "vault")["options"]["password"] == "********"

    synchub("job", "edit", "restic", "--kind", "command", "--env", "TOKEN=again")
    synchub("job", "run", "restic", "--wait")
    assert out.read_text() == "again"
