"""`--option --bwlimit=TIMETABLE` through the real `synchub` command."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import Synchub


def test_a_timetable_is_saved_and_a_bad_one_exits_2_naming_it(
    synchub: Synchub, tmp_path: Path
) -> None:
    table = "08:00,512k 12:00,10M 23:00,off"
    base = ["job", "add", "backup", "--source", str(tmp_path), "--dest", str(tmp_path / "out")]
    bad = synchub(*base, "--option", "--bwlimit=08:00,512k 24:00,off", check=False)
    assert bad.returncode == 2
    assert bad.stderr == (
        "error: Bad value '08:00,512k 24:00,off' for --bwlimit: "
        "the hour in '24:00' must be 00 to 23\n"
    )
    assert "backup" not in str(synchub.json("job", "list"))  # nothing saved

    synchub(*base, "--option", f"--bwlimit={table}")
    assert synchub.json("job", "show", "backup")["params"]["options"] == [f"--bwlimit={table}"]
