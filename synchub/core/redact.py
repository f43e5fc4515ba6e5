"""Scrubbing known secret values out of text bound for a run's log or error.

A value shorter than MIN_SECRET_LEN is left in place: a short value (a job's
`MODE=full`, a port, `true`) would blank out ordinary words all over the log,
and a credential that short is guessed faster than it is read from a log.
Views mask secrets whatever their length; only this scrubbing has the floor.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

#: Values shorter than this are not scrubbed from logs (see the module's docstring).
MIN_SECRET_LEN = 8
#: What a scrubbed value becomes.
REDACTED = "***"


def secret_list(values: Iterable[str]) -> list[str]:
    """Secrets worth redacting, longest first (so no secret is half-replaced)."""
    return sorted({v for v in values if len(v) >= MIN_SECRET_LEN}, key=len, reverse=True)


def redact(text: str, secrets: list[str]) -> str:
    """`text` with every value of `secrets` (from secret_list) replaced by "***"."""
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


_known: list[str] = []
_lock = threading.Lock()


def remember(values: Iterable[str]) -> None:
    """Scrub `values` (secrets this process has opened) from every log record it makes
    from now on, tracebacks included: an error message may quote a secret (a URL with
    its password) that no run's own scrubbing sees."""
    global _known
    with _lock:
        known = secret_list([*_known, *_parts([v for v in values if isinstance(v, str)])])
        if known == _known:
            return
        if not _known:
            _install(logging.getLogRecordFactory())
        _known = known


def _parts(values: list[str]) -> list[str]:
    """The values, and the password inside each URL among them: an error quotes the
    host it could not reach with its credentials more often than the whole URL."""
    parts = list(values)
    for value in values:
        if "://" in value:
            try:
                password = urlsplit(value).password
            except ValueError:
                continue
            parts += [password] if password else []
    return parts


def _install(make: Callable[..., logging.LogRecord]) -> None:
    def scrubbed(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        secrets = _known
        message = record.getMessage()
        clean = redact(message, secrets)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = redact(_traceback(record), secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, secrets)
        return record

    logging.setLogRecordFactory(scrubbed)


def _traceback(record: logging.LogRecord) -> str:
    assert record.exc_info is not None
    return logging.Formatter().formatException(record.exc_info)
