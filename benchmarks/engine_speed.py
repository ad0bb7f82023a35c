"""The networks alone on each CPU engine: engine x network x frame size.

Each bundled network's graph (the style given, all three kinds) runs on ONNX
Runtime (the baseline), OpenVINO f32 and, where the CPU has native
bfloat16, OpenVINO bf16, through the stylizer's own runners: a batch of
frames side by side, one per thread (how `run` drives them), and one frame
on every thread (how `image` and the preview do). Prints ms per frame, the
ratio to ONNX Runtime beside it, and the mean difference from ONNX
Runtime's output in 0-255 levels.

    python benchmarks/engine_speed.py [--style mosaic] [--sizes 320x240,640x272,640x360,1280x720]
        [--threads N] [--repeats 6]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from vidstyle.stylize.engines import EngineChoice, FramePool, cpu_threads, native_bf16, open_runner
from vidstyle.stylize.graphs import graph_for_checkpoint
from vidstyle.stylize.styles import MODELS, find_style


def per_frame_ms(run_batch, repeats: int) -> float:
    run_batch()  # compiles for this size
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        frames = run_batch()
        best = min(best, (time.perf_counter() - started) / frames)
    return best * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--style", default="mosaic")
    parser.add_argument("--sizes", default="320x240,640x272,640x360,1280x720")
    parser.add_argument("--threads", type=int, default=cpu_threads())
    parser.add_argument("--repeats", type=int, default=6)
    args = parser.parse_args()
    engines = [EngineChoice("onnxruntime", "f32", "baseline"), EngineChoice("openvino", "f32", "")]
    if native_bf16():
        engines.append(EngineChoice("openvino", "bf16", ""))
    pool = FramePool(args.threads)
    rng = np.random.default_rng(0)
    print(f"style {args.style}, {args.threads} threads; ms per frame (ratio to ONNX Runtime) [mean difference, levels]")
    header = "".join(f"{e.label() + ' batch':>30}{e.label() + ' single':>24}" for e in engines)
    print(f"{'network':>9} {'size':>9}{header}")
    for model in MODELS:
        graph = graph_for_checkpoint(find_style(args.style, model).path).graph
        runners = [open_runner(graph, engine, args.threads) for engine in engines]
        for size in args.sizes.split(","):
            width, height = (int(v) for v in size.split("x"))
            frame = (rng.random((1, 3, height + (-height) % 4, width + (-width) % 4), dtype=np.float32) * 255)
            batch = [frame] * (2 * args.threads)
            reference = runners[0].run_fn(1)(frame)
            cells, base = [], {}
            for engine, runner in zip(engines, runners):
                streams = pool.streams(len(batch))
                run = runner.run_fn(streams)
                timings = {
                    "batch": per_frame_ms(lambda: len(pool.map(run, batch)), args.repeats),
                    "single": per_frame_ms(lambda: len([runner.run_fn(1)(frame)]), args.repeats),
                }
                difference = float(np.abs(np.clip(runner.run_fn(1)(frame), 0, 255) - np.clip(reference, 0, 255)).mean())
                for kind, ms in timings.items():
                    base.setdefault(kind, ms)
                    cells.append(f"{ms:7.1f} ({base[kind] / ms:4.2f}x) [{difference:4.2f}]")
            print(f"{model:>9} {size:>9}" + "".join(f"{c:>27}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
