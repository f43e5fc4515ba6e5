"""`synchub doctor` as an operator runs it: exit 1 with what to do, 0 once it is fixed."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Synchub, wait_for

pytestmark = pytest.mark.slow


def test_doctor_says_what_needs_a_person_and_exits_0_once_all_is_well(synchub: Synchub) -> None:
    synchub("remote", "add", "gone", "webdav", "url=http://127.0.0.1:9/")
    done = synchub("doctor", check=False)
    assert done.returncode == 1
    assert "PROBLEM scheduler: no scheduler is running" in done.stdout
    assert "→ start `synchub serve`" in done.stdout
    assert "1 problem(s) need a person" in done.stdout
    synchub.serve()

    def healthy() -> bool:
        return synchub("doctor", check=False).returncode == 0

    wait_for("the scheduler to lead", healthy)
    report = synchub.json("doctor")
    assert report["healthy"] is True and report["checks"][0]["check"] == "rclone"
    # It should test the remotes only when asked, and find the one that does not answer.
    done = synchub("doctor", "--remotes", check=False)
    assert done.returncode == 1 and "PROBLEM remote gone:" in done.stdout
    assert synchub("doctor", "--bogus", check=False).returncode == 2
