"""The sealed secrets as a whole: which ones this secret key cannot read, and
dropping those (`synchub secrets forget`) so that they can be entered again."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from synchub.core.errors import SynchubError
from synchub.store import jobs as job_store
from synchub.store import remotes as remote_store
from synchub.store.db import reading, transaction

if TYPE_CHECKING:
    from synchub.services.context import Services


@dataclass(frozen=True)
class Unreadable:
    """Sealed values the secret key cannot open."""

    kind: Literal["remote", "job"]  #: a remote's secret options, or a job's env values
    name: str
    reason: str  #: "wrong secret key" or "no secret key"
    id: int
    sealed: bytes


class SecretService:
    def __init__(self, svc: Services) -> None:
        self.svc = svc

    def unreadable(self) -> list[Unreadable]:
        """Every sealed value the secret key cannot open: remotes first, by name."""
        with reading(self.svc.sessions) as session:
            remotes = remote_store.sealed(session)
            jobs = job_store.sealed_envs(session)
        box = self.svc.box
        found = [
            Unreadable("remote", name, reason, id_, sealed)
            for id_, name, sealed in remotes
            if (reason := box.unreadable(sealed)) is not None
        ]
        found += [
            Unreadable("job", name, reason, id_, sealed)
            for id_, name, sealed in jobs
            if (reason := box.unreadable(sealed)) is not None
        ]
        return found

    def check_key(self) -> None:
        """SynchubError when there is no secret key and nothing sealed: `synchub init`
        makes one (with sealed values, only restoring the key or `forget` helps)."""
        box = self.svc.box
        if not box.has_key and not self.svc.any_sealed():
            raise SynchubError(f"No secret key at {box.source}: run `synchub init`")

    def problem(self) -> str | None:
        """One line saying which sealed values cannot be read and what to do, for
        `serve`'s start and /readyz; None when every one can (or there is none)."""
        found = self.unreadable()
        if not found:
            return None
        return f"{describe(found)} cannot be read ({found[0].reason}, {self.svc.box.source}): " + (
            "restore the key they were sealed with, or drop them with `synchub secrets "
            "forget` and enter them again"
        )

    def forget(self) -> list[Unreadable]:
        """Drop every sealed value the key cannot open (remotes' secret options, jobs'
        env values; a job keeps its env names, and its runs fail until they have values
        again). Audited. The ones dropped: a value re-entered meanwhile is kept."""
        found = self.unreadable()
        now = self.svc.clock.now()
        dropped = []
        with transaction(self.svc.sessions) as session:
            for item in found:
                if item.kind == "remote":
                    gone = remote_store.forget_secrets(session, item.id, item.sealed)
                else:
                    gone = job_store.forget_env(session, item.id, item.sealed)
                if not gone:
                    continue
                dropped.append(item)
                self.svc.audit_event(
                    session,
                    f"{item.kind}.secrets_forget",
                    item.name,
                    at=now,
                    before={"secrets": f"<unreadable: {item.reason}>"},
                    after={"secrets": None},
                )
        return dropped


def describe(items: list[Unreadable]) -> str:
    """'The secret options of remote(s) a, b and the env values of job(s) c'."""
    parts = []
    remotes = [i.name for i in items if i.kind == "remote"]
    jobs = [i.name for i in items if i.kind == "job"]
    if remotes:
        parts.append(f"the secret options of remote(s) {', '.join(remotes)}")
    if jobs:
        parts.append(f"the env values of job(s) {', '.join(jobs)}")
    text = " and ".join(parts)
    return text[:1].upper() + text[1:]
