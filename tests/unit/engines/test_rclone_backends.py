"""Remote definitions checked against the catalogue of the bundled rclone."""

from __future__ import annotations

import pytest

from synchub.core.errors import InvalidRemote
from synchub.engines.rclone.backends import (
    catalogue,
    password_options,
    referenced_remotes,
    secret_options,
    validate_remote,
)


def test_the_catalogue_knows_the_common_backends() -> None:
    assert {"local", "sftp", "webdav", "s3", "drive", "onedrive", "crypt"} <= set(catalogue())


def test_it_refuses_an_unknown_type_listing_the_known_ones() -> None:
    with pytest.raises(InvalidRemote, match=r"unknown remote type 'foo'; known: .*local.*sftp"):
        validate_remote("foo", {})


def test_it_refuses_an_sftp_remote_without_host() -> None:
    with pytest.raises(InvalidRemote, match="a sftp remote needs option 'host'"):
        validate_remote("sftp", {"user": "alice"})


def test_it_refuses_an_empty_required_option() -> None:
    with pytest.raises(InvalidRemote, match="needs option 'host'"):
        validate_remote("sftp", {"host": ""})


def test_it_accepts_an_sftp_remote_with_host() -> None:
    options = {"host": "nas.local", "user": "alice", "pass": "pw", "port": "2222"}
    assert validate_remote("sftp", options) == options


def test_it_accepts_an_s3_remote_for_another_provider_with_an_endpoint() -> None:
    options = {
        "provider": "Other",
        "endpoint": "https://minio.local:9000",
        "access_key_id": "AK",
        "secret_access_key": "SK",
    }
    assert validate_remote("s3", options) == options


def test_a_required_option_with_a_default_need_not_be_given() -> None:
    # pixeldrain's api_url is "Required" but has a default, so rclone never asks.
    assert validate_remote("pixeldrain", {}) == {}


def test_provider_specific_requirements_follow_the_provider() -> None:
    # koofr requires "endpoint" only for provider "other".
    validate_remote("koofr", {"provider": "koofr", "user": "a", "password": "b"})
    with pytest.raises(InvalidRemote, match="needs option 'endpoint'"):
        validate_remote("koofr", {"provider": "other", "user": "a", "password": "b"})


def test_it_refuses_an_unknown_option_name() -> None:
    with pytest.raises(InvalidRemote, match="unknown option 'hostname' for a sftp remote"):
        validate_remote("sftp", {"host": "h", "hostname": "h"})


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"host": "h", "port": "twenty-two"}, "'port' of a sftp remote must be a whole number"),
        ({"host": "h", "use_insecure_cipher": "yes"}, "must be true or false"),
        ({"host": "h\0x"}, "must not contain NUL"),
    ],
)
def test_it_checks_values_rclone_would_refuse(options: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidRemote, match=message):
        validate_remote("sftp", options)


def test_it_knows_which_options_are_secret() -> None:
    assert password_options("sftp") == {"pass", "key_file_pass"}
    assert {"pass", "key_file_pass", "key_pem"} <= secret_options("sftp")
    assert {"secret_access_key", "access_key_id"} <= secret_options("s3")
    assert password_options("s3") == frozenset()
    assert {"password", "password2"} <= password_options("crypt")


def test_it_finds_the_remotes_a_wrapping_remote_uses() -> None:
    assert referenced_remotes({"remote": "nas:backup/crypted"}) == {"nas"}
    assert referenced_remotes({"remote": "/local/path"}) == frozenset()
    assert referenced_remotes({"upstreams": "a:x b:/y:ro /local"}) == {"a", "b"}
    assert referenced_remotes({"upstreams": "photos=gp:album docs=nas:docs"}) == {"gp", "nas"}
