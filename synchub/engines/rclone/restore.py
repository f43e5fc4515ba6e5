"""Restoring kept versions: copying files a run kept back to their place.

A job that keeps versions moves what a run deletes or overwrites into
`.synchub-trash/<run start>-run<ID>/` at its destination root (rclone.safety). A
restore lists that folder (the truth, whatever the run's change report kept) and
copies files from it back to the destination root with `rclone copy
--files-from-raw LIST --no-traverse`, touching those files only. What the restore
itself overwrites is kept the same way, in `.synchub-trash/<now>-restore<ID>/`: a
restore never destroys a version either.
"""

from __future__ import annotations

import json
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from synchub.core.errors import EngineError, NothingToRestore
from synchub.core.redact import redact, secret_list
from synchub.core.safety import TRASH, kept_folder
from synchub.engines.base import RemoteConfig
from synchub.engines.process import spawn, stream_lines
from synchub.engines.rclone.environment import rclone_env, secret_values

_ERROR_LEVELS = frozenset({"error", "critical", "alert", "emergency"})


@dataclass(frozen=True)
class KeptFolder:
    """Where a run's kept versions are, and where they belong."""

    folder: str  #: remote:path of the run's folder in the trash
    root: str  #: remote:path of the destination root they came from


def kept_folder_of(kept_at: str, path: str) -> KeptFolder:
    """The folder and destination root of a change-report row kept at `kept_at`
    (`<root>/.synchub-trash/<name>/<path>`); ValueError for anything else."""
    folder = kept_at.removesuffix("/" + path)
    head, found, name = folder.rpartition(TRASH + "/")
    if folder == kept_at or not found or not name or "/" in name:
        raise ValueError(f"not a kept version: {kept_at!r}")
    # "remote:" and "remote:/" are different places: keep the root's own spelling.
    root = head[:-1] if head.endswith("/") and not head.endswith(":/") and head != "/" else head
    return KeptFolder(folder, root)


@dataclass(frozen=True)
class Restored:
    """What a restore did."""

    restored: list[str]  #: paths copied back, relative to the destination root
    #: paths asked for that were already there as kept (rclone copies what differs)
    unchanged: list[str]
    aside: str  #: remote:path where the versions it overwrote were kept
    errors: list[str]  #: rclone's error messages, secrets redacted


class Restorer:
    """rclone commands on one kept folder, with the remotes they need."""

    def __init__(self, kept: KeptFolder, remotes: Mapping[str, RemoteConfig], *, binary: str,
                 grace_s: float = 5.0, allow_programs: bool = False) -> None:  # fmt: skip
        self.kept, self.binary, self.grace_s = kept, binary, grace_s
        self.env = rclone_env(remotes, allow_programs=allow_programs)
        self.secrets = secret_list(secret_values(remotes, self.env))
        self.stop = threading.Event()

    def files(self) -> list[str]:
        """Every file in the kept folder, relative to it. NothingToRestore when the
        folder is gone (pruned); EngineError when it cannot be listed."""
        argv = [self.binary, "lsf", "-R", "--files-only", "--use-json-log", self.kept.folder]
        code, out, errors = self._rclone(argv)
        # An object store has no folders: a pruned one lists as empty, not missing.
        if code in (3, 4) or (code == 0 and not out):
            raise NothingToRestore(
                f"{self.kept.folder} is gone: its kept versions were pruned (or removed); "
                "nothing was restored"
            )
        if code != 0:
            raise EngineError(_first_error(errors) or f"rclone lsf exited with code {code}")
        return out

    def restore(self, paths: Sequence[str], *, now: datetime, restore_id: int) -> Restored:
        """Copy `paths` (relative to the kept folder) back to the destination root;
        `now` and `restore_id` name the folder keeping what this overwrites."""
        name = kept_folder(now, restore_id, "restore")
        root = self.kept.root
        aside = root + name if root.endswith(("/", ":")) else f"{root}/{name}"
        with tempfile.TemporaryDirectory(prefix="synchub-restore-") as tmp:
            listing = Path(tmp) / "paths"
            with listing.open("w", encoding="utf-8", errors="surrogateescape") as out:
                out.writelines(p + "\n" for p in paths)
            argv = [self.binary, "copy", self.kept.folder, root, f"--files-from-raw={listing}",
                    "--no-traverse", f"--backup-dir={aside}", "-v", "--use-json-log"]  # fmt: skip
            code, _, lines = self._rclone(argv)
        restored, failed, errors = set(), set(), []
        for line in lines:
            obj = _json(line)
            msg, where = str(obj.get("msg", "")), obj.get("object")
            if msg.startswith(("Copied (", "Multi-thread Copied (")) and isinstance(where, str):
                # On a remote without server-side moves, keeping aside what it
                # overwrites copies that path too: a set counts it once.
                restored.add(where)
            elif str(obj.get("level")) in _ERROR_LEVELS:
                errors.append(f"{where}: {msg}" if isinstance(where, str) else msg)
                failed.add(where)
        if code != 0 and not errors:
            errors.append(f"rclone copy exited with code {code}")
        unchanged = sorted(set(paths) - restored - failed) if code == 0 else []
        return Restored(sorted(restored), unchanged, aside, errors)

    def _rclone(self, argv: list[str]) -> tuple[int, list[str], list[str]]:
        """Run rclone to its end: (exit status, stdout lines, stderr lines redacted)."""
        try:
            proc = spawn(argv, env=self.env)
        except OSError as exc:
            raise EngineError(f"cannot start rclone: {exc}", permanent=True) from None
        out, err = [], []
        for stream, line in stream_lines(proc, self.stop, grace_s=self.grace_s):
            if stream == "stdout":
                out.append(line)
            elif line.strip():
                err.append(redact(line, self.secrets))
        return int(proc.returncode if proc.returncode is not None else -1), out, err


def _json(line: str) -> dict[str, object]:
    try:
        obj = json.loads(line)
    except ValueError:
        return {"level": "error", "msg": line} if line.startswith(("Error", "ERROR")) else {}
    return obj if isinstance(obj, dict) else {}


def _first_error(lines: list[str]) -> str:
    for line in lines:
        obj = _json(line)
        if str(obj.get("level")) in _ERROR_LEVELS:
            return str(obj.get("msg", ""))
    return lines[0] if lines else ""
