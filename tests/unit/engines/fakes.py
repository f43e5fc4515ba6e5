"""Fakes for engine tests: a sink that records what an engine reports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from synchub.core.runs import FileChange, Progress


@dataclass
class RecordingSink:
    """A RunSink keeping every call, in order."""

    logs: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    snapshots: list[Progress] = field(default_factory=list)
    files: list[FileChange] = field(default_factory=list)

    def log(self, level: str, message: str, fields: Mapping[str, Any] | None = None) -> None:
        self.logs.append((level, message, dict(fields or {})))

    def progress(self, snapshot: Progress) -> None:
        self.snapshots.append(snapshot)

    def file(self, change: FileChange) -> None:
        self.files.append(change)

    def messages(self) -> list[str]:
        return [message for _, message, _ in self.logs]

    def changes(self) -> set[tuple[str, str]]:
        """(path, action) of every change-report row."""
        return {(c.path, c.action.value) for c in self.files}
