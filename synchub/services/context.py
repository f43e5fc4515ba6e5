"""The services a front end talks to, over one database and one clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from synchub.config import Settings
from synchub.core.clock import Clock, SystemClock
from synchub.core.errors import SecretsUnreadable
from synchub.engines.base import Engine as KindEngine
from synchub.engines.registry import all_engines
from synchub.store import audit as audit_store
from synchub.store.crypto import SecretBox, read_key
from synchub.store.db import make_engine, make_sessionmaker, reading

if TYPE_CHECKING:
    from synchub.services.activity import ActivityService
    from synchub.services.alerts import AlertService
    from synchub.services.audit import AuditService
    from synchub.services.config_apply import ConfigService
    from synchub.services.doctor import DoctorService
    from synchub.services.folders import FolderService
    from synchub.services.jobs.service import JobService
    from synchub.services.overview import OverviewService
    from synchub.services.remotes import RemoteService
    from synchub.services.retention import RetentionService
    from synchub.services.run_feeds import RunFeeds
    from synchub.services.runs import RunService
    from synchub.services.secrets import SecretService
    from synchub.services.sizes import RemoteSizes
    from synchub.services.tasks import TaskService
    from synchub.services.tokens import Role, TokenService


class Services:
    """Wires settings, database, clock and engines; each service is made on first use.

    Each service's module is imported at its first use too: a Celery worker's
    processes use only `remotes` (≈ 1.5 MiB less in each)."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        engines: dict[str, KindEngine] | None = None,
        actor: str = "cli",
        db: Engine | None = None,
    ) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.actor = actor
        #: the role of the token acting (see `for_actor`); None for the CLI and the
        #: server's own work, which answer to no token
        self.role: Role | None = None
        self.db = db or make_engine(settings.db_url)
        self.sessions: sessionmaker[Session] = make_sessionmaker(self.db)
        self._engines = engines
        #: called after a change the scheduler should notice at once (in-process only)
        self.on_change: Callable[[], None] = lambda: None

    @cached_property
    def engines(self) -> dict[str, KindEngine]:
        if self._engines is not None:
            return self._engines
        s = self.settings
        return all_engines(
            rclone=s.rclone,
            kill_grace=s.kill_grace,
            allow_programs=s.allow_command_jobs,
            bwlimit=s.bwlimit,
        )

    @cached_property
    def box(self) -> SecretBox:
        """The key of SYNCHUB_SECRET_KEY or of `secret.key`; a box without a key when
        neither is there (ValueError for a key that is not one)."""
        secret = self.settings.secret_key.get_secret_value()
        if secret:
            return SecretBox(secret.encode(), source="SYNCHUB_SECRET_KEY")
        path = self.settings.key_path
        return SecretBox(read_key(path), source=str(path), missing=lambda: self._no_key(path))

    def derived_key(self, purpose: str) -> bytes:
        """32 bytes for `purpose` (e.g. signing console sessions), derived from the secret
        key: each use has its own key, and none of them opens the secrets at rest.
        NoSecretKey when there is no key."""
        return self.box.derive(purpose)

    def _no_key(self, path: Path) -> str:
        if not self.any_sealed():
            return f"No secret key at {path}: run `synchub init`"
        # A new key would leave every stored secret unreadable for good.
        return (
            f"No secret key at {path}, and the database holds secrets sealed with one: "
            "restore it from a backup (or set SYNCHUB_SECRET_KEY), or drop those secrets "
            "with `synchub secrets forget` and then run `synchub init` for a new key"
        )

    @cached_property
    def remotes(self) -> RemoteService:
        from synchub.services.remotes import RemoteService

        return RemoteService(self)

    @cached_property
    def jobs(self) -> JobService:
        from synchub.services.jobs.service import JobService

        return JobService(self)

    @cached_property
    def runs(self) -> RunService:
        from synchub.services.runs import RunService

        return RunService(self)

    @cached_property
    def activity(self) -> ActivityService:
        from synchub.services.activity import ActivityService

        return ActivityService(self)

    @cached_property
    def overview(self) -> OverviewService:
        from synchub.services.overview import OverviewService

        return OverviewService(self)

    @cached_property
    def folders(self) -> FolderService:
        from synchub.services.folders import FolderService

        return FolderService(self)

    @cached_property
    def tasks(self) -> TaskService:
        from synchub.services.tasks import TaskService

        return TaskService(self)

    @cached_property
    def alerts(self) -> AlertService:
        from synchub.services.alerts import AlertService

        return AlertService(self)

    @cached_property
    def retention(self) -> RetentionService:
        from synchub.services.retention import RetentionService

        return RetentionService(self)

    @cached_property
    def config(self) -> ConfigService:
        """Configuration as code: export, apply."""
        from synchub.services.config_apply import ConfigService

        return ConfigService(self)

    @cached_property
    def doctor(self) -> DoctorService:
        from synchub.services.doctor import DoctorService

        return DoctorService(self)

    @cached_property
    def secrets(self) -> SecretService:
        from synchub.services.secrets import SecretService

        return SecretService(self)

    @cached_property
    def tokens(self) -> TokenService:
        from synchub.services.tokens import TokenService

        return TokenService(self)

    @cached_property
    def audit(self) -> AuditService:
        from synchub.services.audit import AuditService

        return AuditService(self)

    @cached_property
    def run_feeds(self) -> RunFeeds:
        """The runs followed live: one poll per run for all their followers, shared
        by the services `for_actor` makes."""
        from synchub.services.run_feeds import RunFeeds

        return RunFeeds(self)

    @cached_property
    def sizes(self) -> RemoteSizes:
        """Remote sizes measured in the background: one cache per process, shared by
        the services `for_actor` makes."""
        from synchub.services.sizes import RemoteSizes

        return RemoteSizes(self)

    def audit_event(
        self,
        session: Session,
        action: str,
        target: str,
        *,
        at: datetime | None = None,
        target_type: str | None = None,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> None:
        """Record `action` on `target` in the audit log, by this actor, at `at` (now when
        not given); `target_type` is the action's first word unless given. Views given
        as `before`/`after` must have their secrets masked already."""
        audit_store.record(
            session,
            at=at or self.clock.now(),
            actor=self.actor,
            action=action,
            target_type=target_type or action.split(".", 1)[0],
            target=target,
            before=before,
            after=after,
        )

    def job_env(self, job_id: int) -> dict[str, str]:
        """A job's environment values, unsealed: for its runs, never for a view. Here,
        not in the jobs service, which a worker's processes need not import.

        SecretsUnreadable when they cannot be opened, or when a name has no value
        (forgotten by `synchub secrets forget`): the run must not get the mask."""
        from synchub.services.masks import MASK
        from synchub.store import jobs as job_store

        with reading(self.sessions) as session:
            name, env, sealed = job_store.env_of(session, job_id)
        values = self.box.open(sealed, what=f"The env values of job {name!r}")
        missing = sorted(k for k, v in env.items() if v == MASK and k not in values)
        if missing:
            raise SecretsUnreadable(
                f"Job {name!r} has no value for env {', '.join(missing)} (its secrets were "
                "forgotten): give them again with "
                f"`synchub job edit {name} --kind command --env KEY=VALUE`"
            )
        return values

    def hook_url(self, sealed: str) -> str:
        """A webhook's URL, unsealed: for its runs' posts, never for a view.
        SecretsUnreadable when it cannot be opened."""
        url = self.box.open(sealed.encode(), what="A webhook's URL").get("url")
        if not url:
            raise SecretsUnreadable("A webhook's URL cannot be read: give it again")
        return url

    def any_sealed(self) -> bool:
        """Whether the database holds sealed secrets a run will open (remotes' secret
        options, jobs' environment values): then cryptography is imported at start."""
        from synchub.store import jobs as job_store
        from synchub.store import remotes as remote_store

        with reading(self.sessions) as session:
            return remote_store.any_sealed(session) or job_store.any_sealed(session)

    def for_actor(self, actor: str, role: Role | None = None) -> Services:
        """These services acting for `actor` (the audit's who) with `role` (a token's,
        for the few rules that depend on it, e.g. `folders`): the same database,
        clock, engines and secret key, and changes still wake this one's scheduler.
        Do not `close()` the result: the database belongs to this one."""
        child = Services(
            self.settings, clock=self.clock, engines=self.engines, actor=actor, db=self.db
        )
        child.role = role
        if "box" in self.__dict__:  # the key already read: not once per request
            child.__dict__["box"] = self.__dict__["box"]
        child.on_change = lambda: self.on_change()
        child.__dict__["sizes"] = self.sizes  # this process's one cache, not one per request
        child.__dict__["run_feeds"] = self.run_feeds  # one poll per run, not one per stream
        child.__dict__["activity"] = self.activity  # and its figures of the days that are over
        return child

    def close(self) -> None:
        if "sizes" in self.__dict__:
            self.sizes.stop()  # no rclone size outlives the services
        self.db.dispose()
