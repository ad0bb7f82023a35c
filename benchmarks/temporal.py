"""Flicker and cost of temporal stabilisation, against plain per-frame output.

For each clip it renders `--temporal none` and the default (`flow`) with the
same style and prints the warping error (Lai et al. 2018), the change from
the input and the Gram style loss (style strength), with flow/none ratios;
then the cost of the temporal step (flow + blend) per frame as a fraction
of the network's time, at 640x360 on the current device.

    python benchmarks/temporal.py [--style mosaic] [--style-image ../shared/styles/mosaic.jpg]
                                  [--clip ../shared/clips/bikes.mp4 ...] [--frames 60]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from vidstyle import RunOptions, Stylizer, stylize_video
from vidstyle.evaluation import evaluate_video
from vidstyle.synthetic import ClipSpec, render_scene, write_clip
from vidstyle.temporal import FlowTracker, TemporalBlender, TemporalOptions

ROOT = Path(__file__).resolve().parent.parent


def temporal_cost(stylizer: Stylizer, width: int = 640, height: int = 360, frames: int = 12) -> tuple[float, float]:
    """Seconds per frame of the network and of the temporal step."""
    inputs = [render_scene(i, width, height) for i in range(frames)]
    stylizer(np.stack(inputs[:1]))
    started = time.perf_counter()
    outputs = [stylizer(frame) for frame in inputs]
    model = (time.perf_counter() - started) / frames
    tracker, blender = FlowTracker(TemporalOptions()), TemporalBlender(TemporalOptions().strength)
    started = time.perf_counter()
    for frame, output in zip(inputs, outputs):
        blender(output, tracker(frame))
    return model, (time.perf_counter() - started) / frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--style", default="mosaic")
    parser.add_argument("--style-image", type=Path, default=ROOT.parent / "shared/styles/mosaic.jpg")
    parser.add_argument("--clip", type=Path, action="append")
    parser.add_argument("--frames", type=int, default=60, help="frames of each clip to use")
    args = parser.parse_args()
    stylizer = Stylizer.from_style(args.style)
    style_image = args.style_image if args.style_image.is_file() else None
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        clips = list(args.clip or [])
        if not clips:
            bikes = ROOT.parent / "shared/clips/bikes.mp4"
            clips = [bikes] if bikes.is_file() else []
            clips.append(write_clip(folder / "pan_noisy.mp4", ClipSpec(width=480, height=270, frames=args.frames, noise=4.0)))
        print(f"style {stylizer.name} on {stylizer.device}; style loss against {style_image or '(none)'}")
        print(f"{'clip':>16} {'mode':>5} {'warp err':>9} {'change':>7} {'style':>7}")
        for clip in clips:
            trimmed = folder / f"in_{clip.stem}.mkv"
            stylize_video(clip, trimmed, stylizer=_Identity(stylizer), options=RunOptions(codec="ffv1", temporal="none", quiet=True, audio=False), max_frames=args.frames)
            scores = {}
            for mode in ("none", "flow"):
                out = folder / f"{clip.stem}_{mode}.mkv"
                stylize_video(trimmed, out, stylizer=stylizer, options=RunOptions(codec="ffv1", temporal=mode, quiet=True))
                scores[mode] = evaluate_video(trimmed, out, style_image)
                s = scores[mode]
                style = f"{s.style_loss:.4f}" if s.style_loss is not None else "-"
                print(f"{clip.stem[:16]:>16} {mode:>5} {s.warping_error:>9.5f} {s.change_from_input:>7.2f} {style:>7}", flush=True)
            ratio = scores["flow"].warping_error / max(scores["none"].warping_error, 1e-12)
            change = scores["flow"].change_from_input / scores["none"].change_from_input
            print(f"{'':>16} flow/none: warping error x{ratio:.2f}, change from input x{change:.2f}")
    model, temporal = temporal_cost(stylizer)
    print(f"640x360 per frame: network {model * 1000:.0f} ms, temporal step {temporal * 1000:.0f} ms ({temporal / model:.0%} of the network)")


class _Identity:
    """Stands in for a stylizer to cut the first frames of a clip losslessly."""

    def __init__(self, like: Stylizer):
        self.name, self.device = "input", like.device

    def default_batch_size(self) -> int:
        return 8

    def __call__(self, frames):
        return frames


if __name__ == "__main__":
    main()
