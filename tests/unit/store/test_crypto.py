"""Secrets at rest: cryptography is imported only when a secret is sealed or opened."""

from __future__ import annotations

import base64
import io
import logging
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet

from synchub.core.errors import NoSecretKey, SecretsUnreadable, SynchubError
from synchub.store.crypto import BAD_KEY, SecretBox, new_key


@pytest.mark.parametrize(
    "key",
    [b"", b"abc", b"!!!!", base64.urlsafe_b64encode(b"x" * 31), b"eHh4" * 12],
)
def test_a_bad_key_is_refused_as_fernet_refuses_it(key: bytes) -> None:
    with pytest.raises(ValueError, match=BAD_KEY):
        Fernet(key)  # the message synchub shows is cryptography's
    with pytest.raises(ValueError, match=BAD_KEY):
        SecretBox(key)


def test_secrets_sealed_open_again_and_fernet_reads_them() -> None:
    key = new_key()
    box = SecretBox(key)
    token = box.seal({"password": "pw"})
    assert token is not None
    assert box.open(token) == {"password": "pw"}
    assert Fernet(key).decrypt(token) == b'{"password": "pw"}'
    assert box.seal({}) is None
    assert box.open(None) == {}


def test_another_key_cannot_open_them() -> None:
    token = SecretBox(new_key()).seal({"password": "pw"})
    with pytest.raises(SynchubError, match="not the one they were sealed with"):
        SecretBox(new_key()).open(token)


def test_no_secret_opened_imports_no_cryptography() -> None:
    code = (
        "import sys\n"
        "from synchub.store.crypto import SecretBox, new_key\n"
        "box = SecretBox(new_key())\n"
        "assert box.open(None) == {} and box.seal({}) is None\n"
        "print(any(m.startswith('cryptography') for m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_without_a_key_nothing_is_sealed_and_sealed_values_are_unreadable() -> None:
    token = SecretBox(new_key()).seal({"password": "pw"})
    box = SecretBox(None, source="/data/secret.key", missing=lambda: "restore it")
    assert not box.has_key
    assert box.open(None) == {} and box.seal({}) is None
    with pytest.raises(NoSecretKey, match="restore it"):
        box.seal({"password": "pw"})
    with pytest.raises(SecretsUnreadable, match=r"no secret key at /data/secret\.key") as exc:
        box.open(token, what="The secret options of remote 'nas'")
    assert exc.value.message.startswith("The secret options of remote 'nas' cannot be read")
    assert "synchub init" not in exc.value.message
    assert box.unreadable(token) == "no secret key"
    assert SecretBox(new_key()).unreadable(token) == "wrong secret key"


def test_a_secret_once_opened_is_scrubbed_from_every_log_record_and_traceback() -> None:
    box = SecretBox(new_key())
    secret = "hunter2-" + new_key().decode()[:12]
    assert box.open(box.seal({"url": f"json://bob:{secret}@example.org/"})) != {}
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    log = logging.getLogger("synchub.test.scrub")
    log.addHandler(handler)
    try:
        try:
            raise ConnectionError(f"cannot reach bob:{secret}@example.org")
        except ConnectionError:
            log.exception("delivery to %s failed", f"bob:{secret}@example.org")
        log.warning("stack", stack_info=True, extra={"action": "x"})
    finally:
        log.removeHandler(handler)
    text = out.getvalue()
    assert secret not in text
    assert "delivery to bob:***@example.org failed" in text
    assert "ConnectionError: cannot reach bob:***@example.org" in text
