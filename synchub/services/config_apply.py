"""Configuration as code: export the remotes, jobs and alerts as one file, and apply a
file: every change it calls for, made by the same services as `remote add`, `job add`
and `alert add`, in one database transaction, or none at all.

Applying a file:

1. Read it (config_file.load): malformed YAML, unknown keys and wrong types are
   refused, each naming its line. References to environment variables are resolved.
2. In one transaction, compare with what is stored and make each change through the
   services (each in a savepoint, so that every problem is found, not the first
   alone). A change that needs another first (a job on a remote the file adds) is
   tried again once the others are made.
3. Any problem: roll back everything and raise ConfigInvalid naming each one's line.
   A dry run rolls back too, and returns the plan. Otherwise commit: the audit
   events written meanwhile carry the file's sha256 (`config_sha256`), and one
   `config.apply` event sums it up.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from synchub.services.config_changes import KIND_OF, Kind, Planner
from synchub.services.config_export import document
from synchub.services.config_file import SECTIONS, dump, load
from synchub.store import audit
from synchub.store.db import one_transaction, transaction

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from synchub.services.context import Services

Action = Literal["create", "change", "remove"]
ACTIONS: tuple[Action, ...] = ("create", "change", "remove")


@dataclass(frozen=True)
class FieldChange:
    field: str  #: e.g. cron, options.host, params.source
    before: Any  #: as the file writes it (secrets as references); None: not there
    after: Any


@dataclass(frozen=True)
class PlanStep:
    action: Action
    kind: Kind
    name: str
    changes: list[FieldChange] = field(default_factory=list)


@dataclass(frozen=True)
class Applied:
    """What an apply did (or, a dry run, would do)."""

    sha256: str  #: of the file's text, as the audit events name it
    dry_run: bool
    plan: list[PlanStep]  #: empty: the database already matches the file

    @property
    def changed(self) -> bool:
        return bool(self.plan) and not self.dry_run

    def count(self, action: Action) -> int:
        """How many objects the plan creates, changes or removes."""
        return sum(step.action == action for step in self.plan)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256,
            "dry_run": self.dry_run,
            "changed": self.changed,
            "plan": [
                {
                    "action": s.action,
                    "kind": s.kind,
                    "name": s.name,
                    "changes": [
                        {"field": c.field, "before": c.before, "after": c.after} for c in s.changes
                    ],
                }
                for s in self.plan
            ],
        }


@dataclass(frozen=True)
class Exported:
    text: str
    warnings: list[str]  #: what could not be written (secrets this key cannot read)


class ConfigService:
    def __init__(self, svc: Services) -> None:
        self.svc = svc

    def export(self, sections: Iterable[str] = SECTIONS, *, keep: bool = False) -> Exported:
        """The configuration as a file (config_file's format), `sections` only. Every
        secret is written as a reference to an environment variable named by
        config_file.env_name; `keep`: as ${NAME:-keep}, which keeps the stored value
        where the variable is not set."""
        wanted = [s for s in SECTIONS if s in set(sections)]
        written, warnings = document(self.svc, wanted, keep=keep)
        return Exported(dump(written), warnings)

    def apply(
        self,
        text: str,
        *,
        dry_run: bool = False,
        prune: bool = False,
        source: str = "-",
        environ: dict[str, str] | None = None,
    ) -> Applied:
        """Make the database match the file in `text` (see the module's docstring).
        `prune`: remove the objects the file's sections do not name (a section left out
        is left alone). `environ` (default: this process's) resolves references.
        ConfigInvalid, naming each problem's line, when anything is wrong: then nothing
        changes. `source` names the file in the audit log."""
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        loaded = load(text)
        env = dict(os.environ) if environ is None else environ
        sections = [s for s in SECTIONS if getattr(loaded.config, s) is not None]
        with one_transaction(self.svc.sessions) as tx:
            inner = self.svc.for_actor(self.svc.actor, self.svc.role)
            inner.sessions = tx.sessions
            inner.on_change = lambda: None  # this one's scheduler is told once, at the end
            with audit.noting({"config_sha256": digest}):
                before, _ = document(inner, sections)
                planner = Planner(inner, loaded, env, prune)
                secrets = planner.run()
                after, _ = document(inner, sections)
            applied = Applied(digest, dry_run, _plan(before, after, secrets))
            if applied.changed:
                self._record(tx.sessions, source, applied)
                tx.commit()
        if applied.changed:
            self.svc.on_change()
        return applied

    def _record(self, sessions: sessionmaker[Session], source: str, applied: Applied) -> None:
        with transaction(sessions) as session:
            after: dict[str, str | int] = {"config_sha256": applied.sha256}
            after.update((a, applied.count(a)) for a in ACTIONS)
            self.svc.audit_event(session, "config.apply", source[:200], after=after)


# -- the plan -------------------------------------------------------------------------


def _plan(
    before: dict[str, Any], after: dict[str, Any], secrets: dict[tuple[Kind, str], list[str]]
) -> list[PlanStep]:
    """What changed between two documents, object by object and field by field; each
    secret that changed unseen (the references are the same) as `(secret)`."""
    plan: list[PlanStep] = []
    for section in SECTIONS:
        old, new = before.get(section) or {}, after.get(section) or {}
        kind = KIND_OF[section]
        for name in sorted(old.keys() | new.keys()):
            if name not in old:
                changes = [FieldChange(k, None, v) for k, v in _flat(new[name]).items()]
                plan.append(PlanStep("create", kind, name, changes))
            elif name not in new:
                plan.append(PlanStep("remove", kind, name))
            else:
                a, b = _flat(old[name]), _flat(new[name])
                changes = [
                    FieldChange(k, a.get(k), b.get(k))
                    for k in sorted(a.keys() | b.keys())
                    if a.get(k) != b.get(k)
                ]
                seen = {c.field for c in changes}
                changes += [
                    FieldChange(f, "(secret)", "(secret, changed)")
                    for f in secrets.get((kind, name), [])
                    if f not in seen
                ]
                if changes:
                    plan.append(PlanStep("change", kind, name, changes))
    return plan


def _flat(entry: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in entry.items():
        if isinstance(value, dict) and value:
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out
