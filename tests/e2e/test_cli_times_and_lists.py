"""The CLI's fire times (in the job's zone), the schedule flags it refuses, and its
lists: fitted to an 80-column terminal, whole when piped."""

from __future__ import annotations

import os
import pty
import re
import subprocess
from pathlib import Path

from rich.cells import cell_len

from tests.e2e.conftest import SYNCHUB, Synchub

#: An ISO fire time at 02:30 in Berlin: CET (+01:00) or CEST (+02:00).
BERLIN_0230 = re.compile(r"^\d{4}-\d\d-\d\dT02:30:00\+0[12]:00$")


def at_terminal(synchub: Synchub, *args: str, columns: int = 80) -> str:
    """What `synchub ARGS` prints on a pseudo-terminal `columns` wide."""
    main, side = pty.openpty()
    env = {**synchub.env, "COLUMNS": str(columns), "TERM": "dumb"}
    with subprocess.Popen([*SYNCHUB, *args], env=env, stdout=side, stderr=side) as proc:
        os.close(side)
        chunks = []
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # EIO: the other side is closed
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert proc.wait(timeout=60) == 0
    os.close(main)
    return b"".join(chunks).decode().replace("\r\n", "\n")


def deep_dirs(tmp_path: Path) -> tuple[Path, Path]:
    src = tmp_path / "a-rather-long-folder-name" / "with-photos-of-the-family" / "2026-summer"
    src.mkdir(parents=True)
    (src / "IMG_0001.jpg").write_text("alpha")
    return src, tmp_path / "backups-on-the-nas" / "family-photos" / "2026-summer-copy"


def test_cron_fire_times_are_given_in_the_jobs_zone(synchub: Synchub, tmp_path: Path) -> None:
    src, dst = deep_dirs(tmp_path)
    added = synchub(
        "job", "add", "nightly", "--source", str(src), "--dest", str(dst), "--op", "copy",
        "--cron", "30 2 * * *", "--tz", "Europe/Berlin",
    ).stdout  # fmt: skip
    next_at = added.split("next at ")[1].split()[0]
    assert BERLIN_0230.match(next_at), added
    # It should say the same instant the same way in show, next and list.
    shown = synchub.json("job", "show", "nightly")
    assert shown["next_fire_at"] == next_at
    assert all(BERLIN_0230.match(t) for t in shown["next_fires"])
    assert synchub.json("job", "next", "nightly") == shown["next_fires"]
    printed = synchub("job", "next", "nightly", "-n", "3").stdout.split()
    assert printed == shown["next_fires"][:3]
    assert synchub.json("job", "list")[0]["next_fire_at"] == next_at
    assert all(BERLIN_0230.match(line.strip()) for line in synchub("job", "show", "nightly")
               .stdout.split("next fires:")[1].split())  # fmt: skip
    # It should give an interval's fire times in UTC: it has no zone.
    synchub("job", "add", "often", "--source", str(src), "--dest", str(dst), "--every", "15m")
    assert synchub.json("job", "show", "often")["next_fire_at"].endswith("+00:00")


def test_tz_without_cron_and_a_duration_without_unit_are_refused(
    synchub: Synchub, tmp_path: Path
) -> None:
    src, dst = deep_dirs(tmp_path)
    where = ("--source", str(src), "--dest", str(dst))
    synchub("job", "add", "often", *where, "--every", "15m")
    before = synchub.json("job", "list")
    for args, says in [
        (("job", "add", "j", *where, "--tz", "Europe/Berlin"), "--tz goes with --cron"),
        (("job", "add", "j", *where, "--every", "1h", "--tz", "UTC"), "--tz goes with --cron"),
        (("job", "edit", "often", "--tz", "UTC"), "job often has no cron schedule"),
        (("job", "edit", "often", "--every", "1h", "--tz", "UTC"), "--tz goes with --cron"),
        (("job", "add", "j", *where, "--every", "5"), "give a unit, e.g. 5s, 5m, 5h or 5d"),
        (("job", "add", "j", *where, "--every", "0.5s"), "use whole numbers with a unit"),
        (("job", "edit", "often", "--timeout", "600"), "give a unit"),
    ]:
        proc = synchub(*args, check=False)
        assert proc.returncode == 2, args
        assert len(proc.stderr.splitlines()) == 1 and says in proc.stderr, proc.stderr
    assert synchub.json("job", "list") == before
    # It should say so in --help.
    # rich draws the help in boxes whose width follows the terminal: read the words.
    text = re.sub(r"[│╭╮╰╯─]", " ", synchub("job", "add", "--help").stdout)
    helped = " ".join(text.split())
    assert "only with --cron" in helped and "a bare number is refused" in helped


def test_lists_fit_an_80_column_terminal_and_pipe_whole_rows(
    synchub: Synchub, tmp_path: Path
) -> None:
    src, dst = deep_dirs(tmp_path)
    synchub("remote", "add", "family-photo-archive", "local")
    synchub(
        "job", "add", "family-photos-nightly", "--source", f"family-photo-archive:{src}",
        "--dest", str(dst), "--op", "copy", "--cron", "30 2 * * 1-5",
        "--tz", "America/Argentina/Buenos_Aires",
    )  # fmt: skip
    synchub("job", "add", "spare", "--source", str(src), "--dest", str(dst), "--disabled")
    synchub("job", "run", "family-photos-nightly", "--wait")
    synchub("token", "create", "release-pipeline", "--role", "operator")
    for group in ("job", "runs", "remote", "token", "task"):
        shown = at_terminal(synchub, group, "list").splitlines()
        assert shown and max(cell_len(line) for line in shown) <= 80, shown
    # It should show each job's last run and its age, times relative.
    jobs = at_terminal(synchub, "job", "list").splitlines()
    assert jobs[0].split() == ["name", "what", "schedule", "next", "last", "run", "when"]
    nightly = next(line for line in jobs if line.startswith("family-photos-n"))
    assert re.search(r"in \d+ (h|min|d)\s+succeeded\s+\d+ s ago$", nightly), nightly
    # Source and destination cut in the middle, each keeping both its ends.
    assert re.search(r" cop\S*…\S*mer → /tm\S*…\S*opy ", nightly), nightly
    assert re.search(r"disabled\s+-\s+-$", next(line for line in jobs if "spare" in line))
    # Piped: no header, one whole row per line, tab-separated, exact times.
    piped = synchub("job", "list").stdout.splitlines()
    assert len(piped) == 2
    cells = piped[0].split("\t")
    assert cells[:2] == ["family-photos-nightly", f"copy family-photo-archive:{src} → {dst}"]
    assert cells[4] == "succeeded" and cells[5].startswith("20")
    listed = synchub.json("job", "list")[0]
    assert listed["last_run"]["state"] == "succeeded" and listed["last_run"]["at"] == cells[5]
