"""Watched folders through the real CLI and `synchub serve`: a dropped file is copied."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from tests.e2e.conftest import Synchub, wait_for

#: How long the test waits for a watch run before writing the file again: many times
#: the settle time it gives the server (0.5 s).
REWRITE_S = 3.0


def test_a_file_dropped_in_a_watched_folder_is_copied_by_serve(
    synchub: Synchub, tmp_path: Path
) -> None:
    src, dst = tmp_path / "inbox", tmp_path / "out"
    src.mkdir()
    synchub(
        "job", "add", "inbox", "--source", str(src), "--dest", str(dst), "--watch",
        "--max-depth", "3",
    )  # fmt: skip
    job = synchub.json("job", "show", "inbox")
    assert (job["watch"], job["max_depth"], job["params"]["op"]) == (True, 3, "copy")
    assert job["schedule"]["every_s"] == 600
    synchub.env["SYNCHUB_WATCH_SETTLE"] = "0.5"
    server = synchub.serve()

    written = [-REWRITE_S]

    def watch_runs() -> list[dict[str, object]]:
        # Written again until seen, as the watcher starts once the server leads, but
        # never more often than it settles: a file written every moment never settles.
        # A new watched folder's first run may end before the file is there: wait for
        # the copy.
        if time.monotonic() - written[0] >= REWRITE_S:
            (src / "scan.pdf").write_text("scanned")
            written[0] = time.monotonic()
        runs = synchub.json("runs", "list", "--job", "inbox")
        done = [r for r in runs if r["trigger"] == "watch" and r["state"] == "succeeded"]
        return done if (dst / "scan.pdf").exists() else []

    wait_for("a watch run to copy the file", watch_runs, timeout=60)
    assert (dst / "scan.pdf").read_text() == "scanned"
    # The file is a task; once done, it can be sent again alone.
    (scan,) = synchub.json("task", "list", "--job", "inbox")
    assert scan["path"] == "scan.pdf"
    (dst / "scan.pdf").unlink()

    def retried() -> bool:
        # Refused (exit 2) while a watch run still carries it.
        return synchub("task", "retry", str(scan["id"]), check=False).returncode == 0

    wait_for("a retry of scan.pdf to be accepted", retried, timeout=60)
    wait_for("the retry to send scan.pdf again", lambda: (dst / "scan.pdf").exists(), timeout=60)
    (done,) = synchub.json("task", "list", "--state", "done")
    assert (done["id"], done["path"]) == (scan["id"], "scan.pdf")
    missing = synchub("task", "retry", "999999", check=False)
    assert missing.returncode == 3 and "No file task" in missing.stderr
    # It should stop cleanly, the watcher thread with it.
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=30) == 0
    synchub("job", "edit", "inbox", "--no-watch")
    assert synchub.json("job", "show", "inbox")["watch"] is False
