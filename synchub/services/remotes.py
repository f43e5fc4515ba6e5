"""Remotes: add, show (secrets masked), test, remove, import an rclone.conf."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from contextlib import suppress
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synchub.core.errors import (
    AlreadyExists,
    CommandsDisabled,
    EngineError,
    InvalidInput,
    InvalidPath,
    InvalidRemote,
    InvalidText,
    RemoteInUse,
    RemoteNotFound,
    SecretsUnreadable,
    SynchubError,
    blame,
)
from synchub.core.names import check_name
from synchub.engines.base import RemoteConfig
from synchub.engines.rclone import backends as rclone_backends
from synchub.services.masks import MASK, masked, remote_event
from synchub.services.masks import secret_keys as known_secret_keys
from synchub.services.remote_views import (
    FolderUnlisted,
    Imported,
    RemoteEdited,
    RemoteForm,
    RemoteView,
)
from synchub.store import audit
from synchub.store import remotes as store
from synchub.store.db import reading, transaction
from synchub.store.tables import RemoteRow

if TYPE_CHECKING:
    from synchub.services.context import Services


#: What an import does with a remote whose name is taken.
ON_CONFLICT = ("fail", "skip", "replace")


class RemoteService:
    def __init__(self, svc: Services) -> None:
        self.svc = svc

    def add(
        self,
        name: str,
        type_: str,
        options: dict[str, str],
        *,
        max_concurrency: int | None = None,
    ) -> RemoteView:
        with blame("name"):
            check_name(name, what="remote")
        if max_concurrency is not None and max_concurrency < 1:
            raise InvalidRemote(
                "Bad max concurrency: it must be at least 1", field="max_concurrency"
            )
        with blame("type"):
            rclone_backends.backend(type_)
        options = rclone_backends.validate_remote(type_, options)
        self.refuse_programs(name, type_, options)
        now = self.svc.clock.now()
        with transaction(self.svc.sessions) as session:
            if store.get(session, name) is not None:
                raise AlreadyExists(f"A remote named {name!r} already exists")
            return self._insert(session, name, type_, options, now, max_concurrency)

    def types(self) -> builtins.list[str]:
        """The remote types a new remote may have: rclone's backends, hidden ones left
        out (kept for old configurations only)."""
        return sorted(n for n, b in rclone_backends.catalogue().items() if not b.hidden)

    def form(self, type_: str, provider: str = "") -> RemoteForm:
        """What a form for a `type_` remote of `provider` asks for: its options (see
        rclone_backends.form_options) and which of them are secrets. InvalidRemote
        for an unknown type."""
        with blame("type"):
            options = rclone_backends.form_options(type_, provider)
        return RemoteForm(type_, options, rclone_backends.secret_options(type_))

    def list(self) -> builtins.list[RemoteView]:
        with reading(self.svc.sessions) as session:
            return [self._view(session, r) for r in store.all_remotes(session)]

    def show(self, name: str) -> RemoteView:
        with reading(self.svc.sessions) as session:
            return self._view(session, self._get(session, name))

    def remove(self, name: str) -> None:
        """Remove a remote; RemoteInUse, naming them, while jobs or other remotes (an
        alias, crypt, union … wrapping it) use it."""
        now = self.svc.clock.now()
        with transaction(self.svc.sessions) as session:
            row = self._get(session, name)
            users = [
                f"{what} {', '.join(names)}"
                for what, names in (
                    ("job(s)", store.jobs_using(session, row.id)),
                    ("remote(s)", self._wrapping(session, name)),
                )
                if names
            ]
            if users:
                raise RemoteInUse(
                    f"Remote {name!r} is used by {' and by '.join(users)}: remove or change "
                    "them first"
                )
            before = self._view(session, row).as_dict()
            store.remove(session, row.id)
            self.svc.audit_event(session, "remote.remove", name, at=now, before=before)

    def edit(
        self,
        name: str,
        options: Mapping[str, str | None] | None = None,
        *,
        max_concurrency: int | None = None,
    ) -> RemoteView:
        """Change a remote (see `change`); the remote as it is now."""
        return self.change(name, options, max_concurrency=max_concurrency).view

    def change(
        self,
        name: str,
        options: Mapping[str, str | None] | None = None,
        *,
        max_concurrency: int | None = None,
    ) -> RemoteEdited:
        """Change a remote's options: a value replaces, None removes, the mask keeps the
        stored secret. `max_concurrency` 0 removes the limit, None keeps it. The result
        is validated whole; on error nothing changes. Audited, secret values never; an
        edit that changes nothing writes nothing."""
        if max_concurrency is not None and max_concurrency < 0:
            raise InvalidRemote(
                "Bad max concurrency: use 0 (no limit) or more", field="max_concurrency"
            )
        now = self.svc.clock.now()
        with transaction(self.svc.sessions) as session:
            row = self._get(session, name)
            before = self._view(session, row).as_dict()
            stored_secrets = self._stored_secrets(row, options or {})
            merged: dict[str, str] = {**row.options, **stored_secrets}
            for key, value in (options or {}).items():
                if value is None:
                    merged.pop(key, None)
                elif value != MASK:  # the mask read back from `show` keeps what is stored
                    merged[key] = value
            merged = rclone_backends.validate_remote(row.type, merged)
            self.refuse_programs(name, row.type, merged)
            old = {**row.options, **stored_secrets}
            edited = sorted(k for k in old.keys() | merged.keys() if old.get(k) != merged.get(k))
            limit = row.max_concurrency if max_concurrency is None else max_concurrency or None
            if limit != row.max_concurrency:
                edited.append("max_concurrency")
            if not edited:
                return RemoteEdited(self._view(session, row), [])
            secret_keys = rclone_backends.secret_options(row.type)
            secrets = {k: v for k, v in merged.items() if k in secret_keys}
            row.options = {k: v for k, v in merged.items() if k not in secret_keys}
            row.secrets = self.svc.box.seal(secrets)
            row.max_concurrency = limit
            row.updated_at = now
            session.flush()
            view = self._view(session, row)
            changed = sorted(
                k
                for k in secret_keys & (secrets.keys() | stored_secrets.keys())
                if secrets.get(k) != stored_secrets.get(k)
            )
            self.svc.audit_event(
                session,
                "remote.edit",
                name,
                at=now,
                before=before,
                after={**view.as_dict(), "secrets_changed": changed},
            )
        return RemoteEdited(view, edited)

    def test(self, name: str) -> tuple[bool, str]:
        from synchub.engines.rclone.probe import test_remote

        configs = self.configs(frozenset({name}))
        config = configs.pop(name)
        settings = self.svc.settings
        return test_remote(
            config,
            binary=settings.rclone or None,
            others=configs,  # the remotes it wraps (alias, crypt, union...)
            allow_programs=settings.allow_command_jobs,
        )

    def folders(
        self, name: str, path: str, timeout_s: float = 15
    ) -> tuple[builtins.list[str], bool]:
        """The folders directly in `path` on remote `name`, sorted (see
        `rclone.browse.list_folders`), and whether there were more than it lists.
        RemoteNotFound; InvalidPath for a path no rclone path can be; FolderUnlisted
        with rclone's words when it could not list it (in `timeout_s`)."""
        from synchub.engines.rclone.browse import list_folders

        if any(c in path for c in "\0\r\n") or len(path) > 4096:
            raise InvalidPath("Bad path: it holds a control character or is too long")
        configs = self.configs(frozenset({name}))
        config = configs.pop(name)
        settings = self.svc.settings
        try:
            return list_folders(
                config,
                path,
                timeout_s,
                binary=settings.rclone or None,
                others=configs,
                allow_programs=settings.allow_command_jobs,
            )
        except EngineError as exc:
            raise FolderUnlisted(f"Cannot list {name}:{path}: {exc.message}") from None

    def import_conf(self, path: Path | None = None, on_conflict: str = "fail") -> Imported:
        """Add every remote of an rclone.conf (see import_text)."""
        from synchub.engines.rclone import conf as rclone_conf

        path = path or rclone_conf.default_config_path()
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidText(
                f"Cannot import {path}: it is not UTF-8 text (byte {exc.start})"
            ) from None
        except OSError as exc:
            raise InvalidInput(f"Cannot read {path}: {exc}") from None
        return self.import_text(text, on_conflict)

    def import_text(self, text: str, on_conflict: str = "fail") -> Imported:
        """Add every remote of rclone.conf text, in one transaction; nothing changes
        if any one is bad. A name already taken is, by `on_conflict`: "fail" (the
        default: AlreadyExists naming every such name), "skip" (the stored remote
        stays), or "replace" (it takes the file's type and options, and keeps its
        concurrency limit; audited as `remote.replace`)."""
        from synchub.engines.rclone import conf as rclone_conf

        if on_conflict not in ON_CONFLICT:
            raise InvalidInput(f"Bad on-conflict {on_conflict!r}: use {'|'.join(ON_CONFLICT)}")
        entries = []
        for name, type_, options in rclone_conf.parse_conf(text):
            check_name(name, what="remote")
            options = rclone_backends.validate_remote(type_, options)
            self.refuse_programs(name, type_, options)
            entries.append((name, type_, options))
        now = self.svc.clock.now()
        outcome = Imported([], [], [])
        with transaction(self.svc.sessions) as session:
            taken = store.names(session)
            clashing = [name for name, _, _ in entries if name in taken]
            if clashing and on_conflict == "fail":
                raise AlreadyExists(
                    f"Remote(s) {', '.join(clashing)} already exist: nothing was imported; "
                    "import with on-conflict skip or replace to keep or overwrite them"
                )
            for name, type_, options in entries:
                if name not in taken:
                    outcome.added.append(self._insert(session, name, type_, options, now))
                elif on_conflict == "replace":
                    outcome.replaced.append(self._replace(session, name, type_, options, now))
                else:
                    outcome.skipped.append(name)
        return outcome

    def _insert(
        self,
        session: Any,
        name: str,
        type_: str,
        options: dict[str, str],
        now: datetime,
        max_concurrency: int | None = None,
    ) -> RemoteView:
        plain, secrets = _split(type_, options)
        row = RemoteRow(
            name=name,
            type=type_,
            options=plain,
            secrets=self.svc.box.seal(secrets),
            max_concurrency=max_concurrency,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        view = self._view(session, row)
        self.svc.audit_event(session, "remote.add", name, at=now, after=view.as_dict())
        return view

    def _replace(
        self, session: Any, name: str, type_: str, options: dict[str, str], now: datetime
    ) -> RemoteView:
        row = self._get(session, name)
        before = self._view(session, row).as_dict()
        row.type = type_
        row.options, secrets = _split(type_, options)
        row.secrets = self.svc.box.seal(secrets)
        row.updated_at = now
        session.flush()
        view = self._view(session, row)
        self.svc.audit_event(
            session, "remote.replace", name, at=now, before=before, after=view.as_dict()
        )
        return view

    def configs(self, names: frozenset[str]) -> dict[str, RemoteConfig]:
        """Decrypted configurations of `names` and of every remote they wrap (crypt,
        alias, union …), for an engine. Never log or return these. Every run, test
        and measurement gets its remotes here: CommandsDisabled for a remote that
        would start a program, unless command jobs are allowed."""
        found: dict[str, RemoteConfig] = {}
        wanted = set(names)
        while wanted:
            with transaction(self.svc.sessions) as session:
                rows = store.by_names(session, frozenset(wanted))
            missing = wanted - {r.name for r in rows}
            if missing:
                raise RemoteNotFound(f"No remote named {sorted(missing)[0]!r}")
            for r in rows:
                secrets = self.svc.box.open(r.secrets, what=_whose(r.name))
                found[r.name] = RemoteConfig(r.name, r.type, {**r.options, **secrets})
                self.refuse_programs(r.name, r.type, found[r.name].options)
            referenced = set().union(
                *(rclone_backends.referenced_remotes(found[r.name].options) for r in rows)
            )
            wanted = referenced - set(found)
        return found

    def refuse_programs(self, name: str, type_: str, options: Mapping[str, str]) -> None:
        """Raise CommandsDisabled when remote `name` would make rclone start a program
        on this machine (rclone_backends.program_options) and command jobs are off."""
        if self.svc.settings.allow_command_jobs:
            return
        found = rclone_backends.program_options(type_, options)
        if found:
            option, why = min(found.items())
            raise CommandsDisabled(
                f"remote {name!r}: option {option} would start a program on this server "
                f"({why}), and command jobs are disabled on this server: the admin must "
                "set SYNCHUB_ALLOW_COMMAND_JOBS=1 to allow it",
                field=f"options.{option}",
            )

    def _wrapping(self, session: Any, name: str) -> builtins.list[str]:
        """The remotes that point at remote `name` (an alias, crypt or chunker's
        `remote`, a union or combine's `upstreams`), as "NAME (TYPE)"."""
        found = []
        for row in store.all_remotes(session):
            if row.name == name:
                continue
            options = dict(row.options)
            if not _references(options, name):
                # References are plain options; a secret one is read where it can be.
                with suppress(SecretsUnreadable):
                    options.update(self.svc.box.open(row.secrets))
            if _references(options, name):
                found.append(f"{row.name} ({row.type})")
        return found

    def _get(self, session: Any, name: str) -> RemoteRow:
        row = store.get(session, name)
        if row is None:
            raise RemoteNotFound(f"No remote named {name!r}")
        return row

    def _stored_secrets(self, row: RemoteRow, options: Mapping[str, str | None]) -> dict[str, str]:
        """The stored secrets an edit of `row` with `options` starts from. When they
        cannot be read, the edit must give the secret options again (they replace the
        stored ones) and may not keep one with the mask; else SecretsUnreadable."""
        try:
            return self.svc.box.open(row.secrets, what=_whose(row.name))
        except SecretsUnreadable as exc:
            secret_keys = rclone_backends.secret_options(row.type)
            given = {k: v for k, v in options.items() if k in secret_keys and v is not None}
            if not given or MASK in given.values():
                raise SecretsUnreadable(
                    f"{exc.message}. To enter them again, give every secret option of "
                    f"remote {row.name!r} in this edit, none as {MASK}",
                    reason=exc.reason,
                ) from None
            return {}

    def seal_stored(self) -> dict[str, builtins.list[str]]:
        """Seal the values of secret options still stored in plain text, and mask them
        in the audit log: options saved before this synchub (or this rclone) counted
        them as secrets. Safe to run again and from several processes at once (the
        rows are locked). Each remote sealed gets a `remote.seal` audit event naming
        the options, never their values. Returns {remote: options sealed}.

        A remote whose sealed values this key cannot open, or whose type this rclone
        does not know, is left as it is (its views mask the values all the same); so
        is every remote when there is no key.
        """
        if not self.svc.box.has_key:
            return {}  # nothing can be sealed until the key is back: views mask them
        now = self.svc.clock.now()
        done: dict[str, builtins.list[str]] = {}
        with transaction(self.svc.sessions) as session:
            for row in store.all_remotes(session, lock=True):
                keys = sorted((known_secret_keys(row.type) or frozenset()) & row.options.keys())
                if not keys:
                    continue
                try:
                    sealed = self.svc.box.open(row.secrets)
                except SynchubError:
                    continue
                sealed.update({k: row.options[k] for k in keys})
                row.secrets = self.svc.box.seal(sealed)
                row.options = {k: v for k, v in row.options.items() if k not in keys}
                row.updated_at = now
                done[row.name] = keys
                self.svc.audit_event(
                    session, "remote.seal", row.name, at=now, after={"sealed": keys}
                )
            for event in audit.about(session, "remote"):
                before = remote_event(event.before, known_only=True)
                after = remote_event(event.after, known_only=True)
                if (before, after) != (event.before, event.after):
                    event.before, event.after = before, after
        return done

    def _view(self, session: Any, row: RemoteRow) -> RemoteView:
        unreadable = None
        try:
            secret_names = list(self.svc.box.open(row.secrets))
        except SecretsUnreadable as exc:  # still listed: to edit, remove, or forget
            secret_names, unreadable = [], exc.reason
        options = {**masked(row.type, row.options), **dict.fromkeys(secret_names, MASK)}
        return RemoteView(
            row.name,
            row.type,
            dict(sorted(options.items())),
            row.max_concurrency,
            store.jobs_using(session, row.id),
            unreadable,
        )


def _split(type_: str, options: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """A `type_` remote's options as (plain, secret)."""
    secret_keys = rclone_backends.secret_options(type_)
    plain = {k: v for k, v in options.items() if k not in secret_keys}
    return plain, {k: v for k, v in options.items() if k in secret_keys}


def _references(options: Mapping[str, str], name: str) -> bool:
    return name in rclone_backends.referenced_remotes(options)


def _whose(name: str) -> str:
    return f"The secret options of remote {name!r}"
