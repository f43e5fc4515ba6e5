"""What every command shares: the two consoles, the `--json` option, the services over
the configured database with its schema checked, and synchub's errors as one line on
stderr and an exit code. Light on purpose: every command module imports it, and
`synchub --help` imports every command module."""

from __future__ import annotations

import gc
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from synchub.cli.console import LazyConsole
from synchub.core.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    SchemaOutdated,
    SynchubError,
)

if TYPE_CHECKING:
    from pydantic import ValidationError

    from synchub.services import Services

# Made on first use: `synchub --help` and parse errors import no rich.
out = LazyConsole(stderr=False)
err = LazyConsole(stderr=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


def fail(message: str, code: int) -> NoReturn:
    err.print(f"error: {message}", markup=False)
    raise typer.Exit(code)


@contextmanager
def errors() -> Iterator[None]:
    """synchub's errors as one line on stderr and an exit code: 2 for bad input, a
    conflict, an outdated schema or a bad setting, 3 for what is not found, 1 for the
    rest (a database that fails is said in words, without a traceback)."""
    from pydantic import ValidationError

    try:
        yield
    except (InvalidInput, Conflict) as exc:
        fail(exc.message, 2)
    except NotFound as exc:
        fail(exc.message, 3)
    except SchemaOutdated as exc:
        fail(exc.message, 2)
    except SynchubError as exc:
        fail(exc.message, 1)
    except ValidationError as exc:  # settings that do not validate
        fail(settings_problem(exc), 2)
    except ValueError as exc:
        fail(str(exc).splitlines()[0], 2)
    except Exception as exc:
        from synchub.services.faults import database_fault

        told = database_fault(exc)  # a full disk, a lock, an outage: said, no traceback
        if told is None:
            raise
        fail(told, 1)


@contextmanager
def importing() -> Iterator[None]:
    """No garbage collection while the database layer, the settings and the API's
    schemas are imported: they make hundreds of thousands of objects and free next to
    none, so the collector's passes over them find nothing (a tenth of a listing's
    time when it reads the database)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def services(*, schema: bool = True) -> Iterator[Services]:
    """Services over the configured database, with synchub errors mapped to exit codes
    (`errors`). With `schema` (all but the commands that make, upgrade or examine the
    database): SchemaOutdated unless the database is at this code's revision."""
    with importing():
        from synchub.config import Settings
        from synchub.services import Services

    with errors():
        svc: Services | None = None
        try:
            svc = Services(Settings(), actor="cli")
            if schema:
                from synchub.store.schema import check_schema

                check_schema(svc.db)
            yield svc
        finally:
            if svc is not None:
                svc.close()


def settings_problem(exc: ValidationError) -> str:
    """The first bad setting, named as the user sets it."""
    error = exc.errors()[0]
    field = "_".join(str(p) for p in error["loc"]).upper()
    where = f"SYNCHUB_{field}: " if field else ""
    return f"Bad setting {where}{error['msg'].removeprefix('Value error, ')}"


def emit(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def parse_pairs(pairs: list[str], what: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for number, pair in enumerate(pairs, 1):
        key, sep, value = pair.partition("=")
        if not sep or not key:
            # Not quoted: a value given without its key is likely the secret itself.
            raise InvalidInput(f"Bad {what} number {number}: use key=value")
        result[key] = value
    return result


def seal_stored(svc: Services) -> None:
    """Seal secret values stored in plain text (RemoteService.seal_stored,
    JobService.seal_stored_env)."""
    sealed = svc.remotes.seal_stored()
    for name, keys in sealed.items():
        err.print(f"sealed the secret option(s) {', '.join(keys)} of remote {name}", markup=False)
    jobs = svc.jobs.seal_stored_env()
    for name in jobs:
        err.print(f"sealed the environment values of job {name}", markup=False)
    if sealed or jobs:
        err.print(
            "the plain values may linger in the database's free space until it is "
            "compacted: see docs/concepts.md, Remotes",
            markup=False,
        )
