"""Importing an existing rclone.conf."""

from __future__ import annotations

import pytest

from synchub.core.errors import InvalidInput, InvalidRemote
from synchub.engines.obscure import obscure
from synchub.engines.rclone.conf import ConfRemote, default_config_path, parse_conf


def test_it_reads_remotes_in_order_with_passwords_revealed() -> None:
    text = f"""
# my remotes
[nas]
type = sftp
host = nas.local
user = alice
pass = {obscure("pa%ss w0rd")}

[photos]
type = local
"""
    assert parse_conf(text) == [
        ConfRemote("nas", "sftp", {"host": "nas.local", "user": "alice", "pass": "pa%ss w0rd"}),
        ConfRemote("photos", "local", {}),
    ]


def test_entries_unpack_as_name_type_options() -> None:
    ((name, type_, options),) = parse_conf("[w]\ntype = webdav\nurl = http://x\n")
    assert (name, type_, options) == ("w", "webdav", {"url": "http://x"})


def test_sensitive_values_that_rclone_does_not_obscure_stay_as_they_are() -> None:
    # s3 keys are "Sensitive" but stored plain by rclone.
    ((_, _, options),) = parse_conf("[s]\ntype = s3\nsecret_access_key = abc\n")
    assert options == {"secret_access_key": "abc"}


def test_percent_signs_and_key_case_are_kept() -> None:
    ((_, _, options),) = parse_conf("[s]\ntype = s3\nendpoint = http://h/%41\n")
    assert options == {"endpoint": "http://h/%41"}


def test_a_section_named_default_is_an_ordinary_remote() -> None:
    # configparser would copy [DEFAULT] into every section; rclone does not.
    remotes = parse_conf("[DEFAULT]\ntype = local\n[b]\ntype = local\n")
    assert remotes == [ConfRemote("DEFAULT", "local", {}), ConfRemote("b", "local", {})]


def test_an_empty_file_has_no_remotes() -> None:
    assert parse_conf("") == []
    assert parse_conf("# nothing here\n") == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("just some text\n", "does not start with a \\[remote\\] section"),
        ('{"not": "ini"}', "does not start with a \\[remote\\] section"),
        ("[a]\nhost = x\n", "section \\[a\\] has no 'type'"),
        ("[a]\ntype = local\n[a]\ntype = local\n", "section 'a' already exists"),
        ("[a]\ntype = local\na line without a value\n", "Not a valid rclone config file"),
        (
            "# Encrypted rclone configuration File\n\nRCLONE_ENCRYPT_V0:\nAbCd==\n",
            "This rclone config is encrypted",
        ),
        ("[a]\ntype = sftp\nhost = h\npass = plain text!\n", "'pass' is not obscured"),
    ],
)
def test_it_refuses_corrupt_or_foreign_files(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_conf(text)


def test_it_refuses_a_type_this_rclone_does_not_know() -> None:
    with pytest.raises(InvalidRemote, match="unknown remote type 'warpdrive'"):
        parse_conf("[a]\ntype = warpdrive\n")


def test_the_default_path_is_where_rclone_looks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RCLONE_CONFIG", "/srv/rclone/custom.conf")
    assert str(default_config_path()) == "/srv/rclone/custom.conf"
    monkeypatch.delenv("RCLONE_CONFIG")
    assert default_config_path().name == "rclone.conf"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("secret_access_key SUPERSECRET123", "line 3: option 'secret_access_key' has no '='"),
        ("SUPERSECRET123", "line 3 is not 'key = value'"),
        ("  SUPERSECRET123 trailing", "line 3 is not 'key = value'"),
    ],
)
def test_a_malformed_line_is_named_by_number_and_key_never_by_its_value(
    line: str, message: str
) -> None:
    """On main the error quoted the line: 'secret_access_key SUPERSECRET123'."""
    with pytest.raises(InvalidInput, match=message) as caught:
        parse_conf(f"[a]\ntype = s3\n{line}\n")
    assert "SUPERSECRET" not in str(caught.value)


def test_an_indented_line_is_a_key_of_its_own_as_rclone_reads_it() -> None:
    """On main configparser made it a continuation of the value above."""
    text = "[a]\ntype = s3\n  provider = AWS\n    secret_access_key = SK\n"
    assert parse_conf(text) == [
        ConfRemote("a", "s3", {"provider": "AWS", "secret_access_key": "SK"})
    ]
