"""Flicker and cost of temporal stabilisation, against plain per-frame output.

For each clip it renders `--temporal none` and the default (`flow`) with the
same style and prints the warping error (Lai et al. 2018), the change from
the input and the Gram style loss (style strength), with flow/none ratios;
then the cost of the temporal step (flow + blend) per frame as a fraction
of the network's time, at 640x360 on the current device.

With ``--against OTHER`` (say, a network before temporal training) both
networks run on the same clips, and the per-frame ratios show whether the
training made the network itself steadier without weakening the style.

    python benchmarks/temporal.py [--style mosaic] [--against CKPT] [--style-image ../shared/styles/mosaic.jpg]
                                  [--clip ../shared/clips/bikes.mp4 ...] [--frames 60] [--strengths 0.7,0.8]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from vidstyle import RunOptions, Stylizer, StylizerOptions, stylize_video
from vidstyle.media.synthetic import ClipSpec, render_scene, write_clip
from vidstyle.temporal.consistency import FlowTracker, TemporalBlender, TemporalOptions
from vidstyle.temporal.metrics import evaluate_video

from footage import held_out_clips

ROOT = Path(__file__).resolve().parent.parent


def temporal_cost(stylizer: Stylizer, width: int = 640, height: int = 360, frames: int = 12) -> tuple[float, float]:
    """Seconds per frame of the network and of the temporal step."""
    inputs = [render_scene(i, width, height) for i in range(frames)]
    stylizer(np.stack(inputs[:1]))
    started = time.perf_counter()
    outputs = [stylizer(frame) for frame in inputs]
    model = (time.perf_counter() - started) / frames
    tracker, blender = FlowTracker(TemporalOptions()), TemporalBlender.from_options(TemporalOptions())
    started = time.perf_counter()
    for frame, output in zip(inputs, outputs):
        blender(output, tracker(frame))
    return model, (time.perf_counter() - started) / frames


def default_clips(folder: Path, frames: int) -> list[Path]:
    """bikes.mp4 (real footage), a noisy synthetic pan with moving objects,
    a camera move (zoom, pan, roll) over a held-out photo, and the held-out
    clips of footage.py (camera and object motion)."""
    clips = []
    bikes = ROOT.parent / "shared/clips/bikes.mp4"
    if bikes.is_file():
        clips.append(bikes)
    clips.append(write_clip(folder / "pan_noisy.mp4", ClipSpec(width=480, height=270, frames=frames, noise=4.0)))
    photo = ROOT.parent / "shared/content/tubingen.jpg"
    if photo.is_file():
        clips.append(write_clip(folder / "camera_move.mp4", ClipSpec(width=480, height=270, frames=frames, noise=2.0, photo=str(photo))))
    clips += [clip for clip in held_out_clips(folder, 480, 270, frames) if "tubingen" not in clip.name]
    return clips


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--style", default="mosaic")
    parser.add_argument("--against", help="a second style (e.g. the network before temporal training): per-frame flicker of both")
    parser.add_argument("--style-image", type=Path, default=ROOT.parent / "shared/styles/mosaic.jpg")
    parser.add_argument("--clip", type=Path, action="append")
    parser.add_argument("--frames", type=int, default=60, help="frames of each clip to use")
    parser.add_argument("--strengths", default=str(TemporalOptions().strength), help="--temporal-strength values to compare, e.g. 0.7,0.8")
    args = parser.parse_args()
    strengths = [float(value) for value in args.strengths.split(",")]
    specs = [args.style] + ([args.against] if args.against else [])
    stylizers = [Stylizer.from_style(spec) for spec in specs]
    style_image = args.style_image if args.style_image.is_file() else None
    passthrough = Stylizer.from_style(specs[0], StylizerOptions(strength=0.0))  # cuts clips losslessly
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        clips = list(args.clip or []) or default_clips(folder, args.frames)
        print(f"on {stylizers[0].device}; style loss against {style_image or '(none)'}")
        print(f"{'clip':>16} {'network':>24} {'mode':>5} {'warp err':>9} {'change':>7} {'style':>7}  (mode: none, or the flow's temporal strength)")
        for clip in clips:
            trimmed = folder / f"in_{clip.stem}.mkv"
            stylize_video(clip, trimmed, stylizer=passthrough, options=RunOptions(codec="ffv1", temporal="none", quiet=True, audio=False), frames=args.frames)
            scores = {}
            for index, stylizer in enumerate(stylizers):
                modes = [("none", None)] + [("flow", strength) for strength in strengths]
                for mode, strength in modes:
                    label = mode if strength is None else f"{strength:g}"
                    out = folder / f"{clip.stem}_{index}_{label}.mkv"
                    options = RunOptions(codec="ffv1", temporal=mode, quiet=True).replace(temporal_strength=strength)
                    stylize_video(trimmed, out, stylizer=stylizer, options=options)
                    s = scores[index, label] = evaluate_video(trimmed, out, style_image)
                    style = f"{s.style_loss:.4f}" if s.style_loss is not None else "-"
                    print(f"{clip.stem[:16]:>16} {specs[index][-24:]:>24} {label:>5} {s.warping_error:>9.5f} {s.change_from_input:>7.2f} {style:>7}", flush=True)
                none = scores[index, "none"]
                for strength in strengths:
                    flow = scores[index, f"{strength:g}"]
                    line = f"flow {strength:g}/none: warping error x{flow.warping_error / max(none.warping_error, 1e-12):.2f}, change from input x{flow.change_from_input / none.change_from_input:.2f}"
                    if flow.style_loss is not None:
                        line += f", style loss x{flow.style_loss / none.style_loss:.2f}"
                    print(f"{'':>16} {'':>24} {line}")
            if args.against:
                new, old = scores[0, "none"], scores[1, "none"]
                line = f"per-frame, {specs[0]} / {specs[1]}: warping error x{new.warping_error / max(old.warping_error, 1e-12):.2f}, change x{new.change_from_input / old.change_from_input:.2f}"
                if new.style_loss is not None:
                    line += f", style loss x{new.style_loss / old.style_loss:.2f}"
                print(f"{'':>16} {line}")
    model, temporal = temporal_cost(stylizers[0])
    print(f"640x360 per frame: network {model * 1000:.0f} ms, temporal step {temporal * 1000:.0f} ms ({temporal / model:.0%} of the network)")


if __name__ == "__main__":
    main()
