"""Install a job kind the way a package would: a dist-info with an entry point."""

from __future__ import annotations

from pathlib import Path


def write_plugin(site: Path, name: str, entry: str, kind: str) -> Path:
    """Make `site` an import path holding distribution `name` that registers `entry`
    (e.g. "tests.support.kinds:ScriptedKind") as job kind `kind`."""
    dist = site / f"{name}-0.1.dist-info"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[synchub.kinds]\n{kind} = {entry}\n")
    return site
