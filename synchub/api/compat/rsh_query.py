"""The `query` parameter of the rclone-sync-hub console: a JSON object, read as data.

The original evaluated it; here it is parsed, every field checked against a
whitelist, and `$regex` compiled with RE2, whose matching time is linear in the
input: no request can pin a CPU.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from synchub.core.errors import BadQuery, InvalidText
from synchub.core.text import check_tree

MAX_QUERY_CHARS = 2000
MAX_REGEX_CHARS = 200


@dataclass(frozen=True)
class Condition:
    field: str
    value: str | int | None = None  #: equality, when `pattern` is None
    pattern: Any = None  #: a compiled RE2 pattern for `$regex`

    def matches(self, actual: object) -> bool:
        if self.pattern is not None:
            return isinstance(actual, str) and self.pattern.search(actual) is not None
        return actual == self.value


def parse_query(text: str | None, fields: Mapping[str, type]) -> list[Condition]:
    """The conditions of `text`; `fields` maps each allowed field to int or str."""
    if text is None or not text.strip():
        return []
    if len(text) > MAX_QUERY_CHARS:
        raise BadQuery(f"query is longer than {MAX_QUERY_CHARS} characters")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise BadQuery('query must be a JSON object, e.g. {"status": 3}') from None
    if not isinstance(data, dict):
        raise BadQuery('query must be a JSON object, e.g. {"status": 3}')
    try:
        check_tree(data, "query")  # its escapes ("\\u0000") are decoded only here
    except InvalidText as exc:
        raise BadQuery(exc.message) from None
    return [_condition(name, value, fields) for name, value in data.items()]


def _condition(name: str, value: object, fields: Mapping[str, type]) -> Condition:
    if name not in fields:
        allowed = ", ".join(sorted(fields)) or "none"
        raise BadQuery(f"query field {name!r} is not allowed; allowed: {allowed}")
    if isinstance(value, dict):
        return Condition(name, pattern=_regex(name, value))
    wanted = fields[name]
    if wanted is int and isinstance(value, int) and not isinstance(value, bool):
        return Condition(name, value=value)
    if wanted is str and isinstance(value, str):
        return Condition(name, value=value)
    kind = "an integer" if wanted is int else "a string"
    raise BadQuery(f'query field {name!r} must be {kind} or {{"$regex": ...}}')


@functools.cache
def _re2_options() -> Any:
    import re2

    options = re2.Options()
    options.log_errors = False  # a bad pattern is the client's error, not a log line
    options.max_mem = 1 << 20  # bounds the compiled program of a hostile pattern
    return options


def _regex(name: str, spec: Mapping[str, object]) -> Any:
    # RE2 is imported at the first $regex: the servers that never see one (most)
    # do not carry its 2.6 MiB.
    import re2

    unknown = set(spec) - {"$regex", "$options"}
    if unknown or "$regex" not in spec:
        raise BadQuery(f'query field {name!r}: only {{"$regex": ..., "$options": "i"}}')
    pattern, options = spec["$regex"], spec.get("$options", "")
    if not isinstance(pattern, str) or len(pattern) > MAX_REGEX_CHARS:
        raise BadQuery(f"$regex of {name!r} must be a string of at most {MAX_REGEX_CHARS} chars")
    if options not in ("", "i"):
        raise BadQuery(f'$options of {name!r} may only be "i"')
    try:
        return re2.compile(f"(?i){pattern}" if options else pattern, _re2_options())
    except re2.error as exc:
        detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise BadQuery(f"$regex of {name!r} is not a valid pattern: {detail}") from None
