"""`remote test` of a wrapping remote gives rclone the remotes it wraps. Fails on
main (be529cb): 'didn't find section in config file ("disk")'."""

from __future__ import annotations

from pathlib import Path

from synchub.services import Services


def test_an_alias_remote_is_tested_with_the_remote_it_wraps(svc: Services, tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "f.txt").write_text("x")
    svc.remotes.add("disk", "local", {})
    svc.remotes.add("wrap", "alias", {"remote": f"disk:{folder}"})
    ok, message = svc.remotes.test("wrap")
    assert ok, message
    assert message == "ok: 1 entries at the top of wrap:"
