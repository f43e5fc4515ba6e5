"""The console in a real browser (Debian's chromium through Playwright) against a real
`synchub serve` running real rclone: sign in, watch a run's progress move, read its
change report, cancel a run, and find no write control as a viewer."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.conftest import need_service
from tests.e2e.conftest import Synchub, wait_for
from tests.support.browser import chromium_problem, launch

pytestmark = pytest.mark.slow

WRITES = re.compile(r"^(Run now|Dry run|Cancel run|Retry|Enable|Disable|Save)$")


@pytest.fixture
def browser_profile(tmp_path: Path) -> Path:
    problem = chromium_problem()
    if problem is not None:
        need_service("chromium", problem)
    return tmp_path / "profile"


def test_sign_in_run_watch_cancel_and_a_viewer_sees_no_write_control(
    synchub: Synchub, tmp_path: Path, browser_profile: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    dst.mkdir()
    for i in range(3):
        (src / f"part{i}.bin").write_bytes(os.urandom(512 * 1024))
    (dst / "stale.txt").write_text("gone after the sync")
    synchub(
        "job", "add", "music", "--source", str(src), "--dest", str(dst),
        "--option", "--bwlimit=256k", "--option", "--transfers=1",
        "--delete-guard", "1",  # its one stale file is meant to go
    )  # fmt: skip
    admin = synchub("token", "create", "ada", "--role", "admin").stdout.strip()
    viewer = synchub("token", "create", "vic", "--role", "viewer").stdout.strip()
    server = synchub.serve()
    url = f"http://127.0.0.1:{server.args[server.args.index('--port') + 1]}"  # type: ignore[index, union-attr]

    with sync_playwright() as pw:
        context = launch(pw, browser_profile)
        page = context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        refused: list[str] = []  # what the Content-Security-Policy blocked, if anything
        page.on(
            "console", lambda m: refused.append(m.text) if "Security Policy" in m.text else None
        )

        page.goto(url + "/jobs/music")
        assert page.url == url + "/login?next=%2Fjobs%2Fmusic"
        page.get_by_label("Token").fill(admin)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(url + "/jobs/music")

        page.goto(url + "/")
        expect(page.get_by_role("link", name="music", exact=True)).to_be_visible()
        page.get_by_role("link", name="music", exact=True).click()
        page.get_by_role("button", name="Run now").click()
        page.wait_for_url(re.compile(r"/runs/\d+$"))
        run_id = page.url.rsplit("/", 1)[1]

        # The live bar moves: one value seen, then a greater one, pushed over SSE
        # (each push replaces the element, so it is looked up again each time).
        bar = page.locator(f'[data-run-id="{run_id}"] progress').first

        def value() -> float:
            return float(bar.get_attribute("value", timeout=30_000) or 0)

        first = wait_for("the bar to show progress", value)
        wait_for("the bar to move", lambda: value() > first)

        # The run ends on its own; the page says so, offers Retry instead of Cancel,
        # and leads to the change report.
        expect(page.locator('h1 [data-state="succeeded"]')).to_be_visible(timeout=60_000)
        expect(page.get_by_role("button", name="Retry")).to_be_visible()
        expect(page.get_by_role("button", name="Cancel run")).to_have_count(0)
        page.get_by_role("link", name="Show the change report").click()
        expect(page.locator('h1 [data-state="succeeded"]')).to_be_visible()
        changes = page.locator("tr[data-action]")
        expect(changes).to_have_count(4)
        expect(page.locator('tr[data-action="deleted"]')).to_contain_text("stale.txt")

        # A second run, cancelled from its page.
        (src / "more.bin").write_bytes(os.urandom(2 * 1024 * 1024))
        page.goto(url + "/jobs/music")
        page.get_by_role("button", name="Run now").click()
        page.wait_for_url(re.compile(r"/runs/\d+$"))
        expect(page.locator("[data-run-id] progress").first).to_be_attached(timeout=30_000)
        page.get_by_role("button", name="Cancel run").click()
        expect(page.locator(".flash")).to_contain_text("cancel requested")
        page.get_by_role("link", name="Show the change report").click(timeout=60_000)
        expect(page.locator('h1 [data-state="cancelled"]')).to_be_visible()

        # A viewer finds no write control anywhere it looks.
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(url + "/login")
        page.get_by_label("Token").fill(viewer)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(url + "/")
        expect(page.locator(".who")).to_contain_text("vic viewer")
        for path in ("/", "/jobs", "/jobs/music", "/runs", f"/runs/{run_id}", "/settings"):
            page.goto(url + path)
            expect(page.get_by_role("button", name=WRITES)).to_have_count(0)
            expect(page.locator('form[method="post"]')).to_have_count(1)  # sign out
        context.close()
    assert refused == []


def test_an_admin_adds_a_job_with_the_schedule_builder(
    synchub: Synchub, tmp_path: Path, browser_profile: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    src = tmp_path / "src"
    src.mkdir()
    admin = synchub("token", "create", "ada", "--role", "admin").stdout.strip()
    server = synchub.serve()
    url = f"http://127.0.0.1:{server.args[server.args.index('--port') + 1]}"  # type: ignore[index, union-attr]

    with sync_playwright() as pw:
        context = launch(pw, browser_profile)
        page = context.new_page()
        refused: list[str] = []  # what the Content-Security-Policy blocked, if anything
        page.on(
            "console", lambda m: refused.append(m.text) if "Security Policy" in m.text else None
        )
        page.goto(url + "/jobs/new")
        page.get_by_label("Token").fill(admin)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(url + "/jobs/new")

        page.get_by_label("Name", exact=True).fill("photos")
        page.get_by_role("radio", name=re.compile(r"^copy: copies")).check()
        page.get_by_label("Source", exact=True).fill(str(src))
        page.get_by_label("Destination", exact=True).fill(str(tmp_path / "dst"))
        # Checked by the services as it is filled in, beside the input at fault.
        page.get_by_label("Retries").fill("-1")
        page.get_by_label("Retries").press("Tab")
        expect(page.locator("#errs-retries")).to_contain_text("Bad retries")
        page.get_by_label("Retries").fill("2")
        page.get_by_label("Retries").press("Tab")
        expect(page.locator("#errs-retries")).to_be_empty()
        page.get_by_label("Cron", exact=True).check()
        page.get_by_label("Time zone").fill("Asia/Tokyo")
        preview = page.locator("#schedule-preview")
        # Typed key by key, as a person does: the preview follows, and says why a
        # half-typed or wrong expression is not one yet.
        page.get_by_label("Cron expression").press_sequentially("61 2 * * *")
        expect(preview).to_contain_text("bad minute")
        expect(preview).to_have_attribute("data-state", "invalid")
        page.get_by_label("Cron expression").fill("")
        page.get_by_label("Cron expression").press_sequentially("30 2 * * *")
        expect(preview).to_contain_text("At 02:30")
        expect(preview.locator("li time")).to_have_count(5)
        expect(preview.locator("li").first).to_contain_text("02:30:00 JST")

        page.get_by_role("button", name="Save").click()
        page.wait_for_url(url + "/jobs/photos")
        expect(page.locator(".flash")).to_contain_text("Job photos added")
        expect(page.locator(".fires li")).to_have_count(5)
        context.close()
    assert refused == []


def test_an_operator_retries_a_watched_file_by_keyboard_on_a_phone(
    synchub: Synchub, tmp_path: Path, browser_profile: Path
) -> None:
    """The folders page at 360 px: the folder's state, its file's task, Retry reached
    and pressed from the keyboard, Remove confirmed; the run's log searched."""
    from playwright.sync_api import expect, sync_playwright

    src, dst = tmp_path / "inbox", tmp_path / "out"
    src.mkdir()
    synchub("job", "add", "inbox", "--source", str(src), "--dest", str(dst), "--watch")
    operator = synchub("token", "create", "olga", "--role", "operator").stdout.strip()
    synchub.env["SYNCHUB_WATCH_SETTLE"] = "0.5"
    server = synchub.serve()
    url = f"http://127.0.0.1:{server.args[server.args.index('--port') + 1]}"  # type: ignore[index, union-attr]

    polls = iter(range(10**6))

    def copied() -> bool:
        # Written again now and then until copied (the watcher starts once the server
        # leads), never so often that the file cannot settle.
        if next(polls) % 50 == 0:
            (src / "scan.pdf").write_text("scanned")
        return (dst / "scan.pdf").exists()

    wait_for("a watch run to copy the file", copied, timeout=60)

    with sync_playwright() as pw:
        context = launch(pw, browser_profile, width=360, height=740)
        page = context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        page.goto(url + "/folders")
        page.get_by_label("Token").fill(operator)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(url + "/folders")
        expect(page.locator('[data-job="inbox"] [data-state="watching"]')).to_be_visible()
        # No sideways scrolling of the page itself at 360 px (tables scroll inside).
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, width

        def done_task() -> bool:
            page.reload()
            return page.locator('tr[data-state="done"]').count() == 1

        wait_for("the file's task to be done", done_task, timeout=60)
        retry = page.get_by_role("button", name="Retry scan.pdf")
        for _ in range(60):  # Tab until Retry has the focus: it is reachable
            page.keyboard.press("Tab")
            if retry.evaluate("b => b === document.activeElement"):
                break
        else:
            raise AssertionError("Retry is not reachable with Tab")
        page.keyboard.press("Enter")
        expect(page.locator(".flash")).to_contain_text("scan.pdf is sent again")
        # Followed live, without a reload: the task turns done on the page by itself.
        expect(page.locator('tr[data-state="done"]')).to_have_count(1, timeout=60_000)

        run_link = page.locator('tr[data-state="done"] a[data-run-id]')
        run_link.click()
        page.get_by_label("Search the log").fill("no such line anywhere")
        page.get_by_label("Search the log").press("Enter")
        expect(page.get_by_text("No log lines match this filter.")).to_be_visible()

        page.goto(url + "/folders")
        page.get_by_role("button", name="Remove scan.pdf").click()
        expect(page.locator(".flash")).to_contain_text("removed")
        expect(page.locator("tr[data-task-id]")).to_have_count(0)
        context.close()


