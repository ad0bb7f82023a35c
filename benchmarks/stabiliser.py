"""Sharpness and flicker of the temporal stabiliser, against per-frame output.

Averaging the warped previous output with the current stylized frame removes
flicker, and with it part of the contrast of every texture the two frames do
not share (s^2 + (1-s)^2 of its variance at weight s). For each clip and
style this stylizes every frame once (as ``--temporal none`` does), runs the
stabilisers on those same frames with the same flow (FlowTracker with
TemporalOptions' defaults), and prints for each:

  sharp  sharpness kept: the median over frames of var(Laplacian(output)) /
         var(Laplacian(per-frame output)), on gray; 1.00 keeps it all
  warp   warping error (Lai et al. 2018, on full-resolution flow of the
         inputs, as ``evaluate_video`` measures it) over the per-frame
         output's; lower is steadier
  band   contrast kept in the 1-2 px band: the median over frames of the
         deviation of gray G(1 px) - G(2 px) over the per-frame output's;
         above 1 the stabiliser over-sharpens strokes of that width
  ms     the stabiliser's time per frame on that clip, on this machine

Rows: ``plain average`` (the blend without a detail layer:
s * warp(prev) + (1 - s) * stylized), ``blender`` (TemporalBlender with
TemporalOptions' defaults) and, with ``--all``, every candidate measured to
choose it (CANDIDATES: float32 sketches, not tuned for speed). Then the
worst case of each over clips and styles. With ``--timing``, the time per
frame of the plain average and the blender at 640x360 and 1920x1080, uint8
and uint16 (frames of the pan clip, scaled up).

Clips: bikes.mp4 (real footage, 640x272, with a shot cut; from ../shared,
left out with a note when absent), a noisy synthetic pan (480x270) and the
held-out camera and object moves of footage.py (320x240; left out with a
note when their photos are not installed). Stylized frames are cached as
.npy under ``--cache``: a second run only runs the stabilisers.

    python benchmarks/stabiliser.py [--style mosaic --style starry-night] [--frames 48]
                                    [--all] [--only NAME ...] [--timing] [--cache /tmp/vidstyle-stabiliser]
"""

from __future__ import annotations

import argparse
import hashlib
import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from vidstyle import Stylizer, StylizerOptions
from vidstyle.media.synthetic import ClipSpec, write_clip
from vidstyle.stylize.graphs import file_digest
from vidstyle.stylize.styles import find_style
from vidstyle.temporal.consistency import FlowPair, FlowTracker, TemporalBlender, TemporalOptions, WarpingPairs, pixel_grid
from vidstyle.temporal.metrics import METRIC_FLOW, read_frames, stroke_contrast

from footage import held_out_clips

ROOT = Path(__file__).resolve().parent.parent
STRENGTH = TemporalOptions().strength


# ---------------------------------------------------------------- measures


def laplacian_variance(rgb: np.ndarray) -> float:
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float(cv2.Laplacian(gray, cv2.CV_32F).var())


def sharpness_kept(outputs: list[np.ndarray], per_frame: list[np.ndarray]) -> float:
    """Median over frames of the output's Laplacian variance over the
    per-frame output's (the first frame, the same in both, left out)."""
    ratios = [laplacian_variance(o) / max(laplacian_variance(p), 1e-9) for o, p in zip(outputs[1:], per_frame[1:])]
    return float(np.median(ratios))


def band_kept(outputs: list[np.ndarray], per_frame: list[np.ndarray]) -> float:
    """Median over frames of the 1-2 px band's deviation over the per-frame output's."""
    ratios = [stroke_contrast(o) / max(stroke_contrast(p), 1e-9) for o, p in zip(outputs[1:], per_frame[1:])]
    return float(np.median(ratios))


# ---------------------------------------------------------------- stabilisers


class PlainAverage(TemporalBlender):
    """out = s * warp(prev) + (1 - s) * stylized, s = strength * reliable,
    bilinear warp: the blend without a detail layer. Cuts, resets and the
    warp are TemporalBlender's; only the blend differs."""

    def __init__(self, strength: float = STRENGTH):
        super().__init__(strength)

    def _blend(self, stylized: np.ndarray, warped: np.ndarray, reliable: np.ndarray) -> np.ndarray:
        weight = self.strength * reliable
        if stylized.dtype == np.uint8:
            return cv2.blendLinear(warped, stylized, weight, 1.0 - weight)
        blended = weight[..., None] * warped.astype(np.float32) + (1.0 - weight[..., None]) * stylized.astype(np.float32)
        return np.clip(blended + 0.5, 0, np.iinfo(stylized.dtype).max).astype(stylized.dtype)


