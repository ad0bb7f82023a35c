"""How well ``run --keyframe`` paints a clip from one painted frame (or two).

Each look is a filter applied by script to the keyframe only, so the same
filter applied to any other frame says what that frame "should" look like.
For every clip and look this paints frame 0 (and, with ``--two``, the last
frame too), runs ``stylize_video`` with ``keyframe=...`` and prints:

  key     mean difference (levels) between the output's keyframe and the
          painted keyframe; the target is at most 8 (the painted frame itself
          is written there, so this is the encoder's difference)
  net     the same for the learnt network's own painting of the keyframe:
          how well it learnt the look where it was shown
  carry   over frames away from the keyframes: the mean difference between
          the output and the filter applied to that frame, over the input's
          difference to it; the target is at most 0.5
  flick   the output's warping error (Lai et al. 2018, on the inputs' flow,
          as ``vidstyle eval`` measures it) over that of the filter applied
          frame by frame; at most 1 is no more flicker than the filter
  jump    the largest frame-to-frame change of the output over its median
          (a hand-over between keyframes would stand out)
  carry0, flick0, jump0
          carry, flick and jump of the same look rendered with --keyframe-carry 0
          (the painting carried by the stabiliser's recursion alone), beside
          it as a baseline
  setup   seconds to learn the look; fps: frames a second painting the clip
  MiB     the run's peak resident memory (this process, so the largest so far)

Looks: OpenCV's watercolour-like ``stylization``, its colour
``pencilSketch``, a posterised and inked look, and the bundled mosaic style
with a hand-made edit (a warm grade and a painted sun); with ``--looks``,
three G'MIC filters as well (``gmic-cartoon``, ``gmic-pencil``, and
``gmic-oil``: a Kuwahara filter with the colours made 1.7 times as
saturated; Debian's gmic), looks no setting was chosen on. Clips: the bundled
landscape.mp4 (480x270) and the held-out camera moves of footage.py at
640x360 (left out with a note where their photos are not installed).

With ``--carry-cost`` it prints instead the carry's own time per frame
(KeyframeCarry over the stabiliser alone, the two called in turn on the same
frames of a held-out camera move, a blur standing in for the network) at
640x360 and 1920x1080: for a painting unlike the network's painting over the
whole frame, and over a quarter of it (the carry's full-size work covers
only the box where it lays the painting).

    python benchmarks/keyframes.py [--looks stylization inked] [--clips landscape] [--two] [--frames 60]
    python benchmarks/keyframes.py --carry-cost
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from footage import held_out_clips  # noqa: E402

from vidstyle import Stylizer, stylize_video  # noqa: E402
from vidstyle.apps.keyframes import keyframe_look  # noqa: E402
from vidstyle.apps.run_options import RunOptions  # noqa: E402
from vidstyle.media.images import read_image, write_image  # noqa: E402
from vidstyle.stylize.options import StylizerOptions  # noqa: E402
from vidstyle.temporal.carry import KeyframeCarry  # noqa: E402
from vidstyle.temporal.consistency import FlowTracker, TemporalBlender, TemporalOptions, WarpingPairs  # noqa: E402
from vidstyle.temporal.metrics import METRIC_FLOW, read_frames  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _bgr(filter_bgr):
    return lambda rgb: cv2.cvtColor(filter_bgr(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)), cv2.COLOR_BGR2RGB)


def inked(rgb: np.ndarray) -> np.ndarray:
    """Colours in four levels, tinted warm, edges inked."""
    smooth = cv2.bilateralFilter(rgb, 9, 60, 7)
    levels = (smooth // 64) * 64 + 32
    tinted = np.clip(levels * np.array([1.15, 0.95, 0.7]), 0, 255)
    edges = cv2.dilate(cv2.Canny(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), 80, 160), np.ones((2, 2), np.uint8)) > 0
    tinted[edges] = 25
    return tinted.astype(np.uint8)


def edited_mosaic() -> callable:
    """The bundled mosaic, then a hand-made edit: a warm grade and a sun."""
    stylizer = Stylizer.from_style("mosaic", StylizerOptions())

    def paint(rgb: np.ndarray) -> np.ndarray:
        out = stylizer(rgb).astype(np.float32)
        out = out * np.array([1.1, 1.0, 0.85]) + np.array([12, 4, 0])
        h, w = out.shape[:2]
        cv2.circle(out, (w * 4 // 5, h // 5), max(4, h // 10), (255, 210, 90), -1, lineType=cv2.LINE_AA)
        return np.clip(out, 0, 255).astype(np.uint8)

    return paint


def gmic(command: str) -> callable:
    """A G'MIC filter (Debian's ``gmic``), applied to each frame through files."""
    if shutil.which("gmic") is None:
        raise SystemExit("the gmic looks need G'MIC: apt install gmic")

    def paint(rgb: np.ndarray) -> np.ndarray:
        with tempfile.TemporaryDirectory() as folder:
            source, painted = Path(folder) / "in.png", Path(folder) / "out.png"
            write_image(rgb, source)
            subprocess.run(["gmic", "-v", "-1", str(source), *command.split(), "output", str(painted)], check=True, capture_output=True)
            return read_image(painted)[..., :3]

    return paint


LOOKS = {
    "stylization": lambda: _bgr(lambda bgr: cv2.stylization(bgr, sigma_s=40, sigma_r=0.35)),
    "pencil": lambda: _bgr(lambda bgr: cv2.pencilSketch(bgr, sigma_s=30, sigma_r=0.08, shade_factor=0.04)[1]),
    "inked": lambda: inked,
    "mosaic-edited": edited_mosaic,
    # looks no setting was chosen on (added after the defaults were fixed)
    "gmic-cartoon": lambda: gmic("cartoon 3,200,20,0.25,1.5,8"),
    "gmic-pencil": lambda: gmic("pencilbw 0.3,60"),
    "gmic-oil": lambda: gmic("kuwahara 5 rgb2hsv s c mul[1] 1.7 a c hsv2rgb cut 0,255"),
}
DEFAULT_LOOKS = ["stylization", "pencil", "inked", "mosaic-edited"]


def clips(folder: Path, frames: int) -> dict[str, Path]:
    found = {"landscape": ROOT / "samples" / "landscape.mp4"}
    try:
        for path in held_out_clips(folder, 640, 360, frames=frames):
            found[path.name.split("_")[0]] = path
    except FileNotFoundError as exc:
        print(f"note: {exc}; only the bundled clip")
    return found


def mean_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b).mean())


def measure(clip: Path, look, two: bool, folder: Path, frames: int) -> dict[str, float]:
    inputs = read_frames(clip, frames)
    keys = [0, len(inputs) - 1] if two else [0]
    specs = []
    for index in keys:
        path = folder / f"{clip.stem}_{index}_painted.png"
        write_image(look(inputs[index]), path)
        specs.append(f"{index}={path}")
    started = time.perf_counter()
    checkpoint = keyframe_look(clip, specs, quiet=True).checkpoint
    setup = time.perf_counter() - started
    network = Stylizer.from_style(str(checkpoint), StylizerOptions(native_size=True))
    filtered = [look(f) for f in inputs]
    away = [i for i in range(len(inputs)) if min(abs(i - k) for k in keys) >= len(inputs) // 4]
    metric = WarpingPairs(inputs, METRIC_FLOW)  # the inputs' flow, once for every render

    def render(keyframe_carry: float):
        out = folder / f"{clip.stem}_out.mkv"
        result = stylize_video(  # the look from the cache
            clip, out, keyframe=tuple(specs), keyframe_carry=keyframe_carry, frames=frames, codec="ffv1", quiet=True, overwrite=True
        )
        outputs = read_frames(out, frames)
        carry = np.mean([mean_difference(outputs[i], filtered[i]) / max(mean_difference(inputs[i], filtered[i]), 1e-6) for i in away])
        steps = [mean_difference(a, b) for a, b in zip(outputs, outputs[1:])]
        jump = max(steps) / max(float(np.median(steps)), 1e-6)
        return result, outputs, float(carry), metric.error(outputs) / metric.error(filtered), jump

    _, _, carry_alone, flick_alone, jump_alone = render(0.0)
    result, outputs, carry, flick, jump = render(RunOptions.keyframe_carry)
    return {
        "key": max(mean_difference(outputs[k], filtered[k]) for k in keys),
        "net": max(mean_difference(network(inputs[k]), filtered[k]) for k in keys),
        "carry": carry,
        "flick": flick,
        "jump": jump,
        "carry0": carry_alone,
        "flick0": flick_alone,
        "jump0": jump_alone,
        "setup": setup,
        "fps": result.frames / result.seconds,
        "MiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def carry_cost(folder: Path, frames: int = 30) -> None:
    """Median ms per frame that KeyframeCarry adds to the stabiliser."""
    clip = held_out_clips(folder, 640, 360, frames)[0]
    inputs = read_frames(clip, frames)
    options = TemporalOptions()
    print(f"carry cost on {clip.stem}, ms per frame (median; the stabiliser alone beside it):")
    for painted in ("whole frame", "a quarter"):
        for width, height in ((640, 360), (1920, 1080)):
            scaled = [cv2.resize(f, (width, height), interpolation=cv2.INTER_CUBIC) for f in inputs]
            network = [cv2.GaussianBlur(f, (0, 0), 2.0) for f in scaled]
            painting = cv2.bitwise_not(network[0])
            if painted == "a quarter":
                painting = network[0].copy()
                quarter = (slice(height // 4, height // 2), slice(width // 4, width // 2))
                painting[quarter] = 255 - painting[quarter]
            tracker = FlowTracker(options)
            pairs = [tracker(f) for f in scaled]
            times: dict[str, list[float]] = {"alone": [], "carry": []}
            for _ in range(3):
                blenders = {"alone": TemporalBlender.from_options(options), "carry": TemporalBlender.from_options(options, KeyframeCarry.from_options(options))}
                for blender in blenders.values():
                    blender.hold(painting, scaled[0], network[0])
                for frame, pair in zip(network[1:], pairs[1:]):
                    for name, blender in blenders.items():
                        started = time.perf_counter()
                        blender(frame, pair)
                        times[name].append(time.perf_counter() - started)
            added = np.median(np.array(times["carry"]) - np.array(times["alone"])) * 1000
            print(f"  {painted:12} {width}x{height}: {added:5.1f} ms (stabiliser {np.median(times['alone']) * 1000:5.1f} ms)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--looks", nargs="+", default=DEFAULT_LOOKS, choices=list(LOOKS))
    parser.add_argument("--clips", nargs="+", default=None, help="names among landscape and the held-out scenes")
    parser.add_argument("--two", action="store_true", help="paint the first and the last frame")
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()) / "vidstyle-keyframes")
    parser.add_argument("--carry-cost", action="store_true", help="time the carry alone (see above)")
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    if args.carry_cost:
        carry_cost(args.folder)
        return
    found = clips(args.folder, args.frames)
    chosen = {name: path for name, path in found.items() if not args.clips or name in args.clips}
    print(f"{'clip':18} {'look':14} {'key':>6} {'net':>6} {'carry':>6} {'flick':>6} {'jump':>6} {'carry0':>6} {'flick0':>6} {'jump0':>6} {'setup':>7} {'fps':>6} {'MiB':>6}", flush=True)
    for look_name in args.looks:
        look = LOOKS[look_name]()
        for clip_name, clip in chosen.items():
            row = measure(clip, look, args.two, args.folder, args.frames)
            print(
                f"{clip_name:18} {look_name:14} {row['key']:6.2f} {row['net']:6.2f} {row['carry']:6.2f} {row['flick']:6.2f} "
                f"{row['jump']:6.2f} {row['carry0']:6.2f} {row['flick0']:6.2f} {row['jump0']:6.2f} {row['setup']:7.1f} {row['fps']:6.1f} {row['MiB']:6.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
