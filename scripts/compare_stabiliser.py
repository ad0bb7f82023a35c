"""Render docs/stabiliser-crisp.jpg: two consecutive frames of a camera move,
enlarged 2x, as painted frame by frame (``--temporal none``), with the plain
average along the flow (s * warp(previous) + (1 - s) * stylized), and with
the stabiliser (TemporalBlender): the average softens the lead lines and
doubles those the network drew a few pixels off; the stabiliser keeps them.

    python scripts/compare_stabiliser.py [--clip ../shared/clips/bikes.mp4] [--style mosaic] [--frame 110] [--out FILE]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from stabiliser import PlainAverage  # noqa: E402
from vidstyle import Stylizer  # noqa: E402
from vidstyle.apps.sheet import label  # noqa: E402
from vidstyle.media.images import write_image  # noqa: E402
from vidstyle.temporal.consistency import FlowTracker, TemporalBlender, TemporalOptions  # noqa: E402
from vidstyle.temporal.metrics import read_frames  # noqa: E402


def busiest(frame: np.ndarray, height: int, width: int) -> tuple[int, int]:
    """(top, left) of the crop with the most edges."""
    gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
    energy = cv2.magnitude(cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1))
    window = cv2.boxFilter(energy, -1, (width, height), anchor=(0, 0), borderType=cv2.BORDER_CONSTANT)[: -height or None, : -width or None]
    top, left = np.unravel_index(np.argmax(window), window.shape)
    return int(top), int(left)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clip", type=Path, default=ROOT.parent / "shared" / "clips" / "bikes.mp4")
    parser.add_argument("--style", default="mosaic")
    parser.add_argument("--frame", type=int, default=110)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "stabiliser-crisp.jpg")
    args = parser.parse_args()
    inputs = read_frames(args.clip, args.frame + 2)
    stylizer = Stylizer.from_style(args.style)
    per_frame = [stylizer(frame) for frame in inputs]
    options = TemporalOptions()
    results = {}
    for name, blender in (("plain average", PlainAverage(options.strength)), ("stabiliser", TemporalBlender.from_options(options))):
        tracker = FlowTracker(options)
        results[name] = [blender(output, tracker(frame)) for frame, output in zip(inputs, per_frame)]
    height, width = 150, 260
    top, left = busiest(per_frame[args.frame], height, width)

    def tile(image: np.ndarray, text: str) -> np.ndarray:
        crop = image[top : top + height, left : left + width]
        return label(cv2.resize(crop, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST), text)

    rows = []
    for t in (args.frame, args.frame + 1):
        rows.append(np.hstack([
            tile(per_frame[t], f"frame {t}, per frame"),
            tile(results["plain average"][t], f"frame {t}, plain average"),
            tile(results["stabiliser"][t], f"frame {t}, stabiliser"),
        ]))
    write_image(np.vstack(rows), args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