def lowpass(image: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)


INTERPOLATIONS = {"linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC, "lanczos": cv2.INTER_LANCZOS4}


def warp_with(image: np.ndarray, flow: np.ndarray, interpolation: str) -> np.ndarray:
    grid_x, grid_y = pixel_grid(*flow.shape[:2])
    return cv2.remap(image, grid_x + flow[..., 0], grid_y + flow[..., 1], interpolation=INTERPOLATIONS[interpolation], borderMode=cv2.BORDER_REPLICATE)


def laplacian_energy(image: np.ndarray, sigma: float) -> np.ndarray:
    laplacian = cv2.Laplacian(image.mean(-1), cv2.CV_32F)
    return lowpass(laplacian * laplacian, sigma)


class Candidate:
    """A stabiliser sketch in float32 with TemporalBlender's interface:
    w = strength * reliable, out = w * warp(prev) + (1 - w) * stylized, and

      interpolation  of the warp: "linear", "cubic" or "lanczos"
      split          sigma of a Gaussian split into a colour layer (blended
                     with w) and a detail layer (blended with w * high /
                     strength; high 0: the current frame's detail alone)
      choose         (t0, t1), 0-255 levels: the (detail) weight falls to 0 as
                     the blurred mean |warp(prev) - stylized| over the channels
                     (of the detail layers with ``split``) goes from t0 to t1
      restore        gain limit: the (detail) layer, or with no split the
                     frame minus its 2 px Gaussian, is scaled so that its local
                     energy (sigma 4 px) matches the stylized frame's, gain in
                     [1, restore]; ``measure`` "band": energy of the layer
                     itself, "laplacian": of its Laplacian (on gray)
    """

    def __init__(self, interpolation="linear", split=None, high=None, choose=None, restore=None, measure="band", strength=STRENGTH):
        self.strength, self.interpolation, self.split, self.high = strength, interpolation, split, high
        self.choose, self.restore, self.measure = choose, restore, measure
        self._previous = None
        self.resets = 0

    def reset(self):
        self._previous = None

    def _agreement(self, warped, current):
        t0, t1 = self.choose
        difference = lowpass(np.abs(warped - current).mean(-1), 2.0)
        return np.clip((t1 - difference) / (t1 - t0), 0.0, 1.0)[..., None]

    def _restored(self, detail, target):
        if self.measure == "laplacian":
            energy, wanted = laplacian_energy(detail, 4.0), laplacian_energy(target, 4.0)
        else:
            energy, wanted = lowpass((detail**2).sum(-1), 4.0), lowpass((target**2).sum(-1), 4.0)
        gain = np.sqrt((wanted + 1.0) / (energy + 1.0))
        return detail * np.clip(gain, 1.0, self.restore)[..., None]

    def __call__(self, stylized, pair):
        if pair is None or pair.cut or self._previous is None or self._previous.shape != stylized.shape:
            if pair is not None and pair.cut:
                self.resets += 1
            self._previous = stylized
            return stylized
        top = float(np.iinfo(stylized.dtype).max)
        scale = 255.0 / top
        x = stylized.astype(np.float32) * scale
        p = warp_with(self._previous, pair.backward, self.interpolation).astype(np.float32) * scale
        w = (self.strength * pair.reliable)[..., None]
        if self.split is None:
            if self.choose is not None:
                w = w * self._agreement(p, x)
            out = w * p + (1 - w) * x
            if self.restore is not None:
                low_out, low_x = lowpass(out, 2.0), lowpass(x, 2.0)
                out = low_out + self._restored(out - low_out, x - low_x)
        else:
            low_p, low_x = lowpass(p, self.split), lowpass(x, self.split)
            high_p, high_x = p - low_p, x - low_x
            wh = w * ((self.high if self.high is not None else self.strength) / self.strength)
            if self.choose is not None:
                wh = wh * self._agreement(high_p, high_x)
            high = wh * high_p + (1 - wh) * high_x
            if self.restore is not None:
                high = self._restored(high, high_x)
            out = w * low_p + (1 - w) * low_x + high
        out = np.clip(out / scale + 0.5, 0, top).astype(stylized.dtype)
        self._previous = out
        return out


def blender_with(spread: int | None = None, **options) -> TemporalBlender:
    """TemporalBlender with other options (and another SPREAD)."""
    cls = TemporalBlender if spread is None else type("Blender", (TemporalBlender,), {"SPREAD": spread})
    return cls(STRENGTH, **options)


# name: factory; printed in this order with --all
CANDIDATES: dict[str, Callable[[], object]] = {
    "cubic warp": lambda: Candidate(interpolation="cubic"),
    "lanczos warp": lambda: Candidate(interpolation="lanczos"),
    "split2, detail current": lambda: Candidate(interpolation="cubic", split=2.0, high=0.0),
    "split2, detail at .3": lambda: Candidate(interpolation="cubic", split=2.0, high=0.3),
    "split2, detail at .5": lambda: Candidate(interpolation="cubic", split=2.0, high=0.5),
    "split4, detail at .3": lambda: Candidate(interpolation="cubic", split=4.0, high=0.3),
    "choose 8-24": lambda: Candidate(interpolation="cubic", choose=(8, 24)),
    "choose 16-48": lambda: Candidate(interpolation="cubic", choose=(16, 48)),
    "restore band x2": lambda: Candidate(interpolation="cubic", restore=2.0),
    "choose16-48+restore band": lambda: Candidate(interpolation="cubic", choose=(16, 48), restore=2.0),
    "split2 .5+restore band": lambda: Candidate(interpolation="cubic", split=2.0, high=0.5, restore=2.0),
    "split2 .7+restore band": lambda: Candidate(interpolation="cubic", split=2.0, high=0.7, restore=2.0),
    "split2+restore lap": lambda: Candidate(interpolation="cubic", split=2.0, high=0.7, restore=3.0, measure="laplacian"),
    "split2+restore lap, linear": lambda: Candidate(split=2.0, high=0.7, restore=3.0, measure="laplacian"),
    "split2+choose24-64+rest.lap": lambda: Candidate(interpolation="cubic", split=2.0, high=0.7, choose=(24, 64), restore=3.0, measure="laplacian"),
    "blender, no choosing": lambda: blender_with(disagreement=(1000.0, 2000.0)),
    "blender, gain up to 1 (none)": lambda: blender_with(detail_gain=1.0),
    "blender, spread 3, 24-64": lambda: blender_with(3, disagreement=(24.0, 64.0)),
    "blender, spread 5, 24-64": lambda: blender_with(5, disagreement=(24.0, 64.0)),
    "blender, 32-96": lambda: blender_with(disagreement=(32.0, 96.0)),
    "blender, sigma 1": lambda: blender_with(detail_sigma=1.0),
    "blender, sigma 2": lambda: blender_with(detail_sigma=2.0),
}


# ---------------------------------------------------------------- clips


def clips(folder: Path, frames: int) -> list[Path]:
    found = []
    bikes = ROOT.parent / "shared/clips/bikes.mp4"
    if bikes.is_file():
        found.append(bikes)
    else:
        print(f"note: {bikes} is absent: no real footage in this run")
    pan = folder / f"pan_noisy_{frames}.mp4"
    if not pan.exists():
        write_clip(pan, ClipSpec(width=480, height=270, frames=frames, noise=4.0))
    found.append(pan)
    try:
        found += held_out_clips(folder, 320, 240, frames)
    except FileNotFoundError as error:
        print(f"note: held-out clips left out: {error}")
    return found


def stylized_frames(style: str, inputs: list[np.ndarray], cache: Path, key: str, batch: int = 8) -> np.ndarray:
    """The network's frames, cached under the digest of its file: a
    retrained style is rendered again."""
    options = StylizerOptions()
    network = file_digest(find_style(style, options.model).path)[:12]
    path = cache / f"{key}_{Path(style).stem}_{network}.npy"  # a style may be a checkpoint's path
    if path.exists():
        return np.load(path)
    stylizer = Stylizer.from_style(style, options)
    frames = np.concatenate([stylizer(np.stack(inputs[i : i + batch])) for i in range(0, len(inputs), batch)])
    np.save(path, frames)
    return frames


def run(blender, stylized: np.ndarray, pairs: list[FlowPair | None]) -> tuple[list[np.ndarray], float]:
    started = time.perf_counter()
    outputs = [blender(frame, pair) for frame, pair in zip(stylized, pairs)]
    return outputs, (time.perf_counter() - started) / len(outputs)


def timing(stylized: np.ndarray, inputs: list[np.ndarray], frames: int = 10) -> None:
    """Median ms per frame of the plain average and the blender, called in
    turn on the same frames (so that both see the same machine load)."""
    print("\nms per frame (median), plain average -> blender:")
    for width, height in ((640, 360), (1920, 1080)):
        scaled = [cv2.resize(f, (width, height), interpolation=cv2.INTER_CUBIC) for f in stylized[:frames]]
        tracker = FlowTracker(TemporalOptions())
        pairs = [tracker(cv2.resize(f, (width, height), interpolation=cv2.INTER_CUBIC)) for f in inputs[:frames]]
        for dtype in (np.uint8, np.uint16):
            data = scaled if dtype == np.uint8 else [f.astype(np.uint16) * 257 for f in scaled]
            blenders = {"plain": PlainAverage(), "blender": TemporalBlender.from_options(TemporalOptions())}
            times: dict[str, list[float]] = {name: [] for name in blenders}
            for _ in range(3 if width > 1000 else 8):
                for blender in blenders.values():
                    blender.reset()
                    blender(data[0], None)
                for frame, pair in zip(data[1:], pairs[1:]):
                    for name, blender in blenders.items():
                        started = time.perf_counter()
                        blender(frame, pair)
                        times[name].append(time.perf_counter() - started)
            before, after = (np.median(times[name]) * 1000 for name in blenders)
            print(f"  {width}x{height} {np.dtype(dtype).name:>6}: {before:6.1f} -> {after:6.1f} ms (x{after / before:.1f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--style", action="append", help="a bundled style or a checkpoint (repeatable); default mosaic and starry-night")
    parser.add_argument("--frames", type=int, default=48, help="frames of each clip")
    parser.add_argument("--all", action="store_true", help="every candidate too")
    parser.add_argument("--only", action="append", help="these candidates (by name) too")
    parser.add_argument("--timing", action="store_true", help="time per frame at 640x360 and 1920x1080")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/vidstyle-stabiliser"))
    args = parser.parse_args()
    styles = args.style or ["mosaic", "starry-night"]
    args.cache.mkdir(parents=True, exist_ok=True)
    candidates = {name: CANDIDATES[name] for name in args.only} if args.only else CANDIDATES if args.all else {}
    rows = {"plain average": PlainAverage, "blender": lambda: TemporalBlender.from_options(TemporalOptions()), **candidates}
    summary: dict[str, list[tuple[float, float, float]]] = {}
    print(f"{'clip':>24} {'style':>13} {'stabiliser':>28} {'sharp':>6} {'warp':>6} {'band':>6} {'ms':>6}")
    for clip in clips(args.cache, args.frames):
        inputs = read_frames(clip, args.frames)
        key = f"{clip.stem}_{len(inputs)}_{hashlib.sha1(inputs[len(inputs) // 2].tobytes()).hexdigest()[:8]}"
        tracker = FlowTracker(TemporalOptions())
        pairs = [tracker(frame) for frame in inputs]
        metric = WarpingPairs(inputs, METRIC_FLOW)
        for style in styles:
            stylized = stylized_frames(style, inputs, args.cache, key)
            per_frame = list(stylized)
            reference = metric.error(per_frame)
            print(f"{clip.stem[:24]:>24} {style[:13]:>13} {'per-frame':>28} {1.0:>6.2f} {1.0:>6.2f} {1.0:>6.2f}   (warping error {reference:.5f})")
            for name, factory in rows.items():
                outputs, seconds = run(factory(), stylized, pairs)
                sharp, ratio = sharpness_kept(outputs, per_frame), metric.error(outputs) / max(reference, 1e-12)
                band = band_kept(outputs, per_frame)
                summary.setdefault(name, []).append((sharp, ratio, band))
                print(f"{'':>24} {'':>13} {name[:28]:>28} {sharp:>6.2f} {ratio:>6.2f} {band:>6.2f} {seconds * 1000:>6.1f}", flush=True)
    print("\nover all clips and styles: sharpness kept (least, median), warping error ratio (most, median), 1-2 px band (most, median)")
    for name, values in summary.items():
        sharp, ratio, band = np.array(values).T
        print(
            f"{name[:28]:>28}  sharp {sharp.min():.3f} {np.median(sharp):.3f}   warp {ratio.max():.2f} {np.median(ratio):.2f}"
            f"   band {band.max():.2f} {np.median(band):.2f}"
        )
    if args.timing:
        pan = next(clip for clip in clips(args.cache, args.frames) if clip.stem.startswith("pan_noisy"))
        inputs = read_frames(pan, args.frames)
        key = f"{pan.stem}_{len(inputs)}_{hashlib.sha1(inputs[len(inputs) // 2].tobytes()).hexdigest()[:8]}"
        timing(stylized_frames(styles[0], inputs, args.cache, key), inputs)


if __name__ == "__main__":
    main()
