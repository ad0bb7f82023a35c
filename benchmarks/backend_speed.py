"""PyTorch against ONNX Runtime on this machine's CPU.

Two figures per network (the full and the fast one): the network alone on
frames of each size, and `vidstyle run` end to end on a real clip
(decoding, stabiliser and encoding included). Both backends run in the same
process on the same frames, so the onnx/torch ratio is what carries across
machines.

    python benchmarks/backend_speed.py [--style mosaic] [--clip ../shared/clips/bikes.mp4]
        [--sizes 320x240,640x360,1280x720] [--repeats 8] [--frames 60]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from vidstyle import RunOptions, Stylizer, StylizerOptions, stylize_video

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = ("torch", "onnx")


def network_ms(stylizer: Stylizer, frame: np.ndarray, repeats: int) -> float:
    stylizer(frame)  # warm-up
    started = time.perf_counter()
    for _ in range(repeats):
        stylizer(frame)
    return 1000 * (time.perf_counter() - started) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--style", default="mosaic")
    parser.add_argument("--clip", type=Path, default=ROOT.parent / "shared" / "clips" / "bikes.mp4")
    parser.add_argument("--sizes", default="320x240,640x360,1280x720")
    parser.add_argument("--repeats", type=int, default=8)
    parser.add_argument("--frames", type=int, default=60, help="frames of the clip for the end-to-end run")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"style {args.style} on the CPU; network alone, ms per frame (batch 1)")
    print(f"{'model':>5} {'size':>9} {'torch':>8} {'onnx':>8} {'torch/onnx':>11}")
    for model in ("full", "fast"):
        stylizers = {b: Stylizer.from_style(args.style, StylizerOptions(device="cpu", model=model, backend=b)) for b in BACKENDS}
        for size in args.sizes.split(","):
            width, height = map(int, size.split("x"))
            frame = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
            ms = {b: network_ms(s, frame, args.repeats) for b, s in stylizers.items()}
            print(f"{model:>5} {size:>9} {ms['torch']:>8.1f} {ms['onnx']:>8.1f} {ms['torch'] / ms['onnx']:>10.2f}x", flush=True)
    if not args.clip.is_file():
        return
    print(f"\nvidstyle run on {args.frames} frames of {args.clip.name} (stabiliser on), fps")
    print(f"{'model':>5} {'torch':>8} {'onnx':>8} {'onnx/torch':>11}")
    with tempfile.TemporaryDirectory() as folder:
        for model in ("full", "fast"):
            fps = {}
            for backend in BACKENDS:
                options = RunOptions(style=args.style, model=model, device="cpu", backend=backend, max_frames=args.frames, quiet=True)
                fps[backend] = stylize_video(args.clip, Path(folder) / f"{model}_{backend}.mp4", options=options).fps
            print(f"{model:>5} {fps['torch']:>8.2f} {fps['onnx']:>8.2f} {fps['onnx'] / fps['torch']:>10.2f}x", flush=True)


if __name__ == "__main__":
    main()
