"""typer as the command line uses it: plain help (click's, no rich), and options
that do not bring in pydantic, so `synchub --help` and the listings start fast.

typer 0.29 checks each option's value through a pydantic adapter, which costs
≈ 0.1 s of import. Here an option not given, a str option's text and an int
option's default within its range are taken as they are, as that adapter would
take them; any other value (a number typed on the command line) goes through
typer's own check, with its own words."""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

try:  # typer 0.29's coercion; older releases check values with click, without pydantic
    from typer._coercion import RuntimeParam, build_runtime_param
except ImportError:  # pragma: no cover
    RuntimeParam = None  # type: ignore[assignment,misc]


def _help_default_false(option: Any) -> Any:
    """A --help that, when not given, is already False: typer coerces a missing
    (None) flag through a pydantic adapter."""
    if option is not None and option.default is None:
        option.default = False
    return option


class LightGroup(TyperGroup):
    def get_help_option(self, ctx: Any) -> Any:
        return _help_default_false(super().get_help_option(ctx))


class LightCommand(TyperCommand):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if RuntimeParam is None:  # pragma: no cover
            return
        for param in self.params:
            descriptor: Any = getattr(param, "type_descriptor", None)
            if getattr(param, "_runtime_param", 0) is None and _plain_type(descriptor):
                plain = _Plain(
                    parameter_info=descriptor.parameter_info, annotation=descriptor.annotation
                )
                param._runtime_param = plain  # type: ignore[attr-defined]

    def get_help_option(self, ctx: Any) -> Any:
        return _help_default_false(super().get_help_option(ctx))


def _plain_type(descriptor: Any) -> bool:
    """An str or int option, checked by typer with no parser or type of its own."""
    if descriptor is None or descriptor.file_annotation is not None:
        return False
    info = descriptor.parameter_info
    custom = getattr(info, "parser", None) or getattr(info, "click_type", None)
    return descriptor.annotation in (str, int) and custom is None


if RuntimeParam is not None:

    class _Plain(RuntimeParam):
        """A str or int option's value: as it is when typer's adapter would keep it,
        else through that adapter (built, with pydantic, only then)."""

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            if type(value) is self.annotation and self._within(value):
                return value
            checked = build_runtime_param(param.type_descriptor)
            return checked._coerce_value(value, param=param, ctx=ctx)

        def _within(self, value: Any) -> bool:
            if self.annotation is not int:
                return True
            least, most = self.parameter_info.min, self.parameter_info.max
            return (least is None or value >= least) and (most is None or value <= most)


class LightTyper(typer.Typer):
    """A Typer whose commands are LightCommands unless told otherwise."""

    def command(self, *args: Any, cls: type[TyperCommand] | None = None, **kwargs: Any) -> Any:
        return super().command(*args, cls=cls or LightCommand, **kwargs)


def typer_app(help: str, **kwargs: Any) -> typer.Typer:
    """A group of commands: help when called bare, printed plainly."""
    return LightTyper(
        cls=LightGroup, no_args_is_help=True, rich_markup_mode=None, help=help, **kwargs
    )
