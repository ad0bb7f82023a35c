"""Where a frame's time goes in `vidstyle run`, stage by stage.

Frames of a real clip (bikes.mp4), scaled and centre-cropped to each size,
are written to a temporary clip, which then goes through the real pipeline
(`stylize_video`, stabiliser on, as `vidstyle run` does by default) with its
timing hook (`vidstyle.apps.pipeline.StageTimes`) switched on. The network
is loaded once per model and run once on a batch of the size before the
timed run, so loading and first-call set-up are left out.

    python benchmarks/stage_profile.py [--sizes 320x240,640x360,1280x720] [--models full,balanced,fast]
        [--frames 60] [--style mosaic] [--clip ../shared/clips/bikes.mp4]
        [--device auto] [--engine auto] [--batch-size N]

How to read the tables. The pipeline runs three threads at once:

    decoding thread   decode (reading and converting frames), flow (waiting for the
                      FlowTracker calls of a batch, which run in two threads of their own)
    main thread       network (the Stylizer), idle (waiting for a decoded batch,
                      for room in the encoder's queue, or for the encoder to finish)
    encoding thread   blend (TemporalBlender), encode (VideoWriter.write, and
                      the final flush in close)

Each stage column is that stage's busy time divided by the frames written
(ms per frame). Because the threads overlap, the stages add up to more than
`wall`, the run's elapsed time per frame (`fps` is its inverse). Within one
thread the stages do add up, to at most `wall`. The main thread's time is
network + idle + the encoder's final flush (`VideoWriter.close`, counted
under encode but run by the main thread once the encoding thread is done)
+ a little for stacking frames into batches. The flush is not small on a
short clip: x264 holds back its look-ahead frames (some 40 at the medium
preset) and encodes them there, about 1 s of a 60-frame 1280x720 run.

The second table gives each stage as a share of the wall time, and the busy
share of each thread (`main` is network + idle, without that flush, which
`encoder` includes). The thread whose share is near 100% is the one the run
waits for; `idle` is how much of the run the network spends waiting on the
other two, so an idle near 0% means the network is the bottleneck and
faster decoding, flow or encoding would not make the run faster, while a
large idle says the opposite. On a machine with fewer cores than busy
threads (the encoder and ONNX Runtime start threads of their own) a stage's
busy time includes time it waits for a core, so every figure is this
machine's under its load at the time; the load average is printed before
and after.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
from pathlib import Path

import numpy as np

from vidstyle import RunOptions, Stylizer, StylizerOptions, stylize_video
from vidstyle.apps.pipeline import StageTimes
from vidstyle.apps.sheet import fit
from vidstyle.media.reader import probe
from vidstyle.media.writer import VideoWriter
from vidstyle.temporal.metrics import read_frames

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("decode", "flow", "network", "blend", "encode", "idle")


def write_sized_clip(source: Path, frames: list[np.ndarray], width: int, height: int, path: Path) -> Path:
    """The frames at width x height, encoded with vidstyle's own writer at the source's timing."""
    info = dataclasses.replace(probe(source), path=path, width=width, height=height, frame_count=len(frames), has_audio=False)
    writer = VideoWriter(path, info)
    step = round(1 / (info.frame_rate * info.time_base)) if info.frame_rate else 1
    try:
        for index, rgb in enumerate(frames):
            writer.write(np.ascontiguousarray(fit(rgb, width, height)), index * step, info.time_base)
        writer.close()
    except BaseException:
        writer.abort()
        raise
    return path


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--style", default="mosaic")
    parser.add_argument("--clip", type=Path, default=ROOT.parent / "shared" / "clips" / "bikes.mp4")
    parser.add_argument("--sizes", default="320x240,640x360,1280x720")
    parser.add_argument("--models", default="full,balanced,fast")
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--engine", default="auto")
    parser.add_argument("--batch-size", type=int, default=None, help="default: the device's own")
    args = parser.parse_args()
    if args.frames < 1:
        parser.error("--frames must be at least 1")
    sizes = [tuple(map(int, size.split("x"))) for size in args.sizes.split(",")]
    models = args.models.split(",")
    source = read_frames(args.clip, args.frames)
    if len(source) < args.frames:
        print(f"note: {args.clip.name} has only {len(source)} frames")

    print(f"style {args.style}, {len(source)} frames of {args.clip.name} per size, stabiliser on; "
          f"{os.cpu_count()} CPU(s), load average {load()}")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        clips = {size: write_sized_clip(args.clip, source, *size, Path(folder) / f"in_{size[0]}x{size[1]}.mp4") for size in sizes}
        header = f"{'model':>8} {'size':>9} " + " ".join(f"{s:>8}" for s in STAGES) + f" {'wall':>8} {'fps':>7}"
        print("\nms per frame (each stage's busy time; the stages overlap, wall is elapsed)")
        print(header)
        for model in models:
            stylizer = Stylizer.from_style(args.style, StylizerOptions(device=args.device, model=model, engine=args.engine))
            batch_size = args.batch_size or stylizer.default_batch_size()
            for width, height in sizes:
                frames = np.stack([fit(rgb, width, height) for rgb in source[:batch_size]])
                stylizer(frames)  # warm-up at this size
                options = RunOptions(
                    style=args.style, model=model, device=args.device, engine=args.engine,
                    batch_size=batch_size, quiet=True,
                )
                timings = StageTimes()
                stylize_video(clips[(width, height)], Path(folder) / f"out_{model}_{width}x{height}.mp4",
                              stylizer=stylizer, options=options, timings=timings)
                per_frame = {s: 1000 * getattr(timings, s) / timings.frames for s in STAGES}
                wall = 1000 * timings.wall / timings.frames
                size = f"{width}x{height}"
                rows.append((model, size, timings))
                print(f"{model:>8} {size:>9} " + " ".join(f"{per_frame[s]:>8.1f}" for s in STAGES)
                      + f" {wall:>8.1f} {1000 / wall:>7.2f}", flush=True)
        print(f"\n(engine {stylizer.engine.label()}, device {stylizer.device}, batch {batch_size})")

    print("\nshare of the wall time: each stage, then each thread's busy time")
    print(f"{'model':>8} {'size':>9} " + " ".join(f"{s:>8}" for s in STAGES)
          + f" {'decoder':>8} {'main':>8} {'encoder':>8}")
    for model, size, t in rows:
        share = {s: 100 * getattr(t, s) / t.wall for s in STAGES}
        threads = (share["decode"] + share["flow"], share["network"] + share["idle"], share["blend"] + share["encode"])
        print(f"{model:>8} {size:>9} " + " ".join(f"{share[s]:>7.0f}%" for s in STAGES)
              + " ".join(f" {value:>7.0f}%" for value in threads))
    print(f"\nload average after: {load()}")


if __name__ == "__main__":
    main()
