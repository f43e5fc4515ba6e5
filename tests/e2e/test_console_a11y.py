"""The console in a real browser, looked at as a whole: the charts draw, the job
form's folder browser walks a remote, and axe-core (vendored for the tests in
tests/support/axe/) finds no serious or critical accessibility problem on any page,
in light mode or dark."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import need_service
from tests.e2e.conftest import Synchub
from tests.support.browser import chromium_problem, launch

pytestmark = pytest.mark.slow

AXE = Path(__file__).parents[1] / "support" / "axe" / "axe.min.js"
#: What axe reports, a line per problem: rule, impact, help and the elements at fault.
REPORT = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ")),
  }));
}"""


@pytest.fixture
def browser_profile(tmp_path: Path) -> Path:
    problem = chromium_problem()
    if problem is not None:
        need_service("chromium", problem)
    return tmp_path / "profile"


def served_with_a_run(synchub: Synchub, tmp_path: Path) -> tuple[str, str, str]:
    """A server whose job `music` has one successful run, with a remote `nas` (an
    alias of a folder with photos/2024 and photos/2025 in it): its URL, an admin
    token, and the run's id."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.bin").write_bytes(os.urandom(64 * 1024))
    for year in ("2024", "2025"):
        (tmp_path / "nas" / "photos" / year).mkdir(parents=True)
    synchub("remote", "add", "nas", "alias", f"remote={tmp_path / 'nas'}")
    synchub("job", "add", "music", "--source", str(src), "--dest", str(tmp_path / "dst"),
            "--cron", "30 2 * * *", "--tag", "audio")  # fmt: skip
    synchub("job", "run", "music", "--wait")
    run_id = str(synchub.json("runs", "list")[0]["id"])
    admin = synchub("token", "create", "ada", "--role", "admin").stdout.strip()
    server = synchub.serve()
    port = server.args[server.args.index("--port") + 1]  # type: ignore[index, union-attr]
    return f"http://127.0.0.1:{port}", admin, run_id


def test_the_charts_draw_and_the_job_form_browses_a_remotes_folders(
    synchub: Synchub, tmp_path: Path, browser_profile: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, admin, _ = served_with_a_run(synchub, tmp_path)
    with sync_playwright() as pw:
        context = launch(pw, browser_profile)
        context.add_init_script(path=str(AXE))
        page = context.new_page()
        refused: list[str] = []  # what the Content-Security-Policy blocked, if anything
        page.on(
            "console", lambda m: refused.append(m.text) if "Security Policy" in m.text else None
        )
        page.goto(url + "/login")
        page.get_by_label("Token").fill(admin)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(url + "/")

        activity = page.locator('[data-chart="activity"]')
        expect(activity.locator('[data-chart-kind="runs"] canvas')).to_have_count(1)
        expect(activity.locator('[data-chart-kind="bytes"] canvas')).to_have_count(1)
        expect(activity.locator("details.chart-table")).not_to_have_attribute("open", "")
        expect(activity.locator(".u-legend").first).to_contain_text("succeeded")
        # It should redraw the last week when asked, and say which span shows.
        activity.get_by_role("button", name="7 days").click()
        expect(activity.get_by_role("button", name="7 days")).to_have_attribute(
            "aria-pressed", "true"
        )
        expect(activity.locator("canvas")).to_have_count(2)

        page.goto(url + "/jobs/music")
        history = page.locator('[data-chart="history"]')
        expect(history.locator("canvas")).to_have_count(1)
        expect(history.locator(".u-legend")).to_contain_text("bytes moved")

        # The folder browser: pick the remote, open it, step in, use a folder.
        page.goto(url + "/jobs/new")
        page.get_by_label("From remote").select_option("nas")
        page.get_by_text("Browse the source's folders").click()
        browser = page.locator('[data-browse="source"] .browse-body')
        browser.get_by_role("button", name="photos").click()
        expect(browser.locator(".browse-where")).to_contain_text("photos")
        browser.get_by_role("button", name="2025").click()
        expect(browser.locator(".browse-where")).to_contain_text("photos/2025")
        browser.get_by_role("button", name="Use this folder").click()
        expect(page.get_by_label("Source", exact=True)).to_have_value("photos/2025")
        expect(page.locator('[data-browse="source"]')).not_to_have_attribute("open", "")
        page.get_by_text("Browse the source's folders").click()  # opens where it was
        expect(browser.get_by_role("button", name="Up one level")).to_be_visible()
        expect(browser.locator(".browse-where")).to_contain_text("photos/2025")
        assert problems(page.evaluate(REPORT), "the folder browser") == []
        context.close()
    assert refused == []


def test_no_page_has_a_serious_or_critical_accessibility_problem(
    synchub: Synchub, tmp_path: Path, browser_profile: Path
) -> None:
    from playwright.sync_api import sync_playwright

    url, admin, run_id = served_with_a_run(synchub, tmp_path)
    pages = ["/", "/jobs", "/jobs/music", "/jobs/new", "/jobs/music/edit", "/runs",
             f"/runs/{run_id}", "/remotes", "/remotes/nas", "/remotes/new",
             "/remotes/nas/edit", "/folders", "/audit", "/settings"]  # fmt: skip
    found: list[str] = []
    with sync_playwright() as pw:
        context = launch(pw, browser_profile)
        # An init script is not the page's: the console's CSP does not stop it.
        context.add_init_script(path=str(AXE))
        page = context.new_page()
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            page.context.clear_cookies()
            page.goto(url + "/login")
            found += problems(page.evaluate(REPORT), f"/login ({scheme})")
            page.get_by_label("Token").fill(admin)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(url + "/")
            for path in pages:
                answer = page.goto(url + path)
                assert answer is not None and answer.status == 200, path
                page.wait_for_load_state("load")
                found += problems(page.evaluate(REPORT), f"{path} ({scheme})")
        context.close()
    assert found == [], "\n".join(found)


def problems(violations: list[dict[str, Any]], where: str) -> list[str]:
    return [
        f"{where}: {v['impact']} {v['id']}: {v['help']} at {', '.join(v['nodes'])}"
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]
