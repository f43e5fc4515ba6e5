"""The command line's two consoles, made on first use: rich is imported only by a
command that prints through it, not by `synchub --help` or a parse error."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


class LazyConsole:
    """A SafeConsole (stdout or stderr) made when first printed to."""

    def __init__(self, *, stderr: bool) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    def get(self) -> Console:
        """The console itself, for what takes a rich Console."""
        if self._console is None:
            self._console = _safe_console(stderr=self._stderr)
        return self._console

    def print(self, *objects: Any, **kwargs: Any) -> None:
        self.get().print(*objects, **kwargs)


def _safe_console(*, stderr: bool) -> Console:
    from rich.console import Console
    from rich.text import Text

    from synchub.core.text import shown

    class SafeConsole(Console):
        """A console that prints controls and lone surrogates as escapes ("\\x1b"): text
        read back from the database cannot steer the terminal or fail to encode."""

        def render_str(self, text: str, **kwargs: Any) -> Text:
            return super().render_str(shown(text), **kwargs)

    return SafeConsole(stderr=stderr, highlight=False, soft_wrap=True)
