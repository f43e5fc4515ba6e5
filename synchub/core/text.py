"""What text synchub accepts, in one rule for every string that enters: API bodies,
query strings and path parameters, the CLI's arguments, rclone.conf files, settings.

- Never: a lone surrogate (U+D800-U+DFFF). It is not text: UTF-8 cannot encode it, so
  a stored one breaks every answer that shows it. Python makes one of a JSON escape
  such as "\\ud800" and of each byte of a command line that is not UTF-8.
- Never: NUL and the other C0 controls, DEL, the C1 controls (U+0080-U+009F). They
  mean nothing in a name, a path or an option, PostgreSQL cannot store NUL, and an
  escape sequence shown on a terminal can rewrite what an operator sees.
- Tab, line feed, carriage return and the Unicode line and paragraph separators only
  in multi-line fields (`MULTILINE_FIELDS`): a command job's argv items and env
  values. Everywhere else (names, paths, option values, cron, filters, queries) a
  value is one line.

Text read back that breaks the rule anyway (a row written by other means) is shown,
not refused: `repaired` replaces lone surrogates, `shown` escapes controls for a
terminal.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from typing import Any

from synchub.core.errors import InvalidText

#: Not text anywhere: lone surrogates, and controls other than tab, LF and CR.
_NEVER = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
#: Not in a one-line value: every control, and the line and paragraph separators.
_NOT_IN_A_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")

#: Fields whose items (list) or values (mapping) may span lines, as paths of keys
#: from the top of a job's settings: a command's argv items and env values.
MULTILINE_FIELDS: frozenset[tuple[str, ...]] = frozenset({("params", "argv"), ("params", "env")})


def problem(value: str, *, multiline: bool = False) -> str | None:
    """Why `value` is not acceptable text, None when it is."""
    found = (_NEVER if multiline else _NOT_IN_A_LINE).search(value)
    if found is None:
        return None
    char = found.group()
    code = f"U+{ord(char):04X}"
    if _SURROGATE.fullmatch(char):
        return f"is not valid UTF-8 text (it holds the lone surrogate {code})"
    if multiline:
        return f"holds the control character {code}; only tab and line breaks are allowed"
    return f"holds the control character {code}; it must be one line of text"


def check_text(value: str, where: str, *, multiline: bool = False) -> str:
    """`value` unchanged when it is acceptable text; InvalidText naming `where` (never
    the value, which may be a secret) otherwise."""
    why = problem(value, multiline=multiline)
    if why is not None:
        raise InvalidText(f"{where} {why}")
    return value


def check_tree(
    value: Any,
    where: str,
    *,
    path: tuple[str, ...] = (),
    multiline: Collection[tuple[str, ...]] = MULTILINE_FIELDS,
) -> None:
    """Check every string in decoded JSON `value`, mapping keys included. `where` names
    the top (e.g. "body"); a string whose parent's key path is in `multiline` may span
    lines. Raises InvalidText for the first bad string."""
    if isinstance(value, str):
        check_text(value, where, multiline=path[:-1] in multiline)
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str):
                check_text(key, f"a key of {where}")
                name = key if len(key) <= 64 else key[:61] + "..."
                check_tree(item, f"{where}.{name}", path=(*path, key), multiline=multiline)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            check_tree(item, f"{where}[{index}]", path=(*path, str(index)), multiline=multiline)


def repaired(value: Any) -> Any:
    """`value` (decoded JSON) with each lone surrogate replaced by U+FFFD, so that it
    can be encoded again; the same object when it holds none."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value) if _SURROGATE.search(value) else value
    if isinstance(value, dict):
        return {repaired(k): repaired(v) for k, v in value.items()}
    if isinstance(value, list):
        return [repaired(item) for item in value]
    return value


# A "\ud800"-style escape: the only way JSON text can carry a surrogate (paired or not).
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89abcdefABCDEF]")


def loads_repaired(data: str | bytes | bytearray | memoryview) -> Any:
    """json.loads, with lone surrogates (and bytes that are not UTF-8) replaced, see
    `repaired`: for JSON read from the database, which may hold what no door let in."""
    text = data if isinstance(data, str) else bytes(data).decode("utf-8", "replace")
    value = json.loads(text)
    return repaired(value) if _ESCAPED_SURROGATE.search(text) else value


_SHOWN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def shown(text: str) -> str:
    """`text` safe to print on a terminal: controls (but tab and newline) and lone
    surrogates as Python escapes, e.g. "\\x1b", "\\ud800"."""
    if _SHOWN.search(text) is None:
        return text
    return _SHOWN.sub(lambda m: ascii(m.group())[1:-1], text)
