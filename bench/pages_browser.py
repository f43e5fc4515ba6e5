"""The dashboard in a real browser: how soon it is ready, and how many bytes its first
load transfers.

Debian's chromium (/usr/bin/chromium, never a downloaded browser), driven by
Playwright, headless, on loopback. Each cold load is a fresh browser context (an
empty cache) holding only the session cookie, so the dashboard is the first page it
loads: its HTML and every static file come over the wire, as the server compresses
them. A warm load is the same context asking again (the static files cached).

"Ready" is the page's `load` event (Navigation Timing's loadEventEnd): the HTML
parsed, the styles applied, the deferred scripts run (htmx, the charts drawn). The
bytes are what the browser counts as transferred (Resource Timing's transferSize:
bodies as sent, with their headers), the event stream left out (it never ends).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

_FIGURES = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const files = performance.getEntriesByType('resource');
  const sum = (key) => files.reduce((total, f) => total + f[key], nav[key]);
  return {ready_ms: nav.loadEventEnd, dom_ms: nav.domContentLoadedEventEnd,
          transferred: sum('transferSize'), encoded: sum('encodedBodySize'),
          decoded: sum('decodedBodySize'), requests: files.length + 1};
}"""
_LOADED = "() => performance.getEntriesByType('navigation')[0].loadEventEnd > 0"


def browser_problem() -> str | None:
    """Why the browser figures cannot be taken here, or None."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    return None


def dashboard_loads(url: str, cookies: dict[str, str], samples: int) -> dict[str, Any]:
    """`samples` cold and as many warm loads of the dashboard at `url`, signed in by
    `cookies`: each one's figures (see the module's docstring)."""
    from playwright.sync_api import sync_playwright

    cold, warm = [], []
    with sync_playwright() as pw, tempfile.TemporaryDirectory(prefix="synchub-bench-") as tmp:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=ARGS, downloads_path=tmp
        )
        try:
            for _ in range(samples):
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                context.add_cookies(
                    [{"name": k, "value": v, "url": url} for k, v in cookies.items()]
                )
                page = context.new_page()
                cold.append(_load(page, url))
                warm.append(_load(page, url))
                context.close()
        finally:
            browser.close()
    return {"cold": cold, "warm": warm}


def _load(page: Any, url: str) -> dict[str, Any]:
    answer = page.goto(url + "/", wait_until="load")
    if answer is None or answer.status != 200 or page.url != url + "/":
        raise RuntimeError(f"the dashboard did not load in the browser: {page.url}")
    page.wait_for_function(_LOADED)
    figures: dict[str, Any] = page.evaluate(_FIGURES)
    return figures
