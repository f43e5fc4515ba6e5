"""Use cases shared by the CLI, the API and the console: validation, rules, audit."""

from synchub.services.context import Services

__all__ = ["Services"]
