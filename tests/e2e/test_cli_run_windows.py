"""`--window` through the real `synchub` command: saved, shown, replaced, cleared
with --clear windows; a bad one exits 2 naming it and saves nothing."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.conftest import Synchub


def test_windows_are_saved_shown_and_cleared(synchub: Synchub, tmp_path: Path) -> None:
    base = ["job", "add", "backup", "--source", str(tmp_path), "--dest", str(tmp_path / "out")]
    bad = synchub(*base, "--window", "22:00-06:00", "--window", "25:00-26:00", check=False)
    assert bad.returncode == 2
    assert bad.stderr == (
        "error: Bad window '25:00-26:00': '25:00' is not a time of day (00:00 to 23:59)\n"
    )
    assert "backup" not in str(synchub.json("job", "list"))  # nothing saved

    synchub(*base, "--cron", "0 * * * *", "--window", "Mon-Fri 22:00-06:00")
    shown = synchub("job", "show", "backup").stdout
    assert "runs only in Mon-Fri 22:00-06:00 (UTC); manual runs at any hour" in shown

    synchub("job", "edit", "backup", "--window", "22:00-06:00", "--window", "Sat 08:00-12:00")
    job = synchub.json("job", "show", "backup")
    assert (job["windows"], job["windows_tz"]) == (["22:00-06:00", "Sat 08:00-12:00"], "UTC")
    refused = synchub("job", "edit", "backup", "--window", "Sat 09:00", check=False)
    assert refused.returncode == 2 and "Bad window 'Sat 09:00'" in refused.stderr
    assert synchub.json("job", "show", "backup")["windows"] == job["windows"]

    both = synchub("job", "edit", "backup", "--clear", "windows", "--window", "01:00-02:00",
                   check=False)  # fmt: skip
    assert both.returncode == 2 and "Give --clear windows or new windows" in both.stderr
    synchub("job", "edit", "backup", "--clear", "windows")
    assert synchub.json("job", "show", "backup")["windows"] == []
    assert "runs only in" not in synchub("job", "show", "backup").stdout


def test_the_next_fires_say_when_their_runs_may_start(synchub: Synchub, tmp_path: Path) -> None:
    added = synchub("job", "add", "noon", "--source", str(tmp_path), "--dest", str(tmp_path / "o"),
                    "--cron", "0 12 * * *", "--window", "22:00-23:00")  # fmt: skip
    opens = r"runs when the window opens \w{3} (\d{4}-\d{2}-\d{2}) 22:00 \(UTC\)"
    said = re.search(rf"next at (\d{{4}}-\d{{2}}-\d{{2}})T12:00:00\+00:00, {opens}", added.stdout)
    assert said and said.group(1) == said.group(2), added.stdout  # the same day's opening
    lines = synchub("job", "next", "noon", "-n", "2").stdout.splitlines()
    assert len(lines) == 2 and all(re.fullmatch(rf"\S+T12:00:00\+00:00, {opens}", x) for x in lines)
    assert re.search(rf"^    \S+T12:00:00\+00:00, {opens}$", synchub("job", "show", "noon").stdout,
                     re.M)  # fmt: skip
    assert synchub.json("job", "next", "noon", "-n", "1")[0].endswith("T12:00:00+00:00")
