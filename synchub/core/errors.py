"""Errors synchub raises on purpose.

The tree::

    SynchubError
     ├── InvalidInput          bad input: CLI exit 2, HTTP 422; `field` names the input at fault
     │    ├── InvalidFields     several inputs at fault at once (`problems`)
     │    ├── InvalidName
     │    ├── InvalidSchedule
     │    ├── InvalidPath
     │    ├── InvalidOption
     │    ├── InvalidRemote
     │    ├── CommandsDisabled  a program would start here, and command jobs are off
     │    ├── InvalidText     a lone surrogate or a control character (core/text.py)
     │    └── BadQuery        a compatibility `query` of fields or operators not allowed
     ├── NotFound              CLI exit 3, HTTP 404
     │    ├── RemoteNotFound
     │    ├── JobNotFound
     │    ├── RunNotFound
     │    ├── TaskNotFound
     │    ├── AlertNotFound
     │    ├── TokenNotFound
     │    └── DirectoryNotFound
     ├── Conflict              the request clashes with the current state: HTTP 409
     │    ├── AlreadyExists
     │    ├── RemoteInUse
     │    ├── InvalidTransition
     │    ├── JobRunning
     │    ├── JobDeleted
     │    ├── TaskBusy
     │    ├── NothingToRestore    a run kept no versions, or they were pruned
     │    ├── SecretsUnreadable   the secret key cannot open stored secrets
     │    └── NoSecretKey         there is no secret key to seal new ones with
     ├── Refused               not allowed (token role or scope, a path outside the roots): HTTP 403
     │    ├── Forbidden         the token's role or scope does not allow it
     │    ├── OutsideBrowseRoots
     │    └── DirectoryUnreadable
     ├── SchemaOutdated        the database schema is not the one this code knows
     ├── Unauthenticated       no live API token: HTTP 401
     └── EngineError           a run's work failed; `permanent` says if a retry can help
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class SynchubError(Exception):
    """Unexpected synchub error."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.__doc__)

    @property
    def message(self) -> str:
        return str(self)


class InvalidInput(SynchubError):
    """The input is not valid."""

    def __init__(self, message: str | None = None, *, field: str | None = None) -> None:
        super().__init__(message)
        #: the input at fault as a form names it ("cron", "source", "retries"), when known
        self.field = field


class InvalidFields(InvalidInput):
    """Several inputs are not valid."""

    def __init__(self, problems: list[InvalidInput]) -> None:
        # The first problem's words: what a caller reading one message was always told.
        super().__init__(problems[0].message, field=problems[0].field)
        #: every problem found, each with its field, in the order they were checked
        self.problems = tuple(problems)

    def __reduce__(self) -> tuple[type[InvalidFields], tuple[list[InvalidInput]]]:
        # Pickled (a process boundary) as its problems, which its __init__ takes.
        return (InvalidFields, (list(self.problems),))


class Problems:
    """Collects the InvalidInput of independent checks, so one answer names every
    input at fault instead of the first alone.

        problems = Problems()
        with problems.about("retries"):
            check_retries(...)
        problems.raise_any()
    """

    def __init__(self) -> None:
        self.found: list[InvalidInput] = []

    @contextmanager
    def about(self, field: str) -> Iterator[None]:
        """Run a check; an InvalidInput it raises is kept, blamed on `field` unless
        it names its own."""
        try:
            yield
        except InvalidFields as exc:
            self.found.extend(exc.problems)
        except InvalidInput as exc:
            if exc.field is None:
                exc.field = field
            self.found.append(exc)

    def __bool__(self) -> bool:
        return bool(self.found)

    def raise_any(self) -> None:
        """Raise what was found: the one InvalidInput, or InvalidFields for several."""
        if len(self.found) == 1:
            raise self.found[0]
        if self.found:
            raise InvalidFields(self.found)


@contextmanager
def blame(field: str) -> Iterator[None]:
    """An InvalidInput raised inside names `field` as the input at fault, unless it
    names its own."""
    try:
        yield
    except InvalidInput as exc:
        if exc.field is None:
            exc.field = field
        raise


class InvalidName(InvalidInput):
    """Names may hold letters, digits, '.', '_' and '-' only."""


class InvalidSchedule(InvalidInput):
    """The schedule is not valid."""


class InvalidPath(InvalidInput):
    """The path is not valid."""


class InvalidOption(InvalidInput):
    """The option is not allowed."""


class InvalidText(InvalidInput):
    """Text may not hold lone surrogates or control characters."""


class InvalidRemote(InvalidInput):
    """The remote definition is not valid."""


class CommandsDisabled(InvalidInput):
    """command jobs are disabled on this server"""


class BadQuery(InvalidInput):
    """A `query` that is not a JSON object of allowed fields and operators."""


class NotFound(SynchubError):
    """Not found."""


class RemoteNotFound(NotFound):
    """No remote with this name."""


class JobNotFound(NotFound):
    """No job with this name."""


class RunNotFound(NotFound):
    """No run with this id."""


class TaskNotFound(NotFound):
    """No file task with this id."""


class AlertNotFound(NotFound):
    """No alert with this name."""


class TokenNotFound(NotFound):
    """No live token with this name."""


class DirectoryNotFound(NotFound):
    """No such directory."""


class Conflict(SynchubError):
    """The request conflicts with the current state."""


class AlreadyExists(Conflict):
    """An object with this name already exists."""


class RemoteInUse(Conflict):
    """The remote is used by a job."""


class InvalidTransition(Conflict):
    """The run cannot move to that state from its current one."""


class JobRunning(Conflict):
    """A run of the job is running: cancel it and let it end first."""


class JobDeleted(Conflict):
    """The run's job was deleted; its history was kept, to read only."""


class TaskBusy(Conflict):
    """The file is queued or being transferred: it goes already."""


class NothingToRestore(Conflict):
    """The run kept no versions to restore, or they were pruned."""


class SecretsUnreadable(Conflict):
    """Stored secrets cannot be read with this secret key."""

    def __init__(self, message: str | None = None, *, reason: str = "wrong secret key") -> None:
        super().__init__(message)
        #: why, in a few words: "wrong secret key" or "no secret key"
        self.reason = reason


class NoSecretKey(Conflict):
    """There is no secret key to seal secrets with: run `synchub init`."""


class Refused(SynchubError):
    """This is not allowed."""


class Forbidden(Refused):
    """This token's role does not allow that."""


class OutsideBrowseRoots(Refused):
    """This path is outside the directories this server may browse (SYNCHUB_BROWSE_ROOTS)."""


class DirectoryUnreadable(Refused):
    """The server may not read this directory."""


class SchemaOutdated(SynchubError):
    """The database schema is out of date: run `synchub db upgrade`."""


class Unauthenticated(SynchubError):
    """A valid API token is needed: send `Authorization: Bearer <token>`."""


class EngineError(SynchubError):
    """The run's work failed."""

    def __init__(self, message: str | None = None, *, permanent: bool = False) -> None:
        super().__init__(message)
        #: True when retrying cannot help (bad usage, missing directory, fatal error).
        self.permanent = permanent
