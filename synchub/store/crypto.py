"""Secrets at rest: a Fernet key in the data directory (0600) or from the environment.

A missing or wrong key leaves the sealed values unreadable, never the rest: views
show them as unreadable and runs that need them fail (see `SecretsUnreadable`).

cryptography weighs ≈ 7 MiB in every process that imports it, and most runs open no
secret: it is imported when a secret is first sealed or opened, or up front by
`import_crypto` where a process will need it (before a prefork worker forks, in
`serve`) when the database holds any.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from synchub.core.errors import NoSecretKey, SecretsUnreadable
from synchub.core.redact import remember
from synchub.store.files import FILE_MODE, private_dir

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

#: What cryptography says of a key that is not one (the CLI shows it as is).
BAD_KEY = "Fernet key must be 32 url-safe base64-encoded bytes."


def import_crypto() -> None:
    """Import what sealing and opening secrets (and rclone's obscure) need, now."""
    import cryptography.fernet
    import cryptography.hazmat.primitives.ciphers  # noqa: F401


#: Why stored secrets cannot be read, as views show it.
WRONG_KEY = "wrong secret key"
NO_KEY = "no secret key"
#: What every message about unreadable secrets ends with.
REMEDY = (
    "restore the key they were sealed with from a backup, or enter them again "
    "(`synchub secrets forget` drops every unreadable value)"
)


class SecretBox:
    """Seals and opens dicts of secret options with one key, or with none (`key`
    None: the key file is missing), when nothing can be sealed and every sealed value
    is unreadable."""

    def __init__(
        self,
        key: bytes | None,
        *,
        source: str = "the secret key",
        missing: Callable[[], str] | None = None,
    ) -> None:
        """`source` says where the key comes from (its file, or SYNCHUB_SECRET_KEY);
        `missing` makes the message for sealing without a key."""
        # Checked now as Fernet would, so a bad key still fails at start.
        if key is not None:
            try:
                raw = base64.urlsafe_b64decode(key)
            except (binascii.Error, ValueError):
                raise ValueError(BAD_KEY) from None
            if len(raw) != 32:
                raise ValueError(BAD_KEY)
        self._key = key
        self.source = source
        self._missing = missing
        self._fernet_: Fernet | None = None

    @property
    def has_key(self) -> bool:
        return self._key is not None

    @property
    def _fernet(self) -> Fernet:
        if self._fernet_ is None:
            from cryptography.fernet import Fernet  # see the module's docstring

            assert self._key is not None
            self._fernet_ = Fernet(self._key)
        return self._fernet_

    def derive(self, purpose: str) -> bytes:
        """32 bytes for `purpose`, derived from the key (HMAC-SHA256): a key of its own
        for each use, from which the key itself cannot be found."""
        if self._key is None:
            raise NoSecretKey(self._missing() if self._missing is not None else None)
        return hmac.new(self._key, b"synchub:" + purpose.encode(), hashlib.sha256).digest()

    def seal(self, secrets: dict[str, str]) -> bytes | None:
        """The sealed `secrets`, None for none; NoSecretKey without a key."""
        if not secrets:
            return None
        if self._key is None:
            raise NoSecretKey(self._missing() if self._missing is not None else None)
        return self._fernet.encrypt(json.dumps(secrets, sort_keys=True).encode())

    def open(self, token: bytes | None, *, what: str = "The stored secrets") -> dict[str, str]:
        """The secrets sealed in `token` ({} for None). SecretsUnreadable, whose message
        starts with `what`, when there is no key or it is not the one they were sealed
        with."""
        if not token:
            return {}
        if self._key is None:
            raise SecretsUnreadable(
                f"{what} cannot be read: there is no secret key at {self.source}; {REMEDY}",
                reason=NO_KEY,
            )
        from cryptography.fernet import InvalidToken  # see the module's docstring

        try:
            data: dict[str, str] = json.loads(self._fernet.decrypt(token))
        except InvalidToken:
            raise SecretsUnreadable(
                f"{what} cannot be read: the secret key ({self.source}) is not the one "
                f"they were sealed with; {REMEDY}",
                reason=WRONG_KEY,
            ) from None
        remember(data.values())
        return data

    def unreadable(self, token: bytes | None) -> str | None:
        """Why `token` cannot be opened (WRONG_KEY or NO_KEY); None when it can."""
        try:
            self.open(token)
        except SecretsUnreadable as exc:
            return exc.reason
        return None


def new_key() -> bytes:
    """A fresh key, as `Fernet.generate_key()` makes it."""
    return base64.urlsafe_b64encode(os.urandom(32))


def read_key(path: Path) -> bytes | None:
    """The key stored at `path`; None when there is no such file."""
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        return None


def create_key(path: Path) -> bytes:
    """A new key stored at `path` (mode 0600, in a 0700 directory made when missing),
    or the one already there."""
    private_dir(path.parent)
    key = new_key()
    # O_EXCL: two processes initialising at once must not write two different keys.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as f:
        os.fchmod(f.fileno(), FILE_MODE)  # exactly 0600, whatever the umask
        f.write(key + b"\n")
    return key
