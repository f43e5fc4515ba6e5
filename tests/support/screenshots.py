"""Screenshots of every console page over sample data, in Debian's chromium:

    python -m tests.support.screenshots docs/screenshots

A real `synchub serve` in a temporary home, with real rclone runs (one failing, one
slowed down so it is running when the pictures are taken)."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from tests.e2e.conftest import Synchub, wait_for
from tests.support.browser import chromium_problem, launch


def sample(synchub: Synchub, root: Path) -> None:
    """Remotes, jobs and runs that look like a small installation's."""
    for name in ("laptop", "nas"):
        (root / name).mkdir()
        synchub("remote", "add", name, "local")
    music, notes = root / "laptop" / "music", root / "laptop" / "notes"
    music.mkdir()
    notes.mkdir()
    for i in range(4):
        (music / f"album/track{i:02d}.flac").parent.mkdir(exist_ok=True)
        (music / f"album/track{i:02d}.flac").write_bytes(os.urandom(3 * 1024 * 1024))
    for i in range(12):
        (notes / f"2025/notes-{i:02d}.md").parent.mkdir(exist_ok=True)
        (notes / f"2025/notes-{i:02d}.md").write_text(f"note {i}\n" * (i + 1) * 200)
    jobs = [
        ("notes", "laptop:" + str(notes), "nas:" + str(root / "nas" / "notes"),
         ["--cron", "30 2 * * *", "--tag", "daily", "--stale-after", "2d", "--keep-runs", "90d",
          "--hook", f'before:fail:10s=["/usr/bin/test", "-d", "{notes}"]']),
        ("photos-to-nas", "laptop:" + str(root / "laptop" / "photos"),
         "nas:" + str(root / "nas" / "photos"), ["--cron", "0 * * * *", "--retries", "0"]),
        ("music", "laptop:" + str(music), "nas:" + str(root / "nas" / "music"),
         ["--every", "6h", "--option", "--bwlimit=512k", "--option", "--transfers=2"]),
        ("mail-archive", "laptop:" + str(notes), "nas:" + str(root / "nas" / "mail"),
         ["--cron", "0 3 * * 0", "--tag", "weekly", "--disabled"]),
    ]  # fmt: skip
    for name, source, dest, extra in jobs:
        synchub("job", "add", name, "--source", source, "--dest", dest, *extra)
    inbox = root / "scanner-inbox"
    inbox.mkdir()
    synchub("job", "add", "scans", "--source", str(inbox), "--dest", str(root / "nas" / "scans"),
            "--watch", "--after", "notes:failure")  # fmt: skip


def runs_of(synchub: Synchub) -> list[dict[str, object]]:
    return list(json.loads(synchub("runs", "list", "--json").stdout))


def main(out: Path) -> None:
    problem = chromium_problem()
    if problem is not None:
        sys.exit(f"screenshots: {problem}")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        home = root / "home"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNCHUB_", "DATABASE"))}
        env |= {"SYNCHUB_HOME": str(home), "SYNCHUB_DEFAULT_TZ": "Europe/Berlin",
                "SYNCHUB_ALLOW_COMMAND_JOBS": "1", "SYNCHUB_WATCH_SETTLE": "0.5"}  # fmt: skip
        synchub = Synchub(home, env)
        synchub("init")
        sample(synchub, root)
        token = synchub("token", "create", "ada", "--role", "admin").stdout.strip()
        server = synchub.serve()
        try:
            url = f"http://127.0.0.1:{server.args[server.args.index('--port') + 1]}"  # type: ignore[index, union-attr]
            for name in ("notes", "photos-to-nas"):
                synchub("job", "run", name)

            def ended() -> bool:
                return sum(bool(r["finished_at"]) for r in runs_of(synchub)) >= 2

            wait_for("two runs to end", ended, 60)
            (root / "scanner-inbox" / "scan-0001.pdf").write_bytes(os.urandom(200_000))
            synchub("job", "run", "music")
            shoot(url, token, out, runs_of(synchub))
        finally:
            synchub.stop_all()


#: (file name suffix, viewport width, colour scheme)
VARIANTS = (("", 1280, "light"), ("-narrow", 360, "light"), ("-dark", 1280, "dark"))


def shoot(url: str, token: str, out: Path, runs: list[dict[str, object]]) -> None:
    from playwright.sync_api import sync_playwright

    by_job = {str(r["job"]): r["id"] for r in runs}
    pages = {
        "dashboard": "/",
        "jobs": "/jobs",
        "job": "/jobs/notes",
        "runs": "/runs",
        "run-running": f"/runs/{by_job['music']}",
        "run-report": f"/runs/{by_job['notes']}",
        "run-failed": f"/runs/{by_job['photos-to-nas']}",
        "job-form": "/jobs/new?copy=notes",
        "remotes": "/remotes",
        "remote-form": "/remotes/new?type=sftp",
        "folders": "/folders",
        "audit": "/audit",
        "settings": "/settings",
    }
    with sync_playwright() as pw, tempfile.TemporaryDirectory() as profiles:
        for variant, width, scheme in VARIANTS:
            context = launch(pw, Path(profiles) / (variant or "wide"), width=width)
            page = context.new_page()
            page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
            page.goto(url + "/login")
            if not variant:
                page.screenshot(path=str(out / "login.png"))
            page.get_by_label("Token").fill(token)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(url + "/")
            for name, path in pages.items():
                if variant and name not in ("dashboard", "run-running", "job"):
                    continue
                page.goto(url + path)
                page.wait_for_timeout(1500)  # let the live panels receive their first push
                page.screenshot(path=str(out / f"{name}{variant}.png"), full_page=True)
            context.close()


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots"))
