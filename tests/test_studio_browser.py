"""The studio's page in a real browser (Debian's Chromium, headless, driven
by Playwright) through what a user does: open a clip, see it in every
style, move the sliders, choose a style and a painting, render, download,
cancel, record from a (simulated) webcam, and be refused an oversized upload.

These need Chromium at /usr/bin/chromium (Debian's ``chromium`` package),
so they are a tier of their own: ``pytest -m browser`` (.ci/run installs
Chromium and runs them)."""

from __future__ import annotations

import re

import cv2
import numpy as np
import pytest

from helpers import FLOWER, RunningStudio
from vidstyle.apps.studio.headless import launch, open_page, view_seconds
from vidstyle.media.reader import probe
from vidstyle.media.synthetic import ClipSpec, write_clip

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser-clips")
    return {
        "flower": write_clip(folder / "flower.mp4", ClipSpec(width=640, height=360, frames=24, photo=str(FLOWER), audio=True)),
        "long": write_clip(folder / "long.mp4", ClipSpec(width=640, height=360, frames=240)),
        "big": folder / "big.mp4",
    }


@pytest.fixture(scope="module")
def studio(tmp_path_factory, clips):
    running = RunningStudio(tmp_path_factory.mktemp("browser-work"), clips["long"], "--max-upload", "1")
    yield running
    assert running.stop() == 0


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def page(browser, studio):
    page = open_page(browser, studio.url)
    yield page
    page.context.close()


def view_picture(page) -> np.ndarray:
    """What the large view shows, as the browser drew it."""
    data = page.locator("#view").screenshot()
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR).astype(np.float32)


def start_render(page):
    """Press Render; the new render's entry in the list."""
    count = page.locator("#renders li").count()
    page.locator("#render").click()
    page.wait_for_function(f"document.querySelectorAll('#renders li').length > {count}", timeout=10000)
    return page.locator(f"#renders li[data-id='{page.locator('#renders li').first.get_attribute('data-id')}']")


def split(page, percent: int) -> None:
    page.locator("#split").fill(str(percent))


def test_open_a_clip_and_see_it_in_every_style(page, clips):
    page.locator("#clip-file").set_input_files(clips["flower"])
    page.wait_for_function("document.body.dataset.viewShown?.includes('style=mosaic')", timeout=30000)
    assert "flower.mp4" in page.locator("#clip option:checked").inner_text()
    page.wait_for_function("document.querySelectorAll('.card[data-ready]').length === 6", timeout=60000)
    labels = page.locator(".card span").all_inner_texts()
    assert labels == ["candy", "mosaic", "scream", "starry-night", "udnie", "wave"]
    cards = [cv2.resize(cv2.imdecode(np.frombuffer(c.screenshot(), np.uint8), cv2.IMREAD_COLOR), (160, 90)).astype(np.float32) for c in page.locator(".card img").all()]
    assert min(np.abs(a - b).mean() for i, a in enumerate(cards) for b in cards[i + 1 :]) > 8  # six different looks
    # the before/after split: all of one side is the frame, all of the other its painting
    split(page, 100)
    before = view_picture(page)
    split(page, 0)
    after = view_picture(page)
    assert np.abs(after - before).mean() > 20
    split(page, 50)


def test_sliders_change_the_frame(page):
    """Each control changes the view. How fast is benchmarks/studio_latency.py's
    to measure, against the issue's 0.5 s: timed here, a busy or slower
    machine failed the test while the page itself was unchanged."""
    split(page, 0)
    full = view_picture(page)
    view_seconds(page, "#strength", 0.4)
    weaker = view_picture(page)
    view_seconds(page, "#stroke", 1.5)
    larger = view_picture(page)
    view_seconds(page, "#frame", 12)
    later = view_picture(page)
    split(page, 100)
    frame_12 = view_picture(page)
    split(page, 0)
    view_seconds(page, "#strength", 1), view_seconds(page, "#stroke", 1)  # later tests start from the defaults
    page.locator("#frame").fill("0")
    assert np.abs(weaker - full).mean() > 5 and np.abs(larger - weaker).mean() > 5 and np.abs(later - larger).mean() > 3
    # at strength 0.4 the painting lies closer to the frame than at 1
    assert np.abs(later - frame_12).mean() < np.abs(full - frame_12).mean()


