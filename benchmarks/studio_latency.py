"""How fast the studio's page follows its controls, in a real browser.

Starts ``vidstyle studio`` on a 640x360 clip made here (a camera move over
samples/flower.jpg), opens it in headless Chromium and moves each control
many times as a user would: strength, stroke size, the frame scrubber and a
style card. For each it prints the median and 90th percentile of the time
from the move to the new picture on screen (as the page measures it), and
their ratio to the issue's target of 0.5 s. ``--while-rendering`` repeats
the moves while a render of the clip runs beside them.

    .venv/bin/python benchmarks/studio_latency.py [--moves 15] [--while-rendering]

Needs Chromium (apt-get install chromium) and the test extra (Playwright).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from helpers import RunningStudio  # noqa: E402
from vidstyle.apps.studio.headless import launch, open_page, view_seconds  # noqa: E402
from vidstyle.media.synthetic import ClipSpec, write_clip  # noqa: E402

TARGET_SECONDS = 0.5
STROKES = [0.75, 1.25, 1.5, 2.0, 1.0, 0.5]
STYLES = ["candy", "scream", "starry-night", "udnie", "wave", "mosaic"]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def card_seconds(page, style: str) -> float:
    page.evaluate("document.body.dataset.viewShown = ''")
    page.locator(".card", has_text=style).first.click()
    page.wait_for_function("document.body.dataset.viewShown !== ''", timeout=10000)
    return int(page.evaluate("document.body.dataset.viewMs")) / 1000


def measure(page, moves: int, frames: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"strength": [], "stroke size": [], "frame": [], "style card": []}
    for move in range(moves):
        times["strength"].append(view_seconds(page, "#strength", [0.3, 0.7, 0.5, 0.9, 1.0][move % 5]))
        times["stroke size"].append(view_seconds(page, "#stroke", STROKES[move % len(STROKES)]))
        times["frame"].append(view_seconds(page, "#frame", (move * 7 + 3) % frames))
        times["style card"].append(card_seconds(page, STYLES[move % len(STYLES)]))
    return times


def report(title: str, times: dict[str, list[float]]) -> dict:
    print(f"\n{title}\n")
    print("| control | moves | median s | p90 s | p90 / target |")
    print("|---|---|---|---|---|")
    rows = {}
    for control, values in times.items():
        median, p90 = statistics.median(values), percentile(values, 0.9)
        rows[control] = {"median": median, "p90": p90, "moves": len(values)}
        print(f"| {control} | {len(values)} | {median:.3f} | {p90:.3f} | {p90 / TARGET_SECONDS:.2f} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--moves", type=int, default=15, help="moves of each control")
    parser.add_argument("--while-rendering", action="store_true", help="also measure while a render runs")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        clip = write_clip(Path(folder) / "flower.mp4", ClipSpec(width=640, height=360, frames=240, photo=str(ROOT / "samples/flower.jpg")))
        studio = RunningStudio(Path(folder) / "work", clip)
        results = {}
        try:
            with sync_playwright() as playwright:
                browser = launch(playwright)
                page = open_page(browser, studio.url)
                page.wait_for_function("document.querySelectorAll('.card[data-ready]').length >= 6", timeout=120000)
                print("640x360 clip, default network, 2-core CPU; seconds from a move to the new picture on screen")
                results["idle"] = report("The studio otherwise idle", measure(page, args.moves, 240))
                if args.while_rendering:
                    page.locator("#render").click()
                    page.wait_for_function("[...document.querySelectorAll('#renders li')].some(li => li.dataset.status === 'running')", timeout=30000)
                    results["rendering"] = report("While a render of the clip runs", measure(page, max(3, args.moves // 3), 240))
                browser.close()
        finally:
            studio.stop()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
