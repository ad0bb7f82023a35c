"""The studio's page in headless Chromium, driven by Playwright: what its
browser tests, the screenshots in docs/ and benchmarks/studio_latency.py
share. Needs Debian's ``chromium`` and the ``playwright`` package (the test
extra); Playwright's own browser download is never used."""

from __future__ import annotations

import shutil

from ...errors import OptionError

# Headless, with no calls to Google's services (a closed network refuses
# them, many at a time), and a fake camera that needs no permission prompt.
CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
]


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        raise OptionError("Chromium is not installed: apt-get install chromium")
    return path


def launch(playwright):
    """A headless Chromium from ``playwright.sync_api.sync_playwright()``."""
    return playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)


def open_page(browser, url: str, width: int = 1400, height: int = 1000):
    """The studio at ``url``, loaded. Playwright's waits evaluate script
    text, which the studio's content policy forbids its own page: the
    context bypasses it."""
    context = browser.new_context(bypass_csp=True, accept_downloads=True, viewport={"width": width, "height": height})
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']")
    return page


def view_seconds(page, control: str, value: float | str) -> float:
    """Move a control (a slider or the frame scrubber) as a user lets it go
    there; the seconds until the large view showed the new setting, as the
    page measured them (from the input event to the decoded picture)."""
    page.evaluate("document.body.dataset.viewShown = ''")
    page.locator(control).fill(str(value))
    page.wait_for_function("document.body.dataset.viewShown !== ''", timeout=10000)
    return int(page.evaluate("document.body.dataset.viewMs")) / 1000
