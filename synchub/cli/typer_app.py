"""typer as the command line uses it: plain help (click's, no rich) and a help
option that does not bring in pydantic, so `synchub --help` starts fast."""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup


class LightGroup(TyperGroup):
    """A group whose --help, when not given, is already False: typer 0.29 coerces a
    missing (None) flag through a pydantic adapter, ≈ 0.1 s of import for every
    `synchub GROUP --help`."""

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        if option is not None and option.default is None:
            option.default = False
        return option


def typer_app(help: str, **kwargs: Any) -> typer.Typer:
    """A group of commands: help when called bare, printed plainly."""
    return typer.Typer(
        cls=LightGroup, no_args_is_help=True, rich_markup_mode=None, help=help, **kwargs
    )
