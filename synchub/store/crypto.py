"""Secrets at rest: a Fernet key in the data directory (0600) or from the environment."""

from __future__ import annotations

import json
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from synchub.core.errors import SynchubError


class SecretBox:
    """Encrypts and decrypts dicts of secret options."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def seal(self, secrets: dict[str, str]) -> bytes | None:
        if not secrets:
            return None
        return self._fernet.encrypt(json.dumps(secrets, sort_keys=True).encode())

    def open(self, token: bytes | None) -> dict[str, str]:
        if not token:
            return {}
        try:
            data: dict[str, str] = json.loads(self._fernet.decrypt(token))
        except InvalidToken:
            raise SynchubError(
                "Cannot decrypt stored secrets: the secret key is not the one they were "
                "sealed with (check SYNCHUB_SECRET_KEY or secret.key)"
            ) from None
        return data


def load_or_create_key(path: Path, *, create: bool) -> bytes:
    """The key stored at `path`, made (mode 0600) when missing and `create` is set."""
    if path.exists():
        return path.read_bytes().strip()
    if not create:
        raise SynchubError(f"No secret key at {path}: run `synchub init`")
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    # O_EXCL: two processes initialising at once must not write two different keys.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as f:
        f.write(key + b"\n")
    return key
