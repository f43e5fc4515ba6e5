"""`Services.any_sealed`: whether runs will open secrets, so that `serve` and
`synchub worker` import cryptography at start (else at the first secret opened)."""

from __future__ import annotations

import sys

from synchub.services import Services
from synchub.services.jobs.fields import JobFields


def test_no_secret_then_a_remote_secret(svc: Services) -> None:
    assert not svc.any_sealed()
    svc.remotes.add("plain", "local", {})
    assert not svc.any_sealed()
    svc.remotes.add("vault", "crypt", {"remote": "/tmp/vault", "password": "pw"})
    assert svc.any_sealed()


def test_a_command_jobs_environment_counts(svc_allowing_commands: Services) -> None:
    fields = JobFields(kind="command", params={"argv": [sys.executable, "-c", "pass"]})
    svc_allowing_commands.jobs.add("no-env", fields)
    assert not svc_allowing_commands.any_sealed()
    env = JobFields(
        kind="command", params={"argv": [sys.executable, "-c", "pass"], "env": {"T": "x"}}
    )
    svc_allowing_commands.jobs.add("with-env", env)
    assert svc_allowing_commands.any_sealed()
