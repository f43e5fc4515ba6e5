"""rclone's `obscure` and `reveal`, so secrets never pass through an argv.

rclone stores password options "obscured": AES-256-CTR under a key that is
published in rclone's source (fs/config/obscure/obscure.go), with a random
16-byte IV in front, encoded as unpadded URL-safe base64. It is an encoding
that stops shoulder-surfing, not encryption: anyone can reveal the value.
synchub keeps secrets encrypted at rest itself and obscures them only on the
way into rclone's environment.
"""

from __future__ import annotations

import base64
import binascii
import os
import re

# rclone's fixed public key, byte for byte from obscure.go.
_KEY = bytes.fromhex("9c935b48730a554d6bfd7c63c886a92bd390198eb8128afbf4de162b8b95f638")
_IV_SIZE = 16  # the AES block size
_URLSAFE = re.compile(r"[A-Za-z0-9_-]*")


def _crypt(data: bytes, iv: bytes) -> bytes:
    # Imported here: cryptography weighs ≈ 7 MiB in every worker, and only remotes with
    # a password need it (`synchub.store.crypto.import_crypto` loads it up front).
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    # CTR mode: encrypting and decrypting are the same operation.
    transform = Cipher(algorithms.AES(_KEY), modes.CTR(iv)).encryptor()
    return transform.update(data) + transform.finalize()


def obscure(plain: str) -> str:
    """`plain` obscured as `rclone obscure` would, with a fresh random IV."""
    iv = os.urandom(_IV_SIZE)
    raw = iv + _crypt(plain.encode("utf-8"), iv)
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def reveal(obscured: str) -> str:
    """The plain text of an obscured value, as `rclone reveal` gives it.

    Raises ValueError when `obscured` is not something `obscure` produced
    (bad base64, too short, or not UTF-8 once revealed).
    """
    text = obscured.strip()
    # The decoder silently drops characters outside the alphabet: refuse them first.
    if not _URLSAFE.fullmatch(text):
        raise ValueError("not an obscured value: it is not URL-safe base64")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not an obscured value: base64 decoding failed") from exc
    if len(raw) < _IV_SIZE:
        raise ValueError("not an obscured value: too short")
    try:
        return _crypt(raw[_IV_SIZE:], raw[:_IV_SIZE]).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError("not an obscured value: it does not reveal to text") from exc
