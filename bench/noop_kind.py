"""A job kind that does nothing: the lateness benchmark measures synchub, not the work.

Registered for the `serve` subprocess through a `synchub.kinds` entry point (see
`lateness.write_plugin`), exactly as a team's own plug-in package would be.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from synchub.engines.base import Outcome, RunContext


class NoopKind:
    kind = "noop"

    def validate(self, params: Mapping[str, Any], known_remotes: frozenset[str]) -> dict[str, Any]:
        return {}

    def remotes_used(self, params: Mapping[str, Any]) -> frozenset[str]:
        return frozenset()

    def run(self, ctx: RunContext) -> Outcome:
        return Outcome(ok=True)
