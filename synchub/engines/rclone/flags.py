"""The rclone flags a job may use: an allow-list with typed values.

Anything not in `FLAGS` is refused. Left out on purpose: flags that read or
write a file on the server (`--config`, `--filter-from`, `--files-from`,
`--log-file`, `--ca-cert`...), that run a program (`--password-command`),
that name other places to write (`--backup-dir`, `--compare-dest`: they are
`remote:path`s outside the job's two), and the flags synchub sets itself
(logging, stats, `--resync`).

`FLAGS` is data: one row per flag, the value's kind, and the operations it
applies to when rclone accepts it only there.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from synchub.core.bwlimit import parse_bwlimit, rates
from synchub.core.errors import InvalidOption


class Kind(StrEnum):
    BOOL = "bool"  #: no value, or true/false
    INT = "int"  #: a whole number, at least `Flag.minimum`
    FLOAT = "float"  #: a number, at least `Flag.minimum`
    SIZE = "size"  #: 10M, 1.5G, 512Ki, off
    DURATION = "duration"  #: Go's: 1h30m, 500ms, 0 (no days, no bare numbers)
    LONG_DURATION = "long_duration"  #: rclone's: 1h30m, 2d, 1M, 1y, off; bare numbers are seconds
    AGE = "age"  #: a long duration or a date: 2024-01-31, 2024-01-31T12:00:00Z
    BWLIMIT = "bwlimit"  #: 10M, 10M:1M, or a timetable "08:00,512k 18:00,off"
    CHOICE = "choice"  #: one of `Flag.choices`
    CHOICES = "choices"  #: a comma-separated list of `Flag.choices`
    ORDER_BY = "order_by"  #: size|name|modtime[,asc|desc][,mixed[,N]]
    FILE_NAME = "file_name"  #: one path element, e.g. ".nobackup" (never a path)
    SUFFIX = "suffix"  #: a short file-name suffix, e.g. ".bak"


SYNC_OPS = frozenset({"sync", "copy", "move", "bisync"})


@dataclass(frozen=True)
class Flag:
    kind: Kind
    minimum: float | None = None  #: smallest value, for INT and FLOAT
    #: largest value, spelled as a value of the flag ("128", "1G", "24h"); each rate of
    #: a BWLIMIT; the duration of an AGE
    maximum: str | None = None
    choices: frozenset[str] = frozenset()  #: for CHOICE and CHOICES (lower case)
    ops: frozenset[str] | None = None  #: the operations it applies to; None = all
    repeatable: bool = False  #: may be given more than once


def _b(ops: frozenset[str] | None = None) -> Flag:
    return Flag(Kind.BOOL, ops=ops)


def _i(minimum: int, maximum: int) -> Flag:
    return Flag(Kind.INT, minimum=minimum, maximum=str(maximum))


def _size(maximum: str = "1E") -> Flag:
    return Flag(Kind.SIZE, maximum=maximum)


def _d(maximum: str) -> Flag:
    return Flag(Kind.DURATION, maximum=maximum)


def _c(*choices: str, ops: frozenset[str] | None = None, many: bool = False) -> Flag:
    return Flag(Kind.CHOICES if many else Kind.CHOICE, choices=frozenset(choices), ops=ops)


_BISYNC = frozenset({"bisync"})

FLAGS: dict[str, Flag] = {
    # What counts as a change
    "--checksum": _b(),  #: compare size and checksum, not modification time
    "--size-only": _b(),  #: compare size only
    "--ignore-existing": _b(),  #: never touch files already at the destination
    "--ignore-times": _b(),  #: transfer every file, changed or not
    "--ignore-size": _b(),  #: compare modification time or checksum, not size
    "--ignore-checksum": _b(),  #: skip the checksum check after a copy
    "--ignore-case-sync": _b(),  #: names that differ only in case are the same
    "--update": _b(),  #: skip files that are newer at the destination
    "--modify-window": _d("24h"),  #: times this close are equal
    "--use-server-modtime": _b(),  #: use the server's upload time
    "--immutable": _b(),  #: never modify files; fail if they changed
    # Safety
    "--dry-run": _b(),  #: report what would change, change nothing
    "--max-delete": _i(-1, 10**9),  #: stop after this many deletes (-1: no limit)
    "--max-delete-size": _size(),  #: stop after deleting this much
    "--error-on-no-transfer": _b(),  #: fail (exit 9) when nothing was transferred
    "--ignore-errors": _b(),  #: delete even after I/O errors
    # Deletion timing and renames (sync)
    "--delete-before": _b(),
    "--delete-during": _b(),
    "--delete-after": _b(),
    "--delete-excluded": _b(),  #: delete destination files the filters exclude
    "--track-renames": _b(),  #: move renamed files server-side instead of copying
    "--track-renames-strategy": _c("hash", "modtime", "leaf", many=True),
    "--suffix": Flag(Kind.SUFFIX),  #: keep replaced files, renamed with this suffix
    "--suffix-keep-extension": _b(),
    "--fix-case": _b(),  #: rename destination files to the source's case
    # Which files
    "--max-age": Flag(Kind.AGE, maximum="100y"),
    "--min-age": Flag(Kind.AGE, maximum="100y"),
    "--max-size": _size(),
    "--min-size": _size(),
    "--max-depth": _i(-1, 1000),
    "--exclude-if-present": Flag(Kind.FILE_NAME, repeatable=True),  #: skip dirs holding it
    "--copy-links": _b(),  #: follow symlinks
    "--links": _b(),  #: store symlinks as .rclonelink files
    "--skip-links": _b(),  #: don't warn about skipped symlinks
    "--one-file-system": _b(),  #: don't cross file-system boundaries
    "--metadata": _b(),  #: copy metadata too
    # Limits and pacing
    "--transfers": _i(1, 128),  #: each holds a --buffer-size in memory
    "--checkers": _i(1, 256),
    "--bwlimit": Flag(Kind.BWLIMIT, maximum="1E"),
    "--bwlimit-file": Flag(Kind.BWLIMIT, maximum="1E"),
    "--max-transfer": _size(),  #: stop after this much (exit 8)
    "--max-duration": _d("8760h"),  #: stop after this long (exit 10)
    "--cutoff-mode": _c("hard", "soft", "cautious"),  #: how the two limits above stop
    "--tpslimit": Flag(Kind.FLOAT, minimum=0, maximum="100000"),
    "--tpslimit-burst": _i(1, 100_000),
    "--order-by": Flag(Kind.ORDER_BY),
    "--check-first": _b(),
    "--max-backlog": _i(1, 1_000_000),
    "--buffer-size": _size("1G"),  #: in memory, per transfer
    "--multi-thread-streams": _i(0, 64),
    "--multi-thread-cutoff": _size(),
    "--inplace": _b(),
    # Listing and network
    "--fast-list": _b(),
    "--no-traverse": _b(),
    "--no-check-dest": _b(),
    "--no-update-modtime": _b(),
    "--retries": _i(1, 100),  #: each one a whole new pass
    "--retries-sleep": _d("24h"),
    "--low-level-retries": _i(1, 1000),
    "--timeout": _d("24h"),
    "--contimeout": _d("1h"),
    # Only some operations
    "--create-empty-src-dirs": _b(SYNC_OPS),
    "--delete-empty-src-dirs": _b(frozenset({"move"})),
    "--one-way": _b(frozenset({"check"})),
    "--download": _b(frozenset({"check"})),
    "--conflict-resolve": _c(
        "none", "path1", "path2", "newer", "older", "larger", "smaller", ops=_BISYNC
    ),
    "--conflict-loser": _c("num", "pathname", "delete", ops=_BISYNC),
    "--conflict-suffix": Flag(Kind.SUFFIX, ops=_BISYNC),  #: one, or two comma-separated
    "--compare": _c("size", "modtime", "checksum", ops=_BISYNC, many=True),
    "--check-sync": _c("true", "false", "only", ops=_BISYNC),
    "--check-access": _b(_BISYNC),
    "--check-filename": Flag(Kind.FILE_NAME, ops=_BISYNC),
    "--resilient": _b(_BISYNC),
    "--recover": _b(_BISYNC),
    "--force": _b(_BISYNC),
    "--max-lock": Flag(Kind.LONG_DURATION, maximum="1y", ops=_BISYNC),
    "--remove-empty-dirs": _b(_BISYNC),
    "--ignore-listing-checksum": _b(_BISYNC),
    "--no-slow-hash": _b(_BISYNC),
    "--slow-hash-sync-only": _b(_BISYNC),
    "--download-hash": _b(_BISYNC),
}

#: Flags of which a job may give at most one (rclone refuses the mix).
EXCLUSIVE: tuple[frozenset[str], ...] = (
    frozenset({"--delete-before", "--delete-during", "--delete-after"}),
)

#: rclone's one-letter spellings of allowed flags.
SHORT: dict[str, str] = {
    "-c": "--checksum",
    "-I": "--ignore-times",
    "-u": "--update",
    "-n": "--dry-run",
    "-L": "--copy-links",
    "-l": "--links",
    "-x": "--one-file-system",
    "-M": "--metadata",
}

#: Why some well-known flags are refused, for a clearer message.
REFUSED: dict[str, str] = {
    "--config": "it names a file on the server",
    "--exclude-from": "it reads a file on the server; use filters",
    "--include-from": "it reads a file on the server; use filters",
    "--filter-from": "it reads a file on the server; use filters",
    "--files-from": "it reads a file on the server",
    "--files-from-raw": "it reads a file on the server",
    "--log-file": "synchub keeps the run's log",
    "--password-command": "it runs a program on the server",
    "--backup-dir": "it writes outside the job's source and destination",
    "--compare-dest": "it reads outside the job's source and destination",
    "--copy-dest": "it reads outside the job's source and destination",
    "--use-json-log": "synchub sets it",
    "--stats": "synchub sets it",
    "--stats-log-level": "synchub sets it",
    "--log-level": "synchub sets it",
    "--log-format": "synchub sets it",
    "--verbose": "synchub sets it",
    "-v": "synchub sets it",
    "-vv": "synchub sets it",
    "--quiet": "synchub sets it",
    "-q": "synchub sets it",
    "--color": "synchub sets it",
    "--resync": "synchub passes it on a bisync job's first run",
    "--resync-mode": "it implies --resync, which synchub manages",
}

#: How a value of each kind is written, for a person choosing an option.
KIND_HELP: dict[Kind, str] = {
    Kind.BOOL: "on its own, or =true / =false",
    Kind.INT: "a whole number",
    Kind.FLOAT: "a number",
    Kind.SIZE: "a size: 10M, 1.5G, 512Ki, off",
    Kind.DURATION: "a duration: 1h30m, 500ms",
    Kind.LONG_DURATION: "a duration: 1h30m, 2d, 1M, 1y, off",
    Kind.AGE: "an age (1h30m, 2d, 1y) or a date (2024-01-31)",
    Kind.BWLIMIT: "a rate (10M), up:down (10M:1M), or a timetable (08:00,512k Sat-00:00,off)",
    Kind.CHOICE: "one of",
    Kind.CHOICES: "a comma-separated list of",
    Kind.ORDER_BY: "size|name|modtime[,asc|desc][,mixed[,N]]",
    Kind.FILE_NAME: "a file name (never a path), e.g. .nobackup",
    Kind.SUFFIX: "a short file-name suffix, e.g. .bak",
}


def described() -> list[tuple[str, str]]:
    """Every allowed flag, by name, with how its value is written and the operations
    it is limited to."""
    out = []
    for name, flag in sorted(FLAGS.items()):
        words = KIND_HELP[flag.kind]
        if flag.choices:
            words += " " + ", ".join(sorted(flag.choices))
        if flag.minimum is not None and flag.maximum is not None:
            words += f" from {flag.minimum:g} to {flag.maximum}"
        elif flag.maximum is not None and flag.kind in (Kind.DURATION, Kind.LONG_DURATION):
            words += f", at most {flag.maximum}"
        if flag.ops is not None:
            words += f" ({', '.join(sorted(flag.ops))} only)"
        out.append((name, words))
    return out


_FLAG_NAME = re.compile(r"--?[A-Za-z][A-Za-z0-9-]*")
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})
_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"\d+(\.\d+)?|\.\d+")
_NUMBER = r"(\d+(\.\d*)?|\.\d+)"
_SIZE = re.compile(rf"{_NUMBER}(e\d+)?(b|[kmgtpe](i|ib)?)?|off", re.IGNORECASE)
# Go's time.Duration, which most of rclone's duration flags are.
_DURATION = re.compile(rf"({_NUMBER}(ns|us|µs|ms|s|m|h))+|0")
# rclone's fs.Duration (--max-age, bisync's --max-lock): more units, bare seconds, off.
_LONG_DURATION = re.compile(rf"({_NUMBER}(ns|us|µs|ms|s|m|h|d|w|M|y))+|{_NUMBER}|off")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?)?")
_ORDER_BY = re.compile(
    r"(size|name|modtime)(,(asc|ascending|desc|descending))?(,mixed(,\d{1,3})?)?",
    re.IGNORECASE,
)
_SUFFIX = re.compile(r"[A-Za-z0-9._~+@-]{1,64}")


def _bad(flag: str, value: str, expected: str) -> InvalidOption:
    return InvalidOption(f"Bad value {value!r} for {flag}: expected {expected}")


def _choices(flag: str, spec: Flag, value: str) -> str:
    words = value.lower().split(",") if spec.kind is Kind.CHOICES else [value.lower()]
    if not all(w in spec.choices for w in words):
        raise _bad(flag, value, "one of " + ", ".join(sorted(spec.choices)))
    return ",".join(words)


def _number(flag: str, spec: Flag, value: str) -> str:
    pattern = _INT if spec.kind is Kind.INT else _FLOAT
    if not pattern.fullmatch(value):
        raise _bad(flag, value, "a number")
    if spec.minimum is not None and float(value) < spec.minimum:
        raise _bad(flag, value, f"a number of at least {spec.minimum:g}")
    return value


# Kinds checked by one pattern: (test, what the user should write)
_SIMPLE: dict[Kind, tuple[re.Pattern[str], str]] = {
    Kind.SIZE: (_SIZE, "a size such as 10M, 1.5G, 512Ki or off"),
    Kind.DURATION: (_DURATION, "a duration such as 90s, 500ms or 1h30m"),
    Kind.LONG_DURATION: (_LONG_DURATION, "a duration such as 90s, 1h30m, 2d or off"),
    Kind.ORDER_BY: (_ORDER_BY, "size|name|modtime, optionally ,asc|,desc and ,mixed"),
    Kind.SUFFIX: (_SUFFIX, "a short suffix of letters, digits and . _ ~ + @ -"),
}


def _value(flag: str, spec: Flag, value: str) -> str:
    """`value` checked for `flag`, in the spelling passed to rclone."""
    kind = spec.kind
    if kind in (Kind.INT, Kind.FLOAT):
        return _number(flag, spec, value)
    if kind in (Kind.CHOICE, Kind.CHOICES):
        return _choices(flag, spec, value)
    if kind is Kind.SUFFIX and flag == "--conflict-suffix":
        if not all(_SUFFIX.fullmatch(p) for p in value.split(",", 1)):
            raise _bad(flag, value, "one suffix, or two separated by a comma")
        return value
    if kind in _SIMPLE:
        pattern, expected = _SIMPLE[kind]
        if not pattern.fullmatch(value):
            raise _bad(flag, value, expected)
        return value
    if kind is Kind.AGE:
        if not (_LONG_DURATION.fullmatch(value) or _DATE.fullmatch(value)):
            raise _bad(flag, value, "a duration such as 7d, or a date such as 2024-01-31")
        return value
    if kind is Kind.BWLIMIT:
        parse_bwlimit(value, flag)  # InvalidOption naming the slot at fault
        return value
    # FILE_NAME: one path element, so it can never point elsewhere.
    if "/" in value or "\\" in value or value in (".", "..") or len(value) > 255:
        raise _bad(flag, value, "a file name, not a path")
    return value


_SECONDS = {
    "ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600,
    "d": 86400, "w": 7 * 86400, "M": 30 * 86400, "y": 365 * 86400,
}  # fmt: skip
_DURATION_PART = re.compile(rf"(?P<n>{_NUMBER})(?P<u>ns|us|µs|ms|s|m|h|d|w|M|y)")
_SIZE_PARTS = re.compile(rf"(?P<n>{_NUMBER}(e\d+)?)(?P<u>b|[kmgtpe](i|ib)?)?", re.IGNORECASE)
_BYTES = {"b": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40, "p": 2**50, "e": 2**60}


def _seconds(value: str) -> float:
    """A checked duration in seconds; 0 for "off" (no limit) and for a date."""
    if value == "off" or _DATE.fullmatch(value):
        return 0.0
    if re.fullmatch(_NUMBER, value):
        return float(value)  # rclone's bare seconds, or Go's "0"
    return sum(float(m["n"]) * _SECONDS[m["u"]] for m in _DURATION_PART.finditer(value))


def _bytes(value: str) -> float:
    """A checked size (or rate) in bytes; 0 for "off". A bare number is KiB, as in
    rclone."""
    match = _SIZE_PARTS.fullmatch(value)
    if match is None:
        return 0.0  # "off"
    return float(match["n"]) * _BYTES[(match["u"] or "k")[0].lower()]


def _largest_rate(value: str) -> float:
    """The largest rate of a checked --bwlimit value, in bytes a second."""
    return max(_bytes(rate) for rate in rates(parse_bwlimit(value)))


_MAGNITUDE: dict[Kind, Callable[[str], float]] = {
    Kind.INT: float,
    Kind.FLOAT: float,
    Kind.SIZE: _bytes,
    Kind.DURATION: _seconds,
    Kind.LONG_DURATION: _seconds,
    Kind.AGE: _seconds,
    Kind.BWLIMIT: _largest_rate,
}


def _within(flag: str, spec: Flag, value: str) -> None:
    """InvalidOption naming the bound when a checked `value` is above `spec.maximum`."""
    if spec.maximum is None:
        return
    magnitude = _MAGNITUDE[spec.kind]
    if magnitude(value) > magnitude(spec.maximum):
        raise _bad(flag, value, f"at most {spec.maximum}")


#: The longest option synchub passes on: far more than any flag's value needs.
MAX_OPTION_CHARS = 4096


def _split(text: str) -> tuple[str, str | None]:
    """(flag, value) from "--flag", "--flag=value" or "--flag value"."""
    if any(c in text for c in "\0\r\n"):
        raise InvalidOption("An option must be one line of text")
    if len(text) > MAX_OPTION_CHARS:
        raise InvalidOption(f"An option must be at most {MAX_OPTION_CHARS} characters long")
    cleaned = text.strip()
    name, sep, value = cleaned.partition("=")
    if not sep:
        name, _, rest = cleaned.partition(" ")
        value = rest.strip()
        return name, value or None
    return name, value


def flag_name(text: str) -> str:
    """The long name of the flag in an option like "-c" or "--transfers=4"."""
    name, _ = _split(text)
    return SHORT.get(name, name)


def normalize_option(text: str, op: str | None = None) -> list[str]:
    """rclone argv pieces for one user option, e.g. "--transfers 4" -> ["--transfers=4"].

    Accepts "--flag", "--flag=value", "--flag value" and the one-letter
    spellings in SHORT. When `op` is given, flags rclone accepts only for
    other operations are refused too. The result is accepted again unchanged.
    Raises InvalidOption naming the flag.
    """
    name, value = _split(text)
    if not _FLAG_NAME.fullmatch(name):
        raise InvalidOption(
            f"Bad option {text.strip()!r}: options look like --name or --name=value"
        )
    name = SHORT.get(name, name)
    spec = FLAGS.get(name)
    if spec is None:
        reason = REFUSED.get(name, "it is not on synchub's list of allowed rclone flags")
        raise InvalidOption(f"Option {name} is not allowed: {reason}")
    if op is not None and spec.ops is not None and op not in spec.ops:
        raise InvalidOption(f"Option {name} applies to {', '.join(sorted(spec.ops))} only")
    if spec.kind is Kind.BOOL:
        return [_bool(name, value)]
    if value is None or value == "":
        raise InvalidOption(f"Option {name} needs a value, e.g. {name}=VALUE")
    checked = _value(name, spec, value)
    _within(name, spec, checked)
    return [f"{name}={checked}"]


def _bool(name: str, value: str | None) -> str:
    if value is None or value.lower() in _TRUE:
        return name
    if value.lower() in _FALSE:
        return f"{name}=false"
    raise _bad(name, value, "true or false (or no value)")


def normalize_options(texts: list[str], op: str | None = None) -> list[str]:
    """normalize_option for each, refusing a non-repeatable flag given twice."""
    out: list[str] = []
    seen: set[str] = set()
    for text in texts:
        pieces = normalize_option(text, op)
        name = flag_name(pieces[0])
        if name in seen and not FLAGS[name].repeatable:
            raise InvalidOption(f"Option {name} is given more than once")
        seen.add(name)
        out.extend(pieces)
    for group in EXCLUSIVE:
        clash = sorted(group & {flag_name(p) for p in out if not p.endswith("=false")})
        if len(clash) > 1:
            raise InvalidOption(f"Options {' and '.join(clash)} cannot be used together")
    return out
