"""PyTorch against ONNX Runtime on this machine's CPU.

Three tables, for each of a style's networks (full, balanced, fast): the
network alone on frames of each size on both backends; on ONNX Runtime, the
trained network against its exact rearrangement for inference
(vidstyle/models/inference.py) and a batch of 2 run one frame per thread
against one call splitting each convolution between the threads; and
`vidstyle run` end to end on a real clip (decoding, stabiliser and encoding
included). Everything runs in the same process on the same frames, so the
ratios are what carries across machines.

    python benchmarks/backend_speed.py [--style mosaic] [--clip ../shared/clips/bikes.mp4]
        [--sizes 320x240,640x360,1280x720] [--repeats 8] [--frames 60] [--rearranged-size 640x272]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from vidstyle import RunOptions, Stylizer, StylizerOptions, stylize_video
from vidstyle.models.inference import inference_network
from vidstyle.stylize.runtime import OnnxNetwork
from vidstyle.stylize.styles import load_style

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = ("torch", "onnx")
MODELS = ("full", "balanced", "fast")


def call_ms(run, repeats: int) -> float:
    run()  # warm-up
    started = time.perf_counter()
    for _ in range(repeats):
        run()
    return 1000 * (time.perf_counter() - started) / repeats


def rearrangement_table(style: str, size: str, repeats: int) -> None:
    width, height = map(int, size.split("x"))
    batch = torch.rand(2, 3, height, width) * 255
    print(f"\nONNX Runtime at {size}, ms per frame: trained network / rearranged (batch 1), "
          "and the rearranged one on a batch of 2 split per convolution / one frame per thread")
    print(f"{'model':>8} {'trained':>8} {'rearr.':>8} {'gain':>6} {'split':>8} {'per-frame':>9} {'gain':>6}")
    for model in MODELS:
        trained = load_style(style, model).build_model().eval().requires_grad_(False)
        plain, fast = OnnxNetwork(trained), OnnxNetwork(inference_network(trained))
        one = batch[:1]
        a, b = call_ms(lambda: plain(one), repeats), call_ms(lambda: fast(one), repeats)
        pair = batch.numpy()
        split = call_ms(lambda: fast.session.run(None, {"frames": pair}), repeats) / 2
        per_frame = call_ms(lambda: fast(batch), repeats) / 2
        print(f"{model:>8} {a:>8.1f} {b:>8.1f} {a / b:>5.2f}x {split:>8.1f} {per_frame:>9.1f} {split / per_frame:>5.2f}x", flush=True)


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
    parser.add_argument("--rearranged-size", default="640x272", help="frame size of the rearrangement table")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"style {args.style} on the CPU; network alone, ms per frame (batch 1)")
    print(f"{'model':>8} {'size':>9} {'torch':>8} {'onnx':>8} {'torch/onnx':>11}")
    for model in MODELS:
        stylizers = {b: Stylizer.from_style(args.style, StylizerOptions(device="cpu", model=model, backend=b)) for b in BACKENDS}
        for size in args.sizes.split(","):
            width, height = map(int, size.split("x"))
            frame = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
            ms = {b: network_ms(s, frame, args.repeats) for b, s in stylizers.items()}
            print(f"{model:>8} {size:>9} {ms['torch']:>8.1f} {ms['onnx']:>8.1f} {ms['torch'] / ms['onnx']:>10.2f}x", flush=True)
    rearrangement_table(args.style, args.rearranged_size, args.repeats)
    if not args.clip.is_file():
        return
    print(f"\nvidstyle run on {args.frames} frames of {args.clip.name} (stabiliser on), fps")
    print(f"{'model':>8} {'torch':>8} {'onnx':>8} {'onnx/torch':>11}")
    with tempfile.TemporaryDirectory() as folder:
        for model in MODELS:
            fps = {}
            for backend in BACKENDS:
                options = RunOptions(style=args.style, model=model, device="cpu", backend=backend, max_frames=args.frames, quiet=True)
                fps[backend] = stylize_video(args.clip, Path(folder) / f"{model}_{backend}.mp4", options=options).fps
            print(f"{model:>8} {fps['torch']:>8.2f} {fps['onnx']:>8.2f} {fps['onnx'] / fps['torch']:>10.2f}x", flush=True)


if __name__ == "__main__":
    main()
