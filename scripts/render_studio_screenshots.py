"""Screenshots of the studio for docs/studio.md: the page on the bundled
sample with its sheet of styles (docs/studio.jpg), and with a painting
chosen as the style, split before/after, while a render runs
(docs/studio-render.jpg).

    .venv/bin/python scripts/render_studio_screenshots.py

Needs Chromium (apt-get install chromium) and the test extra (Playwright)."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from helpers import RunningStudio  # noqa: E402
from vidstyle.apps.studio.headless import launch, open_page  # noqa: E402

DOCS = ROOT / "docs"


def save(page, name: str) -> None:
    png = page.screenshot(full_page=False)
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    cv2.imwrite(str(DOCS / name), image, [cv2.IMWRITE_JPEG_QUALITY, 82])
    print("wrote", DOCS / name)


def main() -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        studio = RunningStudio(Path(folder), ROOT / "samples/landscape.mp4")
        try:
            with sync_playwright() as playwright:
                browser = launch(playwright)
                page = open_page(browser, studio.url, width=1360, height=900)
                page.locator("#frame").fill("30")
                page.wait_for_function("document.querySelectorAll('.card[data-ready]').length >= 6", timeout=120000)
                save(page, "studio.jpg")
                page.locator("#painting-file").set_input_files(ROOT / "samples/flower.jpg")
                page.wait_for_function("document.body.dataset.viewShown?.includes('style=painting')", timeout=180000)
                page.locator("#strength").fill("0.8")
                page.locator("#split").fill("35")
                page.locator("#render").click()
                page.get_by_text("left").wait_for(timeout=120000)
                save(page, "studio-render.jpg")
                browser.close()
        finally:
            studio.stop()


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()  # --help
    main()
