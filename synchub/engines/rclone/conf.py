"""Reading an existing rclone.conf, to import its remotes into synchub.

rclone.conf is INI: one section per remote, a `type` key and the backend's
options. Password options are stored obscured (see obscure.py); they come
out of here plain, because synchub encrypts secrets at rest itself and
obscures them again only when it hands them to rclone.
"""

from __future__ import annotations

import configparser
import os
import subprocess
from pathlib import Path
from typing import NamedTuple

from synchub.core.errors import EngineError, InvalidInput
from synchub.core.text import check_text
from synchub.engines.obscure import reveal
from synchub.engines.process import minimal_env
from synchub.engines.rclone import backends as rclone_backends

# rclone writes this line when the whole file is encrypted with a password.
_ENCRYPTED_MARK = "RCLONE_ENCRYPT_V0:"
# configparser would copy a [DEFAULT] section into every other one; rclone.conf
# has no such thing, so that name is replaced by one no file can contain.
_NO_DEFAULTS = "\0no default section"


class ConfRemote(NamedTuple):
    """One remote of an rclone.conf, password options revealed."""

    name: str  #: the section name
    type: str  #: the backend, e.g. "sftp"
    options: dict[str, str]  #: every other key, plain


def _read_ini(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(
        interpolation=None,  # "%" is common in passwords and URLs
        default_section=_NO_DEFAULTS,
        strict=True,  # a repeated section or key is an error, not a silent merge
    )
    parser.optionxform = str  # type: ignore[assignment, method-assign]  # keep key case
    # rclone reads each line without its leading blanks (no continuation lines): an
    # indented line is a key of its own, or an error, never part of the value above.
    text = "\n".join(line.lstrip() for line in text.split("\n"))
    try:
        parser.read_string(text)
    except configparser.MissingSectionHeaderError:
        raise InvalidInput(
            "Not an rclone config file: it does not start with a [remote] section"
        ) from None
    except configparser.ParsingError as exc:
        lines = text.split("\n")  # as configparser counts them
        where = "; ".join(
            _bad_line(n, lines[n - 1] if n <= len(lines) else "") for n, _ in exc.errors
        )
        raise InvalidInput(f"Not a valid rclone config file: {where}") from None
    except configparser.Error as exc:
        # The other errors (a repeated section or key) name a line and a key, no value.
        raise InvalidInput(f"Not a valid rclone config file: {exc.message}") from None
    return parser


def _bad_line(number: int, line: str) -> str:
    """What is wrong with line `number`, never its text: it may hold a secret. The
    key is named when the line starts with one some backend has."""
    first = line.split(maxsplit=1)[0] if line.strip() else ""
    known = {"type"}.union(*(b.option_names() for b in rclone_backends.catalogue().values()))
    if first in known:
        return f"line {number}: option {first!r} has no '=' before its value"
    return f"line {number} is not 'key = value'"


def _revealed(name: str, type_: str, options: dict[str, str]) -> dict[str, str]:
    plain = dict(options)
    for key in rclone_backends.password_options(type_) & options.keys():
        if not options[key]:
            continue
        try:
            plain[key] = reveal(options[key])
        except ValueError:
            raise InvalidInput(
                f"Remote {name!r}: option {key!r} is not obscured the way rclone stores "
                "passwords; was the file edited by hand?"
            ) from None
    return plain


def _check_lines(number: int, name: str, options: dict[str, str]) -> None:
    """Each name, key and value is one line of text (a value never echoed)."""
    check_text(name, f"the name of section {number}")
    for key, value in options.items():
        check_text(key, f"an option name in [{name}]")
        check_text(value, f"the value of {key!r} in [{name}]")


def parse_conf(text: str) -> list[ConfRemote]:
    """Every remote in rclone.conf `text`, in file order, with passwords revealed.

    Raises InvalidInput when the text is encrypted with an rclone config
    password, is not INI, has a section without `type` (not an rclone config),
    or holds a password that is not obscured. Raises InvalidRemote (an
    InvalidInput) for a type this rclone does not know, InvalidText for text that is
    not (see core/text.py: a name, key or value is one line). An empty file gives [].
    """
    check_text(text, "the rclone config", multiline=True)
    if any(line.strip().startswith(_ENCRYPTED_MARK) for line in text.splitlines()):
        raise InvalidInput(
            "This rclone config is encrypted: remove its password first "
            "(rclone config encryption remove), then import it"
        )
    parser = _read_ini(text)
    remotes = []
    for number, name in enumerate(parser.sections(), 1):
        options = dict(parser.items(name))
        _check_lines(number, name, options)
        type_ = options.pop("type", "")
        if not type_:
            raise InvalidInput(f"Not an rclone config file: section [{name}] has no 'type'")
        rclone_backends.backend(type_)  # InvalidRemote for a type this rclone lacks
        remotes.append(ConfRemote(name, type_, _revealed(name, type_, options)))
    return remotes


def _fallback_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "rclone" / "rclone.conf"


def default_config_path() -> Path:
    """Where rclone looks for its config: what `rclone config file` reports.

    Honours the server's $RCLONE_CONFIG like rclone does; falls back to
    ~/.config/rclone/rclone.conf when rclone cannot be asked.
    """
    env = minimal_env()
    if "RCLONE_CONFIG" in os.environ:
        env["RCLONE_CONFIG"] = os.environ["RCLONE_CONFIG"]
    try:
        done = subprocess.run(
            [rclone_backends.rclone_binary(), "config", "file"],
            env=env,
            capture_output=True,
            text=True,
            timeout=15,
            check=True,
        )
    except (OSError, subprocess.SubprocessError, EngineError):
        return _fallback_config_path()
    # "Configuration file is stored at:\n/path" or "... will use this path:\n/path"
    lines = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    if len(lines) < 2 or not lines[-1].startswith("/"):
        return _fallback_config_path()
    return Path(lines[-1])
