"""The CLI's fire times (in the job's zone) and the schedule flags it refuses."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.conftest import Synchub

#: An ISO fire time at 02:30 in Berlin: CET (+01:00) or CEST (+02:00).
BERLIN_0230 = re.compile(r"^\d{4}-\d\d-\d\dT02:30:00\+0[12]:00$")


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
    helped = " ".join(synchub("job", "add", "--help").stdout.split())
    assert "only with --cron" in helped and "a bare number is refused" in helped
