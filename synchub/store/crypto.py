"""Secrets at rest: a Fernet key in the data directory (0600) or from the environment.

cryptography weighs ≈ 7 MiB in every process that imports it, and most runs open no
secret: it is imported when a secret is first sealed or opened, or up front by
`import_crypto` where a process will need it (before a prefork worker forks, in
`serve`) when the database holds any.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from synchub.core.errors import SynchubError

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

#: What cryptography says of a key that is not one (the CLI shows it as is).
BAD_KEY = "Fernet key must be 32 url-safe base64-encoded bytes."


def import_crypto() -> None:
    """Import what sealing and opening secrets (and rclone's obscure) need, now."""
    import cryptography.fernet
    import cryptography.hazmat.primitives.ciphers  # noqa: F401


class SecretBox:
    """Encrypts and decrypts dicts of secret options."""

    def __init__(self, key: bytes) -> None:
        # Checked now as Fernet would, so a bad key still fails at start.
        try:
            raw = base64.urlsafe_b64decode(key)
        except (binascii.Error, ValueError):
            raise ValueError(BAD_KEY) from None
        if len(raw) != 32:
            raise ValueError(BAD_KEY)
        self._key = key
        self._fernet_: Fernet | None = None

    @property
    def _fernet(self) -> Fernet:
        if self._fernet_ is None:
            from cryptography.fernet import Fernet  # see the module's docstring

            self._fernet_ = Fernet(self._key)
        return self._fernet_

    def seal(self, secrets: dict[str, str]) -> bytes | None:
        if not secrets:
            return None
        return self._fernet.encrypt(json.dumps(secrets, sort_keys=True).encode())

    def open(self, token: bytes | None) -> dict[str, str]:
        if not token:
            return {}
        from cryptography.fernet import InvalidToken  # see the module's docstring

        try:
            data: dict[str, str] = json.loads(self._fernet.decrypt(token))
        except InvalidToken:
            raise SynchubError(
                "Cannot decrypt stored secrets: the secret key is not the one they were "
                "sealed with (check SYNCHUB_SECRET_KEY or secret.key)"
            ) from None
        return data


def new_key() -> bytes:
    """A fresh key, as `Fernet.generate_key()` makes it."""
    return base64.urlsafe_b64encode(os.urandom(32))


def load_or_create_key(path: Path, *, create: bool) -> bytes:
    """The key stored at `path`, made (mode 0600) when missing and `create` is set."""
    if path.exists():
        return path.read_bytes().strip()
    if not create:
        raise SynchubError(f"No secret key at {path}: run `synchub init`")
    path.parent.mkdir(parents=True, exist_ok=True)
    key = new_key()
    # O_EXCL: two processes initialising at once must not write two different keys.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as f:
        f.write(key + b"\n")
    return key
