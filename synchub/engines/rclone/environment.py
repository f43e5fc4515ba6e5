"""The environment of an rclone child.

Remotes reach rclone only through its environment, as
`RCLONE_CONFIG_<NAME>_<OPTION>` variables (password options obscured), with
`RCLONE_CONFIG=""` so that no config file is read or written: secrets are
never in an argv, never in a file, and never in the run's log.

rclone's environment names: the remote name is upper-cased as it is, so
"my-nas.home" becomes `RCLONE_CONFIG_MY-NAS.HOME_TYPE` (legal in an
environment, though no shell can set it); in option names "-" becomes "_".
Two remotes whose names differ only in case would share variables, so a
run using both is refused.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from synchub.core.errors import EngineError, InvalidRemote
from synchub.engines.base import RemoteConfig
from synchub.engines.obscure import obscure
from synchub.engines.process import minimal_env
from synchub.engines.rclone.backends import backend, password_options, secret_options

_OPTION_KEY = re.compile(r"[A-Za-z0-9_-]+")


def remote_env(remotes: Mapping[str, RemoteConfig]) -> dict[str, str]:
    """RCLONE_CONFIG_* variables defining `remotes`, password options obscured.

    Raises EngineError(permanent=True) for names that clash once upper-cased,
    option names that cannot be variable names, or NUL in a value.
    """
    env: dict[str, str] = {}
    owners: dict[str, str] = {}
    for name, remote in remotes.items():
        prefix = f"RCLONE_CONFIG_{name.upper()}_"
        if prefix in owners:
            raise EngineError(
                f"remotes {owners[prefix]!r} and {name!r} differ only in case; "
                "rclone cannot tell them apart in one run",
                permanent=True,
            )
        owners[prefix] = name
        try:
            passwords = password_options(remote.type)
        except InvalidRemote as exc:
            raise EngineError(f"remote {name!r}: {exc}", permanent=True) from None
        env[prefix + "TYPE"] = remote.type
        for key, value in remote.options.items():
            if not _OPTION_KEY.fullmatch(key) or "\0" in value:
                raise EngineError(f"remote {name!r}: bad option {key!r}", permanent=True)
            env[prefix + key.upper().replace("-", "_")] = (
                obscure(value) if key in passwords else value
            )
    _check_no_stray_options(remotes, env)
    return env


def _check_no_stray_options(remotes: Mapping[str, RemoteConfig], env: Mapping[str, str]) -> None:
    """Refuse variables of one remote that rclone would read as options of another.

    rclone reads option OPT of remote NAME from RCLONE_CONFIG_NAME_OPT, so a remote
    named "az_env" with option `auth` (swift) would turn on `env_auth` of a remote
    "az" (azureblob) in the same run. Raises EngineError(permanent=True).
    """
    for name, remote in remotes.items():
        prefix = f"RCLONE_CONFIG_{name.upper()}_"
        own = {prefix + "TYPE"} | {prefix + k.upper().replace("-", "_") for k in remote.options}
        for option in sorted(backend(remote.type).option_names()):
            key = prefix + option.upper()
            if key in env and key not in own:
                raise EngineError(
                    f"remote {name!r} would get option {option!r} from another remote of "
                    "this run, whose name starts with its own: rename one of them",
                    permanent=True,
                )


def secret_values(
    remotes: Mapping[str, RemoteConfig], env: Mapping[str, str] | None = None
) -> list[str]:
    """Every secret a log line could leak: the plain values of the remotes' secret
    options (every option of a type this rclone does not know) and, given the
    environment handed to rclone, their obscured forms there."""
    values: list[str] = []
    for name, remote in remotes.items():
        try:
            secret_keys = secret_options(remote.type)
        except InvalidRemote:
            secret_keys = frozenset(remote.options)  # unknown type: treat all as secret
        for key in secret_keys & remote.options.keys():
            values.append(remote.options[key])
            env_key = f"RCLONE_CONFIG_{name.upper()}_{key.upper().replace('-', '_')}"
            values.append((env or {}).get(env_key, ""))
    return values


#: Where command jobs are off, the AWS SDK in rclone reads no AWS config files: they
#: can name a `credential_process` to run, and the server user's home, where they
#: live, is writable by jobs. Keys in the remote, or an instance role, still work.
NO_AWS_FILES = {"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}


def rclone_env(
    remotes: Mapping[str, RemoteConfig], *, allow_programs: bool = False
) -> dict[str, str]:
    """The whole environment of an rclone child: minimal, no config file, `remotes`;
    without `allow_programs` (SYNCHUB_ALLOW_COMMAND_JOBS), no AWS config file either."""
    files = {} if allow_programs else NO_AWS_FILES
    return minimal_env({"RCLONE_CONFIG": "", **files, **remote_env(remotes)})
