"""Which options of rclone's backends are secrets: sealed at rest, masked in every view.

rclone's own metadata decides, for the rclone in use: an option it marks
`IsPassword` (stored obscured) or `Sensitive` (left out of `rclone config
redacted`) is a secret. Two reviewed tables, keyed "backend.option", correct
it for the pinned rclone (1.75.2); tests/unit/engines/test_rclone_secrets.py
fails when an rclone upgrade brings an option named like a credential that
neither the metadata nor these tables (nor the test's own reviewed list of
options that only look like one) account for.
"""

from __future__ import annotations

#: Credentials rclone's metadata does not mark: sealed all the same.
CREDENTIALS_MISSED: dict[str, str] = {
    "s3.ibm_api_key": "an IBM Cloud API key",
    "http.headers": "HTTP headers, such as an Authorization or Cookie header",
    "webdav.headers": "HTTP headers, such as an Authorization or Cookie header",
    "linkbox.web_token": "a login token rclone keeps for the web API",
    "shade.token": "a JWT rclone keeps for the Shade API",
    "oracleobjectstorage.sse_customer_key": "an SSE-C encryption key",
    "oracleobjectstorage.sse_customer_key_sha256": "the hash of an SSE-C key (as b2's and s3's)",
    "oracleobjectstorage.sse_kms_key_id": "a KMS key id (as s3's, which rclone marks)",
    "mega.2fa": "a one-time 2FA code",
    "protondrive.2fa": "a one-time 2FA code",
    # rclone's own help gives these as user:pass@host: the whole value is sealed.
    "http.url": "the server's URL, which may hold user:pass (rclone's help says so)",
    "ftp.http_proxy": "a proxy URL, which may hold user:pass",
    "ftp.socks_proxy": "a proxy address, which may hold user:pass",
    "sftp.http_proxy": "a proxy URL, which may hold user:pass",
    "sftp.socks_proxy": "a proxy address, which may hold user:pass",
}

_WHO = "who signs in (a user name, e-mail or account name): shown to tell remotes apart"
_WHERE = "where the service is (a host or URL): shown to tell remotes apart"
_WHICH = "which app, tenant, drive or folder (an id): opens nothing without a credential"

#: Options rclone marks Sensitive only so that its redacted dumps hide identities:
#: they stay in plain view. Each with the reason it is not a credential.
IDENTITIES: dict[str, str] = {
    **dict.fromkeys(
        (
            "azureblob.account",
            "azureblob.username",
            "azurefiles.account",
            "azurefiles.username",
            "box.impersonate",
            "cache.plex_username",
            "cloudinary.cloud_name",
            "drive.impersonate",
            "dropbox.impersonate",
            "dropbox.impersonate_admin",
            "ftp.user",
            "hdfs.service_principal_name",
            "hdfs.username",
            "iclouddrive.apple_id",
            "internxt.email",
            "koofr.user",
            "linkbox.email",
            "mailru.user",
            "mega.user",
            "netstorage.account",
            "opendrive.username",
            "pcloud.username",
            "pikpak.user",
            "seafile.user",
            "sftp.user",
            "smb.domain",
            "smb.spn",
            "smb.user",
            "sugarsync.user",
            "swift.domain",
            "swift.tenant",
            "swift.tenant_domain",
            "swift.user",
            "swift.user_id",
            "ulozto.username",
            "webdav.user",
        ),
        _WHO,
    ),
    **dict.fromkeys(
        (
            "ftp.host",
            "hdfs.namenode",
            "netstorage.host",
            "seafile.url",
            "sftp.host",
            "sia.api_url",
            "smb.host",
        ),
        _WHERE,
    ),
    **dict.fromkeys(
        (
            "azureblob.client_id",
            "azureblob.msi_client_id",
            "azureblob.msi_mi_res_id",
            "azureblob.msi_object_id",
            "azureblob.tenant",
            "azurefiles.client_id",
            "azurefiles.msi_client_id",
            "azurefiles.msi_mi_res_id",
            "azurefiles.msi_object_id",
            "azurefiles.tenant",
            "box.client_id",
            "box.root_folder_id",
            "drime.root_folder_id",
            "drime.workspace_id",
            "drive.client_id",
            "drive.root_folder_id",
            "drive.team_drive",
            "dropbox.client_id",
            "filefabric.root_folder_id",
            "filen.base_folder_uuid",
            "gofile.account_id",
            "gofile.root_folder_id",
            "google cloud storage.client_id",
            "google cloud storage.project_number",
            "google cloud storage.user_project",
            "google photos.client_id",
            "hidrive.client_id",
            "huaweidrive.client_id",
            "jottacloud.client_id",
            "mailru.client_id",
            "onedrive.client_id",
            "onedrive.drive_id",
            "onedrive.root_folder_id",
            "onedrive.tenant",
            "oracleobjectstorage.compartment",
            "oracleobjectstorage.namespace",
            "pcloud.client_id",
            "pcloud.root_folder_id",
            "pikpak.root_folder_id",
            "premiumizeme.client_id",
            "putio.client_id",
            "sharefile.client_id",
            "sharefile.root_folder_id",
            "sugarsync.app_id",
            "sugarsync.deleted_id",
            "sugarsync.root_id",
            "swift.tenant_id",
            "ulozto.root_folder_slug",
            "yandex.client_id",
            "zoho.client_id",
            "zoho.root_folder_id",
        ),
        _WHICH,
    ),
}


def is_secret(backend: str, option: str, *, password: bool, sensitive: bool) -> bool:
    """Whether option `option` of backend `backend` is a secret, given rclone's marks."""
    key = f"{backend}.{option}"
    if password or key in CREDENTIALS_MISSED:
        return True
    return sensitive and key not in IDENTITIES
