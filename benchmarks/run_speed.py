"""Speed of `vidstyle run` against the network alone, on the current device.

For each size it stylizes the same synthetic clip twice: once through the
network only (frames already decoded, nothing encoded) and once end to end
through `stylize_video` (decode, network, encode, audio). The ratio shows how
well decoding and encoding hide behind the network: 1.0 means they cost
nothing. Figures are from one run on one machine; compare ratios, not fps,
across machines.

    python benchmarks/run_speed.py [--style mosaic] [--frames 48] [--sizes 320x180,640x360,1280x720]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from vidstyle import RunOptions, Stylizer, StylizerOptions, stylize_video
from vidstyle.media.reader import VideoReader
from vidstyle.media.synthetic import ClipSpec, write_clip


def model_only_fps(stylizer: Stylizer, frames: np.ndarray, batch_size: int) -> float:
    stylizer(frames[:batch_size])  # warm-up
    started = time.perf_counter()
    for i in range(0, len(frames), batch_size):
        stylizer(frames[i : i + batch_size])
    return len(frames) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--style", default="mosaic")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--sizes", default="320x180,640x360,1280x720")
    parser.add_argument("--fp16", action="store_true")
    args = parser.parse_args()
    stylizer = Stylizer.from_style(args.style, StylizerOptions(device=args.device, fp16=args.fp16))
    batch_size = args.batch_size or stylizer.default_batch_size()
    print(f"style {stylizer.name}, device {stylizer.device}, batch {batch_size}, {args.frames} frames per size")
    print(f"{'size':>10} {'model fps':>10} {'run fps':>10} {'run/model':>10}")
    with tempfile.TemporaryDirectory() as folder:
        for size in args.sizes.split(","):
            width, height = map(int, size.split("x"))
            clip = write_clip(Path(folder) / f"bench_{size}.mp4", ClipSpec(width=width, height=height, frames=args.frames, audio=True))
            with VideoReader(clip) as reader:
                frames = np.stack([f.rgb for f in reader])
            model = model_only_fps(stylizer, frames, batch_size)
            options = RunOptions(style=args.style, batch_size=batch_size, quiet=True)
            result = stylize_video(clip, Path(folder) / f"out_{size}.mp4", stylizer=stylizer, options=options)
            print(f"{size:>10} {model:>10.2f} {result.fps:>10.2f} {result.fps / model:>10.2f}", flush=True)


if __name__ == "__main__":
    main()