def test_choose_a_style_render_and_download(page, tmp_path):
    page.locator(".card", has_text="candy").click()
    page.wait_for_function("document.body.dataset.viewShown?.includes('style=candy')", timeout=10000)
    assert page.locator("#style-name").inner_text() == "candy"
    assert page.locator(".card[aria-pressed='true']").inner_text() == "candy"
    item = start_render(page)
    item.locator("progress").wait_for(timeout=10000)  # progress shows while it runs
    page.wait_for_function(f"document.querySelector(`#renders li[data-id='{item.get_attribute('data-id')}']`).dataset.status === 'done'", timeout=120000)
    assert item.locator("code").inner_text() == "vidstyle run flower.mp4 --style candy -o flower_candy.mp4"
    assert re.fullmatch(r"done in \d+ s", item.locator(".status").inner_text())
    with page.expect_download() as download:
        item.get_by_text("Download flower_candy.mp4").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    info = probe(saved)
    assert (saved.name, info.width, info.height, info.frame_count, info.has_audio) == ("flower_candy.mp4", 640, 360, 24, True)


def test_cancel_a_render(page, studio):
    page.locator("#clip").select_option(label="long.mp4 (640x360, 240 frames)")
    page.wait_for_function("document.body.dataset.viewShown?.includes('/frames/0/')", timeout=30000)
    item = start_render(page)
    item.get_by_text(re.compile(r"painting frames: \d+ of 240")).wait_for(timeout=60000)
    item.get_by_role("button", name="Cancel").click()
    item.and_(page.locator("[data-status='cancelled']")).wait_for(timeout=30000)
    assert item.locator(".status").inner_text() == "cancelled"
    assert item.get_by_text("Download").count() == 0
    render_id = item.get_attribute("data-id")
    assert list((studio.workdir / "renders" / render_id).iterdir()) == []


def test_a_painting_becomes_a_style(page):
    page.locator("#painting-file").set_input_files(FLOWER)
    page.wait_for_function("document.body.dataset.viewShown?.includes('style=painting')", timeout=120000)
    assert page.locator(".card[aria-pressed='true']").inner_text() == "flower.jpg"
    assert page.locator("#style-name").inner_text() == "flower.jpg"


def test_a_painted_keyframe_is_the_look_of_a_render(page, studio, tmp_path):
    page.locator("#frame").fill("3")
    with page.expect_download() as download:
        page.locator("#frame-download").click()
    frame = tmp_path / "frame.png"
    download.value.save_as(frame)
    painted = cv2.applyColorMap(cv2.imread(str(frame)), cv2.COLORMAP_OCEAN)  # "painted" in another program
    assert painted.shape == (360, 640, 3)
    cv2.imwrite(str(tmp_path / "painted.png"), painted)
    page.locator("#keyframe-file").set_input_files(tmp_path / "painted.png")
    page.wait_for_function("document.body.dataset.viewShown?.startsWith('keyframe:')", timeout=30000)
    assert page.locator(".card[aria-pressed='true']").inner_text() == "painted frame 4: painted.png"
    item = start_render(page)
    assert item.locator("code").inner_text() == "vidstyle run long.mp4 --keyframe 3=painted.png -o long_keyframe.mp4"
    item.get_by_text(re.compile(r"learning the painted look: \d+ of \d+")).wait_for(timeout=120000)
    item.get_by_role("button", name="Cancel").click()  # learning takes minutes: cancel it part way
    item.and_(page.locator("[data-status='cancelled']")).wait_for(timeout=30000)


def test_record_a_clip_from_the_webcam(page):
    page.locator("#webcam").click()
    page.locator("#webcam", has_text="Stop recording").wait_for(timeout=10000)
    page.wait_for_timeout(2000)
    page.locator("#webcam").click()
    page.wait_for_function("document.querySelector('#clip option:checked')?.textContent.startsWith('webcam-')", timeout=60000)
    page.wait_for_function("document.body.dataset.viewShown?.includes('/frames/0/')", timeout=30000)
    frames = int(re.search(r"(\d+) frames", page.locator("#clip option:checked").inner_text())[1])
    assert frames >= 10  # two seconds of the fake camera's picture


def test_an_oversized_upload_is_refused(page, clips):
    clips["big"].write_bytes(np.random.default_rng(0).bytes(2 * 2**20))
    page.locator("#clip-file").set_input_files(clips["big"])
    message = page.locator("#message.error")
    message.wait_for(timeout=10000)
    assert message.inner_text() == "big.mp4 is larger than the studio's limit of 1 MB (--max-upload)"
