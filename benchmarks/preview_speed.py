"""Live-preview throughput of the full and the fast (real-time) network.

Frames of a real clip are resized to each size and pushed one at a time
(latency first, as `vidstyle preview` does) through the network and the
online temporal step (optical flow, warp, blend). Both models run in the
same process on the same frames, so the fast/full ratio is what carries
across machines; the fps figures are this machine's.

    python benchmarks/preview_speed.py [--style mosaic] [--clip ../shared/clips/bikes.mp4]
        [--sizes 320x240,640x360] [--frames 40] [--temporal flow|none]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from vidstyle import Stylizer, StylizerOptions
from vidstyle.evaluation import read_frames
from vidstyle.temporal import FlowTracker, TemporalBlender, TemporalOptions

ROOT = Path(__file__).resolve().parent.parent


def preview_fps(stylizer: Stylizer, frames: list[np.ndarray], temporal: bool) -> float:
    options = TemporalOptions(preset="ultrafast")
    tracker, blender = (FlowTracker(options), TemporalBlender(options.strength)) if temporal else (None, None)
    stylizer(frames[0])  # warm-up
    started = time.perf_counter()
    for frame in frames:
        image = stylizer(frame)
        if tracker is not None:
            image = blender(image, tracker(frame))
    return len(frames) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--style", default="mosaic")
    parser.add_argument("--clip", type=Path, default=ROOT.parent / "shared" / "clips" / "bikes.mp4")
    parser.add_argument("--sizes", default="320x240,640x360")
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--temporal", choices=["flow", "none"], default="flow")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    source = read_frames(args.clip, args.frames)
    models = {name: Stylizer.from_style(args.style, StylizerOptions(device=args.device, model=name)) for name in ("full", "fast")}
    print(f"style {args.style}, {len(source)} frames of {args.clip.name}, temporal {args.temporal}, device {models['full'].device}")
    print(f"{'size':>9} {'full fps':>9} {'fast fps':>9} {'fast/full':>10}")
    for size in args.sizes.split(","):
        width, height = map(int, size.split("x"))
        frames = [cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA) for f in source]
        fps = {name: preview_fps(stylizer, frames, args.temporal == "flow") for name, stylizer in models.items()}
        print(f"{size:>9} {fps['full']:>9.1f} {fps['fast']:>9.1f} {fps['fast'] / fps['full']:>10.2f}", flush=True)


if __name__ == "__main__":
    main()
