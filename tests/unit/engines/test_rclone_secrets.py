"""Which backend options are secrets, checked against every option of the pinned rclone.

On main before this test the classification was a word list over rclone's
Sensitive options: `s3.ibm_api_key`, `http.headers`, `webdav.headers`,
`linkbox.web_token`, `shade.token`, `oracleobjectstorage.sse_customer_key` and
`storj.access_grant` were stored in plain text and shown to viewers.
"""

from __future__ import annotations

import re

import pytest

from synchub.engines.base import RemoteConfig
from synchub.engines.rclone.backends import catalogue, secret_options
from synchub.engines.rclone.environment import remote_env, secret_values
from synchub.engines.rclone.secrets import CREDENTIALS_MISSED, IDENTITIES

#: Names that look like a credential's. A new rclone option named so must be
#: classified a secret, or be reviewed and listed below.
CREDENTIAL_LIKE = re.compile(
    r"key|token|secret|pass|credential|cookie|header|auth|session|cert|private|sig"
    r"|mnemonic|grant|salt|otp|bearer|jwt|2fa"
)

_URL = "an address of the service, not a credential"
_FLAG = "a switch (true/false), not a credential"
_PATH = "a path to a file on this machine; the file's content is never read into synchub"
_SPAN = "a duration or an expiry time"

_OAUTH = (
    "box", "drive", "dropbox", "google cloud storage", "google photos", "hidrive",
    "huaweidrive", "jottacloud", "mailru", "onedrive", "pcloud", "premiumizeme", "putio",
    "sharefile", "yandex", "zoho",
)  # fmt: skip
_ENV_AUTH = ("azureblob", "azurefiles", "drive", "google cloud storage", "qingstor", "s3", "swift")

#: Options named like credentials that are not ones (rclone 1.75.2), with the reason.
REVIEWED_NOT_SECRET: dict[str, str] = {
    **{f"{b}.{o}": _URL for b in _OAUTH for o in ("auth_url", "token_url")},
    **{f"{b}.client_credentials": _FLAG for b in _OAUTH},
    **{f"{b}.env_auth": _FLAG for b in _ENV_AUTH},
    "swift.auth": _URL,
    "ftp.ask_password": _FLAG,
    "sftp.ask_password": _FLAG,
    "drive.auth_owner_only": _FLAG,
    "webdav.auth_redirect": _FLAG,
    "filen.auth_version": "a protocol version",
    "swift.auth_version": "a protocol version",
    "sugarsync.authorization_expiry": _SPAN,
    "filefabric.token_expiry": _SPAN,
    "shade.token_expiry": _SPAN,
    "b2.download_auth_duration": _SPAN,
    "s3.role_session_duration": _SPAN,
    "s3.role_session_name": "a label for the assumed role's session",
    "webdav.bearer_token_command": "a command line, shown so that an admin can review it",
    "s3.bypass_governance_retention": _FLAG,
    "azureblob.client_certificate_path": _PATH,
    "azurefiles.client_certificate_path": _PATH,
    "azureblob.client_send_certificate_chain": _FLAG,
    "azurefiles.client_send_certificate_chain": _FLAG,
    "ftp.no_check_certificate": _FLAG,
    "sftp.host_key_algorithms": "algorithm names",
    "sftp.key_exchange": "algorithm names",
    "sftp.host_keys": "the server's public host keys",
    "sftp.pubkey": "a public certificate",
    "sftp.key_file": _PATH,
    "sftp.pubkey_file": _PATH,
    "s3.shared_credentials_file": _PATH,
    "oracleobjectstorage.sse_customer_key_file": _PATH,
    "sftp.key_use_agent": _FLAG,
    "sftp.pin_host_key": _FLAG,
    "imagekit.only_signed": _FLAG,
    "crypt.pass_bad_blocks": _FLAG,
    "seafile.2fa": _FLAG + " (whether the account uses 2FA)",
    "s3.sign_accept_encoding": _FLAG,
    "s3.use_presigned_request": _FLAG,
    "s3.use_unsigned_payload": _FLAG,
    "s3.v2_auth": _FLAG,
}


def _every_option() -> dict[str, tuple[bool, bool, bool]]:
    """backend.option -> (password, sensitive, classified secret), for every option."""
    found = {}
    for name, backend in catalogue().items():
        secret = secret_options(name)
        for o in backend.options:
            found[f"{name}.{o.name}"] = (o.password, o.sensitive, o.name in secret)
    return found


def test_every_option_named_like_a_credential_is_secret_or_reviewed() -> None:
    unreviewed = sorted(
        key
        for key, (_, _, secret) in _every_option().items()
        if CREDENTIAL_LIKE.search(key.rpartition(".")[2])
        and not secret
        and key not in REVIEWED_NOT_SECRET
        and key not in IDENTITIES
    )
    assert unreviewed == [], (
        "classify these in synchub/engines/rclone/secrets.py (CREDENTIALS_MISSED), or list "
        "them in REVIEWED_NOT_SECRET here with the reason they are not credentials"
    )


def test_every_password_and_sensitive_option_is_secret_but_the_reviewed_identities() -> None:
    for key, (password, sensitive, secret) in _every_option().items():
        assert secret == (password or (sensitive and key not in IDENTITIES)) or (
            key in CREDENTIALS_MISSED
        ), key


@pytest.mark.parametrize(
    "key",
    [
        "s3.ibm_api_key",
        "http.headers",
        "webdav.headers",
        "linkbox.web_token",
        "shade.token",
        "oracleobjectstorage.sse_customer_key",
        "storj.access_grant",  # Sensitive, but no word of the old list matched it
        "b2.account",  # a key id, sealed like s3's access_key_id
        "http.url",  # "https://user:pass@example.com", says rclone's help
        "sftp.socks_proxy",  # "user:pass@host:port"
        "s3.access_key_id",
        "s3.secret_access_key",
        "sftp.pass",
        "sftp.key_pem",
        "drive.token",
    ],
)
def test_known_credentials_are_secret(key: str) -> None:
    backend, _, option = key.partition(".")
    assert option in secret_options(backend)


@pytest.mark.parametrize("key", ["sftp.host", "sftp.user", "webdav.user", "drive.client_id"])
def test_identities_stay_in_view(key: str) -> None:
    backend, _, option = key.partition(".")
    assert option not in secret_options(backend)


def test_the_reviewed_tables_name_options_this_rclone_has_and_does_not_mark() -> None:
    every = _every_option()
    # It should drop an entry an rclone upgrade removed, or now marks itself.
    for key in CREDENTIALS_MISSED:
        assert key in every and every[key][:2] == (False, False), key
    for key in IDENTITIES:
        assert key in every and every[key][:2] == (False, True), key
    for key in REVIEWED_NOT_SECRET:
        assert key in every and every[key][:2] == (False, False), key


def test_a_runs_secrets_are_the_plain_values_and_the_obscured_forms_rclone_gets() -> None:
    options = {"url": "http://h/", "user": "bob", "pass": "pw-Abc12345", "headers": "A,B"}
    remotes = {"dav": RemoteConfig("dav", "webdav", options)}
    env = remote_env(remotes)
    obscured = env["RCLONE_CONFIG_DAV_PASS"]
    assert obscured != "pw-Abc12345"
    assert set(secret_values(remotes, env)) == {"pw-Abc12345", obscured, "A,B"}
