"""Live-preview throughput of each network kind (full, balanced, fast), on
each engine (OpenVINO, ONNX Runtime, PyTorch).

Frames of held-out clips (benchmarks/footage.py: camera and object motion
over photographs no network was trained on; or `--clip`) are resized to
each size and pushed one at a time
through the preview's own per-frame path (`PreviewSession.process`: the
network with the live optical flow beside it, then warp and blend), so
capture and display are left out. Every model and engine runs in the same
process on the same frames, so the ratios against the baseline (the first
model on the first engine) are what carries across machines; the fps figures are
this machine's.

    python benchmarks/preview_speed.py [--style mosaic] [--clip ../shared/clips/bikes.mp4]
        [--sizes 320x240,640x360] [--frames 40] [--temporal flow|none] [--engines onnxruntime,openvino]
        [--models full,balanced,fast]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from vidstyle.apps.preview.session import PreviewOptions, PreviewSession
from vidstyle.temporal.metrics import read_frames

from footage import held_out_clips



def preview_fps(options: PreviewOptions, frames: list[np.ndarray]) -> float:
    session = PreviewSession(options)
    try:
        session.process(frames[0], 0.0)  # warm-up
        started = time.perf_counter()
        for index, frame in enumerate(frames):
            session.process(frame, 1000.0 * index / 30)
        return len(frames) / (time.perf_counter() - started)
    finally:
        session.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--style", default="mosaic")
    parser.add_argument("--clip", type=Path, default=None, help="one clip instead of the held-out ones")
    parser.add_argument("--sizes", default="320x240,640x360")
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--temporal", choices=["flow", "none"], default="flow")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--engines", default="onnxruntime,openvino", help="comma-separated; the first is the baseline's")
    parser.add_argument("--models", default="full,balanced,fast")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        clips = [args.clip] if args.clip else held_out_clips(Path(folder), 640, 360, args.frames)
        for clip in clips:
            measure(args, clip, read_frames(clip, args.frames))


def measure(args: argparse.Namespace, clip: Path, source: list[np.ndarray]) -> None:
    backends = args.engines.split(",")
    runs = {
        f"{model}/{backend}": PreviewOptions(
            style=args.style, model=model, device=args.device, engine=backend, temporal=args.temporal, headless=True
        )
        for model in args.models.split(",")
        for backend in backends
    }
    baseline = f"{args.models.split(',')[0]}/{backends[0]}"
    print(f"style {args.style}, {len(source)} frames of {clip.name}, temporal {args.temporal}, device {args.device}")
    print(f"fps, and in brackets the ratio to {baseline}")
    print(f"{'size':>9} " + " ".join(f"{name:>18}" for name in runs))
    for size in args.sizes.split(","):
        width, height = map(int, size.split("x"))
        frames = [cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA) for f in source]
        fps = {name: preview_fps(options, frames) for name, options in runs.items()}
        cells = [f"{value:>9.1f} ({value / fps[baseline]:>4.2f}x)" for value in fps.values()]
        print(f"{size:>9} " + " ".join(f"{cell:>18}" for cell in cells), flush=True)


if __name__ == "__main__":
    main()
