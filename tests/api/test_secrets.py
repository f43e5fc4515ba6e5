"""Secrets stay secret: remotes with known secret values, every endpoint driven, and
no response, log record, audit row, CLI output or rclone argv contains them."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from synchub.engines.obscure import obscure
from synchub.store.db import transaction
from synchub.store.tables import AuditRow
from tests.api.conftest import Api
from tests.support.harness import Harness

SECRETS = {
    "crypt": "crypt-password-Zq81x",
    "sftp": "sftp-password-Wm42k",
    "imported": "imported-password-Pf77e",
    "edited": "edited-password-Ku09d",
    "refused": "refused-password-Hx33n",
}


def rclone_argvs(stop: threading.Event, seen: list[str]) -> None:
    """Collect the command lines of this process's rclone children until `stop`."""
    me = os.getpid()
    while not stop.is_set():
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
                if ppid == me and "rclone" in stat[: stat.rindex(")")]:
                    seen.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
            except (OSError, ValueError):
                continue
        time.sleep(0.02)


def test_no_secret_leaves_synchub(
    api: Api,
    harness: Harness,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    src = tmp_path / "src"
    src.mkdir()
    (src / "photo.jpg").write_bytes(os.urandom(96 * 1024))
    texts: list[str] = []

    def call(method: str, path: str, **kwargs: object) -> object:
        response = api.admin.request(method, path, **kwargs)  # type: ignore[arg-type]
        assert response.status_code < 500, response.text
        texts.append(json.dumps(dict(response.headers)) + response.text)
        kind = response.headers.get("content-type", "")
        return response.json() if kind.endswith(("/json", "+json")) else None

    store = tmp_path / "vault-store"
    call("POST", "/api/v1/remotes", json={
        "name": "vault", "type": "crypt",
        "options": {"remote": str(store), "password": SECRETS["crypt"]},
    })  # fmt: skip
    call("POST", "/api/v1/remotes", json={
        "name": "box", "type": "sftp",
        "options": {"host": "192.0.2.1", "user": "u", "pass": SECRETS["sftp"]},
    })  # fmt: skip
    conf = (
        f"[old]\ntype = sftp\nhost = 192.0.2.2\nuser = u\npass = {obscure(SECRETS['imported'])}\n"
    )
    call("POST", "/api/v1/remotes/import", content=conf)
    call("PATCH", "/api/v1/remotes/box", json={"options": {"pass": SECRETS["edited"]}})
    # Refused input must not echo the secret either.
    call("POST", "/api/v1/remotes", json={
        "name": "bad", "type": "sftp",
        "options": {"host": "h", "pass": SECRETS["refused"], "bogus": "1"},
    })  # fmt: skip
    call(
        "POST",
        "/api/v1/remotes",
        json={"name": "bad", "type": "sftp", "options": {"pass": [SECRETS["refused"]]}},
    )
    call("PATCH", "/api/v1/remotes/box", json={"options": {"pass": 12345, "x": SECRETS["refused"]}})
    call("POST", "/api/v1/jobs", json={
        "name": "seal", "params": {"source": str(src), "destination": "vault:/photos",
                                    "options": ["--bwlimit=64k"]},
    })  # fmt: skip
    run = call("POST", "/api/v1/jobs/seal/run")
    assert isinstance(run, dict)

    argvs: list[str] = []
    stop = threading.Event()
    watcher = threading.Thread(target=rclone_argvs, args=(stop, argvs))
    watcher.start()
    try:
        harness.step()  # runs rclone for real, here
    finally:
        stop.set()
        watcher.join()
    run_id = run["id"]
    shown = call("GET", f"/api/v1/runs/{run_id}")
    assert isinstance(shown, dict) and shown["state"] == "succeeded", shown
    assert argvs, "rclone was never seen running"

    for path in (
        "/api/v1/remotes", "/api/v1/remotes/vault", "/api/v1/remotes/box", "/api/v1/remotes/old",
        "/api/v1/jobs", "/api/v1/jobs/seal", "/api/v1/jobs/seal/runs", "/api/v1/runs",
        f"/api/v1/runs/{run_id}/log", f"/api/v1/runs/{run_id}/log?format=jsonl",
        f"/api/v1/runs/{run_id}/files", "/api/v1/audit?limit=1000", "/api/v1/tokens?all=true",
        "/api/v1/scheduler", "/api/v1/task/scheduler/task-status",
        f"/api/v1/task/scheduler/task-result/{run_id}", "/openapi.json",
    ):  # fmt: skip
        call("GET", path)
    call("POST", "/api/v1/remotes/box/test")  # fails to connect: its message is shown too
    call("DELETE", "/api/v1/remotes/vault")  # 409: in use

    from typer.testing import CliRunner

    from synchub.cli import app as cli

    monkeypatch.setenv("SYNCHUB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SYNCHUB_DATABASE_URL", api.svc.settings.db_url)
    monkeypatch.setenv("SYNCHUB_SECRET_KEY", api.svc.settings.secret_key.get_secret_value())
    for args in (["remote", "list", "--json"], ["runs", "logs", str(run_id)], ["token", "list"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.stderr
        texts.append(result.stdout + result.stderr)

    with transaction(api.svc.sessions) as session:
        audit_rows = [
            json.dumps([r.actor, r.action, r.target, r.before, r.after])
            for r in session.scalars(select(AuditRow))
        ]
    places = {
        "responses and CLI output": "\n".join(texts),
        "log records": "\n".join(r.getMessage() for r in caplog.records),
        "audit rows": "\n".join(audit_rows),
        "rclone argv": "\n".join(argvs),
    }
    for where, text in places.items():
        for name, secret in SECRETS.items():
            assert secret not in text, f"the {name} secret is in the {where}"
            assert obscure(secret) not in text or where == "log records"
    # It should still have stored and used them: the crypt remote encrypted the file.
    stored = list(store.rglob("*"))
    assert any(p.is_file() for p in stored)
    assert not any("photo" in p.name for p in stored)
