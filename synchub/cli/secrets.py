"""`synchub secrets`: sealed values the secret key cannot open (a lost or wrong key)."""

from __future__ import annotations

from typing import Annotated

import typer

from synchub.cli.shared import err, fail, out, services
from synchub.cli.typer_app import typer_app

secrets_app = typer_app(
    help="Sealed secrets: what to do when the secret key cannot open them.",
)


@secrets_app.command("forget")
def secrets_forget(
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Drop the sealed values the secret key cannot open (remotes' secret options,
    command jobs' env values), so that they can be entered again. Audited. Restore
    the key instead if you can: what is dropped is gone for good."""
    from synchub.services.secrets import describe

    with services() as svc:
        found = svc.secrets.unreadable()
        if not found:
            out.print("every sealed value opens with this secret key: nothing to forget")
            return
        err.print(f"{describe(found)} cannot be read ({found[0].reason}).", markup=False)
        if not yes and not typer.confirm(
            "Drop them for good (restoring the key later will not bring them back)?"
        ):
            fail("nothing was dropped", 1)
        dropped = svc.secrets.forget()
        has_key = svc.box.has_key
    out.print(f"forgot {describe(dropped)[:1].lower()}{describe(dropped)[1:]}", markup=False)
    if not has_key:
        out.print("run `synchub init` for a new secret key, then", markup=False)
    out.print(
        "enter them again: `synchub remote edit NAME KEY=VALUE …`, "
        "`synchub job edit NAME --kind command --env KEY=VALUE …`",
        markup=False,
    )