def test_an_admin_sets_chains_thresholds_and_hooks_then_an_operator_mutes(
    synchub: Synchub, tmp_path: Path, browser_profile: Path
) -> None:
    """The job form's chains, alert thresholds, retention and hook rows, each error
    shown beside its input as it is typed; then Mute and Unmute on the job's page."""
    from playwright.sync_api import expect, sync_playwright

    src = tmp_path / "src"
    src.mkdir()
    synchub("job", "add", "backup", "--source", str(src), "--dest", str(tmp_path / "b"))
    admin = synchub("token", "create", "ada", "--role", "admin").stdout.strip()
    synchub.env["SYNCHUB_ALLOW_COMMAND_JOBS"] = "1"
    server = synchub.serve()
    url = f"http://127.0.0.1:{server.args[server.args.index('--port') + 1]}"  # type: ignore[index, union-attr]

    with sync_playwright() as pw:
        context = launch(pw, browser_profile)
        page = context.new_page()
        refused: list[str] = []
        page.on(
            "console", lambda m: refused.append(m.text) if "Security Policy" in m.text else None
        )
        page.goto(url + "/jobs/new")
        page.get_by_label("Token").fill(admin)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(url + "/jobs/new")

        page.get_by_label("Name", exact=True).fill("verify")
        page.get_by_label("Source", exact=True).fill(str(src))
        page.get_by_label("Destination", exact=True).fill(str(tmp_path / "v"))
        page.get_by_label("Run after").fill("nosuchjob")
        page.get_by_label("Run after").press("Tab")
        expect(page.locator("#errs-after")).to_contain_text("nosuchjob")
        page.get_by_label("Run after").fill("backup:always")
        page.get_by_label("Stale after").fill("2d")
        page.get_by_label("Keep runs").fill("500")
        target = page.get_by_label("Command or URL of hook 1")
        target.fill('["bin/report"]')
        target.press("Tab")
        expect(page.locator("#errs-hook-0-target")).to_contain_text("absolute path")
        expect(page.locator("#errs-after")).to_be_empty()
        target.fill('["/usr/bin/true", "--verified"]')
        page.get_by_label("Event of hook 1").select_option("after")
        page.get_by_label("On error, hook 1").select_option("fail")
        page.get_by_label("Timeout of hook 1").fill("5m")
        page.get_by_label("Timeout of hook 1").press("Tab")
        expect(page.locator("#errs-hook-0-target")).to_be_empty()
        page.screenshot(path=str(tmp_path / "job-form-hooks.png"), full_page=True)

        page.get_by_role("button", name="Save").click()
        page.wait_for_url(url + "/jobs/verify")
        expect(page.locator(".flash")).to_contain_text("Job verify added")
        policies = page.locator("section", has=page.locator("#policies-title"))
        expect(policies).to_contain_text("backup (always)")
        expect(policies).to_contain_text("/usr/bin/true --verified")
        expect(policies).to_contain_text("on error fail")
        expect(policies).to_contain_text("Stale after2d")

        page.get_by_label("Mute alerts for").fill("soon")
        page.get_by_role("button", name="Mute").click()
        expect(page.locator("#errs-duration")).to_contain_text("mute duration")
        page.get_by_label("Mute alerts for").fill("4h")
        page.get_by_role("button", name="Mute").click()
        expect(page.locator(".flash")).to_contain_text("muted: no alert until")
        expect(page.locator('[data-state="muted"]')).to_be_visible()
        page.screenshot(path=str(tmp_path / "job-muted.png"), full_page=True)
        page.get_by_role("button", name="Unmute").click()
        expect(page.locator(".flash")).to_contain_text("unmuted")
        expect(page.locator("#muted")).to_have_attribute("data-muted", "no")
        actions = page.locator("tr[data-audit-id] td:nth-child(3)")
        expect(actions.nth(0)).to_have_text("job.unmute")
        expect(actions.nth(1)).to_have_text("job.mute")
        context.close()
    assert refused == []
    shown = synchub.json("job", "show", "verify")
    assert shown["hooks"]["after"][0]["command"] == ["/usr/bin/true", "--verified"]
