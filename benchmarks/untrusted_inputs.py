"""Peak memory of each untrusted-input case: files whose headers or contents
ask for far more memory than they hold, run through `vidstyle` as a user
would.

Each case is made in a temporary folder and run in a fresh process
(`python -m vidstyle ...`), whose peak resident set (VmHWM, read by the
process as it exits) is that case's alone; one row per case gives the exit
status, the peak, its ratio to a plain run beside it (the baseline rows),
the time and the error line. A process whose resident set passes
--cap-gib (8 GiB) is killed, and its row says so, so that a case that
would take the machine's memory cannot. Clips are samples/landscape.mp4 or
made here, always with `--frames 2`. What each file is:

(a) a 1 kB .mkv whose Matroska header says 16000x16000 over twelve 160x90
    VP8 frames: encoded at 160x90, then remuxed with the stream's size set
    to 16000x16000, so that the muxer writes PixelWidth/PixelHeight
    (0xB0/0xBA) as the header's lie. VP8 carries its own size in every
    keyframe, and FFmpeg's probe keeps the container's size for it, so the
    opened stream says 16000x16000 and the frames decode at 160x90.
    (MPEG-4 Part 2, H.264 and VP9 are no good for this: the probe decodes a
    frame and corrects the header. FFV1 takes its size from the container,
    so a patched FFV1 stream fails to decode at its first packet.)
(b) a genuine 16000x16000 frame (H.264, x264 ultrafast: 0.7 MB, made in
    about 4 s and 1.5 GB; an 8000x8000 FFV1 frame where x264 is missing);
(c) a style checkpoint whose architecture says 3000 base channels, and one
    with the string "32" where the number of base channels belongs (each
    with a small network's weights);
(d) a flat 30000x30000 PNG (2.6 MB) as `--style-image`, (e) the same as
    16-bit RGBA (7 MB), both written row block by row block, never held
    whole; (f) an 8000x6000 JPEG as `--style-image`, which must paint; (g)
    the 30000x30000 PNG as the photo of `vidstyle image`.

Which part of vidstyle each case tests: (a) and (b) the reader's checks on
decoded frames and the stylizer's memory budget; (c) the checkpoint's
architecture checked before a network is built; (d) to (g) the picture
header's pixel limit and the JPEG decoded reduced (media/images.py,
stylize/style_images.py).

    python benchmarks/untrusted_inputs.py [--keep DIR] [--cap-gib 8]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "landscape.mp4"
sys.path.insert(0, str(ROOT / "tests"))
from helpers import PEAK_WRAPPER  # noqa: E402  (python -m vidstyle reporting its own peak)
from vidstyle.media.synthetic import write_flat_png  # noqa: E402

MIB = 2**20


@dataclass
class Case:
    label: str
    what: str
    args: list[str]
    baseline: str  # the label of the plain run its peak is compared with


def lying_header_clip(path: Path) -> tuple[Path, str]:
    """Twelve 160x90 frames in a Matroska file whose header says
    16000x16000 (see the module's docstring); the codec used."""
    import av

    plain = path.with_name("plain-" + path.name)
    codecs = [c for c in ("libvpx", "mpeg4") if c in av.codecs_available]
    codec = codecs[0]
    with av.open(str(plain), "w") as out:
        stream = out.add_stream(codec, rate=24)
        stream.width, stream.height, stream.pix_fmt = 160, 90, "yuv420p"
        for index in range(12):
            level = np.full((90, 160, 3), 20 * index, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(level, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    with av.open(str(plain)) as source, av.open(str(path), "w") as out:
        original = source.streams.video[0]
        lying = out.add_stream_from_template(original)
        lying.codec_context.width, lying.codec_context.height = 16000, 16000
        for packet in source.demux(original):
            if packet.dts is not None:
                packet.stream = lying
                out.mux(packet)
    plain.unlink()
    return path, codec


def large_frame_clip(folder: Path) -> tuple[Path, str]:
    """One genuine frame of 16000x16000 (x264), or 8000x8000 (FFV1)."""
    import av

    codec, side = ("libx264", 16000) if "libx264" in av.codecs_available else ("ffv1", 8000)
    path = folder / f"large-{side}.mkv"
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=24, options={"preset": "ultrafast", "crf": "30"} if codec == "libx264" else {})
        stream.width, stream.height, stream.pix_fmt = side, side, "yuv420p"
        planes = np.full((side * 3 // 2, side), 128, np.uint8)
        planes[:side] = np.linspace(16, 235, side, dtype=np.uint8)[None]  # a grey ramp, neutral chroma
        frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
        del planes
        for packet in [*stream.encode(frame), *stream.encode()]:
            out.mux(packet)
    return path, f"{side}x{side} {codec}"


def checkpoints(folder: Path) -> tuple[Path, Path]:
    """vidstyle-format checkpoints with a small network's weights and a
    hostile architecture: 3000 base channels, and a string for a number."""
    import torch

    from vidstyle.models import TransformerConfig, TransformerNet

    config = TransformerConfig(base_channels=8, residual_blocks=1)
    state = TransformerNet(config).state_dict()
    paths = []
    for name, channels in (("wide", 3000), ("typed", "32")):
        architecture = dict(config.to_dict(), base_channels=channels)
        payload = {"format": "vidstyle.style", "version": 1, "name": name, "architecture": architecture, "state_dict": state, "metadata": {}}
        paths.append(folder / f"{name}.pth")
        torch.save(payload, paths[-1])
    return paths[0], paths[1]


def large_jpeg(path: Path) -> Path:
    """8000x6000 colour fields with texture, as a camera would give."""
    import cv2

    rng = np.random.default_rng(0)
    coarse = rng.integers(0, 256, (60, 80, 3), np.uint8)
    cv2.imwrite(str(path), cv2.resize(coarse, (8000, 6000), interpolation=cv2.INTER_CUBIC), [cv2.IMWRITE_JPEG_QUALITY, 90])
    return path


def _status_kib(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))
    except (OSError, StopIteration, ValueError):
        return 0


def run(args: list[str], env: dict[str, str], cap: int) -> tuple[int, int, float, str]:
    """Exit status, peak resident bytes, seconds and the last stderr line of
    ``vidstyle ARGS``; a process over ``cap`` bytes is killed (so a case
    that would take the machine's memory reports that instead)."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch, open(Path(scratch) / "err", "w+b") as err:
        peak_file = Path(scratch) / "peak"
        process = subprocess.Popen(
            [sys.executable, "-c", PEAK_WRAPPER, *args], stdout=subprocess.DEVNULL, stderr=err,
            env=dict(env, VIDSTYLE_PEAK_FILE=str(peak_file)),
        )
        killed = threading.Event()
        seen = [0]

        def watch() -> None:
            while process.poll() is None:
                seen[0] = max(seen[0], _status_kib(process.pid, "VmHWM") * 1024)
                if _status_kib(process.pid, "VmRSS") * 1024 > cap:
                    killed.set()
                    process.kill()
                time.sleep(0.02)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        code = process.wait()
        watcher.join()
        seconds = time.perf_counter() - started
        peak = int(peak_file.read_text()) * 1024 if peak_file.is_file() else seen[0]
        err.seek(0)
        lines = [line for line in err.read().decode(errors="replace").splitlines() if line.strip()]
    line = lines[-1].strip() if lines else ""
    if killed.is_set():
        line = f"killed here over the {cap / 2**30:g} GiB cap"
    return code, peak, seconds, line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", type=Path, help="make the files here and keep them")
    parser.add_argument("--cap-gib", type=float, default=8.0, help="kill a case whose resident memory passes this [default: 8]")
    options = parser.parse_args()
    folder = options.keep or Path(tempfile.mkdtemp(prefix="vidstyle-untrusted-"))
    folder.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, VIDSTYLE_HOME=str(folder / "home"))  # statistics computed afresh, the user's cache untouched
    try:
        started = time.perf_counter()
        lying, lying_codec = lying_header_clip(folder / "lying-header.mkv")
        large, large_what = large_frame_clip(folder)
        wide, typed = checkpoints(folder)
        flat = write_flat_png(folder / "flat-30000.png", 30000, 30000)
        deep = write_flat_png(folder / "flat-30000-rgba16.png", 30000, 30000, bit_depth=16, colour_type=6)
        photo = large_jpeg(folder / "photo-8000x6000.jpg")
        small = folder / "painting.jpg"  # a picture of ordinary size, for the baseline
        shutil.copy(ROOT / "samples" / "flower.jpg", small)
        print(f"made the files in {time.perf_counter() - started:.1f} s in {folder}")
        for path in (lying, large, wide, typed, flat, deep, photo):
            print(f"  {path.name}: {path.stat().st_size / 1e3:,.0f} kB")

        def out(name: str, suffix: str = ".mp4") -> str:
            return str(folder / f"out-{name}{suffix}")

        clip = [str(SAMPLE), "--frames", "2", "-q"]
        cases = [
            Case("base", "run landscape.mp4 (mosaic)", ["run", *clip, "-o", out("base")], "base"),
            Case("base-pic", "run landscape.mp4 --style-image flower.jpg", ["run", *clip, "--style-image", str(small), "-o", out("base-pic")], "base-pic"),
            Case("base-img", "image flower.jpg", ["image", str(ROOT / "samples" / "flower.jpg"), "-o", out("base-img", ".png"), "-q"], "base-img"),
            Case("a", f"mkv header 16000x16000, 160x90 {lying_codec} frames", ["run", str(lying), "--frames", "2", "-q", "-o", out("a")], "base"),
            Case("b", f"genuine {large_what} frame", ["run", str(large), "--frames", "2", "-q", "-o", out("b")], "base"),
            Case("c1", "checkpoint: 3000 base channels", ["run", *clip, "--style", str(wide), "-o", out("c1")], "base"),
            Case("c2", 'checkpoint: base_channels "32"', ["run", *clip, "--style", str(typed), "-o", out("c2")], "base"),
            Case("d", "--style-image 30000x30000 PNG", ["run", *clip, "--style-image", str(flat), "-o", out("d")], "base-pic"),
            Case("e", "--style-image 30000x30000 16-bit RGBA PNG", ["run", *clip, "--style-image", str(deep), "-o", out("e")], "base-pic"),
            Case("f", "--style-image 8000x6000 JPEG", ["run", *clip, "--style-image", str(photo), "-o", out("f")], "base-pic"),
            Case("g", "image 30000x30000 PNG (the photo)", ["image", str(flat), "-o", out("g", ".png"), "-q"], "base-img"),
        ]
        rows = []
        for case in cases:
            code, peak, seconds, line = run(case.args, env, int(options.cap_gib * 2**30))
            rows.append((case, code, peak, seconds, line))
        peaks = {case.label: peak for case, _, peak, _, _ in rows}
        print()
        print(f"{'case':<9} {'input':<46} {'exit':>4} {'peak MiB':>9} {'x base':>7} {'s':>6}  error line (files in {folder})")
        for case, code, peak, seconds, line in rows:
            shown = line.replace(f"{folder}/", "") if code != 0 else ""
            ratio = f"{peak / peaks[case.baseline]:.2f}" if case.baseline != case.label else "-"
            print(f"{case.label:<9} {case.what:<46} {code:>4} {peak / MIB:>9.0f} {ratio:>7} {seconds:>6.1f}  {shown}")
    finally:
        if options.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
