"""The commands the docs show, run as a reader would: the README's first job in five
minutes line by line against a fresh data directory and a running server, and every
`$ synchub …` example of docs/cli.md with the output it says (where the output is
the same on every machine)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import Synchub, wait_for

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
#: Examples whose output depends on the machine (paths, disk, time): the documented
#: lines are checked by their first word only (e.g. `ok rclone:`).
ILLUSTRATIVE = ("synchub doctor",)


def blocks(page: Path) -> list[list[str]]:
    """The lines of each fenced code block of a Markdown page."""
    found: list[list[str]] = []
    inside: list[str] | None = None
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            if inside is None:
                inside = []
            else:
                found.append(inside)
                inside = None
        elif inside is not None:
            inside.append(line)
    return found


def walkthrough() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## A first job in five minutes", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


def bash(synchub: Synchub, line: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**synchub.env, "PATH": f"{Path(sys.executable).parent}:{synchub.env['PATH']}"}
    return subprocess.run(
        ["bash", "-o", "pipefail", "-c", line],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_the_readme_walkthrough_runs_line_by_line(synchub: Synchub, tmp_path: Path) -> None:
    lines = walkthrough()
    assert any(line.startswith("synchub job add photos") for line in lines)
    synchub.serve()
    demo = str(tmp_path / "demo")
    for line in lines:
        if line.startswith("export PATH="):
            continue  # the test's PATH has the venv already
        if "runs show" in line:
            # A reader runs it after the first 5 s run; the test waits for that run.
            wait_for("the first run", lambda: synchub.json("runs", "list", "--job", "photos"))
        done = bash(synchub, line.replace("/tmp/demo", demo), tmp_path)
        assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
    assert (tmp_path / "demo" / "backup" / "a.txt").read_text() == "hello\n"


def cli_examples() -> list[tuple[str, list[str]]]:
    """(command, the lines the page shows it printing) for each `$ synchub` line."""
    examples = []
    for block in blocks(ROOT / "docs" / "cli.md"):
        for i, line in enumerate(block):
            if line.startswith("$ synchub "):
                shown = []
                for after in block[i + 1 :]:
                    if after.startswith("$ "):
                        break
                    shown.append(after)
                examples.append((line[2:], shown))
    return examples


@pytest.mark.parametrize(("command", "shown"), cli_examples(), ids=lambda v: str(v)[:40])
def test_each_cli_md_example_prints_what_the_page_says(
    synchub: Synchub, tmp_path: Path, command: str, shown: list[str]
) -> None:
    done = bash(synchub, command, tmp_path)
    printed = (done.stdout + done.stderr).splitlines()
    if command.startswith(ILLUSTRATIVE):
        # The same checks, by name ("ok      file modes: …" names "file modes").
        assert done.returncode in (0, 1), done.stderr
        assert _check_names(shown) <= _check_names(printed), printed
        return
    assert printed == shown, command


def _check_names(lines: list[str]) -> set[str]:
    found = (re.match(r"^(ok|note|PROBLEM)\s+([^:]+):", line) for line in lines)
    return {m.group(2) for m in found if m}
