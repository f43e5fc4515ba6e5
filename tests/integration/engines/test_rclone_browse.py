"""Listing a remote's folders with the real rclone: folders only, sorted, one level;
rclone's error in words with no secret in it; a remote that never answers is given
up at the time limit."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from synchub.core.errors import EngineError
from synchub.engines.base import RemoteConfig
from synchub.engines.rclone.browse import list_folders
from tests.integration.engines.helpers import Server, sftp_remote, write


def test_it_lists_the_folders_of_one_level_sorted(tmp_path: Path) -> None:
    write(tmp_path / "nas", {"b/x.txt": "1", "A/y/z.txt": "2", "c.txt": "3", "a/k.txt": "4"})
    nas = RemoteConfig("nas", "alias", {"remote": str(tmp_path / "nas")})
    assert list_folders(nas, "") == (["A", "a", "b"], False)
    assert list_folders(nas, "A") == (["y"], False)
    assert list_folders(nas, "b") == ([], False)


def test_a_wrapped_remote_is_listed_through_the_one_it_wraps(tmp_path: Path) -> None:
    write(tmp_path / "disk", {"photos/2025/p.jpg": "1"})
    disk = RemoteConfig("disk", "alias", {"remote": str(tmp_path / "disk")})
    photos = RemoteConfig("photos", "alias", {"remote": "disk:photos"})
    assert list_folders(photos, "", others={"disk": disk}) == (["2025"], False)


def test_a_missing_folder_is_an_error_in_rclones_words(tmp_path: Path) -> None:
    nas = RemoteConfig("nas", "alias", {"remote": str(tmp_path)})
    with pytest.raises(EngineError, match="directory not found"):
        list_folders(nas, "nope")


def test_a_wrong_password_says_so_without_the_password(sftp_server: Server) -> None:
    with pytest.raises(EngineError) as raised:
        list_folders(sftp_remote(sftp_server, password="wrong-Passw0rd"), "", timeout_s=10)
    assert "unable to authenticate" in raised.value.message
    assert "wrong-Passw0rd" not in raised.value.message


def test_a_remote_that_never_answers_is_given_up_at_the_time_limit() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # accepts connections, never says a word
        port = silent.getsockname()[1]
        remote = RemoteConfig("mute", "webdav", {"url": f"http://127.0.0.1:{port}"})
        started = time.monotonic()
        with pytest.raises(EngineError):
            list_folders(remote, "", timeout_s=2, grace_s=1)
    assert time.monotonic() - started < 6
